package sdk

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Webhook request headers.
const (
	HeaderWebhookID        = "X-Webhook-Id"
	HeaderWebhookTimestamp = "X-Webhook-Timestamp"
	HeaderWebhookSignature = "X-Webhook-Signature"
	HeaderWebhookOrigin    = "X-Webhook-Origin"
)

// Event types Auther sends.
const (
	EventUserCreated           = "user.created"
	EventUserUpdated           = "user.updated"
	EventUserVerified          = "user.verified"
	EventUserDeleted           = "user.deleted"
	EventSessionCreated        = "session.created"
	EventSessionDeleted        = "session.deleted"
	EventAccountLinked         = "account.linked"
	EventAccountUnlinked       = "account.unlinked"
	EventVerificationSent      = "verification.sent"
	EventVerificationCompleted = "verification.completed"
	EventClientCreated         = "client.created"
	EventClientUpdated         = "client.updated"
	EventClientDeleted         = "client.deleted"
	EventWebhookTest           = "webhook.test"
)

// DefaultTolerance is how far a delivery's timestamp may be from the
// receiver's clock, either way.
const DefaultTolerance = 5 * time.Minute

// DefaultMaxBody is the largest delivery body accepted.
const DefaultMaxBody = 1 << 20

// Event is one webhook delivery's body.
type Event struct {
	ID        string          `json:"id"`
	Origin    string          `json:"origin"`
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"` // sent as unix milliseconds
	Data      json.RawMessage `json:"data"`
}

// UnmarshalJSON reads the wire form, where timestamp is unix milliseconds.
func (e *Event) UnmarshalJSON(b []byte) error {
	var w struct {
		ID        string          `json:"id"`
		Origin    string          `json:"origin"`
		Type      string          `json:"type"`
		Timestamp *int64          `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*e = Event{ID: w.ID, Origin: w.Origin, Type: w.Type, Data: w.Data}
	if w.Timestamp != nil {
		e.Timestamp = time.UnixMilli(*w.Timestamp).UTC()
	}
	return nil
}

// MarshalJSON writes the wire form (timestamp in unix milliseconds).
func (e Event) MarshalJSON() ([]byte, error) {
	data := e.Data
	if data == nil {
		data = json.RawMessage("{}")
	}
	return json.Marshal(struct {
		ID        string          `json:"id"`
		Origin    string          `json:"origin"`
		Type      string          `json:"type"`
		Timestamp int64           `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}{e.ID, e.Origin, e.Type, e.Timestamp.UnixMilli(), data})
}

// Decode unmarshals Data into v (one of the *Data types below, or the
// app's own).
func (e Event) Decode(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("auther: %s event %s: data: %w", e.Type, e.ID, err)
	}
	return nil
}

// User decodes the data of a user.* event.
func (e Event) User() (*UserData, error) {
	if !strings.HasPrefix(e.Type, "user.") {
		return nil, fmt.Errorf("auther: %s is not a user event", e.Type)
	}
	var u UserData
	if err := e.Decode(&u); err != nil {
		return nil, err
	}
	if u.ID == "" {
		return nil, fmt.Errorf("auther: %s event %s has no user id", e.Type, e.ID)
	}
	return &u, nil
}

// UserData is the data of user.created, user.updated, user.verified and
// user.deleted. Fields an event type does not carry are left nil (Name,
// EmailVerified) or zero, so a partial event never blanks a field.
type UserData struct {
	ID            string
	Email         string
	Name          *string
	EmailVerified *bool
	// Image is nil both when the event says null and when it omits the
	// field; ImageSet tells the two apart.
	Image     *string
	ImageSet  bool
	CreatedAt time.Time
	UpdatedAt time.Time
	DeletedAt time.Time
}

