// Package web renders Auther's hosted pages: sign-in, sign-up, password
// reset, email verification, consent, sign-out, errors and the account page.
// Templates and the one stylesheet are embedded; every user-visible word
// comes from a strings catalog (strings/<lang>.json) through T, so a page can
// be translated by adding a catalog. Pages work without JavaScript and load
// nothing from other origins except the configured logo.
//
// The package renders; it knows nothing of sessions or requests. Handlers
// (internal/httpapi) fill a Page and set the security headers.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets/style.css
var baseCSS []byte

// Brand is what a deployment shows of itself on every page.
type Brand struct {
	Name    string // product name; "Auther" when empty
	LogoURL string // optional image, https:// or a path on this server
	Accent  string // accent colour, #rgb or #rrggbb; a blue when empty
}

// DefaultAccent is the accent colour when none is configured.
const DefaultAccent = "#1d4ed8"

// Message is a catalog key with its arguments, rendered in the reader's
// language.
type Message struct {
	Key  string
	Args []any
}

// M makes a Message.
func M(key string, args ...any) *Message { return &Message{Key: key, Args: args} }

// Field is a hidden form field.
type Field struct{ Name, Value string }

// Page is everything a template may show. Each page uses the fields it
// needs; the rest stay zero.
type Page struct {
	Lang string // catalog to use; "" means English

	CSRF   string
	Return string // validated return target, carried by the forms

	Alert      *Message          // an error, announced (role=alert) and focused
	Notice     *Message          // a success, announced politely (role=status)
	InvalidFor string            // name of the field the alert is about
	Values     map[string]string // form values to show again

	// sign-in and sign-up
	MagicLink  bool
	EmailOTP   bool
	SignUpOpen bool
	CodeSent   bool // sign-in: the emailed-code step
	MinLength  int  // shortest password accepted

	// reset-password
	Token     string
	TokenGood bool

	// message and error pages
	Heading       *Message
	Text          *Message
	Continue      string // href of a#continue
	ContinueLabel *Message
	Ref           string   // error reference id
	Detail        *Message // error: technical detail for an application's developer

	// consent
	Client  string
	Scopes  []*Message
	Email   string
	Request string

	// sign-out (also the OpenID Connect end-session confirmation)
	Action string
	Hidden []Field

	// account
	Account *Account
}

// Value returns a form value to show again.
func (p *Page) Value(name string) string { return p.Values[name] }

// Invalid tells whether the alert is about the named field.
func (p *Page) Invalid(name string) bool { return p.Alert != nil && p.InvalidFor == name }

// Account is the account page's content.
type Account struct {
	Name          string
	Email         string
	EmailVerified bool
	Image         string // the picture's URL as stored
	Avatar        string // the picture to show: Image when it is an https URL
	Sessions      []Session
	SessionsStale bool // the session is too old to list sessions: sign in again
	Linked        []Linked
}

// Session is one signed-in device.
type Session struct {
	ID      string
	Device  string // "Firefox on Windows", from the user agent
	IP      string
	Created time.Time
	// Renewed is when the session was last extended (session.updated_at),
	// which is not every use: it is shown as such, not as "last active".
	Renewed time.Time
	Current bool
}

// Linked is one way the user signs in (password, or an external provider).
type Linked struct {
	Provider string   // account.provider_id
	Name     *Message // what people call it ("Password", "GitHub")
	Since    time.Time
}

// Renderer renders pages for one brand.
type Renderer struct {
	brand      brandView
	css        []byte
	cssPath    string
	pages      map[string]map[string]*template.Template // by language, then page
	catalogs   map[string]catalog
	fallback   catalog
	assetsETag string
}

type brandView struct {
	Name       string
	LogoURL    string
	Stylesheet string
}

// Pages lists the templates a Renderer knows.
var Pages = []string{"sign-in", "sign-up", "forgot-password", "reset-password", "message", "error", "consent", "sign-out", "account"}

