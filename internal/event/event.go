// Package event defines Auther's lifecycle events: their types, the data each
// carries and the exact body a webhook receiver gets. Events are built here
// and nowhere else; the store records them in the same transaction as the
// change that causes them (an outbox), so an event exists if and only if its
// change was committed.
package event

import (
	"encoding/json"
	"github.com/auther/auther/internal/jsontime"
	"time"

	"github.com/auther/auther/internal/id"
	"github.com/auther/auther/internal/store"
)

// Event types. Receivers must ignore types they do not know: new ones are
// added, existing data shapes only gain fields.
const (
	UserCreated           = "user.created"
	UserUpdated           = "user.updated"
	UserDeleted           = "user.deleted"
	UserVerified          = "user.verified"
	SessionCreated        = "session.created"
	SessionDeleted        = "session.deleted"
	AccountLinked         = "account.linked"
	AccountUnlinked       = "account.unlinked"
	VerificationSent      = "verification.sent"
	VerificationCompleted = "verification.completed"
	ClientCreated         = "client.created"
	ClientUpdated         = "client.updated"
	ClientDeleted         = "client.deleted"
	// Test is sent only by "webhook test" to one endpoint.
	Test = "webhook.test"
)

// Types lists every type an endpoint can subscribe to ("*" means all).
var Types = []string{
	UserCreated, UserUpdated, UserDeleted, UserVerified,
	SessionCreated, SessionDeleted, AccountLinked, AccountUnlinked,
	VerificationSent, VerificationCompleted,
	ClientCreated, ClientUpdated, ClientDeleted,
}

// Known reports whether t is a type an endpoint can subscribe to.
func Known(t string) bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return t == "*"
}

// Origin is the x-webhook-origin header and the body's origin field.
const Origin = "auther"

// body is the JSON every receiver gets.
type body struct {
	ID        string `json:"id"`
	Origin    string `json:"origin"`
	Type      string `json:"type"`
	Timestamp int64  `json:"timestamp"` // unix ms
	Data      any    `json:"data"`
}

// New builds an event of type typ about subject (the user or client whose
// events must reach each endpoint in order).
func New(typ, subject string, data any, now time.Time) store.Event {
	now = now.UTC().Truncate(time.Millisecond)
	e := store.Event{ID: "evt_" + id.New(), Type: typ, Subject: subject, CreatedAt: now}
	b, err := json.Marshal(body{ID: e.ID, Origin: Origin, Type: typ, Timestamp: now.UnixMilli(), Data: data})
	if err != nil {
		panic("event: data does not marshal: " + err.Error()) // data types are ours; a failure is a bug
	}
	e.Payload = b
	return e
}

// isoTime renders times as the JSON API does.
type isoTime = jsontime.Time

type userData struct {
	ID            string   `json:"id"`
	Email         string   `json:"email"`
	Name          string   `json:"name"`
	EmailVerified bool     `json:"emailVerified"`
	Image         *string  `json:"image"`
	CreatedAt     *isoTime `json:"createdAt,omitempty"`
	UpdatedAt     *isoTime `json:"updatedAt,omitempty"`
}

func ptr(t time.Time) *isoTime { v := isoTime(t); return &v }

// OfUserCreated is user.created.
func OfUserCreated(u *store.User) store.Event {
	return New(UserCreated, u.ID, userData{u.ID, u.Email, u.Name, u.EmailVerified, u.Image, ptr(u.CreatedAt), nil}, u.UpdatedAt)
}

// OfUserUpdated is user.updated at time at, carrying the user as it now
// is (its updatedAt, which only moves forward, is the version receivers
// order by; at is when the change was made).
func OfUserUpdated(u *store.User, at time.Time) store.Event {
	return New(UserUpdated, u.ID, userData{u.ID, u.Email, u.Name, u.EmailVerified, u.Image, nil, ptr(u.UpdatedAt)}, at)
}

