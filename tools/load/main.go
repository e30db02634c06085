// Command load generates HTTP load against a running Auther server and
// reports throughput and latency percentiles per scenario.
//
// Usage:
//
//	go run ./tools/load [flags]
//
//	-url string               server base URL; the host must be loopback
//	                          (127.0.0.0/8, ::1 or localhost) (default "http://127.0.0.1:3000")
//	-scenario string          comma-separated scenarios, or "all" (default "all")
//	-c int                    concurrent workers per scenario (default 32)
//	-flood-concurrency int    sign-in flood workers in session-flood (default 16)
//	-d duration               measured duration per scenario (default 10s)
//	-warmup duration          warm-up per scenario, results discarded (default 1s)
//	-max-requests int         safety cap on requests per worker group per phase (default 2000000)
//	-users int                accounts created in setup; 0 = one per worker (default 0)
//	-timeout duration         per-request timeout (default 10s)
//	-pid int                  server process id; report its VmRSS/VmHWM from /proc
//	-json                     also print one JSON line per scenario
//	-client-id string         OAuth client for code-exchange and refresh
//	-client-secret string     its secret (sent with HTTP Basic)
//	-redirect-uri string      a redirect URI registered for it (never contacted)
//
// The client flags are needed only by code-exchange and refresh, and go
// together: give all three or none. The client must be confidential, allow
// the authorization_code and refresh_token grants and the openid and
// offline_access scopes, and skip consent, e.g.
//
//	auther client create --name perf --redirect-uri http://127.0.0.1:9/cb --skip-consent
//
// "all" runs every scenario below except code-exchange and refresh, which
// it includes only when the client flags are given.
//
// Scenarios (the first five use the Better Auth JSON API under /api/auth):
//
//	signup           POST sign-up/email with a fresh email per request; expects 200.
//	signin           setup signs up accounts; POST sign-in/email with the right
//	                 password; expects 200.
//	session          setup signs up accounts and keeps their session cookies;
//	                 GET get-session; expects 200 with a JSON object body.
//	session-invalid  GET get-session with a well-formed but unknown session
//	                 cookie; expects 200 with body null.
//	session-flood    session workers (-c) and, concurrently, a sign-in flood
//	                 (-flood-concurrency). The get-session figures are the
//	                 primary result; the flood is reported as session-flood/signin.
//	jwks             GET /.well-known/jwks.json; expects 200 with a JSON object
//	                 holding a non-empty "keys" array.
//	discovery        GET /.well-known/openid-configuration; expects 200 with a
//	                 JSON object holding a non-empty "issuer".
//	code-exchange    setup signs up accounts and keeps their session cookies.
//	                 Each iteration is one authorization-code flow with PKCE
//	                 (S256): GET oauth2/authorize with the cookie, expecting a
//	                 302 to the redirect URI with code= and the same state (no
//	                 redirect is followed), then POST oauth2/token
//	                 (grant_type=authorization_code, client_secret_basic),
//	                 expecting 200 JSON with an access_token. The token POST is
//	                 the figure; the authorize GET is reported as
//	                 code-exchange/authorize. When the authorize step fails the
//	                 token POST is not sent and counts as not-sent (an error
//	                 with no latency).
//	refresh          setup signs up accounts and performs one code exchange per
//	                 worker (scope openid offline_access) to get a refresh
//	                 token. Each iteration POSTs oauth2/token with
//	                 grant_type=refresh_token, expecting 200 JSON with an
//	                 access_token and a new refresh_token, which the worker
//	                 uses next: tokens rotate on every use and each worker
//	                 chains its own. After a failure the worker starts a new
//	                 chain with a fresh code exchange (not timed) rather than
//	                 risk replaying a token, which would revoke its family.
//
// For scenarios that sign up accounts, -users caps how many (workers share
// them round-robin); by default there is one per worker.
//
// For each scenario (and each worker group) one line is printed:
//
//	session              c=32  d=10s  reqs=123456  rps=12345.6  p50=1.2ms p90=2.0ms p99=4.1ms max=20.0ms errors=0
//
// followed, when relevant, by a breakdown of unexpected statuses, bodies and
// transport errors, and by the server's memory when -pid is given. Latency
// percentiles (nearest rank) cover every request sent, failed ones included;
// rps is requests divided by the wall time of the measured phase.
// -max-requests counts iterations (a code exchange is one).
//
// Safety: traffic goes only to loopback. The -url host is checked before
// anything is sent, every dialled address is checked again after name
// resolution, proxies are ignored and redirects are not followed: the
// -redirect-uri is only sent to the server and read back from Location,
// never contacted. Every worker loop is bounded by both the duration and
// its share of -max-requests, and each request by -timeout, so a run always
// ends by itself; Ctrl-C stops it early.
//
// Accounts are created as load-<runid>-...@example.test with the password
// "correct-horse-battery"; run it against a disposable database.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// config is the validated command line.
type config struct {
	target      target
	scenarios   []string
	concurrency int
	flood       int
	duration    time.Duration
	warmup      time.Duration
	maxRequests int
	users       int
	timeout     time.Duration
	pid         int
	json        bool
	oauth       oauthClient
}

