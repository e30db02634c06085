package session

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"
)

func TestTokenIs256RandomBits(t *testing.T) {
	a, b := NewToken(), NewToken()
	raw, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil || len(raw) != 32 {
		t.Fatalf("token %q decodes to %d bytes (%v), want 32", a, len(raw), err)
	}
	if a == b {
		t.Fatal("two tokens are equal")
	}
	if Hash(a) == a || len(Hash(a)) != 64 || Hash(a) != Hash(a) {
		t.Errorf("Hash(%q) = %q: want a stable 64-hex digest", a, Hash(a))
	}
}

func TestSignerMatchesBetterCallFormat(t *testing.T) {
	const secret = "better-auth-secret-0123456789abcdef"
	s := NewSigner(secret)
	v := s.Sign("tok")
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("tok"))
	want := "tok." + base64.StdEncoding.EncodeToString(m.Sum(nil))
	if v != want {
		t.Fatalf("Sign = %q, want %q", v, want)
	}
	if tok, ok := s.Verify(v); !ok || tok != "tok" {
		t.Fatalf("Verify(own) = %q, %v", tok, ok)
	}
}

func TestSignerRejectsTampering(t *testing.T) {
	s := NewSigner("secret-secret-secret-secret-secret!")
	good := s.Sign("abc")
	other := NewSigner("another-secret-another-secret-xx!").Sign("abc")
	for _, v := range []string{
		"", "abc", ".sig", "abc.", good[:len(good)-1], "abd" + good[3:], other,
		good[:len(good)-2] + "A=", // flipped signature byte
	} {
		if tok, ok := s.Verify(v); ok {
			t.Errorf("Verify(%q) accepted token %q", v, tok)
		}
	}
}

func TestRefreshRule(t *testing.T) {
	p := DefaultPolicy
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	exp := created.Add(p.ExpiresIn)
	if p.NeedsRefresh(exp, created.Add(23*time.Hour)) {
		t.Error("refresh before update age")
	}
	if !p.NeedsRefresh(exp, created.Add(24*time.Hour)) {
		t.Error("no refresh at update age")
	}
	if !p.Fresh(created, created.Add(24*time.Hour)) || p.Fresh(created, created.Add(25*time.Hour)) {
		t.Error("fresh-age boundary wrong")
	}
}