// UnmarshalJSON records which fields were present.
func (u *UserData) UnmarshalJSON(b []byte) error {
	var w struct {
		ID            string          `json:"id"`
		Email         string          `json:"email"`
		Name          *string         `json:"name"`
		EmailVerified *bool           `json:"emailVerified"`
		Image         json.RawMessage `json:"image"`
		CreatedAt     time.Time       `json:"createdAt"`
		UpdatedAt     time.Time       `json:"updatedAt"`
		DeletedAt     time.Time       `json:"deletedAt"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*u = UserData{ID: w.ID, Email: w.Email, Name: w.Name, EmailVerified: w.EmailVerified,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, DeletedAt: w.DeletedAt}
	if w.Image != nil {
		u.ImageSet = true
		if !bytes.Equal(w.Image, []byte("null")) {
			var s string
			if err := json.Unmarshal(w.Image, &s); err != nil {
				return fmt.Errorf("image: %w", err)
			}
			u.Image = &s
		}
	}
	return nil
}

// SessionData is the data of session.created and session.deleted.
type SessionData struct {
	ID        string    `json:"id"`
	UserID    string    `json:"userId"`
	ExpiresAt time.Time `json:"expiresAt"`
	IPAddress string    `json:"ipAddress"`
	UserAgent string    `json:"userAgent"`
}

// AccountData is the data of account.linked and account.unlinked.
type AccountData struct {
	ID         string `json:"id"`
	UserID     string `json:"userId"`
	ProviderID string `json:"providerId"`
	AccountID  string `json:"accountId"`
}

// VerificationData is the data of verification.sent and
// verification.completed.
type VerificationData struct {
	UserID  string `json:"userId"`
	Email   string `json:"email"`
	Purpose string `json:"purpose"`
}

// ClientData is the data of client.created, client.updated and
// client.deleted.
type ClientData struct {
	ClientID string `json:"clientId"`
	Name     string `json:"name"`
}

// TestData is the data of webhook.test.
type TestData struct {
	Message string `json:"message"`
}

// SignWebhook returns the signature Auther puts in x-webhook-signature:
// lower-hex HMAC-SHA256, keyed with the whole secret string, of
// "<timestamp>.<body>". Apps use it to forge deliveries in their tests.
func SignWebhook(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// maxSignatures bounds the work one request can cause.
const maxSignatures = 8

// VerifyWebhookSignature reports whether any of the comma-separated hex
// signatures in header is the HMAC of "<timestamp>.<body>" under any of
// secrets. Comparisons are constant-time.
func VerifyWebhookSignature(secrets []string, timestamp, header string, body []byte) bool {
	var sigs [][]byte
	for _, s := range strings.Split(header, ",") {
		if len(sigs) == maxSignatures {
			break
		}
		b, err := hex.DecodeString(strings.TrimSpace(s))
		if err != nil || len(b) != sha256.Size {
			continue
		}
		sigs = append(sigs, b)
	}
	if len(sigs) == 0 {
		return false
	}
	ok := false
	for _, secret := range secrets {
		if secret == "" {
			continue
		}
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(timestamp))
		m.Write([]byte{'.'})
		m.Write(body)
		want := m.Sum(nil)
		for _, sig := range sigs {
			if hmac.Equal(want, sig) {
				ok = true
			}
		}
	}
	return ok
}

// WebhookConfig configures WebhookHandler.
type WebhookConfig struct {
	// Secrets are the endpoint's signing secrets (whsec_…), used whole as
	// HMAC keys. List the old and the new one while rotating; a delivery
	// signed by any of them is accepted.
	Secrets []string
	// Dedup remembers processed event ids. Nil means an in-memory
	// MemoryDeduper, which is only right for a single process: give a
	// SQLDeduper to an app with several replicas.
	Dedup Deduper
	// Handle applies an event. An error (or a panic) answers 500 and
	// releases the event id, so Auther's retry is applied; it must not
	// leave half-applied state behind (use a transaction). Delivery is at
	// least once: if the process dies after Handle's writes and before the
	// id is marked processed, the event is applied again after the lease,
	// so Handle must be idempotent (ShadowStore.Apply is) or mark the event
	// processed in its own transaction (SQLDeduper.CompleteTx with
	// WebhookClaim(ctx)).
	Handle func(ctx context.Context, e Event) error
	// Tolerance is the accepted distance between the delivery's timestamp
	// and the clock, either way; default 5 minutes.
	Tolerance time.Duration
	// MaxBody is the largest accepted body in bytes; default 1 MiB.
	MaxBody int64
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives handler failures; default slog.Default().
	Logger *slog.Logger
}

// WebhookHandler returns the http.Handler that receives Auther's webhooks.
// It answers (Auther treats any 2xx as delivered and retries the rest):
//
//	200 {"status":"ok"}         applied now
//	200 {"status":"duplicate"}  id already processed; not applied again
//	400                         a header of x-webhook-id/-timestamp/-signature is missing,
//	                            the timestamp is not a number, the body is not an event,
//	                            or its id differs from x-webhook-id
//	401                         no signature matches, or the timestamp is more than
//	                            Tolerance in the past or the future
//	405                         method other than POST or PUT
//	409 {"error":"in_progress"} the same id is being processed right now by another
//	                            delivery; the retry will find it done
//	413                         body larger than MaxBody
//	500                         Handle failed (the id is released, so the retry applies it)
//	                            or the Deduper failed
//
// The signature is checked before the body is parsed, and the event id used
// for deduplication is the body's (signed) id. It panics when Secrets holds
// no secret or Handle is nil.
func WebhookHandler(cfg WebhookConfig) http.Handler {
	n := 0
	for _, s := range cfg.Secrets {
		if s != "" {
			n++
		}
	}
	if n == 0 {
		panic("auther: WebhookConfig.Secrets holds no secret")
	}
	if cfg.Handle == nil {
		panic("auther: WebhookConfig.Handle is nil")
	}
	if cfg.Dedup == nil {
		cfg.Dedup = NewMemoryDeduper()
	}
	if cfg.Tolerance <= 0 {
		cfg.Tolerance = DefaultTolerance
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &webhookHandler{cfg}
}

type webhookHandler struct{ cfg WebhookConfig }

func fail(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error": code, "message": msg})
}

func (h *webhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		w.Header().Set("Allow", "POST, PUT")
		fail(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		return
	}
	id := r.Header.Get(HeaderWebhookID)
	ts := r.Header.Get(HeaderWebhookTimestamp)
	sig := r.Header.Get(HeaderWebhookSignature)
	if id == "" || ts == "" || sig == "" {
		fail(w, http.StatusBadRequest, "missing_headers", "x-webhook-id, x-webhook-timestamp and x-webhook-signature are required")
		return
	}
	if r.ContentLength > h.cfg.MaxBody {
		fail(w, http.StatusRequestEntityTooLarge, "body_too_large", "body too large")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			fail(w, http.StatusRequestEntityTooLarge, "body_too_large", "body too large")
			return
		}
		fail(w, http.StatusBadRequest, "bad_body", "could not read the body")
		return
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || ms < 0 {
		fail(w, http.StatusBadRequest, "bad_timestamp", "x-webhook-timestamp must be unix milliseconds")
		return
	}
	if !VerifyWebhookSignature(h.cfg.Secrets, ts, sig, body) {
		fail(w, http.StatusUnauthorized, "bad_signature", "no signature matches")
		return
	}
	if d := h.cfg.Now().Sub(time.UnixMilli(ms)); d > h.cfg.Tolerance || d < -h.cfg.Tolerance {
		fail(w, http.StatusUnauthorized, "stale_timestamp", "timestamp outside the accepted window")
		return
	}
	var e Event
	if err := json.Unmarshal(body, &e); err != nil || e.ID == "" || e.Type == "" {
		fail(w, http.StatusBadRequest, "bad_event", "body is not an event")
		return
	}
	if e.ID != id {
		fail(w, http.StatusBadRequest, "id_mismatch", "x-webhook-id differs from the body's id")
		return
	}
	if e.Timestamp.IsZero() {
		e.Timestamp = time.UnixMilli(ms).UTC()
	}
	ctx := r.Context()
	state, claim, err := h.cfg.Dedup.Begin(ctx, e.ID)
	if err != nil {
		h.cfg.Logger.Error("webhook dedup failed", "event_id", e.ID, "type", e.Type, "err", err)
		fail(w, http.StatusInternalServerError, "dedup_failed", "could not record the event")
		return
	}
	switch state {
	case DedupDone:
		writeJSON(w, http.StatusOK, map[string]string{"status": "duplicate"})
		return
	case DedupBusy:
		fail(w, http.StatusConflict, "in_progress", "this event is being processed")
		return
	}
	if err := h.handle(context.WithValue(ctx, claimKey{}, claim), e); err != nil {
		// Release with a context that survives a client that hung up, so
		// that the retry is not locked out until the lease expires.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		rerr := h.cfg.Dedup.Release(rctx, e.ID, claim)
		cancel()
		h.cfg.Logger.Error("webhook handler failed", "event_id", e.ID, "type", e.Type, "err", err, "release_err", rerr)
		fail(w, http.StatusInternalServerError, "handler_failed", "the event could not be applied; retry")
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	if err := h.cfg.Dedup.Complete(cctx, e.ID, claim); err != nil {
		// The event is applied: answering 5xx would apply it again. With
		// ErrClaimLost the handler outran the lease and another delivery
		// took the event over: it will complete (or retry) it.
		h.cfg.Logger.Error("webhook dedup completion failed", "event_id", e.ID, "type", e.Type, "err", err)
	}
	cancel()
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type claimKey struct{}

// WebhookClaim returns, inside WebhookConfig.Handle, the Deduper claim under
// which the event is being applied: pass it to SQLDeduper.CompleteTx to
// mark the event processed in the handler's own transaction.
func WebhookClaim(ctx context.Context) (int64, bool) {
	c, ok := ctx.Value(claimKey{}).(int64)
	return c, ok
}

func (h *webhookHandler) handle(ctx context.Context, e Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return h.cfg.Handle(ctx, e)
}
