// Package config resolves Auther's settings from, in falling order of
// precedence, command-line flags, AUTHER_* environment variables, an optional
// YAML config file, and defaults. Every key is declared once, in Keys, which
// also feeds the flags and the README's table (a test keeps them in step).
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// Config is the resolved configuration.
type Config struct {
	Addr               string
	DataDir            string
	DatabaseURL        string
	Secret             string
	BaseURL            string
	TrustedOrigins     []string
	Signup             string // open | closed | secret
	SignupSecret       string
	CookiePrefix       string
	SessionExpiresIn   time.Duration
	SessionUpdateAge   time.Duration
	SessionFreshAge    time.Duration
	PasswordMinLength  int
	PasswordMaxLength  int
	HashConcurrency    int
	RateLimit          bool
	TrustedProxyHeader string
	SweepInterval      time.Duration
	LogLevel           string
	LogFormat          string
	Migrate            bool
	DebugAddr          string

	EmailVerification     string // off | on | required
	AutoSignInAfterVerify bool
	MagicLink             bool
	EmailOTP              bool
	ResetRevokesSessions  bool
	ChangeEmailConfirmOld bool
	ProductName           string
	BrandLogoURL          string
	BrandAccentColor      string
	MailFrom              string
	MailTemplates         string
	MailRetryFor          time.Duration
	WebhookRetryFor       time.Duration
	WebhookFirstRetry     time.Duration
	WebhookSecretOverlap  time.Duration
	WebhookRetention      time.Duration
	WebhookConcurrency    int
	WebhookAllowPrivate   string
	SMTPHost              string
	SMTPPort              int
	SMTPTLS               string
	SMTPUsername          string
	SMTPPassword          string

	SigningAlgorithm    string
	KeyRotationInterval time.Duration
	KeyRetention        time.Duration
	AccessTokenTTL      time.Duration
	IDTokenTTL          time.Duration
	RefreshTokenTTL     time.Duration
	DynamicRegistration bool
	ClientsFile         string
}

// Key is one setting.
type Key struct {
	Name    string // flag name and config-file key
	Default string
	Help    string
	set     func(c *Config, v string) error
}

// Env is the environment variable for the key.
func (k Key) Env() string { return "AUTHER_" + strings.ToUpper(strings.ReplaceAll(k.Name, "-", "_")) }

func str(dst func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *dst(c) = v; return nil }
}

func dur(dst func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration like 168h or 30m: %q", v)
		}
		*dst(c) = d
		return nil
	}
}

func integer(dst func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not a whole number: %q", v)
		}
		*dst(c) = n
		return nil
	}
}

func boolean(dst func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		switch strings.ToLower(v) {
		case "true", "1", "on", "yes":
			*dst(c) = true
		case "false", "0", "off", "no":
			*dst(c) = false
		default:
			return fmt.Errorf("not on/off: %q", v)
		}
		return nil
	}
}