// oauthClient is the relying party used by code-exchange and refresh.
type oauthClient struct {
	clientID     string
	clientSecret string
	redirectURI  string
}

func (o oauthClient) given() bool {
	return o.clientID != "" || o.clientSecret != "" || o.redirectURI != ""
}

func main() {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	cancel()
	os.Exit(code)
}

// parseConfig parses and validates the flags.
func parseConfig(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rawURL := fs.String("url", "http://127.0.0.1:3000", "server base URL (host must be loopback)")
	scen := fs.String("scenario", "all", "comma-separated scenarios: "+strings.Join(scenarioNames, ",")+", or all")
	var cfg config
	fs.IntVar(&cfg.concurrency, "c", 32, "concurrent workers per scenario")
	fs.IntVar(&cfg.flood, "flood-concurrency", 16, "sign-in flood workers in session-flood")
	fs.DurationVar(&cfg.duration, "d", 10*time.Second, "measured duration per scenario")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "warm-up per scenario (results discarded)")
	fs.IntVar(&cfg.maxRequests, "max-requests", 2_000_000, "safety cap on requests per worker group per phase")
	fs.IntVar(&cfg.users, "users", 0, "accounts created in setup (0 = one per worker)")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.IntVar(&cfg.pid, "pid", 0, "server process id for memory figures (0 = off)")
	fs.BoolVar(&cfg.json, "json", false, "also print one JSON line per scenario")
	fs.StringVar(&cfg.oauth.clientID, "client-id", "", "OAuth client id (code-exchange, refresh)")
	fs.StringVar(&cfg.oauth.clientSecret, "client-secret", "", "OAuth client secret (code-exchange, refresh)")
	fs.StringVar(&cfg.oauth.redirectURI, "redirect-uri", "", "redirect URI registered for the client; never contacted (code-exchange, refresh)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	var err error
	if cfg.target, err = parseTarget(*rawURL); err != nil {
		return config{}, err
	}
	if err := cfg.oauth.validate(); err != nil {
		return config{}, err
	}
	if cfg.scenarios, err = parseScenarios(*scen, cfg.oauth.given()); err != nil {
		return config{}, err
	}
	if !cfg.oauth.given() {
		for _, n := range cfg.scenarios {
			if slices.Contains(clientScenarios, n) {
				return config{}, fmt.Errorf("scenario %s needs an OAuth client: give -client-id, -client-secret and -redirect-uri "+
					"(create one with: auther client create --name perf --redirect-uri http://127.0.0.1:9/cb --skip-consent)", n)
			}
		}
	}
	switch {
	case cfg.concurrency < 1 || cfg.concurrency > 10_000:
		return config{}, errors.New("-c must be in [1, 10000]")
	case cfg.flood < 1 || cfg.flood > 10_000:
		return config{}, errors.New("-flood-concurrency must be in [1, 10000]")
	case cfg.duration <= 0 || cfg.duration > time.Hour:
		return config{}, errors.New("-d must be in (0, 1h]")
	case cfg.warmup < 0 || cfg.warmup > 10*time.Minute:
		return config{}, errors.New("-warmup must be in [0, 10m]")
	case cfg.maxRequests < 1 || cfg.maxRequests > 100_000_000:
		return config{}, errors.New("-max-requests must be in [1, 100000000]")
	case cfg.users < 0:
		return config{}, errors.New("-users must be >= 0")
	case cfg.timeout <= 0 || cfg.timeout > 5*time.Minute:
		return config{}, errors.New("-timeout must be in (0, 5m]")
	case cfg.pid < 0:
		return config{}, errors.New("-pid must be >= 0")
	}
	if cfg.pid > 0 {
		if _, err := readProcMem(cfg.pid); err != nil {
			return config{}, fmt.Errorf("-pid %d: %w", cfg.pid, err)
		}
	}
	return cfg, nil
}

