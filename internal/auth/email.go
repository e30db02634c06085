package auth

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/auther/auther/internal/event"
	"net/url"
	"strconv"
	"time"

	"github.com/auther/auther/internal/id"
	"github.com/auther/auther/internal/store"
	"github.com/auther/auther/internal/verification"
)

// MailData fills a mail template.
type MailData struct {
	Name      string
	URL       string
	OTP       string
	ExpiresIn string
	NewEmail  string
}

// MailComposer turns a template kind and data into a queued mail (rendered
// and sealed), ready to be stored with the change that causes it.
type MailComposer interface {
	Compose(kind, to string, d MailData) (*store.Mail, error)
}

// EmailVerificationMode says when email addresses are verified.
type EmailVerificationMode string

const (
	VerifyOff      EmailVerificationMode = "off"      // never sent
	VerifyOn       EmailVerificationMode = "on"       // sent on sign-up; sign-in allowed before
	VerifyRequired EmailVerificationMode = "required" // sign-in refused until verified
)

// EmailOptions configure the flows that prove control of an address.
type EmailOptions struct {
	Mail                   MailComposer // nil: no mail flows
	BaseURL                string       // public URL; links point at BaseURL/api/auth/…
	OTP                    verification.OTPHasher
	Verification           EmailVerificationMode
	AutoSignInAfterVerify  bool
	RevokeSessionsOnReset  bool
	MagicLink              bool
	EmailOTP               bool
	ChangeEmailConfirmOld  bool
	VerificationTTL        time.Duration // 1 h
	ResetTTL               time.Duration // 1 h
	MagicLinkTTL           time.Duration // 5 min
	OTPTTL                 time.Duration // 5 min
	OTPAttempts            int           // 3
	ResendVerificationWait time.Duration // 1 min between verification mails sent on refused sign-ins
}

// DefaultEmailOptions are Better Auth's lifetimes.
func DefaultEmailOptions() EmailOptions {
	return EmailOptions{Verification: VerifyOff, RevokeSessionsOnReset: true, MagicLink: true, EmailOTP: true,
		VerificationTTL: time.Hour, ResetTTL: time.Hour, MagicLinkTTL: 5 * time.Minute, OTPTTL: 5 * time.Minute,
		OTPAttempts: 3, ResendVerificationWait: time.Minute}
}

// Verification purposes (identifier prefixes).
const (
	purposeVerifyEmail = "email-verification"
	purposeReset       = "reset-password"
	purposeMagicLink   = "magic-link"
	purposeChangeEmail = "change-email"
	purposeResendGate  = "verification-sent"
)

func humanDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0 && d >= time.Hour:
		if d == time.Hour {
			return "1 hour"
		}
		return strconv.Itoa(int(d/time.Hour)) + " hours"
	case d%time.Minute == 0:
		if d == time.Minute {
			return "1 minute"
		}
		return strconv.Itoa(int(d/time.Minute)) + " minutes"
	}
	return d.String()
}

// link builds an absolute URL to an API path with query parameters.
func (s *Service) link(path string, q url.Values) string {
	u := s.Email.BaseURL + "/api/auth" + path
	if enc := q.Encode(); enc != "" {
		u += "?" + enc
	}
	return u
}

func params(kv ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q
}

// newLink makes a link token and the verification that stores its hash.
func (s *Service) newLink(purpose string, value any, ttl time.Duration) (string, *store.Verification, error) {
	b, err := json.Marshal(value)
	if err != nil {
		return "", nil, err
	}
	tok := verification.NewToken()
	now := s.now()
	return tok, &store.Verification{ID: id.New(), Identifier: verification.Identifier(purpose, tok), Value: string(b),
		ExpiresAt: now.Add(ttl), CreatedAt: now, UpdatedAt: now}, nil
}

// takeLink consumes a link token: of two concurrent uses exactly one wins.
func (s *Service) takeLink(ctx context.Context, purpose, token string, into any) error {
	if token == "" || len(token) > 128 {
		return ErrInvalidToken
	}
	v, err := s.Store.TakeVerification(ctx, verification.Identifier(purpose, token))
	if errors.Is(err, store.ErrNotFound) {
		return ErrInvalidToken
	}
	if err != nil {
		return err
	}
	if !v.ExpiresAt.After(s.now()) {
		return ErrTokenExpired
	}
	if json.Unmarshal([]byte(v.Value), into) != nil {
		return ErrInvalidToken
	}
	return nil
}

