package mail_test

import (
	"context"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auther/auther/internal/mail"
	"github.com/auther/auther/internal/mail/mailtest"
)

var allKinds = []string{
	"verify-email",
	"reset-password",
	"magic-link",
	"otp-sign-in",
	"otp-email-verification",
	"otp-forget-password",
	"change-email-verify",
	"change-email-confirm",
}

func isOTP(kind string) bool { return strings.HasPrefix(kind, "otp-") }

func dataFor(kind string) mail.Data {
	d := mail.Data{
		Product:   "Auther",
		Email:     "ada@example.org",
		Name:      "Ada",
		ExpiresIn: "1 hour",
	}
	if isOTP(kind) {
		d.OTP = "482913"
		d.ExpiresIn = "5 minutes"
	} else {
		d.URL = longURL
	}
	if strings.HasPrefix(kind, "change-email") {
		d.NewEmail = "ada@new.example"
	}
	return d
}

func loadTemplates(t *testing.T, dir string) *mail.Templates {
	t.Helper()
	tm, err := mail.LoadTemplates(dir)
	if err != nil {
		t.Fatalf("LoadTemplates(%q): %v", dir, err)
	}
	return tm
}

func TestRenderEveryKind(t *testing.T) {
	tm := loadTemplates(t, "")
	for _, kind := range allKinds {
		t.Run(kind, func(t *testing.T) {
			d := dataFor(kind)
			subject, text, htm, err := tm.Render(kind, d)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if subject == "" || text == "" || htm == "" {
				t.Fatalf("empty output: subject %q, text %d bytes, html %d bytes", subject, len(text), len(htm))
			}
			if strings.ContainsAny(subject, "\r\n") {
				t.Errorf("subject has a line break: %q", subject)
			}
			if !strings.Contains(subject, "Auther") {
				t.Errorf("subject does not name the product: %q", subject)
			}
			if strings.Contains(subject, "http") || strings.Contains(subject, "482913") {
				t.Errorf("subject leaks the link or code: %q", subject)
			}
			if isOTP(kind) {
				for name, body := range map[string]string{"text": text, "html": htm} {
					if !strings.Contains(body, d.OTP) {
						t.Errorf("%s has no code", name)
					}
				}
			} else {
				if !strings.Contains(text, "\n"+d.URL+"\n") {
					t.Errorf("text has no link on its own line:\n%s", text)
				}
				esc := html.EscapeString(d.URL)
				if !strings.Contains(htm, `href="`+esc+`"`) {
					t.Errorf("html has no button link:\n%s", htm)
				}
				if strings.Count(htm, esc) < 3 { // button href, text link href, visible raw URL
					t.Errorf("html shows the raw URL fewer than 3 times:\n%s", htm)
				}
			}
			for name, body := range map[string]string{"text": text, "html": htm} {
				if !strings.Contains(body, "Ada") {
					t.Errorf("%s does not greet by name", name)
				}
				if !strings.Contains(body, d.ExpiresIn) {
					t.Errorf("%s does not say when it expires", name)
				}
				if d.NewEmail != "" && !strings.Contains(body, d.NewEmail) {
					t.Errorf("%s does not name the new address", name)
				}
				if strings.Contains(body, "<no value>") {
					t.Errorf("%s has <no value>", name)
				}
			}
			if !strings.Contains(htm, `<html lang="en">`) {
				t.Error("html has no lang attribute")
			}
			for _, bad := range []string{"<img", "<script", "<link", "//cdn", "@import"} {
				if strings.Contains(htm, bad) {
					t.Errorf("html contains %q", bad)
				}
			}
		})
	}
}

func TestRenderWithoutOptionalFields(t *testing.T) {
	tm := loadTemplates(t, "")
	for _, kind := range allKinds {
		d := dataFor(kind)
		d.Name, d.ExpiresIn, d.Product = "", "", ""
		subject, text, htm, err := tm.Render(kind, d)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if !strings.Contains(subject, "Auther") {
			t.Errorf("%s: empty Product should default to Auther: %q", kind, subject)
		}
		if !strings.HasPrefix(text, "Hi,\n") {
			t.Errorf("%s: greeting without a name: %q", kind, text[:min(20, len(text))])
		}
		if strings.Contains(text, "expires in .") || strings.Contains(htm, "expires in .") {
			t.Errorf("%s: empty expiry sentence", kind)
		}
	}
}

