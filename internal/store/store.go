// Package store defines Auther's persistence contract: the records of Better
// Auth's data model and one Store interface that every backend implements.
// Backends live in sub-packages and are held to the same behaviour by the
// conformance suite in storetest.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors every backend returns for the same situations.
var (
	// ErrNotFound: no row matched.
	ErrNotFound = errors.New("store: not found")
	// ErrEmailTaken: a user with that email already exists (unique violation).
	ErrEmailTaken = errors.New("store: email already in use")
	// ErrConflict: another unique constraint was violated.
	ErrConflict = errors.New("store: conflict")
)

// ProviderCredential is account.provider_id for email and password.
const ProviderCredential = "credential"

// User is one person. Email is stored lower-cased.
type User struct {
	ID            string
	Name          string
	Email         string
	EmailVerified bool
	Image         *string
	Role          *string // "admin" for administrators of Auther itself
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// RoleAdmin is User.Role for administrators.
const RoleAdmin = "admin"

// IsAdmin reports whether the user administers Auther.
func (u *User) IsAdmin() bool { return u.Role != nil && *u.Role == RoleAdmin }

// Session is a signed-in browser or client. TokenHash is the SHA-256 of the
// token the client holds; the token itself is never stored.
type Session struct {
	ID        string
	TokenHash string
	UserID    string
	ExpiresAt time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
	IPAddress string
	UserAgent string
	// AuthMethod is how the session was signed in: AuthPassword or AuthOTP
	// ("" for sessions older than the column).
	AuthMethod string
}

// Authentication methods (RFC 8176 amr values).
const (
	AuthPassword = "pwd"
	AuthOTP      = "otp" // a one-time link or code sent by email
)

// Account is one way a user proves who they are: a password (ProviderID
// "credential", AccountID = user id) or an external provider.
type Account struct {
	ID                    string
	AccountID             string
	ProviderID            string
	UserID                string
	AccessToken           *string
	RefreshToken          *string
	IDToken               *string
	AccessTokenExpiresAt  *time.Time
	RefreshTokenExpiresAt *time.Time
	Scope                 *string
	Password              *string
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

// Verification is a short-lived proof (reset token, email code…). It has no
// foreign key to user on purpose: it can exist before its user does.
type Verification struct {
	ID         string
	Identifier string
	Value      string
	ExpiresAt  time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Mail is a queued outgoing message. Bodies are sealed by the caller.
type Mail struct {
	ID            string
	To            string
	Subject       string
	Text          string
	HTML          string
	Status        string // MailPending, MailSent or MailFailed
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	SentAt        *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// SigningKey is a token signing key. PrivateKey is sealed by the caller.
// ExpiresAt is nil for the key in use; a rotated key is published until it.
type SigningKey struct {
	ID         string
	Algorithm  string
	Curve      string
	PublicKey  string // JWK JSON
	PrivateKey string // sealed
	CreatedAt  time.Time
	ExpiresAt  *time.Time
}

// Client is a registered OAuth/OIDC client (relying party).
type Client struct {
	ID                     string
	Name                   string
	SecretHash             *string // SHA-256 hex; nil for public clients
	Public                 bool
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	GrantTypes             []string
	Scopes                 []string
	SkipConsent            bool
	Disabled               bool
	AccessTokenTTL         *time.Duration
	IDTokenTTL             *time.Duration
	RefreshTokenTTL        *time.Duration
	CreatedAt              time.Time
	UpdatedAt              time.Time
}

// Consent records the scopes a user granted a client.
type Consent struct {
	ID        string
	ClientID  string
	UserID    string
	Scopes    []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Grant is one authorization of a client by a user: its single-use code,
// then the family of refresh tokens rotated from it.
type Grant struct {
	ID            string
	ClientID      string
	UserID        string
	SessionID     string
	Scopes        []string
	Nonce         string
	AuthTime      time.Time
	RedirectURI   string
	CodeHash      string
	CodeChallenge string
	CodeExpiresAt time.Time
	CodeUsedAt    *time.Time
	RevokedAt     *time.Time
	CreatedAt     time.Time
	AMR           string // the session's authentication method
}

// RefreshToken is one member of a grant's refresh-token family.
type RefreshToken struct {
	ID        string
	GrantID   string
	TokenHash string
	ExpiresAt time.Time
	UsedAt    *time.Time
	CreatedAt time.Time
}

// Errors of the OAuth store.
var (
	// ErrReused: a code or refresh token was presented a second time.
	ErrReused = errors.New("store: code or token already used")
)

// Followup is what a change leaves behind in its own transaction: a
// verification to be proven and the mail that carries it. Either may be nil.
type Followup struct {
	Verification *Verification
	Mail         *Mail
	// Events the caller adds to those the store records for the change
	// itself (verification.sent, verification.completed).
	Events []Event
}

// Mail statuses.
const (
	MailPending = "pending"
	MailSent    = "sent"
	MailFailed  = "failed"
)

// ListUsersOptions pages through users in id order (ids sort by creation).
type ListUsersOptions struct {
	After string // return users with id > After
	Limit int    // <= 0 means 100
}

// Store is everything Auther persists. It grows by methods as features land.
// Writes that must be atomic together are single methods, run by the backend
// inside one transaction, so callers never manage transactions.
//
// Every write that changes a user, session, account or client records its
// lifecycle events (package event) in the same transaction, into the outbox
// that webhooks deliver from; methods that take evs record those too.
type Store interface {
	WebhookStore

	// CreateUser inserts u and, when not nil, its first account, its first
	// session and the follow-up (a verification and its mail), all or
	// nothing. ErrEmailTaken if the email exists.
	CreateUser(ctx context.Context, u *User, a *Account, s *Session, f *Followup) error
	GetUser(ctx context.Context, id string) (*User, error)
	GetUserByEmail(ctx context.Context, email string) (*User, error)
	// GetUserWithCredential returns the user with that email and its
	// credential account (nil when the user has no password).
	GetUserWithCredential(ctx context.Context, email string) (*User, *Account, error)
	// UpdateUser loads the user, applies fn and saves the result in one
	// transaction; UpdatedAt is set by the caller inside fn.
	UpdateUser(ctx context.Context, id string, fn func(*User) error, evs ...Event) (*User, error)
	// ClaimUser marks the user's address verified for someone who just
	// proved control of it without the password (magic link, sign-in code).
	// If the address was not verified before, whoever created the account
	// may not own the address: the credential password and every session
	// are removed in the same transaction, so a stranger who signed up
	// first with someone else's address cannot keep a way in.
	ClaimUser(ctx context.Context, id string, now time.Time) (*User, error)
	// DeleteUser removes the user; sessions and accounts go with it.
	DeleteUser(ctx context.Context, id string) error
	ListUsers(ctx context.Context, opts ListUsersOptions) ([]User, error)

	ListAccounts(ctx context.Context, userID string) ([]Account, error)
	// SetPassword stores a new credential hash for the user, creating the
	// credential account (a) if the user has none. With revoke every session
	// of the user is deleted; replace, when not nil, is then inserted; all in
	// one transaction.
	SetPassword(ctx context.Context, a *Account, revoke bool, replace *Session, evs ...Event) error

	CreateSession(ctx context.Context, s *Session, evs ...Event) error
	// GetSession returns the session with that token hash and its user in
	// one query. Expired sessions are returned too; the caller decides.
	GetSession(ctx context.Context, tokenHash string) (*Session, *User, error)
	// ExtendSession moves a session's expiry (sliding refresh).
	ExtendSession(ctx context.Context, id string, expiresAt, updatedAt time.Time) error
	// ListSessions returns the user's sessions that expire after now,
	// newest first.
	ListSessions(ctx context.Context, userID string, now time.Time) ([]Session, error)
	// DeleteSession removes one session of the user by token hash.
	DeleteSession(ctx context.Context, userID, tokenHash string) error
	// DeleteUserSessions removes all the user's sessions except the one
	// with id exceptID ("" keeps none) and returns how many went.
	DeleteUserSessions(ctx context.Context, userID, exceptID string) (int, error)

	// CreateVerification inserts v and, when m is not nil, queues m in the
	// same transaction.
	CreateVerification(ctx context.Context, v *Verification, m *Mail, evs ...Event) error
	// ReplaceVerification deletes every verification with v's identifier,
	// inserts v and queues m (if not nil), in one transaction.
	ReplaceVerification(ctx context.Context, v *Verification, m *Mail, evs ...Event) error
	// GetVerification returns the newest verification with identifier.
	GetVerification(ctx context.Context, identifier string) (*Verification, error)
	// TakeVerification deletes and returns the verification with that
	// identifier, atomically: of two concurrent callers exactly one gets it.
	TakeVerification(ctx context.Context, identifier string) (*Verification, error)
	// DeleteVerification deletes one verification by id; ErrNotFound if it
	// is already gone (so of two concurrent deleters exactly one succeeds).
	DeleteVerification(ctx context.Context, id string) error
	// SwapVerificationValue sets the value of verification id to next only
	// if it is still prev (compare-and-swap); ErrNotFound otherwise.
	SwapVerificationValue(ctx context.Context, id, prev, next string, now time.Time) error

	// ClaimMail leases up to limit pending mails that are due at now, so
	// that no other worker (or replica) takes them until the lease ends,
	// and counts an attempt on each.
	ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Mail, error)
	// MailSent marks a mail delivered and clears its bodies.
	MailSent(ctx context.Context, id string, now time.Time) error
	// MailRetry schedules another attempt.
	MailRetry(ctx context.Context, id string, next time.Time, lastError string, now time.Time) error
	// MailFailed gives up on a mail for good and clears its bodies.
	MailFailed(ctx context.Context, id string, lastError string, now time.Time) error
	// ListMail returns mails with the given status, newest first.
	ListMail(ctx context.Context, status string, limit int) ([]Mail, error)

	// DeleteExpired removes up to limit expired sessions and up to limit
	// expired verifications and reports how many of each went.
	DeleteExpired(ctx context.Context, now time.Time, limit int) (sessions, verifications int, err error)

	// AddSigningKey makes k the signing key: every key still in use gets
	// ExpiresAt = retireAt (it stays published until then) and k is
	// inserted, in one transaction serialised against other rotations.
	AddSigningKey(ctx context.Context, k *SigningKey, retireAt time.Time) error
	// ListSigningKeys returns all keys, newest first.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// DeleteExpiredSigningKeys removes keys whose ExpiresAt has passed; the
	// key in use (no ExpiresAt) is never removed.
	DeleteExpiredSigningKeys(ctx context.Context, now time.Time) (int, error)

	CreateClient(ctx context.Context, c *Client) error
	GetClient(ctx context.Context, id string) (*Client, error)
	ListClients(ctx context.Context) ([]Client, error)
	// UpdateClient loads, applies fn and saves in one transaction.
	UpdateClient(ctx context.Context, id string, fn func(*Client) error) (*Client, error)
	DeleteClient(ctx context.Context, id string) error

	GetConsent(ctx context.Context, clientID, userID string) (*Consent, error)
	// SaveConsent inserts or replaces the user's consent for the client.
	SaveConsent(ctx context.Context, c *Consent) error
	DeleteConsent(ctx context.Context, clientID, userID string) error
	// ListConsents returns the user's consents, newest first.
	ListConsents(ctx context.Context, userID string) ([]Consent, error)
	// DeleteStaleOAuth removes up to limit expired refresh tokens and never
	// redeemed codes whose expiry passed, reporting how many rows went.
	DeleteStaleOAuth(ctx context.Context, now time.Time, limit int) (int, error)

	CreateGrant(ctx context.Context, g *Grant) error
	GetGrant(ctx context.Context, id string) (*Grant, error)
	// GetGrantByCode finds the grant a code belongs to (used or not).
	GetGrantByCode(ctx context.Context, codeHash string) (*Grant, error)
	// RedeemCode marks the grant's code used, atomically: ErrNotFound for
	// an unknown code, ErrReused (with the grant) for one already used.
	RedeemCode(ctx context.Context, codeHash string, now time.Time) (*Grant, error)
	// AddRefreshToken inserts a refresh token of a grant.
	AddRefreshToken(ctx context.Context, rt *RefreshToken) error
	// RotateRefreshToken marks the token used and inserts next, atomically,
	// if the token is unused, unexpired at now, belongs to next's grant and
	// that grant is not revoked. A token used before gives ErrReused (the
	// caller revokes the family); any other refusal gives ErrNotFound.
	RotateRefreshToken(ctx context.Context, tokenHash string, now time.Time, next *RefreshToken) error
	// GetRefreshToken finds a token by hash with its grant.
	GetRefreshToken(ctx context.Context, tokenHash string) (*RefreshToken, *Grant, error)
	// GetRefreshTokenUser is GetRefreshToken with the grant's user, in one
	// query (the refresh path needs all three).
	GetRefreshTokenUser(ctx context.Context, tokenHash string) (*RefreshToken, *Grant, *User, error)
	// RevokeGrant revokes a grant and so every token issued from it.
	RevokeGrant(ctx context.Context, id string, now time.Time) error
	// RevokeUserGrants revokes the user's grants except those made under
	// the session exceptSessionID ("" revokes all): signing out everywhere
	// must also end the apps' refresh tokens.
	RevokeUserGrants(ctx context.Context, userID, exceptSessionID string, now time.Time) (int, error)
	// RevokeSessionGrants revokes the grants made under an Auther session
	// (for a client, or all when clientID is "").
	RevokeSessionGrants(ctx context.Context, sessionID, clientID string, now time.Time) (int, error)

	// Ping checks the database is reachable.
	Ping(ctx context.Context) error
	Close() error
}
