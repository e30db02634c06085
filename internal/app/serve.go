package app

import (
	"context"
	"errors"
	"fmt"
	"github.com/auther/auther/internal/auth"
	"github.com/auther/auther/internal/mailqueue"
	"github.com/auther/auther/internal/oidc"
	"github.com/auther/auther/internal/webhook"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"

	"github.com/auther/auther/internal/clock"
	"github.com/auther/auther/internal/config"
	"github.com/auther/auther/internal/httpapi"
	"github.com/auther/auther/internal/keys"
	"github.com/auther/auther/internal/metrics"
	"github.com/auther/auther/internal/migrate"
	"github.com/auther/auther/internal/password"
	"github.com/auther/auther/internal/store/sqlstore"
)

// PrepareSchema checks the database's migration history and applies pending
// migrations when allowed: always on the embedded SQLite default (the first
// run must just work), on PostgreSQL only with --migrate. Drift or a database
// newer than the binary always refuses.
func PrepareSchema(ctx context.Context, c *config.Config, st *sqlstore.Store, log *slog.Logger) error {
	m, err := st.Migrator()
	if err != nil {
		return err
	}
	status, err := m.Status(ctx)
	if err != nil {
		return err
	}
	err = status.Err()
	if err == nil {
		return nil
	}
	if !errors.Is(err, migrate.ErrBehind) {
		return err
	}
	if c.UsesPostgres() && !c.Migrate {
		return fmt.Errorf("%w; or start with --migrate", err)
	}
	applied, err := m.Up(ctx)
	for _, a := range applied {
		log.Info("applied migration", "name", a.Name)
	}
	return err
}

// Server is a wired Auther: everything serve runs, built once from the
// config so that the binary, the browser tests and the screenshot tool run
// the same wiring.
type Server struct {
	Config    *config.Config
	Store     *sqlstore.Store
	Secret    string
	Metrics   *metrics.Metrics
	Hasher    *password.Pool
	Auth      *auth.Service
	Keys      *keys.Manager
	OIDC      *oidc.Provider
	Mailer    *mailqueue.Worker
	Webhooks  *webhook.Manager
	Deliverer *webhook.Worker
	API       *httpapi.Server
	Log       *slog.Logger
}

// Build wires a server on an open store: schema, secret, hashing pool, mail,
// webhooks, identity core, signing keys, trusted clients, OIDC provider and
// the HTTP API. Nothing runs until Run.
func Build(ctx context.Context, c *config.Config, st *sqlstore.Store, log *slog.Logger) (*Server, error) {
	if err := PrepareSchema(ctx, c, st, log); err != nil {
		return nil, err
	}
	secret, err := ResolveSecret(c, log)
	if err != nil {
		return nil, err
	}
	met := metrics.New()
	hasher := password.NewPool(c.HashConcurrency)
	hasher.OnWait = met.ObserveHashWait
	hasher.MaxWait = 10 * time.Second
	clk := clock.Real{}
	composer, mailer, err := Mail(c, st, secret, clk, log)
	if err != nil {
		return nil, err
	}
	mailer.OnResult = func(outcome string) { met.Mail.WithLabelValues(outcome).Inc() }
	hooks, deliverer, err := Webhooks(c, st, secret, clk, log)
	if err != nil {
		return nil, err
	}
	deliverer.OnResult = func(outcome string) { met.Webhooks.WithLabelValues(outcome).Inc() }
	st.OnEvents(deliverer.Wake)
	svc := NewAuthService(c, st, hasher, clk, secret, composer)
	km, err := Keys(c, st, secret, clk)
	if err != nil {
		return nil, err
	}
	if c.ClientsFile != "" {
		n, err := SyncClients(ctx, st, c.ClientsFile, clk.Now().UTC().Truncate(time.Millisecond))
		if err != nil {
			return nil, err
		}
		log.Info("trusted clients synced from file", "count", n, "file", c.ClientsFile)
	}
	provider := OIDC(c, st, km, clk)
	provider.OnFailure = func(endpoint, code string) { met.OAuthFailures.WithLabelValues(endpoint, code).Inc() }
	if rotated, err := km.Ensure(ctx); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	} else if rotated {
		log.Info("created a new signing key", "alg", c.SigningAlgorithm)
	}
	api, err := httpapi.New(httpapi.Options{
		Auth: svc, Store: st, Secret: secret, BaseURL: c.BaseURL, TrustedOrigins: c.TrustedOrigins,
		CookiePrefix: c.CookiePrefix, RateLimit: c.RateLimit, TrustedProxyHeader: c.TrustedProxyHeader,
		Metrics: met, Logger: log, Clock: clk, Keys: km, OIDC: provider,
		DynamicRegistration: c.DynamicRegistration, RegistrationSecret: c.SignupSecret,
		Webhooks: hooks, Deliverer: deliverer, Brand: Brand(c),
	})
	if err != nil {
		return nil, err
	}
	return &Server{Config: c, Store: st, Secret: secret, Metrics: met, Hasher: hasher, Auth: svc, Keys: km, OIDC: provider,
		Mailer: mailer, Webhooks: hooks, Deliverer: deliverer, API: api, Log: log}, nil
}

