package auth

import "testing"

func TestNormalizeEmail(t *testing.T) {
	good := map[string]string{
		"Ada@Example.COM":          "ada@example.com",
		"  a.b+tag@sub.example.io": "a.b+tag@sub.example.io",
		"x@xn--bcher-kva.ch":       "x@xn--bcher-kva.ch",
	}
	for in, want := range good {
		if got, err := NormalizeEmail(in); err != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{
		"", "plain", "a@b", "a@b.c", "a@-b.co", "a@b-.co", "a@b_c.co", "a@[1.2.3.4]", "a@1.2.3.4",
		"A <a@b.co>", "a b@c.co", "a@b..co", "a@.b.co", "a@b.co.", "a\x00@b.co",
	} {
		if got, err := NormalizeEmail(bad); err == nil {
			t.Errorf("NormalizeEmail(%q) accepted as %q", bad, got)
		}
	}
}
