package seal

import (
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	b, _ := New("secret-secret-secret-secret-secret!!", "mail")
	s := b.Seal("https://id.example.com/reset?token=abc")
	if strings.Contains(s, "token=abc") {
		t.Fatal("sealed value contains the plaintext")
	}
	if s == b.Seal("https://id.example.com/reset?token=abc") {
		t.Error("sealing is deterministic (nonce reuse)")
	}
	if got, err := b.Open(s); err != nil || got != "https://id.example.com/reset?token=abc" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	other, _ := New("secret-secret-secret-secret-secret!!", "keys")
	wrong, _ := New("another-secret-another-secret-another", "mail")
	tampered := s[:len(s)-2] + "AA"
	for name, f := range map[string]func() (string, error){
		"other purpose": func() (string, error) { return other.Open(s) },
		"other secret":  func() (string, error) { return wrong.Open(s) },
		"tampered":      func() (string, error) { return b.Open(tampered) },
		"plain text":    func() (string, error) { return b.Open("hello") },
	} {
		if v, err := f(); err != ErrOpen {
			t.Errorf("%s: Open = %q, %v; want ErrOpen", name, v, err)
		}
	}
}
