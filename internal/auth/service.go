package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"github.com/auther/auther/internal/event"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/auther/auther/internal/clock"
	"github.com/auther/auther/internal/id"
	"github.com/auther/auther/internal/password"
	"github.com/auther/auther/internal/session"
	"github.com/auther/auther/internal/store"
)

// SignupMode gates sign-up.
type SignupMode string

const (
	SignupOpen   SignupMode = "open"
	SignupClosed SignupMode = "closed"
	SignupSecret SignupMode = "secret"
)

// Service implements the identity core.
type Service struct {
	Store        store.Store
	Hasher       *password.Pool
	Clock        clock.Clock
	Policy       session.Policy
	MinPassword  int
	MaxPassword  int
	Signup       SignupMode
	SignupSecret string
	Email        EmailOptions
}

// Meta describes the client making a request.
type Meta struct {
	IP        string
	UserAgent string
}

// Issued is a new session and the token the client must hold.
type Issued struct {
	Token   string
	Session store.Session
}

func (s *Service) now() time.Time { return s.Clock.Now().UTC().Truncate(time.Millisecond) }

// NormalizeEmail lower-cases and validates an email address: a local part
// net/mail accepts, and a DNS host name of at least two labels with a
// top-level label of two or more letters (no IP literals).
func NormalizeEmail(email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if len(email) > 254 {
		return "", ErrInvalidEmail
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" {
		return "", ErrInvalidEmail
	}
	if !validDomain(email[strings.LastIndexByte(email, '@')+1:]) {
		return "", ErrInvalidEmail
	}
	return email, nil
}

func validDomain(d string) bool {
	labels := strings.Split(d, ".")
	if len(labels) < 2 || len(d) > 253 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c >= 0x80) {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	if len(tld) < 2 {
		return false
	}
	for i := 0; i < len(tld); i++ {
		if '0' <= tld[i] && tld[i] <= '9' {
			return false
		}
	}
	return true
}

func (s *Service) checkPassword(pw string) error {
	n := utf8.RuneCountInString(pw)
	if n < s.MinPassword {
		return ErrPasswordTooShort
	}
	if n > s.MaxPassword {
		return ErrPasswordTooLong
	}
	return nil
}

func hashErr(err error) error {
	if errors.Is(err, password.ErrPoolAbandoned) {
		return ErrBusy
	}
	return err
}

func (s *Service) newSession(userID string, remember bool, m Meta, method string) Issued {
	now := s.now()
	life := s.Policy.ExpiresIn
	if !remember {
		life = s.Policy.ShortLife
	}
	tok := session.NewToken()
	return Issued{Token: tok, Session: store.Session{
		ID: id.New(), TokenHash: session.Hash(tok), UserID: userID,
		ExpiresAt: now.Add(life), CreatedAt: now, UpdatedAt: now,
		IPAddress: m.IP, UserAgent: cleanText(truncate(m.UserAgent, 512)), AuthMethod: method,
	}}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// SignUpInput is what sign-up needs.
type SignUpInput struct {
	Name        string
	Email       string
	Password    string
	Image       *string
	RememberMe  bool
	Secret      string // x-internal-signup-secret header
	CallbackURL string // where the verification link leads
}

// SignUp creates a user with a credential account and a first session, in
// one transaction.
func (s *Service) SignUp(ctx context.Context, in SignUpInput, m Meta) (*store.User, *Issued, error) {
	switch s.Signup {
	case SignupClosed:
		return nil, nil, ErrSignUpDisabled
	case SignupSecret:
		if subtle.ConstantTimeCompare([]byte(in.Secret), []byte(s.SignupSecret)) != 1 {
			return nil, nil, ErrSignUpSecret
		}
	}
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return nil, nil, err
	}
	if err := checkProfile(in.Name, in.Image); err != nil {
		return nil, nil, err
	}
	if err := s.checkPassword(in.Password); err != nil {
		return nil, nil, err
	}
	requireVerify := s.mailEnabled() && s.Email.Verification == VerifyRequired
	// Cheap early answer for the common duplicate; the unique index
	// decides races.
	if _, err := s.Store.GetUserByEmail(ctx, email); err == nil {
		return s.duplicateSignUp(ctx, in, email, requireVerify)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, nil, err
	}
	hash, err := s.Hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, nil, hashErr(err)
	}
	now := s.now()
	u := &store.User{ID: id.New(), Name: in.Name, Email: email, Image: in.Image, CreatedAt: now, UpdatedAt: now}
	a := &store.Account{ID: id.New(), AccountID: u.ID, ProviderID: store.ProviderCredential, UserID: u.ID,
		Password: &hash, CreatedAt: now, UpdatedAt: now}
	var follow *store.Followup
	if s.mailEnabled() && s.Email.Verification != VerifyOff {
		v, m, err := s.verificationMail(u, in.CallbackURL)
		if err != nil {
			return nil, nil, err
		}
		follow = &store.Followup{Verification: v, Mail: m, Events: []store.Event{s.sent(u.ID, u.Email, event.PurposeEmailVerification)}}
	}
	var iss *Issued
	var sess *store.Session
	if !requireVerify {
		n := s.newSession(u.ID, in.RememberMe, m, store.AuthPassword)
		iss, sess = &n, &n.Session
	}
	if err := s.Store.CreateUser(ctx, u, a, sess, follow); err != nil {
		if errors.Is(err, store.ErrEmailTaken) {
			return s.duplicateSignUp(ctx, in, email, requireVerify)
		}
		return nil, nil, err
	}
	return u, iss, nil
}