type emailClaim struct {
	UserID string `json:"userId"`
	Email  string `json:"email"`
}

// verificationMail composes the verify-email mail and its verification.
func (s *Service) verificationMail(u *store.User, callbackURL string) (*store.Verification, *store.Mail, error) {
	tok, v, err := s.newLink(purposeVerifyEmail, emailClaim{u.ID, u.Email}, s.Email.VerificationTTL)
	if err != nil {
		return nil, nil, err
	}
	m, err := s.Email.Mail.Compose("verify-email", u.Email, MailData{Name: u.Name, ExpiresIn: humanDuration(s.Email.VerificationTTL),
		URL: s.link("/verify-email", params("token", tok, "callbackURL", callbackURL))})
	return v, m, err
}

func (s *Service) mailEnabled() bool { return s.Email.Mail != nil }

// SendVerificationEmail mails a verification link. Unknown addresses are
// answered like known ones. A signed-in caller may only ask for its own.
func (s *Service) SendVerificationEmail(ctx context.Context, email, callbackURL string, c *Current) error {
	if !s.mailEnabled() || s.Email.Verification == VerifyOff {
		return ErrVerificationNotEnabled
	}
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	if c != nil && c.User.Email != email {
		return ErrEmailMismatch
	}
	u, err := s.Store.GetUserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if u.EmailVerified {
		if c != nil {
			return ErrEmailAlreadyVerified
		}
		return nil // do not tell strangers which addresses are verified
	}
	v, m, err := s.verificationMail(u, callbackURL)
	if err != nil {
		return err
	}
	return s.Store.CreateVerification(ctx, v, m, s.sent(u.ID, u.Email, event.PurposeEmailVerification))
}

// hostedVerifyPage is Auther's own "email verified" page.
const hostedVerifyPage = "/verify-email"

// resendOnRefusedSignIn sends a fresh verification link when an unverified
// user signs in with the right password, at most once per wait period. The
// gate is a row whose primary key names the user and the period, so of two
// concurrent refused sign-ins only one inserts it and sends. The link ends
// at callback, or at the hosted result page when it is "".
func (s *Service) resendOnRefusedSignIn(ctx context.Context, u *store.User, callback string) error {
	now := s.now()
	period := max(int64(s.Email.ResendVerificationWait/time.Second), 1)
	gate := &store.Verification{ID: purposeResendGate + ":" + u.ID + ":" + strconv.FormatInt(now.Unix()/period, 10),
		Identifier: purposeResendGate + ":" + u.ID, Value: "1", ExpiresAt: now.Add(s.Email.ResendVerificationWait), CreatedAt: now, UpdatedAt: now}
	if err := s.Store.CreateVerification(ctx, gate, nil); errors.Is(err, store.ErrConflict) {
		return nil // already sent in this period
	} else if err != nil {
		return err
	}
	// Through the API the link ends on the hosted result page: this mail
	// answers a refused sign-in, so no app asked for a callback. The sign-in
	// page passes its own result page, carrying where the user was going.
	if callback == "" {
		callback = hostedVerifyPage
	}
	v, m, err := s.verificationMail(u, callback)
	if err != nil {
		return err
	}
	return s.Store.CreateVerification(ctx, v, m, s.sent(u.ID, u.Email, event.PurposeEmailVerification))
}

// VerifyResult is what a followed email link did.
type VerifyResult struct {
	User       *store.User
	Issued     *Issued // a session, when auto sign-in is on
	Pending    bool    // change of email: the old address approved, a link went to the new one
	NewUser    bool    // magic link created the user
	CallbackOK bool
}

type changeClaim struct {
	UserID   string `json:"userId"`
	OldEmail string `json:"oldEmail"`
	NewEmail string `json:"newEmail"`
	Step     string `json:"step"` // "confirm-old" or "verify-new"
	Callback string `json:"callbackURL,omitempty"`
}