// validate checks the client flags: all three or none.
func (o oauthClient) validate() error {
	if !o.given() {
		return nil
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"-client-id", o.clientID}, {"-client-secret", o.clientSecret}, {"-redirect-uri", o.redirectURI}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the OAuth client flags go together: %s missing", strings.Join(missing, ", "))
	}
	if strings.ContainsFunc(o.clientID+o.clientSecret, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return errors.New("-client-id and -client-secret must not contain control characters")
	}
	u, err := url.Parse(o.redirectURI)
	if err != nil {
		return fmt.Errorf("invalid -redirect-uri: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		return fmt.Errorf("invalid -redirect-uri %q: want an absolute http(s) URL without a fragment, exactly as registered", o.redirectURI)
	}
	return nil
}

// parseScenarios turns "a,b" or "all" into a deduplicated list. "all"
// includes the client scenarios only when withClient is set.
func parseScenarios(s string, withClient bool) ([]string, error) {
	var out []string
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "":
			continue
		case name == "all":
			for _, n := range scenarioNames {
				if !slices.Contains(out, n) && (withClient || !slices.Contains(clientScenarios, n)) {
					out = append(out, n)
				}
			}
		case !slices.Contains(scenarioNames, name):
			return nil, fmt.Errorf("unknown scenario %q (known: %s)", name, strings.Join(scenarioNames, ", "))
		case !slices.Contains(out, name):
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no scenario selected")
	}
	return out, nil
}

// run is main without the process exit, so tests can drive it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "load:", err)
		}
		return 2
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stop atomic.Bool
	go func() { <-ctx.Done(); stop.Store(true) }()

	client := newClient(cfg.concurrency+cfg.flood, cfg.timeout)
	defer client.CloseIdleConnections()
	e := newEnv(cfg, client, newRunID())

	if err := preflight(ctx, e); err != nil {
		fmt.Fprintln(stderr, "load:", err)
		return 1
	}
	fmt.Fprintf(stdout, "# auther load  url=%s  runid=%s  gomaxprocs=%d  warmup=%s  timeout=%s\n",
		cfg.target.base, e.runID, runtime.GOMAXPROCS(0), cfg.warmup, cfg.timeout)

	code := 0
	for _, name := range cfg.scenarios {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "load: interrupted")
			return 130
		}
		if err := runScenario(ctx, e, name, &stop, stdout); err != nil {
			fmt.Fprintf(stderr, "load: %s: %v\n", name, err)
			code = 1
		}
	}
	return code
}

// preflight makes sure something answers at the target before any loop runs,
// so a wrong -url fails fast instead of spinning on connection errors.
func preflight(ctx context.Context, e *env) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.sessURL, nil)
	if err != nil {
		return err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return fmt.Errorf("server not reachable: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("preflight GET %s: status %d, want 200", e.sessURL, resp.StatusCode)
	}
	return nil
}

// scenarioLine is the -json output for one scenario.
type scenarioLine struct {
	Scenario  string  `json:"scenario"`
	DurationS float64 `json:"duration_s"`
	WarmupS   float64 `json:"warmup_s"`
	jsonSummary
	Flood     *jsonSummary `json:"flood,omitempty"`     // session-flood/signin
	Authorize *jsonSummary `json:"authorize,omitempty"` // code-exchange/authorize
	Mem       *memReport   `json:"server_mem,omitempty"`
}

func runScenario(ctx context.Context, e *env, name string, stop *atomic.Bool, stdout io.Writer) error {
	cfg := e.cfg
	mw := startMemWatch(cfg.pid)
	groups, err := e.setup(ctx, name)
	if err != nil {
		mw.stop()
		return err
	}
	if cfg.warmup > 0 {
		runPhase(ctx, groups, cfg.warmup, cfg.maxRequests, false, stop)
	}
	reps := runPhase(ctx, groups, cfg.duration, cfg.maxRequests, true, stop)
	mem := mw.stop()

	for _, r := range reps {
		fmt.Fprintln(stdout, r.sum.line(r.name, r.c, cfg.duration))
		if b := r.sum.breakdown(); b != "" {
			fmt.Fprintln(stdout, "    "+b)
		}
	}
	if mem != nil {
		fmt.Fprintln(stdout, "    "+mem.line())
	}
	if cfg.json {
		line := scenarioLine{
			Scenario:    name,
			DurationS:   cfg.duration.Seconds(),
			WarmupS:     cfg.warmup.Seconds(),
			jsonSummary: reps[0].sum.json(reps[0].c),
			Mem:         mem,
		}
		for _, r := range reps[1:] {
			j := r.sum.json(r.c)
			switch r.key {
			case "flood":
				line.Flood = &j
			case "authorize":
				line.Authorize = &j
			default:
				return fmt.Errorf("no JSON field for %s", r.name)
			}
		}
		b, err := json.Marshal(line)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(b))
	}
	return nil
}

// newRunID returns a short id that keeps this run's emails unique.
func newRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return time.Now().UTC().Format("0102150405") + hex.EncodeToString(b)
}