// Run starts the background work: the sweeper, the mail and webhook
// workers and key maintenance. The returned stop ends them and waits, so
// call it before closing the store.
func (s *Server) Run() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	go sweep(ctx, s.Store, s.Metrics, s.API, s.Config.SweepInterval, s.Config.WebhookRetention, s.Log)
	mailDone, hooksDone := make(chan struct{}), make(chan struct{})
	go func() { s.Mailer.Run(ctx); close(mailDone) }()
	// Deliveries left pending by an earlier run (a crash between commit and
	// send) are due and go out on the worker's first pass.
	go func() { s.Deliverer.Run(ctx); close(hooksDone) }()
	go maintainKeys(ctx, s.Keys, s.Log)
	return func() { cancel(); <-mailDone; <-hooksDone }
}

// Serve runs the server until ctx ends, then shuts down gracefully:
// in-flight requests finish (up to 30 s).
func Serve(ctx context.Context, c *config.Config, stdout io.Writer, log *slog.Logger) error {
	st, err := OpenStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	a, err := Build(ctx, c, st, log)
	if err != nil {
		return err
	}
	// Hashing workers hold a Go P for a whole scrypt run. Give the runtime
	// that many extra Ps so session checks always find one, and let the
	// kernel (which sees the hashing threads at lower priority) share the
	// cores between them.
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + a.Hasher.Size())
	api, hasher := a.API, a.Hasher
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: api, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	stop := a.Run()
	defer stop() // before the store closes

	fmt.Fprintf(stdout, "auther listening on http://%s (public URL %s)\nauther database: %s\n", ln.Addr(), c.BaseURL, DescribeDatabase(c))
	log.Info("serving", "addr", ln.Addr().String(), "base_url", c.BaseURL, "database", DescribeDatabase(c),
		"hash_concurrency", hasher.Size(), "rate_limit", c.RateLimit, "signup", c.Signup)

	if c.DebugAddr != "" {
		go serveDebug(c.DebugAddr, log)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	shutCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// sweep deletes expired sessions and verifications in bounded batches, and
// forgets idle rate-limit windows.
func sweep(ctx context.Context, st *sqlstore.Store, met *metrics.Metrics, api *httpapi.Server, every, eventRetention time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		api.SweepLimiter()
		SweepOnce(ctx, st, met, log)
		sweepEvents(ctx, st, met, eventRetention, log)
	}
}

// maintainKeys reloads the keys every minute (so this replica sees rotations
// made by others or by `auther keys rotate`) and rotates and prunes when due.
func maintainKeys(ctx context.Context, km *keys.Manager, log *slog.Logger) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if rotated, err := km.Ensure(ctx); err != nil {
			log.Warn("signing key maintenance failed", "err", err)
		} else if rotated {
			log.Info("rotated the signing key")
		}
	}
}

// SweepOnce runs batches until no expired rows are left.
func SweepOnce(ctx context.Context, st *sqlstore.Store, met *metrics.Metrics, log *slog.Logger) {
	const batch = 1000
	for ctx.Err() == nil {
		ns, nv, err := st.DeleteExpired(ctx, time.Now().UTC(), batch)
		if err != nil {
			log.Warn("sweeping expired rows failed", "err", err)
			return
		}
		no, err := st.DeleteStaleOAuth(ctx, time.Now().UTC(), batch)
		if err != nil {
			log.Warn("sweeping stale OAuth rows failed", "err", err)
			return
		}
		met.Swept.WithLabelValues("session").Add(float64(ns))
		met.Swept.WithLabelValues("verification").Add(float64(nv))
		met.Swept.WithLabelValues("oauth").Add(float64(no))
		if ns < batch && nv < batch && no < batch {
			return
		}
	}
}

// sweepEvents removes finished webhook events older than the retention.
func sweepEvents(ctx context.Context, st *sqlstore.Store, met *metrics.Metrics, retention time.Duration, log *slog.Logger) {
	const batch = 1000
	for ctx.Err() == nil {
		n, err := st.DeleteOldEvents(ctx, time.Now().UTC().Add(-retention), batch)
		if err != nil {
			log.Warn("sweeping old webhook events failed", "err", err)
			return
		}
		met.Swept.WithLabelValues("webhook_event").Add(float64(n))
		if n < batch {
			return
		}
	}
}

// serveDebug exposes net/http/pprof on its own listener, never on the public
// address.
func serveDebug(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	log.Info("debug listener (pprof)", "addr", addr)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		log.Warn("debug listener stopped", "err", err)
	}
}
