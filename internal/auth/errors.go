// Package auth is Auther's identity core: sign-up, sign-in, sessions,
// profile and password changes, over a store.Store. It knows nothing of HTTP;
// handlers translate its errors by code.
package auth

// Error is a failure the caller can show: a machine-readable code from Better
// Auth's vocabulary and a human message.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func newErr(code, msg string) *Error { return &Error{Code: code, Message: msg} }

// Errors returned by the service.
var (
	ErrInvalidCredentials  = newErr("INVALID_EMAIL_OR_PASSWORD", "Invalid email or password")
	ErrInvalidPassword     = newErr("INVALID_PASSWORD", "Invalid password")
	ErrInvalidEmail        = newErr("INVALID_EMAIL", "Invalid email")
	ErrPasswordTooShort    = newErr("PASSWORD_TOO_SHORT", "Password too short")
	ErrPasswordTooLong     = newErr("PASSWORD_TOO_LONG", "Password too long")
	ErrUserExists          = newErr("USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email.")
	ErrSignUpDisabled      = newErr("EMAIL_PASSWORD_SIGN_UP_DISABLED", "Email and password sign up is not enabled")
	ErrSignUpSecret        = newErr("SIGNUP_SECRET_REQUIRED", "Sign-up requires a valid x-internal-signup-secret header")
	ErrNoCredential        = newErr("CREDENTIAL_ACCOUNT_NOT_FOUND", "Credential account not found")
	ErrSessionNotFresh     = newErr("SESSION_NOT_FRESH", "Session is not fresh")
	ErrUserNotFound        = newErr("USER_NOT_FOUND", "User not found")
	ErrBusy                = newErr("SERVICE_UNAVAILABLE", "Too busy to check passwords right now; try again")
	ErrNameTooLong         = newErr("VALIDATION_ERROR", "[body.name] Name must be at most 256 characters")
	ErrImageTooLong        = newErr("VALIDATION_ERROR", "[body.image] Image URL must be at most 2048 characters")
	ErrNameInvalid         = newErr("VALIDATION_ERROR", "[body.name] Name must be valid UTF-8 without control characters")
	ErrImageInvalid        = newErr("VALIDATION_ERROR", "[body.image] Image URL must be valid UTF-8 without control characters")
	ErrEmailCannotBeUpdate = newErr("EMAIL_CAN_NOT_BE_UPDATED", "Email can not be updated")

	ErrEmailNotVerified       = newErr("EMAIL_NOT_VERIFIED", "Email not verified")
	ErrVerificationNotEnabled = newErr("VERIFICATION_EMAIL_NOT_ENABLED", "Verification email isn't enabled")
	ErrEmailAlreadyVerified   = newErr("EMAIL_ALREADY_VERIFIED", "Email is already verified")
	ErrEmailMismatch          = newErr("EMAIL_MISMATCH", "Email does not match the signed-in user")
	ErrInvalidToken           = newErr("INVALID_TOKEN", "Invalid token")
	ErrTokenExpired           = newErr("TOKEN_EXPIRED", "Token expired")
	ErrInvalidOTP             = newErr("INVALID_OTP", "Invalid OTP")
	ErrOTPExpired             = newErr("OTP_EXPIRED", "OTP expired")
	ErrTooManyAttempts        = newErr("TOO_MANY_ATTEMPTS", "Too many attempts; request a new code")
	ErrInvalidOTPType         = newErr("VALIDATION_ERROR", "[body.type] Expected sign-in, email-verification or forget-password")
	ErrNewUserSignupDisabled  = newErr("NEW_USER_SIGNUP_DISABLED", "Sign-up of new users is disabled")
	ErrFeatureDisabled        = newErr("NOT_FOUND", "This sign-in method is not enabled")
	ErrEmailIsSame            = newErr("EMAIL_IS_THE_SAME", "The new email is the current one")
	ErrChangeEmailNeedsMail   = newErr("CHANGE_EMAIL_DISABLED", "Change email needs mail delivery to be configured")
)