// VerifyEmail follows a verification link (also a change-of-email link).
func (s *Service) VerifyEmail(ctx context.Context, token string, m Meta) (*VerifyResult, error) {
	var claim emailClaim
	err := s.takeLink(ctx, purposeVerifyEmail, token, &claim)
	if errors.Is(err, ErrInvalidToken) {
		return s.confirmChangeEmail(ctx, token, m)
	}
	if err != nil {
		return nil, err
	}
	u, err := s.Store.UpdateUser(ctx, claim.UserID, func(u *store.User) error {
		if u.Email != claim.Email {
			return ErrInvalidToken // the address changed since the link was sent
		}
		u.EmailVerified = true
		u.UpdatedAt = s.now()
		return nil
	}, s.completed(claim.UserID, claim.Email, event.PurposeEmailVerification))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	return s.verified(ctx, u, m)
}

// verified reports a newly verified address, signing the user in when
// auto sign-in after verification is on.
func (s *Service) verified(ctx context.Context, u *store.User, m Meta) (*VerifyResult, error) {
	res := &VerifyResult{User: u}
	if s.Email.AutoSignInAfterVerify {
		iss := s.newSession(u.ID, true, m, store.AuthOTP)
		if err := s.Store.CreateSession(ctx, &iss.Session); err != nil {
			return nil, err
		}
		res.Issued = &iss
	}
	return res, nil
}

// RequestPasswordReset mails a reset link when the address has a user; the
// caller answers the same either way.
func (s *Service) RequestPasswordReset(ctx context.Context, email, redirectTo string) error {
	if !s.mailEnabled() {
		return nil
	}
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil // nothing to send; the answer does not differ
	}
	u, err := s.Store.GetUserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	tok, v, err := s.newLink(purposeReset, u.ID, s.Email.ResetTTL)
	if err != nil {
		return err
	}
	m, err := s.Email.Mail.Compose("reset-password", u.Email, MailData{Name: u.Name, ExpiresIn: humanDuration(s.Email.ResetTTL),
		URL: s.link("/reset-password/"+tok, params("callbackURL", redirectTo))})
	if err != nil {
		return err
	}
	return s.Store.CreateVerification(ctx, v, m, s.sent(u.ID, u.Email, event.PurposePasswordReset))
}

// CheckResetToken tells whether a reset token is valid without using it.
func (s *Service) CheckResetToken(ctx context.Context, token string) error {
	if token == "" || len(token) > 128 {
		return ErrInvalidToken
	}
	v, err := s.Store.GetVerification(ctx, verification.Identifier(purposeReset, token))
	if errors.Is(err, store.ErrNotFound) {
		return ErrInvalidToken
	}
	if err != nil {
		return err
	}
	if !v.ExpiresAt.After(s.now()) {
		return ErrInvalidToken
	}
	return nil
}

// ResetPassword sets a new password with a reset token, creating the
// credential account if the user had none, and (by default) signs the user
// out everywhere.
func (s *Service) ResetPassword(ctx context.Context, token, newPassword string) error {
	// Validate and hash before using the token up, so a bad password or a
	// busy hashing pool (503, retry) does not burn the link.
	if err := s.CheckResetToken(ctx, token); err != nil {
		return err // cheap refusal before any hashing
	}
	hash, err := s.hashNew(ctx, newPassword)
	if err != nil {
		return err
	}
	var userID string
	if err := s.takeLink(ctx, purposeReset, token, &userID); err != nil {
		if errors.Is(err, ErrTokenExpired) {
			return ErrInvalidToken
		}
		return err
	}
	return s.setPassword(ctx, userID, hash)
}

// hashNew validates a new password and hashes it.
func (s *Service) hashNew(ctx context.Context, pw string) (string, error) {
	if err := s.checkPassword(pw); err != nil {
		return "", err
	}
	hash, err := s.Hasher.Hash(ctx, pw)
	if err != nil {
		return "", hashErr(err)
	}
	return hash, nil
}

