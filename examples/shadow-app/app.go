package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/auther/auther/sdk"
	"github.com/google/uuid"
)

// Config is everything the app needs; main fills it from flags and the
// environment.
type Config struct {
	AutherURL      string   // Auther's base URL, which is also the token issuer
	ClientID       string   // this app's OAuth client (the aud of its access tokens)
	ClientSecret   string   //
	WebhookSecrets []string // whsec_… secrets; old and new while rotating
	DatabaseURL    string   // postgres://… for PostgreSQL; empty or a file path for SQLite
	DataDir        string   // where the default SQLite file lives
	Addr           string   // listen address
	PublicURL      string   // this app's URL as browsers see it (for /callback)
	AdminToken     string   // an Auther admin's session token, for reconcile
	SigningAlg     string   // Auther's signing-algorithm; default RS256

	// For reconcile: prune tombstones older than this (0: keep them), and
	// the share of users that may turn out deleted (0: the SDK's 0.5).
	MaxTokenLifetime  time.Duration
	MaxDeleteFraction float64

	// OnEvent, when set, is called after each webhook event was applied
	// (not for duplicates). The tests use it to see what arrived.
	OnEvent func(e sdk.Event, outcome sdk.Outcome)
	Logger  *slog.Logger
}

// App is the example application: notes that belong to Auther users.
type App struct {
	cfg    Config
	db     *DB
	shadow *sdk.ShadowStore
	dedup  *sdk.SQLDeduper
	verify *sdk.Verifier
	oidc   *oidcClient
	log    *slog.Logger
}

