// Package app wires configuration, storage, the identity core and the HTTP
// API into a runnable server. cmd/auther only parses the command line and
// calls into here.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/auther/auther/internal/webhook"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/auther/auther/internal/auth"
	"github.com/auther/auther/internal/clock"
	"github.com/auther/auther/internal/config"
	"github.com/auther/auther/internal/keys"
	"github.com/auther/auther/internal/mail"
	"github.com/auther/auther/internal/mailqueue"
	"github.com/auther/auther/internal/oidc"
	"github.com/auther/auther/internal/password"
	"github.com/auther/auther/internal/seal"
	"github.com/auther/auther/internal/session"
	"github.com/auther/auther/internal/store/sqlstore"
	"github.com/auther/auther/internal/verification"
	"github.com/auther/auther/internal/web"
)

// NewLogger builds the process logger from the config.
func NewLogger(c *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Brand is how the hosted pages present the deployment.
func Brand(c *config.Config) web.Brand {
	return web.Brand{Name: c.ProductName, LogoURL: c.BrandLogoURL, Accent: c.BrandAccentColor}
}

// SQLitePath is where the embedded database lives.
func SQLitePath(c *config.Config) string { return filepath.Join(c.DataDir, "auther.db") }

// OpenStore opens the configured database (without migrating it).
func OpenStore(ctx context.Context, c *config.Config) (*sqlstore.Store, error) {
	if c.DatabaseURL != "" {
		if !c.UsesPostgres() {
			return nil, fmt.Errorf("database-url must start with postgres:// or postgresql://")
		}
		return sqlstore.OpenPostgres(ctx, c.DatabaseURL)
	}
	return sqlstore.OpenSQLite(SQLitePath(c))
}

// DescribeDatabase names the database without credentials, for logs.
func DescribeDatabase(c *config.Config) string {
	if c.DatabaseURL == "" {
		return "sqlite " + SQLitePath(c)
	}
	u, err := url.Parse(c.DatabaseURL)
	if err != nil {
		return "postgres"
	}
	return "postgres " + u.Host + u.Path
}

// ResolveSecret returns the configured secret or, on the embedded default,
// one generated once and kept in <data-dir>/secret with mode 0600.
func ResolveSecret(c *config.Config, log *slog.Logger) (string, error) {
	if c.Secret != "" {
		return c.Secret, nil
	}
	if c.UsesPostgres() {
		return "", errors.New("AUTHER_SECRET is required with PostgreSQL (at least 32 bytes): replicas must share it")
	}
	path := filepath.Join(c.DataDir, "secret")
	if b, err := os.ReadFile(path); err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < 32 {
			return "", fmt.Errorf("%s holds fewer than 32 bytes", path)
		}
		return s, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return "", err
	}
	var raw [32]byte
	rand.Read(raw[:])
	s := hex.EncodeToString(raw[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	log.Warn("AUTHER_SECRET is not set: generated one and saved it; set AUTHER_SECRET in production", "path", path)
	return s, nil
}

// NewAuthService builds the identity core from the config. composer may be
// nil (no mail flows, e.g. in CLI commands).
func NewAuthService(c *config.Config, st *sqlstore.Store, hasher *password.Pool, clk clock.Clock, secret string, composer auth.MailComposer) *auth.Service {
	email := auth.DefaultEmailOptions()
	email.Mail = composer
	email.BaseURL = c.BaseURL
	email.OTP = verification.NewOTPHasher(secret)
	email.Verification = auth.EmailVerificationMode(c.EmailVerification)
	email.AutoSignInAfterVerify = c.AutoSignInAfterVerify
	email.MagicLink = c.MagicLink
	email.EmailOTP = c.EmailOTP
	email.RevokeSessionsOnReset = c.ResetRevokesSessions
	email.ChangeEmailConfirmOld = c.ChangeEmailConfirmOld
	return &auth.Service{
		Email: email,
		Store: st, Hasher: hasher, Clock: clk,
		Policy: session.Policy{
			ExpiresIn: c.SessionExpiresIn, UpdateAge: c.SessionUpdateAge,
			FreshAge: c.SessionFreshAge, ShortLife: session.DefaultPolicy.ShortLife,
		},
		MinPassword: c.PasswordMinLength, MaxPassword: c.PasswordMaxLength,
		Signup: auth.SignupMode(c.Signup), SignupSecret: c.SignupSecret,
	}
}

// Mail builds the outbox composer and the mail worker from the config: SMTP
// when smtp-host is set, else the development sender writing to
// <data-dir>/mail-outbox and to the log.
func Mail(c *config.Config, st *sqlstore.Store, secret string, clk clock.Clock, log *slog.Logger) (*mailqueue.Composer, *mailqueue.Worker, error) {
	tmpl, err := mail.LoadTemplates(c.MailTemplates)
	if err != nil {
		return nil, nil, err
	}
	box, err := seal.New(secret, "mail")
	if err != nil {
		return nil, nil, err
	}
	var sender mail.Sender
	if c.SMTPHost != "" {
		sender, err = mail.NewSMTPSender(mail.SMTPConfig{Host: c.SMTPHost, Port: c.SMTPPort, TLS: c.SMTPTLS,
			Username: c.SMTPUsername, Password: c.SMTPPassword, From: c.MailFrom})
		if err != nil {
			return nil, nil, err
		}
	} else {
		dir := filepath.Join(c.DataDir, "mail-outbox")
		log.Warn("no smtp-host configured: mail goes to the log and to files (development only)", "dir", dir)
		sender = mail.NewDirSender(dir, log)
	}
	composer := &mailqueue.Composer{Templates: tmpl, Box: box, Product: c.ProductName, Clock: clk}
	worker := &mailqueue.Worker{Store: st, Sender: sender, Box: box, Clock: clk, Log: log, RetryFor: c.MailRetryFor}
	return composer, worker, nil
}

// Keys builds the signing-key manager from the config.
func Keys(c *config.Config, st *sqlstore.Store, secret string, clk clock.Clock) (*keys.Manager, error) {
	box, err := seal.New(secret, "signing-keys")
	if err != nil {
		return nil, err
	}
	return &keys.Manager{Store: st, Box: box, Clock: clk, Algorithm: c.SigningAlgorithm,
		RotateEvery: c.KeyRotationInterval, Retention: c.KeyRetention}, nil
}

// OIDC builds the OpenID Connect provider from the config.
func OIDC(c *config.Config, st *sqlstore.Store, km *keys.Manager, clk clock.Clock) *oidc.Provider {
	return &oidc.Provider{Store: st, Keys: km, Clock: clk, Issuer: c.BaseURL, CodeTTL: 10 * time.Minute,
		AccessTTL: c.AccessTokenTTL, IDTTL: c.IDTokenTTL, RefreshTTL: c.RefreshTokenTTL, Leeway: 30 * time.Second}
}

// Webhooks builds the endpoint manager and the delivery worker.
func Webhooks(c *config.Config, st *sqlstore.Store, secret string, clk clock.Clock, log *slog.Logger) (*webhook.Manager, *webhook.Worker, error) {
	box, err := seal.New(secret, "webhook-secrets")
	if err != nil {
		return nil, nil, err
	}
	mgr := &webhook.Manager{Store: st, Box: box, Clock: clk, Overlap: c.WebhookSecretOverlap, AllowPrivate: c.WebhooksMayReachPrivate()}
	return mgr, &webhook.Worker{Store: st, Endpoints: mgr, Clock: clk, Log: log, RetryFor: c.WebhookRetryFor, FirstRetry: c.WebhookFirstRetry, Batch: c.WebhookConcurrency}, nil
}