// setPassword stores an already computed hash.
func (s *Service) setPassword(ctx context.Context, userID, hash string) error {
	u, err := s.Store.GetUser(ctx, userID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrInvalidToken
		}
		return err
	}
	now := s.now()
	a := &store.Account{ID: id.New(), AccountID: userID, ProviderID: store.ProviderCredential, UserID: userID,
		Password: &hash, CreatedAt: now, UpdatedAt: now}
	if err := s.Store.SetPassword(ctx, a, s.Email.RevokeSessionsOnReset, nil, s.completed(userID, u.Email, event.PurposePasswordReset)); err != nil {
		return err
	}
	if s.Email.RevokeSessionsOnReset {
		_, err := s.Store.RevokeUserGrants(ctx, userID, "", now)
		return err
	}
	return nil
}

type magicClaim struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}

// MagicLinkURLs are where the browser goes after a magic link.
type MagicLinkURLs struct {
	Callback, NewUserCallback, ErrorCallback string
}

// SendMagicLink mails a sign-in link. It answers the same for every
// address; whether a new user may be created is decided when it is used.
func (s *Service) SendMagicLink(ctx context.Context, email, name string, urls MagicLinkURLs) error {
	if !s.mailEnabled() || !s.Email.MagicLink {
		return ErrFeatureDisabled
	}
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	if err := checkProfile(name, nil); err != nil {
		return err
	}
	tok, v, err := s.newLink(purposeMagicLink, magicClaim{email, name}, s.Email.MagicLinkTTL)
	if err != nil {
		return err
	}
	m, err := s.Email.Mail.Compose("magic-link", email, MailData{Name: name, ExpiresIn: humanDuration(s.Email.MagicLinkTTL),
		URL: s.link("/magic-link/verify", params("token", tok, "callbackURL", urls.Callback,
			"newUserCallbackURL", urls.NewUserCallback, "errorCallbackURL", urls.ErrorCallback))})
	if err != nil {
		return err
	}
	return s.Store.CreateVerification(ctx, v, m, s.sent("", email, event.PurposeMagicLink))
}

// VerifyMagicLink signs in (or up) with a magic-link token and marks the
// address verified.
func (s *Service) VerifyMagicLink(ctx context.Context, token string, m Meta) (*VerifyResult, error) {
	if !s.Email.MagicLink {
		return nil, ErrFeatureDisabled
	}
	var claim magicClaim
	if err := s.takeLink(ctx, purposeMagicLink, token, &claim); err != nil {
		if errors.Is(err, ErrTokenExpired) {
			return nil, ErrInvalidToken
		}
		return nil, err
	}
	return s.signInVerified(ctx, claim.Email, claim.Name, event.PurposeMagicLink, m)
}

// signInVerified opens a session for the owner of a just-proven address,
// creating the user when sign-up is open.
func (s *Service) signInVerified(ctx context.Context, email, name, purpose string, m Meta) (*VerifyResult, error) {
	u, err := s.Store.GetUserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		if s.Signup != SignupOpen {
			return nil, ErrNewUserSignupDisabled
		}
		now := s.now()
		nu := &store.User{ID: id.New(), Name: name, Email: email, EmailVerified: true, CreatedAt: now, UpdatedAt: now}
		iss := s.newSession(nu.ID, true, m, store.AuthOTP)
		f := &store.Followup{Events: []store.Event{s.completed(nu.ID, email, purpose)}}
		if err := s.Store.CreateUser(ctx, nu, nil, &iss.Session, f); err != nil {
			if errors.Is(err, store.ErrEmailTaken) {
				return s.signInVerified(ctx, email, name, purpose, m) // created concurrently: sign in instead
			}
			return nil, err
		}
		return &VerifyResult{User: nu, Issued: &iss, NewUser: true}, nil
	}
	if err != nil {
		return nil, err
	}
	if !u.EmailVerified {
		// Whoever created this unverified account may not own the address:
		// proving the address drops their password and sessions.
		if u, err = s.Store.ClaimUser(ctx, u.ID, s.now()); err != nil {
			return nil, err
		}
	}
	iss := s.newSession(u.ID, true, m, store.AuthOTP)
	if err := s.Store.CreateSession(ctx, &iss.Session, s.completed(u.ID, email, purpose)); err != nil {
		return nil, err
	}
	return &VerifyResult{User: u, Issued: &iss}, nil
}