// duplicateSignUp answers a sign-up for a taken address. When verification
// is required the answer is the same as for a new address (a user and no
// session), as Better Auth does, so sign-up does not reveal which addresses
// have accounts; otherwise it is 422.
func (s *Service) duplicateSignUp(ctx context.Context, in SignUpInput, email string, hide bool) (*store.User, *Issued, error) {
	if !hide {
		return nil, nil, ErrUserExists
	}
	// Spend the hashing work a real sign-up would, so timing does not tell.
	if _, err := s.Hasher.Hash(ctx, in.Password); err != nil {
		return nil, nil, hashErr(err)
	}
	now := s.now()
	return &store.User{ID: id.New(), Name: in.Name, Email: email, Image: in.Image, CreatedAt: now, UpdatedAt: now}, nil, nil
}

func checkProfile(name string, image *string) error {
	if utf8.RuneCountInString(name) > 256 {
		return ErrNameTooLong
	}
	if !printable(name) {
		return ErrNameInvalid
	}
	if image != nil && len(*image) > 2048 {
		return ErrImageTooLong
	}
	if image != nil && !printable(*image) {
		return ErrImageInvalid
	}
	return nil
}

// printable rejects invalid UTF-8 and control characters (NUL among them,
// which PostgreSQL text cannot hold).
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// cleanText makes client-supplied header text storable: valid UTF-8
// without control characters.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// SignIn checks an email and password and opens a session. An unknown email
// costs the same hashing work as a wrong password, so timing does not reveal
// which emails have accounts.
func (s *Service) SignIn(ctx context.Context, email, pw string, remember bool, m Meta) (*store.User, *Issued, error) {
	return s.SignInVerifyingTo(ctx, email, pw, remember, m, "")
}

// SignInVerifyingTo is SignIn for a sign-in page: when it is refused because
// the address is not verified, the verification link mailed again ends at
// verifyCallback (a path on this server that carries the page's return
// target) instead of the hosted result page alone.
func (s *Service) SignInVerifyingTo(ctx context.Context, email, pw string, remember bool, m Meta, verifyCallback string) (*store.User, *Issued, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		// Better Auth answers a malformed email with INVALID_EMAIL; it
		// reveals nothing about accounts.
		return nil, nil, err
	}
	if utf8.RuneCountInString(pw) > s.MaxPassword {
		// Never hash unbounded input; the answer is the generic one.
		return nil, nil, ErrInvalidCredentials
	}
	u, acc, err := s.Store.GetUserWithCredential(ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, nil, err
	}
	if u == nil || acc == nil || acc.Password == nil {
		if err := s.Hasher.VerifyDummy(ctx, pw); err != nil {
			return nil, nil, hashErr(err)
		}
		return nil, nil, ErrInvalidCredentials
	}
	ok, err := s.Hasher.Verify(ctx, *acc.Password, pw)
	if err != nil && !errors.Is(err, password.ErrMalformedHash) {
		return nil, nil, hashErr(err)
	}
	if !ok {
		return nil, nil, ErrInvalidCredentials
	}
	if s.mailEnabled() && s.Email.Verification == VerifyRequired && !u.EmailVerified {
		if err := s.resendOnRefusedSignIn(ctx, u, verifyCallback); err != nil {
			return nil, nil, err
		}
		return nil, nil, ErrEmailNotVerified
	}
	iss := s.newSession(u.ID, remember, m, store.AuthPassword)
	if err := s.Store.CreateSession(ctx, &iss.Session); err != nil {
		return nil, nil, err
	}
	return u, &iss, nil
}

// Current is an authenticated request's session.
type Current struct {
	Session   store.Session
	User      store.User
	Token     string // the raw token the client presented
	Refreshed bool   // expiry was extended: re-issue the cookie
}

// ErrNoSession: the token is unknown, expired or revoked.
var ErrNoSession = newErr("UNAUTHORIZED", "Unauthorized")

