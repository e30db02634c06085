package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/auther/auther/internal/testlog"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/auther/auther/internal/mail/mailtest"
)

// stepTimeout bounds every browser step, mail wait and HTTP call.
const stepTimeout = StepTimeout

var chromium struct {
	path string
	err  error
}

func TestMain(m *testing.M) {
	chromium.path, chromium.err = ChromiumPath()
	os.Exit(m.Run())
}

// requireChromium skips the test when no browser is installed, except under
// CI=true, where a missing browser is a failure.
func requireChromium(t *testing.T) {
	t.Helper()
	if chromium.err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%v: under CI=true the browser tests must run", chromium.err)
	}
	t.Skipf("%v; skipping the browser tests", chromium.err)
}

// harness is one Auther, its SMTP server, a relying party registered as a
// client that needs consent, and one headless Chromium.
type harness struct {
	t            *testing.T
	auther       *Auther
	smtp         *mailtest.Server
	rp           *RelyingParty
	clientID     string
	clientSecret string
	browser      *Browser
	log          *testlog.Buffer
	mailsSeen    int
}

const clientName = "Test App"

func newHarness(t *testing.T) *harness {
	t.Helper()
	requireChromium(t)
	h := &harness{t: t, smtp: mailtest.NewServer(t), log: &testlog.Buffer{}}
	host, port := h.smtp.Addr()
	a, err := Start(Options{
		DataDir: t.TempDir(), SMTPHost: host, SMTPPort: port,
		Logger: slog.New(slog.NewTextHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatalf("starting Auther: %v", err)
	}
	h.auther = a
	t.Cleanup(a.Close)
	rp, err := StartRelyingParty()
	if err != nil {
		t.Fatal(err)
	}
	h.rp = rp
	t.Cleanup(rp.Close)
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	h.clientID, h.clientSecret, err = a.RegisterClient(ctx, clientName, rp.CallbackURL)
	if err != nil {
		t.Fatal(err)
	}
	profile := t.TempDir()
	h.browser, err = Launch(context.Background(), chromium.path, profile, 1280, 900)
	if err != nil {
		t.Fatalf("launching %s: %v", chromium.path, err)
	}
	t.Cleanup(h.browser.Close)
	// Registered last, so it runs first: the page is still open.
	t.Cleanup(h.reportFailure)
	// Headless pages have no window focus; emulate it so that keyboard
	// focus (Tab, :focus styles) behaves as in a visible window.
	ctx, cancel = h.step()
	defer cancel()
	if _, err := chromedp.Call(ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		t.Fatalf("focus emulation: %v", err)
	}
	return h
}

// step returns a context bounded by stepTimeout for one browser step.
func (h *harness) step() (context.Context, context.CancelFunc) { return h.browser.Step() }

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// reportFailure saves a full-page screenshot and the page's HTML into a
// folder that outlives the test, and logs where it is, the page URL, the
// [role=alert] elements and the server log.
func (h *harness) reportFailure() {
	t := h.t
	if !t.Failed() {
		return
	}
	ctx, cancel := context.WithTimeout(h.browser.Ctx, 10*time.Second)
	defer cancel()
	dir, err := os.MkdirTemp("", "auther-browser-"+unsafeName.ReplaceAllString(t.Name(), "_")+"-")
	if err != nil {
		t.Logf("no folder for the failure screenshot: %v", err)
		return
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
		t.Logf("page URL at failure: %s", loc)
	}
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err != nil {
		t.Logf("screenshot failed: %v", err)
	} else if err := os.WriteFile(filepath.Join(dir, "failure.png"), png, 0o644); err == nil {
		t.Logf("screenshot of the failure: %s", filepath.Join(dir, "failure.png"))
	}
	if html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`)); err == nil {
		p := filepath.Join(dir, "page.html")
		if os.WriteFile(p, []byte(html), 0o644) == nil {
			t.Logf("page HTML: %s", p)
		}
	}
	if alerts, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`Array.from(document.querySelectorAll('[role=alert]')).map(e => e.outerHTML).join("\n")`)); err == nil && alerts != "" {
		t.Logf("[role=alert] on the page:\n%s", alerts)
	}
	t.Logf("server log:\n%s", h.log.String())
}

// ---------------------------------------------------------------------------
// Browser steps. Each is bounded by stepTimeout and fails the test with what
// it was doing.

func (h *harness) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	h.t.Helper()
	if err := h.browser.Do(steps...); err != nil {
		h.t.Fatalf("%s: %v", what, err)
	}
}

// open loads a URL (absolute, or a path on Auther) and waits for the load.
func (h *harness) open(u string) {
	h.t.Helper()
	if strings.HasPrefix(u, "/") {
		u = h.auther.URL + u
	}
	if _, err := h.browser.Open(u); err != nil {
		h.t.Fatalf("open %s: %v", u, err)
	}
}

// submit clicks sel and waits for the page it leads to, returning its
// HTTP status.
func (h *harness) submit(sel string) int64 {
	h.t.Helper()
	status, err := h.browser.Submit(sel)
	if err != nil {
		h.t.Fatal(err)
	}
	return status
}

// fill replaces the value of the input sel by typing v into it.
func (h *harness) fill(sel, v string) {
	h.t.Helper()
	if err := h.browser.Fill(sel, v); err != nil {
		h.t.Fatalf("type into %s: %v", sel, err)
	}
}

// visible waits until sel is shown.
func (h *harness) visible(sel string) {
	h.t.Helper()
	h.do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// location is the page's current URL.
func (h *harness) location() *url.URL {
	h.t.Helper()
	ctx, cancel := h.step()
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		h.t.Fatalf("reading the page URL: %v", err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		h.t.Fatal(err)
	}
	return u
}

// waitPath waits until the page shows path (on any origin) and has loaded.
func (h *harness) waitPath(path string) *url.URL {
	h.t.Helper()
	u, err := h.browser.WaitPath(path)
	if err != nil {
		h.t.Fatal(err)
	}
	return u
}

// count returns how many elements match sel.
func (h *harness) count(sel string) int {
	h.t.Helper()
	ctx, cancel := h.step()
	defer cancel()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
	if err != nil {
		h.t.Fatalf("counting %s: %v", sel, err)
	}
	return n
}

// attr returns attribute name of the first element matching sel.
func (h *harness) attr(sel, name string) string {
	h.t.Helper()
	ctx, cancel := h.step()
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil {
		h.t.Fatalf("reading %s of %s: %v", name, sel, err)
	}
	if !v.Exists {
		h.t.Fatalf("%s has no %s attribute", sel, name)
	}
	return v.Value
}

// text returns the visible text of the first element matching sel.
func (h *harness) text(sel string) string {
	h.t.Helper()
	ctx, cancel := h.step()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		h.t.Fatalf("reading the text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// resolve makes a link from the page absolute.
func (h *harness) resolve(href string) *url.URL {
	h.t.Helper()
	base, _ := url.Parse(h.auther.URL)
	u, err := base.Parse(href)
	if err != nil {
		h.t.Fatalf("link %q: %v", href, err)
	}
	return u
}

// ---------------------------------------------------------------------------
// Mail

// nextMail waits for the next message and checks it went to to; it returns
// the first link in its text, which must point at Auther.
func (h *harness) nextMail(to string) (subject, link string) {
	h.t.Helper()
	h.mailsSeen++
	msgs := h.smtp.WaitFor(h.t, h.mailsSeen, stepTimeout)
	m := msgs[h.mailsSeen-1]
	if len(m.To) != 1 || !strings.EqualFold(m.To[0], to) {
		h.t.Fatalf("mail %d (%q) went to %v, want %s", h.mailsSeen, m.Subject, m.To, to)
	}
	link = FirstLink(m.Text)
	if link == "" {
		h.t.Fatalf("no link in the mail %q:\n%s", m.Subject, m.Text)
	}
	if !strings.HasPrefix(link, h.auther.URL+"/") {
		h.t.Fatalf("the link %q in %q does not point at %s", link, m.Subject, h.auther.URL)
	}
	return m.Subject, link
}

// ---------------------------------------------------------------------------
// HTTP clients outside the browser (a second device, the relying party's
// back channel).

type apiClient struct {
	h    *harness
	http *http.Client
}

func (h *harness) apiClient() *apiClient {
	jar, _ := cookiejar.New(nil)
	return &apiClient{h: h, http: &http.Client{Jar: jar, Timeout: stepTimeout}}
}

// call sends a JSON request to /api/auth<path> with Auther's Origin and
// returns the status and body.
func (c *apiClient) call(method, path string, body any) (int, []byte) {
	c.h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.h.auther.URL+"/api/auth"+path, rd)
	if err != nil {
		c.h.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Origin", c.h.auther.URL)
	resp, err := c.http.Do(req)
	if err != nil {
		c.h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// session returns get-session's body, or nil when it is null.
func (c *apiClient) session() map[string]any {
	c.h.t.Helper()
	status, body := c.call(http.MethodGet, "/get-session", nil)
	if status != http.StatusOK {
		c.h.t.Fatalf("get-session: %d %s", status, body)
	}
	if strings.TrimSpace(string(body)) == "null" {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		c.h.t.Fatalf("get-session body %q: %v", body, err)
	}
	return m
}

// browserSession asks get-session with the cookies the browser holds for
// Auther, so it sees what the browser's session is worth on the server.
func (h *harness) browserSession() map[string]any {
	h.t.Helper()
	ctx, cancel := h.step()
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{h.auther.URL + "/"}})
	if err != nil {
		h.t.Fatalf("reading the browser's cookies: %v", err)
	}
	c := h.apiClient()
	u, _ := url.Parse(h.auther.URL)
	var cookies []*http.Cookie
	for _, ck := range res.Cookies {
		cookies = append(cookies, &http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	c.http.Jar.SetCookies(u, cookies)
	return c.session()
}

// verifiedUser creates a user through the JSON API and verifies its
// address by following the mailed link, as a user would before the test.
func (h *harness) verifiedUser(name, email, password string) {
	h.t.Helper()
	c := h.apiClient()
	status, body := c.call(http.MethodPost, "/sign-up/email", map[string]any{"name": name, "email": email, "password": password})
	if status != http.StatusOK {
		h.t.Fatalf("sign-up %s: %d %s", email, status, body)
	}
	_, link := h.nextMail(email)
	resp, err := c.http.Get(link)
	if err != nil {
		h.t.Fatalf("following the verification link: %v", err)
	}
	resp.Body.Close()
	check := h.apiClient()
	status, body = check.call(http.MethodPost, "/sign-in/email", map[string]any{"email": email, "password": password})
	if status != http.StatusOK {
		h.t.Fatalf("the seeded user cannot sign in after verifying: %d %s", status, body)
	}
	if status, body = check.call(http.MethodPost, "/sign-out", nil); status != http.StatusOK {
		h.t.Fatalf("signing the seeded user out: %d %s", status, body)
	}
}

// signedInAs checks that the browser holds a live session for email.
func (h *harness) signedInAs(email string) map[string]any {
	h.t.Helper()
	s := h.browserSession()
	if s == nil {
		h.t.Fatalf("the browser has no session after signing in as %s", email)
	}
	u, _ := s["user"].(map[string]any)
	if got, _ := u["email"].(string); !strings.EqualFold(got, email) {
		h.t.Fatalf("the browser is signed in as %q, want %s", got, email)
	}
	return s
}
