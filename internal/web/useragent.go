package web

import "strings"

// ParseUserAgent names the browser and the operating system in a
// User-Agent header ("Firefox", "Windows"), or "" for what it does not
// recognise.
//
// It is a short hand-written table rather than a library: the account page
// only needs a name a person recognises next to each signed-in device, and
// the complete parsers (ua-parser's regex files) are thousands of patterns
// that must be updated continually for precision this page does not show
// (versions, device models). Order matters: most browsers also claim to be
// the ones they derive from (Edge says Chrome and Safari, Chrome says
// Safari), so the more specific tokens are tested first.
func ParseUserAgent(ua string) (browser, os string) {
	return uaBrowser(ua), uaOS(ua)
}

var browsers = []struct{ token, name string }{
	{"Edg/", "Edge"}, {"EdgA/", "Edge"}, {"EdgiOS/", "Edge"}, {"Edge/", "Edge"},
	{"OPR/", "Opera"}, {"OPiOS/", "Opera"}, {"Opera", "Opera"},
	{"SamsungBrowser/", "Samsung Internet"},
	{"Vivaldi/", "Vivaldi"},
	{"YaBrowser/", "Yandex Browser"},
	{"Brave/", "Brave"},
	{"DuckDuckGo/", "DuckDuckGo"},
	{"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
	{"HeadlessChrome/", "Headless Chrome"},
	{"CriOS/", "Chrome"}, {"Chrome/", "Chrome"}, {"Chromium/", "Chromium"},
	{"Trident/", "Internet Explorer"}, {"MSIE ", "Internet Explorer"},
	{"curl/", "curl"}, {"Wget/", "Wget"}, {"Go-http-client/", "Go HTTP client"},
	{"okhttp/", "OkHttp"}, {"PostmanRuntime/", "Postman"}, {"python-requests/", "Python Requests"},
}

func uaBrowser(ua string) string {
	for _, b := range browsers {
		if strings.Contains(ua, b.token) {
			return b.name
		}
	}
	// Safari says Version/ and Safari/; in-app web views of iOS say neither.
	if strings.Contains(ua, "Safari/") && strings.Contains(ua, "Version/") {
		return "Safari"
	}
	return ""
}

var systems = []struct{ token, name string }{
	{"iPhone", "iOS"}, {"iPod", "iOS"}, {"iPad", "iPadOS"}, // before Mac: they say "like Mac OS X"
	{"Android", "Android"}, // before Linux
	{"CrOS", "ChromeOS"},
	{"Windows Phone", "Windows Phone"},
	{"Windows", "Windows"},
	{"Macintosh", "macOS"}, {"Mac OS X", "macOS"},
	{"FreeBSD", "FreeBSD"}, {"OpenBSD", "OpenBSD"},
	{"Linux", "Linux"},
}

func uaOS(ua string) string {
	for _, s := range systems {
		if strings.Contains(ua, s.token) {
			return s.name
		}
	}
	return ""
}

// DeviceName is the account page's "Browser on OS" for a User-Agent.
func (r *Renderer) DeviceName(lang, ua string) string {
	b, o := ParseUserAgent(ua)
	switch {
	case b != "" && o != "":
		return r.T(lang, "device.browser_on_os", b, o)
	case b != "":
		return b
	case o != "":
		return r.T(lang, "device.unknown_browser_on_os", o)
	}
	return r.T(lang, "device.unknown")
}
