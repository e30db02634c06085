package web

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/template/parse"
	"time"
	"unicode"
)

func newTestRenderer(t *testing.T) *Renderer {
	t.Helper()
	r, err := New(Brand{Name: "Acme ID", LogoURL: "https://cdn.example.com/logo.png", Accent: "#0a7"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// samplePages fills every page with everything it can show, so rendering
// reaches every branch that prints text.
func samplePages() map[string]*Page {
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	return map[string]*Page{
		"sign-in": {CSRF: "tok", Return: "/api/auth/oauth2/authorize?client_id=a&x=1", MagicLink: true, EmailOTP: true, SignUpOpen: true,
			Alert: M("signin.error.invalid"), Values: map[string]string{"email": "a@example.com"}},
		"sign-up":         {CSRF: "tok", Return: "/account", SignUpOpen: true, MinLength: 8, Alert: M("signup.error.exists"), InvalidFor: "email"},
		"forgot-password": {CSRF: "tok"},
		"reset-password":  {CSRF: "tok", Token: "t", TokenGood: true, MinLength: 8, Alert: M("reset.error.mismatch"), InvalidFor: "confirmPassword"},
		"message":         {Heading: M("verify.ok.heading"), Text: M("verify.ok.text"), Continue: "/account", ContinueLabel: M("label.continue")},
		"error":           {Heading: M("error.generic.heading"), Text: M("error.generic.text"), Ref: "ref123", Detail: M("error.details", "redirect_uri")},
		"consent": {Client: "Billing <App>", Email: "a@example.com", Request: "client_id=a&scope=openid", CSRF: "tok",
			Scopes: []*Message{M("scope.openid"), M("scope.email"), M("scope.other", "calendar")}},
		"sign-out": {Action: "/sign-out", Email: "a@example.com", CSRF: "tok", Hidden: []Field{{"state", "s"}}},
		"account": {CSRF: "tok", MinLength: 8, Notice: M("account.notice.profile"), Values: map[string]string{},
			Account: &Account{Name: "Ada", Email: "ada@example.com", EmailVerified: true, Image: "https://img.example.com/a.png", Avatar: "https://img.example.com/a.png",
				Sessions: []Session{
					{ID: "s1", Device: "Firefox on Linux", IP: "192.0.2.1", Created: now, Renewed: now, Current: true},
					{ID: "s2", Device: "Safari on iOS", Created: now, Renewed: now},
				},
				Linked: []Linked{{Provider: "credential", Name: M("account.linked.password"), Since: now}, {Provider: "github", Name: M("provider.github"), Since: now}}}},
	}
}

func TestEveryPageRendersWithItsContract(t *testing.T) {
	r := newTestRenderer(t)
	want := map[string][]string{
		"sign-in":         {`<form id="sign-in" method="post" action="/sign-in">`, `name="email"`, `name="password"`, `id="sign-up-link"`, `id="forgot-link"`, `<form id="sign-in-email"`, `value="magic-link"`, `value="otp"`, `name="csrf" value="tok"`, `role="alert"`},
		"sign-up":         {`<form id="sign-up"`, `name="name"`, `name="email"`, `name="password"`, `aria-invalid="true"`},
		"forgot-password": {`<form id="forgot"`, `name="email"`},
		"reset-password":  {`<form id="reset"`, `name="password"`, `name="confirmPassword"`, `name="token" value="t"`},
		"message":         {`<a id="continue"`, `href="/account"`},
		"error":           {`data-error-ref>ref123<`, `role="alert"`},
		"consent":         {`<form id="consent"`, `<ul id="scopes"`, `name="decision" value="approve"`, `name="decision" value="deny"`, `Billing &lt;App&gt;`, `calendar`},
		"sign-out":        {`<form id="sign-out" method="post" action="/sign-out">`, `name="state" value="s"`},
		"account": {`<form id="profile"`, `name="image"`, `<form id="password"`, `name="currentPassword"`, `name="newPassword"`, `name="revokeOtherSessions"`,
			`<form id="email"`, `name="newEmail"`, `<ul id="sessions"`, `data-session-id="s1" data-current="true"`, `<li data-session-id="s2">`,
			`<form class="revoke-session"`, `<form id="revoke-others"`, `<ul id="accounts"`, `data-provider="github"`, `role="status"`,
			`<strong>GitHub</strong>`, `<strong>Password</strong>`},
	}
	for name, p := range samplePages() {
		b, err := r.RenderBytes(name, p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		html := string(b)
		for _, w := range append(want[name], `<html lang="en"`, `href="#main"`, `id="main"`, `Acme ID`, `href="`+r.StylesheetPath()+`"`) {
			if !strings.Contains(html, w) {
				t.Errorf("%s: missing %s", name, w)
			}
		}
		for _, bad := range []string{"<script", "style=", "<style"} {
			if strings.Contains(html, bad) {
				t.Errorf("%s: contains %s (the CSP would block it)", name, bad)
			}
		}
		if n := strings.Count(html, "autofocus"); n > 1 {
			t.Errorf("%s: %d autofocus attributes", name, n)
		}
		if !strings.Contains(html, "<label") && strings.Contains(html, `type="email"`) {
			t.Errorf("%s: inputs without labels", name)
		}
		// Every visible input has a label pointing at it.
		for _, m := range regexp.MustCompile(`<input id="([^"]+)"[^>]*type="(text|email|password|url|checkbox)"`).FindAllStringSubmatch(html, -1) {
			if !strings.Contains(html, `<label for="`+m[1]+`"`) {
				t.Errorf("%s: input #%s has no label", name, m[1])
			}
		}
	}
	// The current device carries no revoke form; the other one does.
	b, _ := r.RenderBytes("account", samplePages()["account"])
	if n := strings.Count(string(b), `class="revoke-session"`); n != 1 {
		t.Errorf("%d revoke forms for one other session", n)
	}
}

// The strings catalog is the only source of words: templates hold markup,
// placeholders and values that are not shown. The check reads each template
// with every action replaced by a marker, drops the tags (keeping the
// attributes people see or hear: alt, title, aria-label, placeholder) and
// requires that no letter is left.
func TestTemplatesHaveNoLiteralText(t *testing.T) {
	srcs, err := templateSources()
	if err != nil {
		t.Fatal(err)
	}
	tagRE := regexp.MustCompile(`<[^>]*>`)
	visibleAttrRE := regexp.MustCompile(`\b(alt|title|aria-label|placeholder)="([^"]*)"`)
	for path, src := range srcs {
		tr := parse.New(path)
		tr.Mode = parse.SkipFuncCheck
		trees := map[string]*parse.Tree{}
		if _, err := tr.Parse(src, "{{", "}}", trees); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for name, tree := range trees {
			var b strings.Builder
			skeleton(&b, tree.Root)
			text := b.String()
			for _, m := range visibleAttrRE.FindAllStringSubmatch(text, -1) {
				if hasLetter(m[2]) {
					t.Errorf("%s (%s): literal text in %s=%q", path, name, m[1], m[2])
				}
			}
			if rest := tagRE.ReplaceAllString(text, " "); hasLetter(rest) {
				t.Errorf("%s (%s): literal text outside the catalog: %q", path, name, strings.Join(strings.Fields(strings.Map(func(r rune) rune {
					if r == 0 {
						return ' '
					}
					return r
				}, rest)), " "))
			}
		}
	}
}

func skeleton(b *strings.Builder, n parse.Node) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			skeleton(b, c)
		}
	case *parse.TextNode:
		b.Write(n.Text)
	case *parse.IfNode:
		skeleton(b, n.List)
		skeleton(b, n.ElseList)
	case *parse.RangeNode:
		skeleton(b, n.List)
		skeleton(b, n.ElseList)
	case *parse.WithNode:
		skeleton(b, n.List)
		skeleton(b, n.ElseList)
	default: // actions and template calls print values, not literals
		b.WriteByte(0)
	}
}

func hasLetter(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

// Every catalog key is used somewhere (templates or the handlers' Go code)
// and every translation has exactly English's keys.
func TestCatalogsAreCompleteAndUsed(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	en := cats["en"]
	for lang, c := range cats {
		for k := range en {
			if _, ok := c[k]; !ok {
				t.Errorf("%s.json lacks %q", lang, k)
			}
		}
		for k := range c {
			if _, ok := en[k]; !ok {
				t.Errorf("%s.json has %q, which en.json does not", lang, k)
			}
		}
	}
	var corpus strings.Builder
	srcs, _ := templateSources()
	for _, s := range srcs {
		corpus.WriteString(s)
	}
	files, _ := filepath.Glob("*.go")
	pages, _ := filepath.Glob("../httpapi/*.go") // the handlers choose messages
	for _, f := range append(files, pages...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		corpus.Write(b)
	}
	all := corpus.String()
	for k := range en {
		if !strings.Contains(all, `"`+k+`"`) {
			t.Errorf("string %q is never used", k)
		}
	}
	// Keys are plain: no duplicates hidden by JSON decoding.
	raw, _ := stringsFS.ReadFile("strings/en.json")
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	seen := map[string]bool{}
	dec.Token()
	for dec.More() {
		tok, _ := dec.Token()
		k := tok.(string)
		if seen[k] {
			t.Errorf("en.json repeats %q", k)
		}
		seen[k] = true
		var v string
		dec.Decode(&v)
	}
}

func TestUnknownKeyFailsRendering(t *testing.T) {
	r := newTestRenderer(t)
	if _, err := r.RenderBytes("message", &Page{Heading: M("no.such.key")}); err == nil {
		t.Fatal("a page with an unknown string rendered")
	}
}

func TestParseUserAgent(t *testing.T) {
	cases := []struct{ ua, browser, os string }{
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "Chrome", "Windows"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87", "Edge", "Windows"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "Safari", "macOS"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari", "iOS"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.153 Mobile/15E148 Safari/604.1", "Chrome", "iOS"},
		{"Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/127.0 Mobile/15E148 Safari/605.1.15", "Firefox", "iPadOS"},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox", "Linux"},
		{"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36", "Samsung Internet", "Android"},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36", "Chrome", "Android"},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "Chrome", "ChromeOS"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0", "Opera", "Windows"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", "Headless Chrome", "Linux"},
		{"curl/8.5.0", "curl", ""},
		{"", "", ""},
		{"SomethingElse/1.0", "", ""},
	}
	for _, c := range cases {
		b, o := ParseUserAgent(c.ua)
		if b != c.browser || o != c.os {
			t.Errorf("%q: got %q on %q, want %q on %q", c.ua, b, o, c.browser, c.os)
		}
	}
	r := newTestRenderer(t)
	for ua, want := range map[string]string{
		cases[0].ua:          "Chrome on Windows",
		"curl/8.5.0":         "curl",
		"Foo (Windows NT 6)": "A browser on Windows",
		"":                   "Unknown device",
	} {
		if got := r.DeviceName("en", ua); got != want {
			t.Errorf("DeviceName(%q) = %q, want %q", ua, got, want)
		}
	}
}

// Whatever accent is configured, the colours derived from it are readable.
func TestAccentColoursKeepContrast(t *testing.T) {
	for _, a := range []string{"#1d4ed8", "#ffff00", "#000080", "#777", "#ff0000", "#00ff00", "#ffffff", "#000000", "#0a7", "#e11d48"} {
		p, err := newPalette(a)
		if err != nil {
			t.Fatal(err)
		}
		if c := contrast(p.onAccent, p.accent); c < 4.5 {
			t.Errorf("%s: button text contrast %.2f", a, c)
		}
		if c := contrast(p.linkLight, lightSurface); c < 4.5 {
			t.Errorf("%s: link contrast on light %.2f (%s)", a, c, p.linkLight.hex())
		}
		if c := contrast(p.linkDark, darkSurface); c < 4.5 {
			t.Errorf("%s: link contrast on dark %.2f (%s)", a, c, p.linkDark.hex())
		}
	}
	for _, bad := range []string{"blue", "#12345", "#ggg", "1d4ed8", "#1d4ed8;}body{", ""} {
		if _, err := newPalette(bad); err == nil {
			t.Errorf("accent %q accepted", bad)
		}
	}
	if _, err := New(Brand{Accent: "red"}); err == nil {
		t.Error("New accepted an accent that is not a hex colour")
	}
	if _, err := New(Brand{LogoURL: "javascript:alert(1)"}); err == nil {
		t.Error("New accepted a javascript: logo")
	}
	if _, err := New(Brand{LogoURL: "http://cdn.example.com/logo.png"}); err == nil {
		t.Error("New accepted a plain-http logo, which the CSP would block")
	}
}

// The stylesheet's own colours meet AA on the surfaces they are used on, in
// the light scheme and in the dark one.
func TestStylesheetContrast(t *testing.T) {
	css := string(baseCSS)
	dark := css[strings.Index(css, "@media (prefers-color-scheme: dark)"):]
	vars := func(block string) map[string]rgb {
		out := map[string]rgb{}
		for _, m := range regexp.MustCompile(`--([a-z-]+):\s*(#[0-9a-f]{3,6});`).FindAllStringSubmatch(block, -1) {
			if _, ok := out[m[1]]; ok {
				continue
			}
			c, err := parseHex(m[2])
			if err != nil {
				t.Fatal(err)
			}
			out[m[1]] = c
		}
		return out
	}
	light := vars(css)
	dk := vars(dark[:strings.Index(dark, "}\n}")])
	for scheme, v := range map[string]map[string]rgb{"light": light, "dark": dk} {
		if v["surface"] != lightSurface && scheme == "light" || v["surface"] != darkSurface && scheme == "dark" {
			t.Errorf("%s surface %s is not the one color.go assumes", scheme, v["surface"].hex())
		}
		for _, pair := range [][3]string{
			{"text", "surface", "4.5"}, {"text", "bg", "4.5"}, {"muted", "surface", "4.5"},
			{"error-text", "error-bg", "4.5"}, {"ok-text", "ok-bg", "4.5"}, {"border", "surface", "3"},
			{"error-border", "surface", "3"},
		} {
			want := 4.5
			if pair[2] == "3" {
				want = 3
			}
			if c := contrast(v[pair[0]], v[pair[1]]); c < want {
				t.Errorf("%s: --%s on --%s is %.2f:1, want %.1f", scheme, pair[0], pair[1], c, want)
			}
		}
	}
}

func TestStylesheetIsServedForGood(t *testing.T) {
	r := newTestRenderer(t)
	srv := httptest.NewServer(r.Assets())
	defer srv.Close()
	resp, err := http.Get(srv.URL + r.StylesheetPath())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") ||
		!strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || !strings.Contains(string(body), "--accent:#00aa77") {
		t.Errorf("stylesheet: %d %v %.80s", resp.StatusCode, resp.Header, body)
	}
	resp, _ = http.Get(srv.URL + "/assets/style.0000.css")
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("unknown asset: %d", resp.StatusCode)
	}
	// Another accent is another file name: caches never mix brands.
	r2, _ := New(Brand{Accent: "#123456"})
	if r2.StylesheetPath() == r.StylesheetPath() {
		t.Error("two brands share a stylesheet name")
	}
}

func TestLanguageFallsBackToEnglish(t *testing.T) {
	r := newTestRenderer(t)
	for _, h := range []string{"", "de-DE,de;q=0.9", "en-GB,en;q=0.8", "*"} {
		if got := r.Language(h); got != "en" {
			t.Errorf("Language(%q) = %q", h, got)
		}
	}
}