// Keys lists every setting.
var Keys = []Key{
	{"addr", "127.0.0.1:3000", "Address to listen on.", str(func(c *Config) *string { return &c.Addr })},
	{"data-dir", "./auther-data", "Folder for the embedded SQLite database and the generated secret.", str(func(c *Config) *string { return &c.DataDir })},
	{"database-url", "", "A postgres:// URL switches storage to PostgreSQL; empty means embedded SQLite in the data dir.", str(func(c *Config) *string { return &c.DatabaseURL })},
	{"secret", "", "At least 32 bytes; signs session cookies. Generated once into the data dir on SQLite when unset; required with PostgreSQL.", str(func(c *Config) *string { return &c.Secret })},
	{"base-url", "", "Public URL of this server; its origin is trusted. Default: http://<addr>.", str(func(c *Config) *string { return &c.BaseURL })},
	{"trusted-origins", "", "Comma-separated extra origins allowed to make state-changing requests and to be redirect targets (https://*.example.com allowed).", func(c *Config, v string) error {
		c.TrustedOrigins = splitList(v)
		return nil
	}},
	{"signup", "open", "open, closed, or secret (sign-up only with header x-internal-signup-secret equal to signup-secret).", func(c *Config, v string) error {
		switch v {
		case "open", "closed", "secret":
			c.Signup = v
			return nil
		}
		return fmt.Errorf("must be open, closed or secret, not %q", v)
	}},
	{"signup-secret", "", "Shared secret for signup=secret.", str(func(c *Config) *string { return &c.SignupSecret })},
	{"cookie-prefix", "auther", "Cookie names are <prefix>.session_token etc. (with __Secure- when secure).", str(func(c *Config) *string { return &c.CookiePrefix })},
	{"session-expires-in", "168h", "Session lifetime (sliding).", dur(func(c *Config) *time.Duration { return &c.SessionExpiresIn })},
	{"session-update-age", "24h", "A session is extended when it was last extended longer ago than this.", dur(func(c *Config) *time.Duration { return &c.SessionUpdateAge })},
	{"session-fresh-age", "24h", "Sensitive actions (list sessions, delete without password) need a session younger than this; 0 disables the check.", dur(func(c *Config) *time.Duration { return &c.SessionFreshAge })},
	{"password-min-length", "8", "Shortest accepted password.", integer(func(c *Config) *int { return &c.PasswordMinLength })},
	{"password-max-length", "128", "Longest accepted password.", integer(func(c *Config) *int { return &c.PasswordMaxLength })},
	{"hash-concurrency", "0", "Password hashes computed at once (each takes ~32 MiB); 0 means one per CPU.", integer(func(c *Config) *int { return &c.HashConcurrency })},
	{"rate-limit", "on", "Per-IP rate limiting with Better Auth's rules (on/off).", boolean(func(c *Config) *bool { return &c.RateLimit })},
	{"trusted-proxy-header", "", "Header a trusted reverse proxy sets to the client IP (e.g. X-Forwarded-For; its right-most address is used). Empty: the TCP peer.", str(func(c *Config) *string { return &c.TrustedProxyHeader })},
	{"sweep-interval", "10m", "How often expired sessions and verifications are deleted.", dur(func(c *Config) *time.Duration { return &c.SweepInterval })},
	{"log-level", "info", "debug, info, warn or error.", str(func(c *Config) *string { return &c.LogLevel })},
	{"log-format", "text", "text or json.", str(func(c *Config) *string { return &c.LogFormat })},
	{"email-verification", "off", "off; on (a verification link is mailed at sign-up); or required (sign-in is refused until the address is verified).", func(c *Config, v string) error {
		switch v {
		case "off", "on", "required":
			c.EmailVerification = v
			return nil
		}
		return fmt.Errorf("must be off, on or required, not %q", v)
	}},
	{"auto-sign-in-after-verification", "off", "Following a verification link also signs the user in.", boolean(func(c *Config) *bool { return &c.AutoSignInAfterVerify })},
	{"magic-link", "on", "Sign-in by emailed link (POST /sign-in/magic-link).", boolean(func(c *Config) *bool { return &c.MagicLink })},
	{"email-otp", "on", "Six-digit codes by email for sign-in, verification and password reset.", boolean(func(c *Config) *bool { return &c.EmailOTP })},
	{"password-reset-revokes-sessions", "on", "A password reset signs the user out everywhere.", boolean(func(c *Config) *bool { return &c.ResetRevokesSessions })},
	{"change-email-confirm-old", "off", "A verified user's change of email must first be approved from the old address.", boolean(func(c *Config) *bool { return &c.ChangeEmailConfirmOld })},
	{"product-name", "Auther", "Name used in mail and on the hosted pages.", str(func(c *Config) *string { return &c.ProductName })},
	{"brand-logo-url", "", "Logo shown on the hosted pages: an https:// URL or a path on this server (empty: the product name alone).", str(func(c *Config) *string { return &c.BrandLogoURL })},
	{"brand-accent-color", "#1d4ed8", "Accent colour of the hosted pages (#rgb or #rrggbb); text on it stays readable in light and dark mode.", func(c *Config, v string) error {
		h, ok := strings.CutPrefix(v, "#")
		if _, err := strconv.ParseUint(h, 16, 32); !ok || err != nil || (len(h) != 3 && len(h) != 6) {
			return fmt.Errorf("must be a colour like #1d4ed8, not %q", v)
		}
		c.BrandAccentColor = v
		return nil
	}},
	{"mail-from", "Auther <no-reply@localhost>", "From address of outgoing mail.", str(func(c *Config) *string { return &c.MailFrom })},
	{"mail-templates", "", "Folder whose files override the built-in mail templates by name (see internal/mail/templates).", str(func(c *Config) *string { return &c.MailTemplates })},
	{"mail-retry-for", "24h", "How long undeliverable mail is retried (with exponential backoff) before it is marked failed.", dur(func(c *Config) *time.Duration { return &c.MailRetryFor })},
	{"webhook-retry-for", "24h", "How long a failing webhook delivery is retried (exponential backoff with jitter) before it is marked dead.", dur(func(c *Config) *time.Duration { return &c.WebhookRetryFor })},
	{"webhook-first-retry", "10s", "Wait before the first retry of a failed webhook delivery; later waits double, up to an hour.", dur(func(c *Config) *time.Duration { return &c.WebhookFirstRetry })},
	{"webhook-secret-overlap", "24h", "After a webhook secret is rotated, how long the old secret keeps signing next to the new one.", dur(func(c *Config) *time.Duration { return &c.WebhookSecretOverlap })},
	{"webhook-retention", "168h", "How long delivered and dead webhook events are kept (for replay) before the sweeper removes them.", dur(func(c *Config) *time.Duration { return &c.WebhookRetention })},
	{"webhook-concurrency", "16", "How many webhook deliveries are sent at once.", integer(func(c *Config) *int { return &c.WebhookConcurrency })},
	{"webhook-allow-private", "auto", "Send webhooks to loopback and private-network addresses (and over plain http): true, false, or auto (only when base-url is on localhost, for development).", str(func(c *Config) *string { return &c.WebhookAllowPrivate })},
	{"smtp-host", "", "SMTP server. Empty: mail is written to <data-dir>/mail-outbox and to the log (development).", str(func(c *Config) *string { return &c.SMTPHost })},
	{"smtp-port", "0", "SMTP port; 0 means 587 for starttls, 465 for tls, 25 for none.", integer(func(c *Config) *int { return &c.SMTPPort })},
	{"smtp-tls", "starttls", "starttls (required), tls (implicit TLS), or none (local relays only).", func(c *Config, v string) error {
		switch v {
		case "starttls", "tls", "none":
			c.SMTPTLS = v
			return nil
		}
		return fmt.Errorf("must be starttls, tls or none, not %q", v)
	}},
	{"smtp-username", "", "SMTP AUTH user (empty: no AUTH).", str(func(c *Config) *string { return &c.SMTPUsername })},
	{"smtp-password", "", "SMTP AUTH password.", str(func(c *Config) *string { return &c.SMTPPassword })},
	{"signing-algorithm", "RS256", "Algorithm of new token signing keys: RS256, ES256 or EdDSA.", func(c *Config, v string) error {
		switch v {
		case "RS256", "ES256", "EdDSA":
			c.SigningAlgorithm = v
			return nil
		}
		return fmt.Errorf("must be RS256, ES256 or EdDSA, not %q", v)
	}},
	{"key-rotation-interval", "720h", "Age at which the signing key is replaced by a new one (auther keys rotate does it at once).", dur(func(c *Config) *time.Duration { return &c.KeyRotationInterval })},
	{"key-retention", "1440h", "How long a retired signing key stays published in the JWKS; must exceed every token lifetime.", dur(func(c *Config) *time.Duration { return &c.KeyRetention })},
	{"access-token-ttl", "1h", "Lifetime of OAuth access tokens (JWTs); a client may override it.", dur(func(c *Config) *time.Duration { return &c.AccessTokenTTL })},
	{"id-token-ttl", "1h", "Lifetime of ID tokens; a client may override it.", dur(func(c *Config) *time.Duration { return &c.IDTokenTTL })},
	{"refresh-token-ttl", "168h", "Lifetime of each refresh token (rotated on every use); a client may override it.", dur(func(c *Config) *time.Duration { return &c.RefreshTokenTTL })},
	{"dynamic-registration", "off", "Allow RFC 7591 client registration at POST /api/auth/oauth2/register, only with header x-internal-signup-secret equal to signup-secret.", boolean(func(c *Config) *bool { return &c.DynamicRegistration })},
	{"clients-file", "", "YAML file of trusted clients (fixed ids and secrets) created or updated at start; see README.", str(func(c *Config) *string { return &c.ClientsFile })},
	{"debug-addr", "", "If set (e.g. 127.0.0.1:6060), serve Go's pprof profiles there; keep it private.", str(func(c *Config) *string { return &c.DebugAddr })},
	{"migrate", "false", "serve: apply pending migrations before starting (always done on the embedded SQLite default).", boolean(func(c *Config) *bool { return &c.Migrate })},
}

