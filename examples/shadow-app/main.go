// Command shadow-app is an example app that leaves identity to Auther and
// keeps only a thin local copy of its users (a "shadow" users table) that
// its own tables point at: here, notes.
//
//	shadow-app [serve]   run the app (sign-in, the notes API, the webhook receiver)
//	shadow-app reconcile compare the users table with Auther once and fix drift
//
// Settings come from flags or the environment; see README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/auther/auther/sdk"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "shadow-app:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	cfg, err := parseConfig(cmd, args)
	if err != nil {
		return err
	}
	switch cmd {
	case "serve":
		return serve(ctx, cfg)
	case "reconcile":
		return reconcile(ctx, cfg, out)
	}
	return fmt.Errorf("unknown command %q (serve or reconcile)", cmd)
}

// parseConfig reads flags, each defaulting to its environment variable.
func parseConfig(cmd string, args []string) (Config, error) {
	env := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	var c Config
	var secrets string
	fs := flag.NewFlagSet("shadow-app "+cmd, flag.ContinueOnError)
	fs.StringVar(&c.AutherURL, "auther-url", env("AUTHER_URL", "http://127.0.0.1:3000"), "Auther's base URL (the issuer) [AUTHER_URL]")
	fs.StringVar(&c.ClientID, "client-id", env("CLIENT_ID", ""), "this app's client id [CLIENT_ID]")
	fs.StringVar(&c.ClientSecret, "client-secret", env("CLIENT_SECRET", ""), "this app's client secret [CLIENT_SECRET]")
	fs.StringVar(&secrets, "webhook-secret", env("WEBHOOK_SECRET", ""), "webhook secret(s), comma-separated while rotating [WEBHOOK_SECRET]")
	fs.StringVar(&c.DatabaseURL, "database-url", env("DATABASE_URL", ""), "postgres://… or a SQLite file; default <data-dir>/shadow-app.db [DATABASE_URL]")
	fs.StringVar(&c.DataDir, "data-dir", env("DATA_DIR", "./shadow-app-data"), "folder of the default SQLite file [DATA_DIR]")
	fs.StringVar(&c.Addr, "addr", env("ADDR", "127.0.0.1:4000"), "listen address [ADDR]")
	fs.StringVar(&c.PublicURL, "public-url", env("PUBLIC_URL", ""), "the app's URL as browsers see it; default http://<addr> [PUBLIC_URL]")
	fs.StringVar(&c.AdminToken, "admin-token", env("AUTHER_ADMIN_TOKEN", ""), "Auther admin token, for reconcile [AUTHER_ADMIN_TOKEN]")
	fs.StringVar(&c.SigningAlg, "signing-alg", env("SIGNING_ALG", "RS256"), "Auther's signing-algorithm [SIGNING_ALG]")
	lifetime := fs.String("max-token-lifetime", env("MAX_TOKEN_LIFETIME", ""), "for reconcile: prune tombstones older than this (the longest access-token TTL of the app's client); empty keeps them [MAX_TOKEN_LIFETIME]")
	fraction := fs.String("max-delete-fraction", env("MAX_DELETE_FRACTION", ""), "for reconcile: the share of checked users that may turn out deleted before it stops without deleting anyone; empty means 0.5, 1 turns the guard off [MAX_DELETE_FRACTION]")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if *lifetime != "" {
		d, err := time.ParseDuration(*lifetime)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("max-token-lifetime %q: want a positive duration such as 8760h", *lifetime)
		}
		c.MaxTokenLifetime = d
	}
	if *fraction != "" {
		f, err := strconv.ParseFloat(*fraction, 64)
		if err != nil || f <= 0 || f > 1 {
			return c, fmt.Errorf("max-delete-fraction %q: want a number above 0 and at most 1", *fraction)
		}
		c.MaxDeleteFraction = f
	}
	for _, s := range strings.Split(secrets, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.WebhookSecrets = append(c.WebhookSecrets, s)
		}
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Addr
	}
	return c, nil
}

func serve(ctx context.Context, cfg Config) error {
	app, err := New(ctx, cfg)
	if err != nil {
		return err
	}
	defer app.Close()
	srv := &http.Server{
		Addr:              cfg.Addr,
		Handler:           app.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	slog.Info("shadow-app listening", "addr", cfg.Addr, "public_url", cfg.PublicURL, "auther", cfg.AutherURL, "database", app.db.Dialect)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// reconcile walks the shadow table against Auther's admin API once. Run it
// from cron (daily, say) to repair what webhooks could not: events lost
// while the app was misconfigured, users deleted while it was not
// listening for longer than Auther retries.
func reconcile(ctx context.Context, cfg Config, out io.Writer) error {
	if cfg.AdminToken == "" {
		return errors.New("AUTHER_ADMIN_TOKEN is required: the session token of an Auther admin (auther user create --admin, then sign in)")
	}
	db, err := openDB(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.migrate(ctx); err != nil {
		return err
	}
	shadow := sdk.NewShadowStore(db.DB, db.Dialect)
	rec := &sdk.Reconciler{
		Shadow: shadow,
		Admin:  &sdk.AdminClient{BaseURL: strings.TrimRight(cfg.AutherURL, "/"), Token: cfg.AdminToken},
		// When most users look deleted, the token or URL is probably
		// for another Auther: nothing is deleted unless told otherwise.
		MaxDeleteFraction: cfg.MaxDeleteFraction,
	}
	rep, err := rec.Run(ctx)
	fmt.Fprintf(out, "checked %d, updated %d, deleted %d\n", rep.Checked, rep.Updated, rep.Deleted)
	if err != nil {
		return err
	}
	// A tombstone must outlive every token its user may still hold, and
	// Auther's access tokens can be given long lifetimes: they are kept
	// forever unless the longest lifetime is stated.
	if cfg.MaxTokenLifetime > 0 {
		shadow.MaxTokenLifetime = cfg.MaxTokenLifetime
		if _, err := shadow.PruneTombstones(ctx); err != nil {
			return err
		}
	}
	_, err = sdk.NewSQLDeduper(db.DB, db.Dialect).Prune(ctx, time.Now().Add(-sdk.DefaultRetention))
	return err
}