// New checks the brand and prepares every template.
func New(b Brand) (*Renderer, error) {
	if b.Name == "" {
		b.Name = "Auther"
	}
	if b.Accent == "" {
		b.Accent = DefaultAccent
	}
	pal, err := newPalette(b.Accent)
	if err != nil {
		return nil, err
	}
	if b.LogoURL != "" && !strings.HasPrefix(b.LogoURL, "https://") && !(strings.HasPrefix(b.LogoURL, "/") && !strings.HasPrefix(b.LogoURL, "//")) {
		return nil, fmt.Errorf("brand logo URL must be https:// or a path on this server, not %q", b.LogoURL)
	}
	cats, err := loadCatalogs()
	if err != nil {
		return nil, err
	}
	r := &Renderer{catalogs: cats, fallback: cats["en"], pages: map[string]map[string]*template.Template{}}
	r.css = append([]byte(pal.css()), baseCSS...)
	sum := sha256.Sum256(r.css)
	r.assetsETag = hex.EncodeToString(sum[:8])
	r.cssPath = "/assets/style." + r.assetsETag + ".css"
	r.brand = brandView{Name: b.Name, LogoURL: b.LogoURL, Stylesheet: r.cssPath}
	for lang, cat := range cats {
		r.pages[lang] = map[string]*template.Template{}
		for _, name := range Pages {
			t := template.New(name).Option("missingkey=error").Funcs(template.FuncMap{
				"T":    cat.T,
				"msg":  cat.msg,
				"when": func(tm time.Time) string { return tm.UTC().Format(cat.get("format.datetime")) },
				"iso":  func(tm time.Time) string { return tm.UTC().Format(time.RFC3339) },
			})
			t, err := t.ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
			if err != nil {
				return nil, fmt.Errorf("template %s: %w", name, err)
			}
			r.pages[lang][name] = t
		}
	}
	return r, nil
}

// view is what templates execute on: the page plus the brand.
type view struct {
	*Page
	Brand brandView
	Wide  bool
}

// Render executes the named page into a buffer (so a template error never
// leaves half a page) and writes it with the status.
func (r *Renderer) Render(w http.ResponseWriter, status int, name string, p *Page) error {
	b, err := r.RenderBytes(name, p)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err = w.Write(b)
	return err
}

// RenderBytes executes the named page.
func (r *Renderer) RenderBytes(name string, p *Page) ([]byte, error) {
	lang := p.Lang
	if _, ok := r.pages[lang]; !ok {
		lang = "en"
	}
	t, ok := r.pages[lang][name]
	if !ok {
		return nil, fmt.Errorf("web: no page %q", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", view{Page: p, Brand: r.brand, Wide: name == "account"}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// T looks up a string in the named language's catalog (English when the
// language has none), for text built outside templates.
func (r *Renderer) T(lang, key string, args ...any) string {
	s, err := r.catalog(lang).T(key, args...)
	if err != nil {
		return key
	}
	return s
}

func (r *Renderer) catalog(lang string) catalog {
	if c, ok := r.catalogs[lang]; ok {
		return c
	}
	return r.fallback
}

// Language picks the best catalog for an Accept-Language header.
func (r *Renderer) Language(acceptLanguage string) string {
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.ToLower(tag)
		if _, ok := r.catalogs[tag]; ok {
			return tag
		}
		if primary, _, ok := strings.Cut(tag, "-"); ok {
			if _, ok := r.catalogs[primary]; ok {
				return primary
			}
		}
	}
	return "en"
}

// StylesheetPath is where the stylesheet is served; its name carries a hash
// of its content, so it can be cached for good.
func (r *Renderer) StylesheetPath() string { return r.cssPath }

// Assets serves /assets/: the stylesheet under its hashed name.
func (r *Renderer) Assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if req.URL.Path != r.cssPath {
			http.NotFound(w, req)
			return
		}
		h.Set("Content-Type", "text/css; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Set("ETag", `"`+r.assetsETag+`"`)
		if req.Header.Get("If-None-Match") == `"`+r.assetsETag+`"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if req.Method == http.MethodHead {
			return
		}
		w.Write(r.css)
	})
}

// templateSources returns every template's text, for tests.
func templateSources() (map[string]string, error) {
	out := map[string]string{}
	err := fs.WalkDir(templateFS, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := templateFS.ReadFile(path)
		out[path] = string(b)
		return err
	})
	return out, err
}