// Authenticate resolves a session token in one query, deleting it if it has
// expired and extending it when due (unless refresh is false, as for
// "don't remember me" sessions).
func (s *Service) Authenticate(ctx context.Context, token string, refresh bool) (*Current, error) {
	if token == "" {
		return nil, ErrNoSession
	}
	se, u, err := s.Store.GetSession(ctx, session.Hash(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !se.ExpiresAt.After(now) {
		// Best effort: the sweeper removes it anyway.
		_ = s.Store.DeleteSession(ctx, se.UserID, se.TokenHash)
		return nil, ErrNoSession
	}
	c := &Current{Session: *se, User: *u, Token: token}
	// A "don't remember me" session never slides, whoever presents it
	// (the dont_remember cookie only tells browsers; Bearer clients don't
	// send it): it is recognisable by its short lifetime.
	short := s.Policy.ShortLife < s.Policy.ExpiresIn && se.ExpiresAt.Sub(se.CreatedAt) <= s.Policy.ShortLife
	if refresh && !short && s.Policy.NeedsRefresh(se.ExpiresAt, now) {
		exp := now.Add(s.Policy.ExpiresIn)
		if err := s.Store.ExtendSession(ctx, se.ID, exp, now); err == nil {
			c.Session.ExpiresAt, c.Session.UpdatedAt, c.Refreshed = exp, now, true
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	return c, nil
}

// RequireFresh refuses sessions older than the fresh age.
func (s *Service) RequireFresh(c *Current) error {
	if !s.Policy.Fresh(c.Session.CreatedAt, s.now()) {
		return ErrSessionNotFresh
	}
	return nil
}

// SignOut deletes the current session.
func (s *Service) SignOut(ctx context.Context, c *Current) error {
	return s.endSession(ctx, c.User.ID, c.Session.ID, c.Session.TokenHash, "")
}

// SignOutClient ends the session for a relying party that asked for it
// (RP-initiated logout with only its id_token_hint, no user confirmation):
// the session goes, but only that client's grants are revoked; other apps
// keep theirs until the user signs out themselves.
func (s *Service) SignOutClient(ctx context.Context, c *Current, clientID string) error {
	return s.endSession(ctx, c.User.ID, c.Session.ID, c.Session.TokenHash, clientID)
}

// endSession deletes a session and revokes the OAuth grants made under it:
// apps signed in through a device that signs out (or is signed out) lose
// their refresh tokens too, as with "sign out everywhere". A session that
// merely expires keeps its grants; they have their own lifetimes.
//
// Grants are revoked before the session is deleted: if the revocation
// fails, the session is still there and signing out again finishes the job.
func (s *Service) endSession(ctx context.Context, userID, sessionID, tokenHash, clientID string) error {
	if _, err := s.Store.RevokeSessionGrants(ctx, sessionID, clientID, s.now()); err != nil {
		return err
	}
	if err := s.Store.DeleteSession(ctx, userID, tokenHash); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// ListSessions returns the user's live sessions.
func (s *Service) ListSessions(ctx context.Context, c *Current) ([]store.Session, error) {
	return s.Store.ListSessions(ctx, c.User.ID, s.now())
}

// RevokeSession deletes one of the user's sessions. token may be the raw
// token or the stored hash that list-sessions shows; either only ever
// matches the caller's own sessions.
func (s *Service) RevokeSession(ctx context.Context, c *Current, token string) error {
	hash := session.Hash(token)
	se, _, err := s.Store.GetSession(ctx, hash)
	if errors.Is(err, store.ErrNotFound) && isHexHash(token) {
		hash = token
		se, _, err = s.Store.GetSession(ctx, hash)
	}
	if errors.Is(err, store.ErrNotFound) || (err == nil && se.UserID != c.User.ID) {
		return nil // already gone, or not the caller's: revoking is idempotent and reveals nothing
	}
	if err != nil {
		return err
	}
	return s.endSession(ctx, c.User.ID, se.ID, hash, "")
}

func isHexHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// RevokeSessions deletes all the user's sessions, the current one included.
func (s *Service) RevokeSessions(ctx context.Context, c *Current) error {
	if _, err := s.Store.DeleteUserSessions(ctx, c.User.ID, ""); err != nil {
		return err
	}
	_, err := s.Store.RevokeUserGrants(ctx, c.User.ID, "", s.now())
	return err
}

// RevokeOtherSessions deletes all but the current session.
func (s *Service) RevokeOtherSessions(ctx context.Context, c *Current) error {
	if _, err := s.Store.DeleteUserSessions(ctx, c.User.ID, c.Session.ID); err != nil {
		return err
	}
	_, err := s.Store.RevokeUserGrants(ctx, c.User.ID, c.Session.ID, s.now())
	return err
}

// ProfileUpdate lists the fields to change; nil means unchanged. SetImage
// with Image nil clears the image.
type ProfileUpdate struct {
	Name     *string
	SetImage bool
	Image    *string
}

// UpdateUser changes the user's profile.
func (s *Service) UpdateUser(ctx context.Context, c *Current, p ProfileUpdate) (*store.User, error) {
	name := c.User.Name
	if p.Name != nil {
		name = *p.Name
	}
	if err := checkProfile(name, p.Image); err != nil {
		return nil, err
	}
	return s.Store.UpdateUser(ctx, c.User.ID, func(u *store.User) error {
		if p.Name != nil {
			u.Name = *p.Name
		}
		if p.SetImage {
			u.Image = p.Image
		}
		u.UpdatedAt = s.now()
		return nil
	})
}

// ChangePassword replaces the user's password after checking the current
// one. With revokeOthers every session is replaced by a new one, returned.
func (s *Service) ChangePassword(ctx context.Context, c *Current, current, next string, revokeOthers bool, m Meta) (*Issued, error) {
	if err := s.checkPassword(next); err != nil {
		return nil, err
	}
	if err := s.verifyUserPassword(ctx, c.User, current); err != nil {
		return nil, err
	}
	hash, err := s.Hasher.Hash(ctx, next)
	if err != nil {
		return nil, hashErr(err)
	}
	now := s.now()
	a := &store.Account{ID: id.New(), AccountID: c.User.ID, ProviderID: store.ProviderCredential, UserID: c.User.ID,
		Password: &hash, CreatedAt: now, UpdatedAt: now}
	var iss *Issued
	if revokeOthers {
		n := s.newSession(c.User.ID, true, m, store.AuthPassword)
		iss = &n
	}
	var replace *store.Session
	if iss != nil {
		replace = &iss.Session
	}
	if err := s.Store.SetPassword(ctx, a, revokeOthers, replace); err != nil {
		return nil, err
	}
	if revokeOthers {
		if _, err := s.Store.RevokeUserGrants(ctx, c.User.ID, "", s.now()); err != nil {
			return nil, err
		}
	}
	return iss, nil
}

func (s *Service) verifyUserPassword(ctx context.Context, u store.User, pw string) error {
	_, acc, err := s.Store.GetUserWithCredential(ctx, u.Email)
	if err != nil {
		return err
	}
	if acc == nil || acc.Password == nil {
		return ErrNoCredential
	}
	if utf8.RuneCountInString(pw) > s.MaxPassword {
		return ErrInvalidPassword
	}
	ok, err := s.Hasher.Verify(ctx, *acc.Password, pw)
	if err != nil && !errors.Is(err, password.ErrMalformedHash) {
		return hashErr(err)
	}
	if !ok {
		return ErrInvalidPassword
	}
	return nil
}

// DeleteUser deletes the signed-in user after re-checking the password (or,
// for users without one, requiring a fresh session). Sessions and accounts
// go with the user.
func (s *Service) DeleteUser(ctx context.Context, c *Current, pw *string) error {
	if pw != nil {
		if err := s.verifyUserPassword(ctx, c.User, *pw); err != nil {
			return err
		}
	} else {
		_, acc, err := s.Store.GetUserWithCredential(ctx, c.User.Email)
		if err != nil {
			return err
		}
		if acc != nil && acc.Password != nil {
			return ErrInvalidPassword
		}
		if err := s.RequireFresh(c); err != nil {
			return err
		}
	}
	err := s.Store.DeleteUser(ctx, c.User.ID)
	if errors.Is(err, store.ErrNotFound) {
		return ErrUserNotFound
	}
	return err
}

// CreateUser makes a user with a password outside any request (the CLI's
// bootstrap path); it ignores the sign-up mode.
func (s *Service) CreateUser(ctx context.Context, name, email, pw string, verified, admin bool) (*store.User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if err := s.checkPassword(pw); err != nil {
		return nil, err
	}
	if err := checkProfile(name, nil); err != nil {
		return nil, err
	}
	hash, err := s.Hasher.Hash(ctx, pw)
	if err != nil {
		return nil, hashErr(err)
	}
	now := s.now()
	u := &store.User{ID: id.New(), Name: name, Email: email, EmailVerified: verified, CreatedAt: now, UpdatedAt: now}
	if admin {
		role := store.RoleAdmin
		u.Role = &role
	}
	a := &store.Account{ID: id.New(), AccountID: u.ID, ProviderID: store.ProviderCredential, UserID: u.ID, Password: &hash, CreatedAt: now, UpdatedAt: now}
	if err := s.Store.CreateUser(ctx, u, a, nil, nil); err != nil {
		if errors.Is(err, store.ErrEmailTaken) {
			return nil, ErrUserExists
		}
		return nil, err
	}
	return u, nil
}
