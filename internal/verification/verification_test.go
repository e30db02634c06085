package verification

import (
	"strings"
	"testing"
)

func TestTokensAndIdentifiers(t *testing.T) {
	a, b := NewToken(), NewToken()
	if len(a) != 43 || a == b {
		t.Fatalf("tokens %q %q: want distinct 43-char (256-bit) tokens", a, b)
	}
	id := Identifier("reset-password", a)
	if !strings.HasPrefix(id, "reset-password:") || strings.Contains(id, a) || id != Identifier("reset-password", a) || id == Identifier("magic-link", a) {
		t.Errorf("identifier %q must be stable, purpose-bound and not contain the token", id)
	}
}

func TestOTP(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		o := NewOTP()
		if len(o) != 6 || strings.Trim(o, "0123456789") != "" {
			t.Fatalf("OTP %q is not six digits", o)
		}
		seen[o] = true
	}
	if len(seen) < 190 {
		t.Errorf("only %d distinct codes in 200", len(seen))
	}
	h := NewOTPHasher("secret-secret-secret-secret-secret!!")
	x := h.Hash("sign-in-otp-a@b.co", "123456")
	if x == h.Hash("sign-in-otp-c@d.co", "123456") || x == h.Hash("sign-in-otp-a@b.co", "123457") ||
		x == NewOTPHasher("other-secret-other-secret-other-sec").Hash("sign-in-otp-a@b.co", "123456") {
		t.Error("OTP hash not bound to identifier, code and key")
	}
	hash, n, ok := ParseValue(Value(x, 2))
	if !ok || n != 2 || !Equal(hash, x) {
		t.Errorf("ParseValue(Value) = %q, %d, %v", hash, n, ok)
	}
	for _, bad := range []string{"", "nocolon", "h:x", "h:-1"} {
		if _, _, ok := ParseValue(bad); ok {
			t.Errorf("ParseValue(%q) accepted", bad)
		}
	}
}