// ConfigFileEnv names the variable that points at the YAML config file.
const ConfigFileEnv = "AUTHER_CONFIG"

// RegisterFlags adds a string flag per key, plus --config.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "YAML config file (keys as the flag names); env "+ConfigFileEnv)
	for _, k := range Keys {
		fs.String(k.Name, k.Default, k.Help+" (env "+k.Env()+")")
		switch k.Default {
		case "true", "false", "on", "off":
			fs.Lookup(k.Name).NoOptDefVal = "true" // a bare --migrate means true
		}
	}
}

// Load resolves the configuration. fs may be nil (no flags).
func Load(fs *pflag.FlagSet, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	values := map[string]string{}
	for _, k := range Keys {
		values[k.Name] = k.Default
	}
	path := getenv(ConfigFileEnv)
	if fs != nil {
		if f := fs.Lookup("config"); f != nil && f.Changed {
			path = f.Value.String()
		}
	}
	if path != "" {
		file, err := readFile(path)
		if err != nil {
			return nil, err
		}
		for name, v := range file {
			values[name] = v
		}
	}
	for _, k := range Keys {
		if v, ok := lookupEnv(getenv, k.Env()); ok {
			values[k.Name] = v
		}
		if fs != nil {
			if f := fs.Lookup(k.Name); f != nil && f.Changed {
				values[k.Name] = f.Value.String()
			}
		}
	}
	c := &Config{}
	for _, k := range Keys {
		if err := k.set(c, values[k.Name]); err != nil {
			return nil, fmt.Errorf("config %s (%s): %w", k.Name, k.Env(), err)
		}
	}
	return c, c.validate()
}