// OfUserVerified is user.verified at time at: the user proved control of
// the address.
func OfUserVerified(u *store.User, at time.Time) store.Event {
	return New(UserVerified, u.ID, struct {
		ID            string  `json:"id"`
		Email         string  `json:"email"`
		EmailVerified bool    `json:"emailVerified"`
		UpdatedAt     isoTime `json:"updatedAt"`
	}{u.ID, u.Email, true, isoTime(u.UpdatedAt)}, at)
}

// OfUserDeleted is user.deleted. The user's sessions and accounts went
// with it; no session.deleted or account.unlinked is sent for them.
func OfUserDeleted(u *store.User, now time.Time) store.Event {
	return New(UserDeleted, u.ID, struct {
		ID        string  `json:"id"`
		Email     string  `json:"email"`
		DeletedAt isoTime `json:"deletedAt"`
	}{u.ID, u.Email, isoTime(now)}, now)
}

// OfSessionCreated is session.created.
func OfSessionCreated(s *store.Session) store.Event {
	return New(SessionCreated, s.UserID, struct {
		ID        string  `json:"id"`
		UserID    string  `json:"userId"`
		ExpiresAt isoTime `json:"expiresAt"`
		IPAddress string  `json:"ipAddress"`
		UserAgent string  `json:"userAgent"`
	}{s.ID, s.UserID, isoTime(s.ExpiresAt), s.IPAddress, s.UserAgent}, s.CreatedAt)
}

// OfSessionDeleted is session.deleted (sign-out, revocation). Sessions that
// simply expire are not announced.
func OfSessionDeleted(sessionID, userID string, now time.Time) store.Event {
	return New(SessionDeleted, userID, struct {
		ID     string `json:"id"`
		UserID string `json:"userId"`
	}{sessionID, userID}, now)
}

type accountData struct {
	ID         string `json:"id"`
	UserID     string `json:"userId"`
	ProviderID string `json:"providerId"`
	AccountID  string `json:"accountId"`
}

// OfAccountLinked is account.linked: a new way to sign in was added.
func OfAccountLinked(a *store.Account, now time.Time) store.Event {
	return New(AccountLinked, a.UserID, accountData{a.ID, a.UserID, a.ProviderID, a.AccountID}, now)
}

// OfAccountUnlinked is account.unlinked.
func OfAccountUnlinked(a *store.Account, now time.Time) store.Event {
	return New(AccountUnlinked, a.UserID, accountData{a.ID, a.UserID, a.ProviderID, a.AccountID}, now)
}

// Verification purposes, as reported in verification.* events.
const (
	PurposeEmailVerification = "email-verification"
	PurposePasswordReset     = "password-reset"
	PurposeMagicLink         = "magic-link"
	PurposeSignInOTP         = "sign-in-otp"
	PurposeChangeEmail       = "change-email"
)

type verificationData struct {
	UserID  string `json:"userId"`
	Email   string `json:"email"`
	Purpose string `json:"purpose"`
}

// OfVerificationSent is verification.sent: a link or code went out. userID
// is empty when the address has no account yet (sign-in codes, magic links).
func OfVerificationSent(userID, email, purpose string, now time.Time) store.Event {
	return New(VerificationSent, subjectOr(userID, email), verificationData{userID, email, purpose}, now)
}

// OfVerificationCompleted is verification.completed: the link or code was
// used and what it allowed is done.
func OfVerificationCompleted(userID, email, purpose string, now time.Time) store.Event {
	return New(VerificationCompleted, subjectOr(userID, email), verificationData{userID, email, purpose}, now)
}

func subjectOr(userID, email string) string {
	if userID != "" {
		return userID
	}
	return "email:" + email
}

type clientData struct {
	ClientID string `json:"clientId"`
	Name     string `json:"name"`
}

// OfClient is client.created, client.updated or client.deleted.
func OfClient(typ string, c *store.Client, now time.Time) store.Event {
	return New(typ, "client:"+c.ID, clientData{c.ID, c.Name}, now)
}

// OfTest is the event "webhook test" sends.
func OfTest(now time.Time) store.Event {
	return New(Test, "test", struct {
		Message string `json:"message"`
	}{"This is a test event from Auther."}, now)
}
