package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	texttemplate "text/template"
)

//go:embed templates
var embedded embed.FS

// Kinds lists the message kinds Render knows, in a stable order.
var kinds = []string{
	"verify-email",
	"reset-password",
	"magic-link",
	"otp-sign-in",
	"otp-email-verification",
	"otp-forget-password",
	"change-email-verify",
	"change-email-confirm",
}

// Data is what every template receives.
type Data struct {
	Product   string // product name, e.g. "Auther"
	Email     string // recipient
	Name      string // user's display name (may be "")
	URL       string // the action link (verify, reset, magic link, confirm change); "" for OTP mails
	OTP       string // one-time code for OTP mails
	ExpiresIn string // human text, e.g. "1 hour", "5 minutes"
	NewEmail  string // for change-email mails
}

// Templates renders the messages Auther sends. Each kind has a subject, a
// text and an HTML template, embedded in the binary (//go:embed templates)
// and overridable per file from a folder. A Templates is safe for concurrent
// use.
type Templates struct {
	kinds map[string]*kindTemplates
}

type kindTemplates struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// sampleData is used to execute every template once at load time, so that
// errors that only show when executing (a misspelt field) surface then.
var sampleData = Data{
	Product:   "Auther",
	Email:     "ada@example.com",
	Name:      "Ada",
	URL:       "https://id.example.com/verify?token=abc",
	OTP:       "123456",
	ExpiresIn: "1 hour",
	NewEmail:  "ada@example.org",
}

// LoadTemplates parses the embedded templates; if overrideDir != "" any file
// present there with the same name replaces the embedded one. Errors name
// the bad file. Other files in overrideDir are ignored; overrideDir itself
// must exist, so that a mistyped path does not go unnoticed.
func LoadTemplates(overrideDir string) (*Templates, error) {
	if overrideDir != "" {
		fi, err := os.Stat(overrideDir)
		if err != nil {
			return nil, fmt.Errorf("mail: template folder: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("mail: template folder %s is not a folder", overrideDir)
		}
	}
	t := &Templates{kinds: make(map[string]*kindTemplates, len(kinds))}
	for _, kind := range kinds {
		kt := &kindTemplates{}
		name := kind + ".subject.txt"
		src, file, err := readTemplate(overrideDir, name)
		if err != nil {
			return nil, err
		}
		if kt.subject, err = texttemplate.New(name).Option("missingkey=error").Parse(src); err != nil {
			return nil, fmt.Errorf("mail: template %s: %w", file, err)
		}
		if err := kt.subject.Execute(io.Discard, sampleData); err != nil {
			return nil, fmt.Errorf("mail: template %s: %w", file, err)
		}

		name = kind + ".txt"
		if src, file, err = readTemplate(overrideDir, name); err != nil {
			return nil, err
		}
		if kt.text, err = texttemplate.New(name).Option("missingkey=error").Parse(src); err != nil {
			return nil, fmt.Errorf("mail: template %s: %w", file, err)
		}
		if err := kt.text.Execute(io.Discard, sampleData); err != nil {
			return nil, fmt.Errorf("mail: template %s: %w", file, err)
		}

		name = kind + ".html"
		if src, file, err = readTemplate(overrideDir, name); err != nil {
			return nil, err
		}
		if kt.html, err = htmltemplate.New(name).Option("missingkey=error").Parse(src); err != nil {
			return nil, fmt.Errorf("mail: template %s: %w", file, err)
		}
		if err := kt.html.Execute(io.Discard, sampleData); err != nil {
			return nil, fmt.Errorf("mail: template %s: %w", file, err)
		}
		t.kinds[kind] = kt
	}
	return t, nil
}

// readTemplate returns the source of the named template and the file it
// came from (the override if present, else the embedded one).
func readTemplate(overrideDir, name string) (src, file string, err error) {
	if overrideDir != "" {
		file = filepath.Join(overrideDir, name)
		b, err := os.ReadFile(file)
		if err == nil {
			return string(b), file, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", file, fmt.Errorf("mail: template %s: %w", file, err)
		}
	}
	file = "templates/" + name
	b, err := embedded.ReadFile(file)
	if err != nil {
		return "", "embedded " + file, fmt.Errorf("mail: template embedded %s: %w", file, err)
	}
	return string(b), "embedded " + file, nil
}

// Render returns subject, text and HTML for kind. Kinds: "verify-email",
// "reset-password", "magic-link", "otp-sign-in", "otp-email-verification",
// "otp-forget-password", "change-email-verify" (sent to the new address),
// "change-email-confirm" (sent to the old address asking to approve).
// Unknown kind => error. An empty d.Product renders as "Auther". The subject
// is collapsed to one line; a subject that contains d.URL or d.OTP is an
// error (a subject shows in notifications and lock screens).
func (t *Templates) Render(kind string, d Data) (subject, text, html string, err error) {
	kt, ok := t.kinds[kind]
	if !ok {
		return "", "", "", fmt.Errorf("mail: unknown message kind %q", kind)
	}
	if d.Product == "" {
		d.Product = "Auther"
	}
	var b bytes.Buffer
	if err := kt.subject.Execute(&b, d); err != nil {
		return "", "", "", fmt.Errorf("mail: render %s: %w", kt.subject.Name(), err)
	}
	subject = strings.Join(strings.Fields(b.String()), " ")
	if subject == "" {
		return "", "", "", fmt.Errorf("mail: render %s: empty subject", kt.subject.Name())
	}
	if (d.OTP != "" && strings.Contains(subject, d.OTP)) || (d.URL != "" && strings.Contains(subject, d.URL)) {
		return "", "", "", fmt.Errorf("mail: render %s: the subject must not contain the code or link", kt.subject.Name())
	}

	b.Reset()
	if err := kt.text.Execute(&b, d); err != nil {
		return "", "", "", fmt.Errorf("mail: render %s: %w", kt.text.Name(), err)
	}
	text = strings.TrimSpace(b.String()) + "\n"

	b.Reset()
	if err := kt.html.Execute(&b, d); err != nil {
		return "", "", "", fmt.Errorf("mail: render %s: %w", kt.html.Name(), err)
	}
	html = b.String()
	return subject, text, html, nil
}
