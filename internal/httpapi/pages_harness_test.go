package httpapi_test

import (
	"html"
	"net/url"
	"regexp"
)

// Helpers for driving the hosted pages like a browser with JavaScript off:
// GET a page (which sets the CSRF cookie in the client's jar), read its
// form's token, POST the form.

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// formToken fetches a page and returns the CSRF token of its first form.
func (c *client) formToken(path string) string {
	c.e.t.Helper()
	r := c.get(path)
	m := csrfRE.FindSubmatch(r.Body)
	if m == nil {
		c.e.t.Fatalf("GET %s: %d, no CSRF field:\n%s", path, r.Status, r.Body)
	}
	return html.UnescapeString(string(m[1]))
}

// signInForm signs in through the sign-in page, returning the POST's answer
// (303 to the return target on success).
func (c *client) signInForm(ret, email, password string) response {
	c.e.t.Helper()
	tok := c.formToken("/sign-in?return=" + url.QueryEscape(ret))
	return c.postForm("/sign-in", url.Values{"csrf": {tok}, "return": {ret}, "email": {email}, "password": {password}})
}

// submit fetches page, then posts form (with the page's CSRF token) to
// action.
func (c *client) submit(page, action string, form url.Values) response {
	c.e.t.Helper()
	form.Set("csrf", c.formToken(page))
	return c.postForm(action, form)
}