// New opens and migrates the database and prepares token verification.
// It does not need Auther to be up: keys are fetched on first use.
func New(ctx context.Context, cfg Config) (*App, error) {
	if cfg.AutherURL == "" || cfg.ClientID == "" {
		return nil, errors.New("AUTHER_URL and CLIENT_ID are required")
	}
	if len(cfg.WebhookSecrets) == 0 {
		return nil, errors.New("WEBHOOK_SECRET is required (the whsec_… printed by auther webhook create)")
	}
	cfg.AutherURL = strings.TrimRight(cfg.AutherURL, "/")
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.SigningAlg == "" {
		cfg.SigningAlg = "RS256"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	db, err := openDB(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	v, err := sdk.NewVerifier(ctx, sdk.Config{
		Issuer:     cfg.AutherURL,
		Audience:   cfg.ClientID,
		Algorithms: []string{cfg.SigningAlg},
		Lazy:       true, // start even while Auther is down
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &App{
		cfg:    cfg,
		db:     db,
		shadow: sdk.NewShadowStore(db.DB, db.Dialect),
		dedup:  sdk.NewSQLDeduper(db.DB, db.Dialect),
		verify: v,
		oidc:   newOIDCClient(cfg),
		log:    cfg.Logger,
	}, nil
}

// Close closes the database.
func (a *App) Close() error { return a.db.Close() }

// Handler returns the app's routes.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET /callback", a.callback)
	mux.HandleFunc("POST /logout", a.logout)

	// The API takes a Bearer access token (mobile apps, scripts) or the
	// cookie /callback set (the browser). Either way it is verified
	// offline against Auther's keys: no call to Auther per request.
	api := func(h func(http.ResponseWriter, *http.Request, *sdk.ShadowUser, bool)) http.Handler {
		return a.tokenFromCookie(sdk.Middleware(a.verify)(a.withUser(h)))
	}
	mux.Handle("GET /api/me", api(a.me))
	mux.Handle("GET /api/notes", api(a.listNotes))
	mux.Handle("POST /api/notes", api(a.createNote))
	mux.Handle("DELETE /api/notes/{id}", api(a.deleteNote))

	// Auther's webhooks keep the shadow row current and delete it (and,
	// through the foreign key, the user's notes) when the user is deleted.
	mux.Handle("POST /api/auth/webhooks/auther", sdk.WebhookHandler(sdk.WebhookConfig{
		Secrets: a.cfg.WebhookSecrets,
		// In the database, so that every replica of the app agrees on
		// which events were applied.
		Dedup:  a.dedup,
		Handle: a.applyEvent,
		Logger: a.log,
	}))
	return mux
}

// applyEvent applies one webhook event to the shadow table. An error makes
// the SDK answer 500, so Auther sends the event again later. The event is
// marked processed in the same transaction as its writes, so it is applied
// exactly once even if the app dies right after committing.
func (a *App) applyEvent(ctx context.Context, e sdk.Event) error {
	claim, ok := sdk.WebhookClaim(ctx)
	if !ok {
		return errors.New("no webhook claim in the context")
	}
	tx, err := a.shadow.BeginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// First, so that on SQLite the transaction takes the write lock at once.
	if err := a.dedup.CompleteTx(ctx, tx, e.ID, claim); err != nil {
		return err
	}
	outcome, err := a.shadow.ApplyTx(ctx, tx, e)
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if outcome != sdk.OutcomeIgnored {
		a.log.Info("webhook applied", "type", e.Type, "event_id", e.ID, "outcome", outcome)
	}
	if a.cfg.OnEvent != nil {
		a.cfg.OnEvent(e, outcome)
	}
	return nil
}

// withUser turns verified claims into the user's shadow row, creating the
// row on first sight (just in time): a user who signed up while webhooks
// were delayed can use the app at once, and the user.created event fills
// in the details when it arrives.
func (a *App) withUser(h func(http.ResponseWriter, *http.Request, *sdk.ShadowUser, bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := sdk.ClaimsFrom(r.Context())
		u, created, err := a.shadow.EnsureFromClaims(r.Context(), claims)
		switch {
		case errors.Is(err, sdk.ErrUserDeleted):
			// The token is still valid (it was signed before the user was
			// deleted), but the user is gone: never bring the row back.
			writeError(w, http.StatusUnauthorized, "user_deleted", "this user was deleted; sign in again")
			return
		case errors.Is(err, sdk.ErrNotAUser):
			writeError(w, http.StatusForbidden, "not_a_user", "this API needs a user's token, not a client's")
			return
		case err != nil:
			a.serverError(w, r, err)
			return
		}
		if created {
			a.log.Info("user provisioned from token", "user_id", u.ID)
		}
		h(w, r, u, created)
	})
}

// userJSON is the shadow row as the API shows it.
type userJSON struct {
	ID            string     `json:"id"`
	Email         string     `json:"email"`
	Name          string     `json:"name"`
	EmailVerified bool       `json:"emailVerified"`
	Image         *string    `json:"image"`
	CreatedAt     time.Time  `json:"createdAt"`
	UpdatedAt     time.Time  `json:"updatedAt"`
	SyncedAt      *time.Time `json:"syncedAt"` // null until an event or reconciliation confirmed the row
}

func toUserJSON(u *sdk.ShadowUser) userJSON {
	j := userJSON{ID: u.ID, Email: u.Email, Name: u.Name, EmailVerified: u.EmailVerified,
		Image: u.Image, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
	if !u.SyncedAt.IsZero() {
		j.SyncedAt = &u.SyncedAt
	}
	return j
}

// me answers the caller's shadow row; created says this request made it.
func (a *App) me(w http.ResponseWriter, r *http.Request, u *sdk.ShadowUser, created bool) {
	writeJSON(w, http.StatusOK, map[string]any{"user": toUserJSON(u), "created": created})
}

type note struct {
	ID        string    `json:"id"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func (a *App) listNotes(w http.ResponseWriter, r *http.Request, u *sdk.ShadowUser, _ bool) {
	rows, err := a.db.QueryContext(r.Context(), a.db.q(
		`SELECT id, body, created_at, updated_at FROM notes WHERE user_id = ? ORDER BY created_at, id`), u.ID)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	defer rows.Close()
	notes := []note{}
	for rows.Next() {
		var n note
		if err := rows.Scan(&n.ID, &n.Body, &n.CreatedAt, &n.UpdatedAt); err != nil {
			a.serverError(w, r, err)
			return
		}
		notes = append(notes, n)
	}
	if err := rows.Err(); err != nil {
		a.serverError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"notes": notes})
}

const maxNote = 10_000

func (a *App) createNote(w http.ResponseWriter, r *http.Request, u *sdk.ShadowUser, _ bool) {
	var in struct {
		Body string `json:"body"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "bad_json", "send {\"body\": \"…\"}")
		return
	}
	if strings.TrimSpace(in.Body) == "" || len(in.Body) > maxNote {
		writeError(w, http.StatusBadRequest, "bad_body", fmt.Sprintf("body must be 1 to %d bytes", maxNote))
		return
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	n := note{ID: uuid.Must(uuid.NewV7()).String(), Body: in.Body, CreatedAt: now, UpdatedAt: now}
	_, err := a.db.ExecContext(r.Context(), a.db.q(
		`INSERT INTO notes (id, user_id, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`),
		n.ID, u.ID, n.Body, n.CreatedAt, n.UpdatedAt)
	if err != nil {
		// A user.deleted applied between EnsureFromClaims and here makes
		// the foreign key refuse the insert; the next request gets 401.
		a.serverError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, n)
}

func (a *App) deleteNote(w http.ResponseWriter, r *http.Request, u *sdk.ShadowUser, _ bool) {
	// Scoped to the caller: someone else's note id is simply not found.
	res, err := a.db.ExecContext(r.Context(), a.db.q(`DELETE FROM notes WHERE id = ? AND user_id = ?`), r.PathValue("id"), u.ID)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	if n, _ := res.RowsAffected(); n == 0 {
		writeError(w, http.StatusNotFound, "not_found", "no such note")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *App) home(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, `<!doctype html><title>Notes</title>
<p>An example app that keeps a shadow copy of its Auther users.</p>
<p><a href="/login">Sign in</a> · <a href="/api/me">/api/me</a> · <a href="/api/notes">/api/notes</a></p>
<form method="post" action="/logout"><button>Sign out</button></form>`)
}

func (a *App) serverError(w http.ResponseWriter, r *http.Request, err error) {
	a.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal", "something went wrong")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error": code, "message": msg})
}
