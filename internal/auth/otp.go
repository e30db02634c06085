package auth

import (
	"context"
	"errors"
	"github.com/auther/auther/internal/event"

	"github.com/auther/auther/internal/id"
	"github.com/auther/auther/internal/store"
	"github.com/auther/auther/internal/verification"
)

// OTP types, as Better Auth's email-OTP plugin names them.
const (
	OTPSignIn            = "sign-in"
	OTPEmailVerification = "email-verification"
	OTPForgetPassword    = "forget-password"
)

func otpIdentifier(typ, email string) string { return typ + "-otp-" + email }

// SendOTP mails a six-digit code of the given type. Whether the address has
// a user never changes the answer.
func (s *Service) SendOTP(ctx context.Context, email, typ string) error {
	if !s.mailEnabled() || !s.Email.EmailOTP {
		return ErrFeatureDisabled
	}
	switch typ {
	case OTPSignIn, OTPEmailVerification, OTPForgetPassword:
	default:
		return ErrInvalidOTPType
	}
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	u, err := s.Store.GetUserByEmail(ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	otp := verification.NewOTP()
	ident := otpIdentifier(typ, email)
	now := s.now()
	v := &store.Verification{ID: id.New(), Identifier: ident, Value: verification.Value(s.Email.OTP.Hash(ident, otp), 0),
		ExpiresAt: now.Add(s.Email.OTPTTL), CreatedAt: now, UpdatedAt: now}
	var m *store.Mail
	switch {
	case u == nil && (typ != OTPSignIn || s.Signup != SignupOpen),
		u != nil && typ == OTPEmailVerification && u.EmailVerified:
		// Nobody to send to. A decoy code is stored all the same (and never
		// mailed), so checking codes for this address behaves exactly as
		// for an address with an account: attempts, expiry and answers
		// reveal nothing.
	default:
		name := ""
		if u != nil {
			name = u.Name
		}
		if m, err = s.Email.Mail.Compose("otp-"+typ, email, MailData{Name: name, OTP: otp, ExpiresIn: humanDuration(s.Email.OTPTTL)}); err != nil {
			return err
		}
	}
	// A new code replaces any earlier one of the same type.
	if m == nil {
		return s.Store.ReplaceVerification(ctx, v, nil)
	}
	return s.Store.ReplaceVerification(ctx, v, m, s.sent(userIDOf(u), email, otpPurpose[typ]))
}

// checkOTP compares a code with the stored one. A wrong code counts an
// attempt; after OTPAttempts wrong codes the code is dead. With consume, a
// right code is used up: of two concurrent uses exactly one succeeds.
func (s *Service) checkOTP(ctx context.Context, typ, email, otp string, consume bool) error {
	if !s.Email.EmailOTP {
		return ErrFeatureDisabled
	}
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	ident := otpIdentifier(typ, email)
	for range 5 { // retries only when a concurrent attempt changed the row
		v, err := s.Store.GetVerification(ctx, ident)
		if errors.Is(err, store.ErrNotFound) {
			return ErrInvalidOTP
		}
		if err != nil {
			return err
		}
		if !v.ExpiresAt.After(s.now()) {
			_ = s.Store.DeleteVerification(ctx, v.ID)
			return ErrOTPExpired
		}
		hash, attempts, ok := verification.ParseValue(v.Value)
		if !ok {
			return ErrInvalidOTP
		}
		if attempts >= s.Email.OTPAttempts {
			_ = s.Store.DeleteVerification(ctx, v.ID)
			return ErrTooManyAttempts
		}
		if !verification.Equal(hash, s.Email.OTP.Hash(ident, otp)) {
			err := s.Store.SwapVerificationValue(ctx, v.ID, v.Value, verification.Value(hash, attempts+1), s.now())
			if errors.Is(err, store.ErrNotFound) {
				continue // someone else counted or used it meanwhile: look again
			}
			if err != nil {
				return err
			}
			return ErrInvalidOTP
		}
		if !consume {
			return nil
		}
		if err := s.Store.DeleteVerification(ctx, v.ID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return ErrInvalidOTP // used concurrently
			}
			return err
		}
		return nil
	}
	return ErrInvalidOTP
}

// CheckOTP validates a code without using it up.
func (s *Service) CheckOTP(ctx context.Context, email, typ, otp string) error {
	switch typ {
	case OTPSignIn, OTPEmailVerification, OTPForgetPassword:
	default:
		return ErrInvalidOTPType
	}
	return s.checkOTP(ctx, typ, email, otp, false)
}

// SignInOTP signs in (or up, when sign-up is open) with a sign-in code.
func (s *Service) SignInOTP(ctx context.Context, email, otp, name string, m Meta) (*VerifyResult, error) {
	if err := checkProfile(name, nil); err != nil {
		return nil, err
	}
	if err := s.checkOTP(ctx, OTPSignIn, email, otp, true); err != nil {
		return nil, err
	}
	email, _ = NormalizeEmail(email)
	return s.signInVerified(ctx, email, name, event.PurposeSignInOTP, m)
}

// VerifyEmailOTP marks an address verified with an email-verification code.
func (s *Service) VerifyEmailOTP(ctx context.Context, email, otp string, m Meta) (*VerifyResult, error) {
	if err := s.checkOTP(ctx, OTPEmailVerification, email, otp, true); err != nil {
		return nil, err
	}
	email, _ = NormalizeEmail(email)
	u, err := s.Store.GetUserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidOTP
	}
	if err != nil {
		return nil, err
	}
	u, err = s.Store.UpdateUser(ctx, u.ID, func(u *store.User) error {
		u.EmailVerified, u.UpdatedAt = true, s.now()
		return nil
	}, s.completed(u.ID, email, event.PurposeEmailVerification))
	if err != nil {
		return nil, err
	}
	return s.verified(ctx, u, m)
}

// ResetPasswordOTP sets a new password with a forget-password code.
func (s *Service) ResetPasswordOTP(ctx context.Context, email, otp, newPassword string) error {
	if err := s.checkPassword(newPassword); err != nil {
		return err
	}
	// Check the code first (a wrong one costs no hashing), hash, then use it
	// up: a busy hashing pool (503) leaves the code valid for a retry.
	if err := s.checkOTP(ctx, OTPForgetPassword, email, otp, false); err != nil {
		return err
	}
	hash, err := s.hashNew(ctx, newPassword)
	if err != nil {
		return err
	}
	if err := s.checkOTP(ctx, OTPForgetPassword, email, otp, true); err != nil {
		return err
	}
	email, _ = NormalizeEmail(email)
	u, err := s.Store.GetUserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return ErrInvalidOTP
	}
	if err != nil {
		return err
	}
	return s.setPassword(ctx, u.ID, hash)
}

// otpPurpose names each code type in verification.* events.
var otpPurpose = map[string]string{
	OTPSignIn:            event.PurposeSignInOTP,
	OTPEmailVerification: event.PurposeEmailVerification,
	OTPForgetPassword:    event.PurposePasswordReset,
}

func userIDOf(u *store.User) string {
	if u == nil {
		return ""
	}
	return u.ID
}