func lookupEnv(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

func readFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	known := map[string]bool{}
	for _, k := range Keys {
		known[k.Name] = true
	}
	out := map[string]string{}
	for name, v := range raw {
		if !known[name] {
			return nil, fmt.Errorf("config file %s: unknown key %q", path, name)
		}
		switch x := v.(type) {
		case []any:
			var parts []string
			for _, p := range x {
				parts = append(parts, fmt.Sprint(p))
			}
			out[name] = strings.Join(parts, ",")
		case nil:
			out[name] = ""
		default:
			out[name] = fmt.Sprint(x)
		}
	}
	return out, nil
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, strings.TrimRight(p, "/"))
		}
	}
	return out
}

func (c *Config) validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: %w", c.Addr, err))
	}
	if c.BaseURL == "" {
		c.BaseURL = "http://" + c.Addr
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("base-url %q must be an absolute http(s) URL", c.BaseURL))
	}
	if c.Secret != "" && len(c.Secret) < 32 {
		errs = append(errs, errors.New("secret must be at least 32 bytes"))
	}
	if c.DynamicRegistration && len(c.SignupSecret) < 16 {
		errs = append(errs, errors.New("dynamic-registration needs signup-secret of at least 16 bytes (it gates registration)"))
	}
	if c.Signup == "secret" && len(c.SignupSecret) < 16 {
		errs = append(errs, errors.New("signup=secret needs signup-secret of at least 16 bytes"))
	}
	if c.PasswordMinLength < 1 || c.PasswordMaxLength < c.PasswordMinLength || c.PasswordMaxLength > 1024 {
		errs = append(errs, errors.New("password lengths must satisfy 1 <= min <= max <= 1024"))
	}
	if c.SessionExpiresIn <= 0 || c.SessionUpdateAge < 0 || c.SessionFreshAge < 0 {
		errs = append(errs, errors.New("session durations must be positive"))
	}
	if c.SweepInterval <= 0 {
		errs = append(errs, errors.New("sweep-interval must be positive"))
	}
	if c.WebhookRetryFor <= 0 || c.WebhookFirstRetry <= 0 || c.WebhookRetention <= 0 || c.WebhookSecretOverlap < 0 {
		errs = append(errs, errors.New("webhook durations must be positive (webhook-secret-overlap may be 0)"))
	}
	if c.WebhookConcurrency < 1 || c.WebhookConcurrency > 256 {
		errs = append(errs, errors.New("webhook-concurrency must be between 1 and 256"))
	}
	if c.WebhookAllowPrivate != "auto" && c.WebhookAllowPrivate != "true" && c.WebhookAllowPrivate != "false" {
		errs = append(errs, fmt.Errorf("webhook-allow-private must be auto, true or false, not %q", c.WebhookAllowPrivate))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log-format must be text or json, not %q", c.LogFormat))
	}
	return errors.Join(errs...)
}

// WebhooksMayReachPrivate resolves webhook-allow-private: auto allows
// private and loopback receivers only for a server on localhost.
func (c *Config) WebhooksMayReachPrivate() bool {
	if c.WebhookAllowPrivate != "auto" {
		return c.WebhookAllowPrivate == "true"
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil {
		return false
	}
	h := u.Hostname()
	ip := net.ParseIP(h)
	return h == "localhost" || (ip != nil && ip.IsLoopback())
}

// UsesPostgres reports whether DatabaseURL selects PostgreSQL.
func (c *Config) UsesPostgres() bool {
	return strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://")
}
