package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"time"

	"github.com/chromedp/chromedp"
)

// ErrNoChromium is returned by ChromiumPath when no browser is installed.
var ErrNoChromium = errors.New("chromium is not installed (apt-get install chromium)")

// ChromiumPath returns Debian's chromium (/usr/bin/chromium), or the first
// chromium on PATH, or ErrNoChromium.
func ChromiumPath() (string, error) {
	if fi, err := os.Stat("/usr/bin/chromium"); err == nil && !fi.IsDir() {
		return "/usr/bin/chromium", nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoChromium
}

// Browser is one headless Chromium process with its own profile.
type Browser struct {
	// Ctx is the context of the browser's first tab; pass it (or a context
	// derived from it) to chromedp.Run.
	Ctx    context.Context
	cancel []context.CancelFunc
}

// Launch starts chromium with a fresh profile in userDataDir and a window
// of width×height CSS pixels. The flags keep it off the network except for
// the pages it is sent to: without the background-networking ones Chromium
// calls Google's services, which a closed network refuses.
func Launch(ctx context.Context, path, userDataDir string, width, height int) (*Browser, error) {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.UserDataDir(userDataDir),
		chromedp.WindowSize(width, height),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	b := &Browser{Ctx: bctx, cancel: []context.CancelFunc{cancelBrowser, cancelAlloc}}
	// The first run starts the process.
	if err := chromedp.Do(bctx); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// Close ends the browser process and waits for it.
func (b *Browser) Close() {
	for _, c := range b.cancel {
		c()
	}
}

// StepTimeout bounds each of the Browser's steps below.
const StepTimeout = 20 * time.Second

// Step returns a context bounded by StepTimeout on the browser's tab.
func (b *Browser) Step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.Ctx, StepTimeout)
}

// Do runs actions on the tab within one step.
func (b *Browser) Do(actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := b.Step()
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// Open loads u, waits for the page and returns its HTTP status (after
// redirects).
func (b *Browser) Open(u string) (int64, error) {
	ctx, cancel := b.Step()
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(u))
	if err != nil {
		return 0, err
	}
	return resp.Status, nil
}

// Fill replaces the value of the input sel by typing v into it.
func (b *Browser) Fill(sel, v string) error {
	q, _ := json.Marshal(sel)
	return b.Do(chromedp.WaitVisible(chromedp.CSS(sel)),
		// Empty it first (SetValue cannot set "": the empty argument is
		// dropped on the way to the browser).
		chromedp.Evaluate[chromedp.Void](`document.querySelector(`+string(q)+`).value = ""`),
		chromedp.SendKeys(chromedp.CSS(sel), v))
}

// Submit clicks sel and waits for the page it leads to; it returns that
// page's HTTP status.
func (b *Browser) Submit(sel string) (int64, error) {
	ctx, cancel := b.Step()
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		return 0, fmt.Errorf("click %s and wait for the next page: %w", sel, err)
	}
	return resp.Status, nil
}

// WaitPath waits until the page shows path (on any origin) and has loaded,
// and returns its URL.
func (b *Browser) WaitPath(path string) (*url.URL, error) {
	deadline := time.Now().Add(StepTimeout)
	for {
		ctx, cancel := b.Step()
		st, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[location.href, document.readyState]`))
		cancel()
		if err == nil {
			if u, perr := url.Parse(st[0]); perr == nil && u.Path == path && st[1] == "complete" {
				return u, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the page did not reach %s within %s (now at %v, err %v)", path, StepTimeout, st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Shot returns a PNG of the whole page laid out at width CSS pixels (one
// device pixel each).
func (b *Browser) Shot(width int64) ([]byte, error) {
	ctx, cancel := b.Step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 800)); err != nil {
		return nil, err
	}
	return chromedp.Run(ctx, chromedp.FullScreenshot(100))
}
