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
//
// Scenarios (all use the Better Auth JSON API under /api/auth):
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
//
// For each scenario (and each worker group) one line is printed:
//
//	session              c=32  d=10s  reqs=123456  rps=12345.6  p50=1.2ms p90=2.0ms p99=4.1ms max=20.0ms errors=0
//
// followed, when relevant, by a breakdown of unexpected statuses, bodies and
// transport errors, and by the server's memory when -pid is given. Latency
// percentiles (nearest rank) cover every request, failed ones included; rps
// is requests divided by the wall time of the measured phase.
//
// Safety: traffic goes only to loopback. The -url host is checked before
// anything is sent, every dialled address is checked again after name
// resolution, proxies are ignored and redirects are not followed. Every
// worker loop is bounded by both the duration and its share of
// -max-requests, and each request by -timeout, so a run always ends by
// itself; Ctrl-C stops it early.
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
	if cfg.scenarios, err = parseScenarios(*scen); err != nil {
		return config{}, err
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

// parseScenarios turns "a,b" or "all" into a deduplicated list.
func parseScenarios(s string) ([]string, error) {
	var out []string
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "":
			continue
		case name == "all":
			for _, n := range scenarioNames {
				if !slices.Contains(out, n) {
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
	Flood *jsonSummary `json:"flood,omitempty"`
	Mem   *memReport   `json:"server_mem,omitempty"`
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
	sums := runPhase(ctx, groups, cfg.duration, cfg.maxRequests, true, stop)
	mem := mw.stop()

	for i, s := range sums {
		fmt.Fprintln(stdout, s.line(groups[i].name, len(groups[i].workers), cfg.duration))
		if b := s.breakdown(); b != "" {
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
			jsonSummary: sums[0].json(len(groups[0].workers)),
			Mem:         mem,
		}
		if len(sums) > 1 {
			f := sums[1].json(len(groups[1].workers))
			line.Flood = &f
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