// ChangeEmail starts a change of address. An unverified address changes at
// once (there is nothing to protect); a verified one changes only after the
// link sent to the new address is followed, and, when configured, after the
// old address approved first.
func (s *Service) ChangeEmail(ctx context.Context, c *Current, newEmail, callbackURL string) error {
	newEmail, err := NormalizeEmail(newEmail)
	if err != nil {
		return err
	}
	if newEmail == c.User.Email {
		return ErrEmailIsSame
	}
	if _, err := s.Store.GetUserByEmail(ctx, newEmail); err == nil {
		return ErrUserExists
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if !c.User.EmailVerified {
		u, err := s.Store.UpdateUser(ctx, c.User.ID, func(u *store.User) error {
			u.Email, u.EmailVerified, u.UpdatedAt = newEmail, false, s.now()
			return nil
		})
		if errors.Is(err, store.ErrEmailTaken) {
			return ErrUserExists
		}
		if err != nil || !s.mailEnabled() || s.Email.Verification == VerifyOff {
			return err
		}
		v, m, err := s.verificationMail(u, callbackURL)
		if err != nil {
			return err
		}
		return s.Store.CreateVerification(ctx, v, m, s.sent(u.ID, u.Email, event.PurposeEmailVerification))
	}
	if !s.mailEnabled() {
		return ErrChangeEmailNeedsMail
	}
	step, to, kind := "verify-new", newEmail, "change-email-verify"
	if s.Email.ChangeEmailConfirmOld {
		step, to, kind = "confirm-old", c.User.Email, "change-email-confirm"
	}
	return s.sendChangeLink(ctx, changeClaim{c.User.ID, c.User.Email, newEmail, step, callbackURL}, c.User.Name, to, kind)
}

func (s *Service) sendChangeLink(ctx context.Context, claim changeClaim, name, to, kind string) error {
	tok, v, err := s.newLink(purposeChangeEmail, claim, s.Email.VerificationTTL)
	if err != nil {
		return err
	}
	m, err := s.Email.Mail.Compose(kind, to, MailData{Name: name, NewEmail: claim.NewEmail, ExpiresIn: humanDuration(s.Email.VerificationTTL),
		URL: s.link("/verify-email", params("token", tok, "callbackURL", claim.Callback))})
	if err != nil {
		return err
	}
	return s.Store.CreateVerification(ctx, v, m, s.sent(claim.UserID, to, event.PurposeChangeEmail))
}

func (s *Service) confirmChangeEmail(ctx context.Context, token string, m Meta) (*VerifyResult, error) {
	var claim changeClaim
	if err := s.takeLink(ctx, purposeChangeEmail, token, &claim); err != nil {
		return nil, err
	}
	u, err := s.Store.GetUser(ctx, claim.UserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Email != claim.OldEmail) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	if claim.Step == "confirm-old" {
		claim.Step = "verify-new"
		if err := s.sendChangeLink(ctx, claim, u.Name, claim.NewEmail, "change-email-verify"); err != nil {
			return nil, err
		}
		return &VerifyResult{User: u, Pending: true}, nil
	}
	u, err = s.Store.UpdateUser(ctx, u.ID, func(u *store.User) error {
		if u.Email != claim.OldEmail {
			return ErrInvalidToken
		}
		u.Email, u.EmailVerified, u.UpdatedAt = claim.NewEmail, true, s.now()
		return nil
	}, s.completed(u.ID, claim.NewEmail, event.PurposeChangeEmail))
	if errors.Is(err, store.ErrEmailTaken) {
		return nil, ErrUserExists
	}
	if err != nil {
		return nil, err
	}
	return &VerifyResult{User: u}, nil
}

// sent and completed build the verification.* events a flow records with
// its change.
func (s *Service) sent(userID, email, purpose string) store.Event {
	return event.OfVerificationSent(userID, email, purpose, s.now())
}

func (s *Service) completed(userID, email, purpose string) store.Event {
	return event.OfVerificationCompleted(userID, email, purpose, s.now())
}