func TestRenderEscapesHTML(t *testing.T) {
	tm := loadTemplates(t, "")
	d := dataFor("verify-email")
	d.Name = `<script>alert("x")</script>`
	d.URL = `https://id.example.com/verify?token=a&b="><script>`
	_, text, htm, err := tm.Render("verify-email", d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(htm, "<script") {
		t.Errorf("html not escaped:\n%s", htm)
	}
	if !strings.Contains(htm, "&lt;script&gt;") {
		t.Errorf("escaped name missing:\n%s", htm)
	}
	if !strings.Contains(text, d.Name) {
		t.Error("text part should carry the name verbatim")
	}

	// A javascript: URL must not become a clickable link.
	d.URL = "javascript:alert(1)"
	_, _, htm, err = tm.Render("verify-email", d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(htm, `href="javascript:`) {
		t.Errorf("javascript: URL in href:\n%s", htm)
	}
}

func TestRenderUnknownKind(t *testing.T) {
	tm := loadTemplates(t, "")
	if _, _, _, err := tm.Render("welcome", mail.Data{}); err == nil || !strings.Contains(err.Error(), "welcome") {
		t.Errorf("Render(unknown) = %v", err)
	}
}

func TestTemplatesOverride(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("verify-email.subject.txt", "Welcome to {{.Product}}, please verify\n")
	write("README.md", "not a template")

	def := loadTemplates(t, "")
	tm := loadTemplates(t, dir)
	d := dataFor("verify-email")
	subject, text, htm, err := tm.Render("verify-email", d)
	if err != nil {
		t.Fatal(err)
	}
	if subject != "Welcome to Auther, please verify" {
		t.Errorf("override subject = %q", subject)
	}
	_, defText, defHTML, _ := def.Render("verify-email", d)
	if text != defText || htm != defHTML {
		t.Error("text/html of the same kind should still be the embedded ones")
	}
	for _, kind := range allKinds[1:] {
		s1, t1, h1, err1 := tm.Render(kind, dataFor(kind))
		s2, t2, h2, err2 := def.Render(kind, dataFor(kind))
		if err1 != nil || err2 != nil || s1 != s2 || t1 != t2 || h1 != h2 {
			t.Errorf("%s changed by an unrelated override", kind)
		}
	}
}

func TestTemplatesBrokenOverrideNamesFile(t *testing.T) {
	for name, body := range map[string]string{
		"magic-link.html":                 "<p>{{.URL</p>",   // parse error
		"otp-sign-in.txt":                 "Code: {{.Code}}", // no such field: fails on execute
		"reset-password.subject.txt":      "{{if .Name}}Hi",  // unclosed action
		"change-email-confirm.html":       "{{template \"x\"}}",
		"otp-forget-password.subject.txt": "{{.OTP | nope}}",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := mail.LoadTemplates(dir)
			if err == nil {
				t.Fatal("LoadTemplates accepted a broken template")
			}
			if !strings.Contains(err.Error(), filepath.Join(dir, name)) {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

func TestTemplatesMissingOverrideDir(t *testing.T) {
	if _, err := mail.LoadTemplates(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("a missing override folder should be an error")
	}
}

func TestRenderRefusesSecretsInSubject(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "otp-sign-in.subject.txt"), []byte("Your code is {{.OTP}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	tm := loadTemplates(t, dir)
	if _, _, _, err := tm.Render("otp-sign-in", dataFor("otp-sign-in")); err == nil {
		t.Error("a subject with the OTP rendered")
	}
}

// A rendered message travels through SMTP with its link intact.
func TestRenderAndSend(t *testing.T) {
	tm := loadTemplates(t, "")
	srv := mailtest.NewServer(t)
	host, port := srv.Addr()
	s := newSender(t, mail.SMTPConfig{Host: host, Port: port, TLS: "none"})
	d := dataFor("reset-password")
	subject, text, htm, err := tm.Render("reset-password", d)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), mail.Message{ID: "r1", To: d.Email, Subject: subject, Text: text, HTML: htm}); err != nil {
		t.Fatal(err)
	}
	got := srv.WaitFor(t, 1, 5*time.Second)[0]
	if got.Subject != subject {
		t.Errorf("Subject = %q, want %q", got.Subject, subject)
	}
	if got.Text != text {
		t.Errorf("text changed in transit:\n got %q\nwant %q", got.Text, text)
	}
}
