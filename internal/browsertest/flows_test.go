package browsertest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

func random() string {
	var b [12]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// A new user arrives from an app, signs up, verifies the address through
// the mailed link, signs in, approves the app, and the app receives a code
// it can redeem: the return target survives the whole trip.
func TestSignUpVerifySignInConsent(t *testing.T) {
	h := newHarness(t)
	const (
		name     = "Ada Lovelace"
		email    = "ada@example.com"
		password = "correct horse battery"
	)
	state, nonce, verifier := random(), random(), oauth2.GenerateVerifier()
	rp := &oauth2.Config{
		ClientID: h.clientID, ClientSecret: h.clientSecret, RedirectURL: h.rp.CallbackURL,
		Scopes: []string{"openid", "profile", "email"},
		Endpoint: oauth2.Endpoint{
			AuthURL:   h.auther.URL + "/api/auth/oauth2/authorize",
			TokenURL:  h.auther.URL + "/api/auth/oauth2/token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}
	h.open(rp.AuthCodeURL(state, gooidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)))

	// Not signed in: the sign-in page, carrying the authorization request.
	u := h.waitPath("/sign-in")
	checkReturn(t, "the sign-in page's return", u.Query().Get("return"), state)
	h.visible("form#sign-in")

	// No account yet: on to sign-up, which keeps the return target.
	checkReturn(t, "a#sign-up-link", returnOf(t, h.resolve(h.attr("a#sign-up-link", "href"))), state)
	h.submit("a#sign-up-link")
	h.waitPath("/sign-up")
	h.fill("form#sign-up input[name=name]", name)
	h.fill("form#sign-up input[name=email]", email)
	h.fill("form#sign-up input[name=password]", password)
	h.submit("form#sign-up button[type=submit]")
	h.waitPath("/check-inbox")
	if s := h.browserSession(); s != nil {
		t.Fatalf("with verification required, sign-up left a session: %v", s)
	}

	// The verification mail's link ends on the verify-email page, whose
	// continue link leads back to the authorization request.
	subject, link := h.nextMail(email)
	h.open(link)
	h.waitPath("/verify-email")
	h.visible("h1")
	cont := h.resolve(h.attr("a#continue", "href"))
	checkReturn(t, "a#continue after verifying ("+subject+")", returnOf(t, cont), state)
	h.submit("a#continue")

	// Verification does not sign in here: sign in with the new password.
	u = h.waitPath("/sign-in")
	checkReturn(t, "the sign-in page's return after verifying", u.Query().Get("return"), state)
	h.fill("form#sign-in input[name=email]", email)
	h.fill("form#sign-in input[name=password]", password)
	h.submit("form#sign-in button[type=submit]")

	// Consent: the client's name and each requested scope in words.
	h.visible("form#consent")
	if body := h.text("body"); !strings.Contains(body, clientName) {
		t.Errorf("the consent page does not name the client %q:\n%s", clientName, body)
	}
	if n := h.count("ul#scopes li"); n != len(rp.Scopes) {
		t.Errorf("the consent page lists %d scopes, want %d (%v)", n, len(rp.Scopes), rp.Scopes)
	}
	for i := range h.count("ul#scopes li") {
		w := h.text("ul#scopes li:nth-child(" + strconv.Itoa(i+1) + ")")
		if w == "" || strings.Contains(w, "_") || w == "openid" || w == "profile" || w == "email" {
			t.Errorf("scope %d is shown as %q, not in words", i+1, w)
		}
	}
	h.submit("form#consent button[name=decision][value=approve]")

	// The app receives a code and its own state.
	h.waitPath("/callback")
	h.visible("#rp-result")
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	cb, err := h.rp.Wait(ctx)
	if err != nil {
		t.Fatalf("the app received no authorization response: %v", err)
	}
	if e := cb.Query.Get("error"); e != "" {
		t.Fatalf("the app received an error: %s (%s)", e, cb.Query.Get("error_description"))
	}
	code := cb.Query.Get("code")
	if code == "" {
		t.Fatalf("no code in the callback: %v", cb.Query)
	}
	if got := cb.Query.Get("state"); got != state {
		t.Fatalf("state = %q, want %q", got, state)
	}
	if got := cb.Query.Get("iss"); got != h.auther.URL {
		t.Errorf("iss = %q, want %q", got, h.auther.URL)
	}

	// The code is real: the token endpoint redeems it, the ID token verifies
	// against the published keys, and the access token reads userinfo.
	tok, err := rp.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchanging the code: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("the token response has no id_token")
	}
	provider, err := gooidc.NewProvider(ctx, h.auther.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	idt, err := provider.Verifier(&gooidc.Config{ClientID: h.clientID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("the ID token does not verify: %v", err)
	}
	if idt.Nonce != nonce {
		t.Errorf("ID token nonce = %q, want %q", idt.Nonce, nonce)
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
		Name          string `json:"name"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Email != email || !claims.EmailVerified || claims.Name != name {
		t.Errorf("ID token claims = %+v, want %s, verified, %s", claims, email, name)
	}
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if info.Subject != idt.Subject || info.Email != email {
		t.Errorf("userinfo = %s %s, want %s %s", info.Subject, info.Email, idt.Subject, email)
	}
	// A code is good once.
	if _, err := rp.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err == nil {
		t.Error("the code was redeemed a second time")
	}
}

// returnOf gives the final target of a link: the link itself, or the
// return parameter when it leads to the sign-in page first.
func returnOf(t *testing.T, u *url.URL) string {
	t.Helper()
	if u.Path == "/sign-in" || u.Path == "/sign-up" {
		return u.Query().Get("return")
	}
	return u.RequestURI()
}

// checkReturn checks that ret is the same-origin authorization request
// carrying state.
func checkReturn(t *testing.T, what, ret, state string) {
	t.Helper()
	u, err := url.Parse(ret)
	if err != nil || u.Host != "" || u.Path != "/api/auth/oauth2/authorize" || u.Query().Get("state") != state {
		t.Fatalf("%s = %q, want the authorization request with state %s", what, ret, state)
	}
}

// A user who forgot the password asks for a reset, follows the mailed
// link, sets a new password and signs in with it; the old one no longer
// works.
func TestForgotAndResetPassword(t *testing.T) {
	h := newHarness(t)
	const (
		email = "grace@example.com"
		oldPW = "old password 1234"
		newPW = "brand new password 5678"
	)
	h.verifiedUser("Grace Hopper", email, oldPW)

	h.open("/sign-in")
	h.submit("a#forgot-link")
	h.waitPath("/forgot-password")
	h.fill("form#forgot input[name=email]", email)
	h.submit("form#forgot button[type=submit]")
	h.waitPath("/check-inbox")

	_, link := h.nextMail(email)
	h.open(link)
	h.waitPath("/reset-password")
	h.visible("form#reset")
	h.fill("form#reset input[name=password]", newPW)
	h.fill("form#reset input[name=confirmPassword]", newPW)
	h.submit("form#reset button[type=submit]")
	h.visible("a#continue")
	if got := h.resolve(h.attr("a#continue", "href")).Path; got != "/sign-in" {
		t.Fatalf("after the reset, continue leads to %q, want /sign-in", got)
	}
	h.submit("a#continue")
	h.waitPath("/sign-in")

	// The old password is refused, with the error announced.
	h.fill("form#sign-in input[name=email]", email)
	h.fill("form#sign-in input[name=password]", oldPW)
	h.submit("form#sign-in button[type=submit]")
	h.visible("[role=alert]")
	if p := h.location().Path; p != "/sign-in" {
		t.Fatalf("the old password led to %s", p)
	}
	if s := h.browserSession(); s != nil {
		t.Fatalf("the old password signed in: %v", s)
	}

	// The new one works and lands on the account page.
	h.fill("form#sign-in input[name=email]", email)
	h.fill("form#sign-in input[name=password]", newPW)
	h.submit("form#sign-in button[type=submit]")
	h.waitPath("/account")
	h.signedInAs(email)
}

// Signed in on two devices, the user revokes the other one from the
// account page, and that device's session stops working.
func TestAccountRevokesAnotherSession(t *testing.T) {
	h := newHarness(t)
	const (
		email    = "alan@example.com"
		password = "turing machine 1936"
	)
	h.verifiedUser("Alan Turing", email, password)

	// The other device signs in through the JSON API.
	other := h.apiClient()
	if status, body := other.call(http.MethodPost, "/sign-in/email", map[string]any{"email": email, "password": password}); status != http.StatusOK {
		t.Fatalf("sign-in on the other device: %d %s", status, body)
	}
	otherSession := other.session()
	if otherSession == nil {
		t.Fatal("the other device has no session")
	}
	otherID, _ := otherSession["session"].(map[string]any)["id"].(string)

	// This device signs in through the page and goes to /account.
	h.open("/account")
	u := h.waitPath("/sign-in")
	if r := u.Query().Get("return"); r != "/account" {
		t.Errorf("/account without a session sent to sign-in with return %q, want /account", r)
	}
	h.fill("form#sign-in input[name=email]", email)
	h.fill("form#sign-in input[name=password]", password)
	h.submit("form#sign-in button[type=submit]")
	h.waitPath("/account")
	mine, _ := h.signedInAs(email)["session"].(map[string]any)["id"].(string)

	sessions := h.sessionItems()
	if len(sessions) != 2 {
		t.Fatalf("the account page lists %d sessions, want this one and the other: %v", len(sessions), sessions)
	}
	if sessions[mine] != "true" {
		t.Errorf("this device's session %s is not marked current: %v", mine, sessions)
	}
	if _, ok := sessions[otherID]; !ok {
		t.Fatalf("the other device's session %s is not listed: %v", otherID, sessions)
	}
	if sessions[otherID] == "true" {
		t.Fatalf("the other device's session is marked current: %v", sessions)
	}
	if n := h.count(`ul#sessions li[data-current="true"] form.revoke-session`); n != 0 {
		t.Errorf("this device's session has a revoke button")
	}
	item := `ul#sessions li[data-session-id="` + otherID + `"]`
	h.submit(item + ` form.revoke-session button[type=submit]`)
	h.waitPath("/account")
	if n := h.count(item); n != 0 {
		t.Errorf("the revoked session is still listed")
	}
	if _, ok := h.sessionItems()[mine]; !ok {
		t.Errorf("this device's session disappeared from the list")
	}
	if s := other.session(); s != nil {
		t.Fatalf("the revoked session still works: %v", s)
	}
	h.signedInAs(email)
}

// sessionItems maps each listed session id to its data-current value.
func (h *harness) sessionItems() map[string]string {
	h.t.Helper()
	ctx, cancel := h.step()
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(Object.fromEntries(
		Array.from(document.querySelectorAll('ul#sessions li[data-session-id]')).map(li => [li.dataset.sessionId, li.dataset.current || ""])))`))
	if err != nil {
		h.t.Fatalf("reading the session list: %v", err)
	}
	m := map[string]string{}
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		h.t.Fatal(err)
	}
	return m
}

// focused describes the element that has keyboard focus.
type focused struct {
	Key  string `json:"key"`  // a path that identifies the element
	Form string `json:"form"` // id of the enclosing form
	Tag  string `json:"tag"`
	Name string `json:"name"`
	Type string `json:"type"`
	Doc  int    `json:"doc"` // position in document order
}

func (f focused) is(form, tag, name, typ string) bool {
	return f.Form == form && f.Tag == tag && (name == "" || f.Name == name) && (typ == "" || f.Type == typ)
}

const focusedJS = `(() => {
  const e = document.activeElement;
  if (!e || e === document.body || e === document.documentElement) return {key: "", form: "", tag: "", name: "", type: "", doc: -1};
  let key = "", n = e;
  while (n && n.parentElement) { key = n.tagName + ":" + Array.prototype.indexOf.call(n.parentElement.children, n) + "/" + key; n = n.parentElement; }
  const f = e.closest("form");
  return {key, form: f ? f.id : "", tag: e.tagName.toLowerCase(), name: e.getAttribute("name") || "", type: (e.getAttribute("type") || "").toLowerCase(),
    doc: Array.prototype.indexOf.call(document.getElementsByTagName("*"), e)};
})()`

func (h *harness) focused() focused {
	h.t.Helper()
	ctx, cancel := h.step()
	defer cancel()
	f, err := chromedp.Run(ctx, chromedp.Evaluate[focused](focusedJS))
	if err != nil {
		h.t.Fatalf("reading the focused element: %v", err)
	}
	return f
}

// press sends keys to whatever has focus, as a keyboard does.
func (h *harness) press(keys string) {
	h.t.Helper()
	h.do("press "+strings.ReplaceAll(keys, "\t", "Tab"), chromedp.KeyEvent(keys))
}

// tabTo presses Tab until want has focus.
func (h *harness) tabTo(what string, want func(focused) bool) {
	h.t.Helper()
	for range 40 {
		if want(h.focused()) {
			return
		}
		h.press(kb.Tab)
	}
	h.t.Fatalf("Tab never reached %s", what)
}

// tabOrder presses Tab until the focus comes round again and returns the
// elements it visited, read from the top of the page.
func (h *harness) tabOrder() []focused {
	h.t.Helper()
	// One full round of the tab order (it starts wherever the page
	// put the focus, e.g. an autofocused field).
	var order []focused
	seen := map[string]bool{}
	for range 60 {
		h.press(kb.Tab)
		f := h.focused()
		if f.Key == "" {
			continue // the page itself, between rounds
		}
		if seen[f.Key] {
			break
		}
		seen[f.Key] = true
		order = append(order, f)
	}
	if len(order) == 0 {
		h.t.Fatal("Tab focuses nothing on the page")
	}
	// Read the round from the top of the page: from its element that comes
	// first in the document.
	first := 0
	for i, f := range order {
		if f.Doc < order[first].Doc {
			first = i
		}
	}
	return slices.Concat(order[first:], order[:first])
}

// A user signs in with the keyboard alone; the tab order reaches the email
// field, then the password, then the submit button.
func TestKeyboardOnlySignIn(t *testing.T) {
	h := newHarness(t)
	const (
		email    = "katherine@example.com"
		password = "orbital mechanics 1962"
	)
	h.verifiedUser("Katherine Johnson", email, password)
	h.open("/sign-in")
	h.visible("form#sign-in")

	isEmail := func(f focused) bool { return f.is("sign-in", "input", "email", "") }
	isPassword := func(f focused) bool { return f.is("sign-in", "input", "password", "") }
	isSubmit := func(f focused) bool { return f.is("sign-in", "button", "", "submit") }

	order := h.tabOrder()
	pos := func(match func(focused) bool) int {
		for i, f := range order {
			if match(f) {
				return i
			}
		}
		return -1
	}
	ie, ip, is := pos(isEmail), pos(isPassword), pos(isSubmit)
	if ie < 0 || ip < 0 || is < 0 || ie >= ip || ip >= is {
		t.Fatalf("tab order %+v: email at %d, password at %d, submit at %d; want all reachable, in that order", order, ie, ip, is)
	}

	// Sign in without the mouse.
	h.tabTo("the email field", isEmail)
	h.press(email)
	h.tabTo("the password field", isPassword)
	h.press(password)
	ctx, cancel := h.step()
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, chromedp.KeyEvent(kb.Enter)); err != nil {
		t.Fatalf("pressing Enter in the password field did not submit: %v", err)
	}
	h.waitPath("/account")
	h.signedInAs(email)
}
