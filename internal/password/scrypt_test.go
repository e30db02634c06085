package password

import (
	"context"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Vectors produced by Node's crypto.scryptSync with Better Auth's parameters
// (password.normalize("NFKC"), salt = the hex string, N=16384, r=16, p=1,
// dkLen=64), i.e. what a Better Auth server writes to account.password.
var betterAuthVectors = []struct{ password, hash string }{
	{"correct horse battery staple", "de082d6a5ca1dc1b055d14cb015ad40c:a5745ca8b776944c9f4e1368a5706e3c0cebac4831757b99c9d1258b752e1f82af3362519c1d8c7916602ac552290f4e497b1e8b64f0dab5f6d1c286a7aff06c"},
	// "ﬁ" (U+FB01) and "①" (U+2460) change under NFKC: this vector fails
	// unless the password is normalised exactly as Better Auth does.
	{"Pa\uFB01ssw\u00F6rd-\u2460", "de082d6a5ca1dc1b055d14cb015ad40c:bdece78d7d874e1a93b303274b0ef4d0fb65bbaa3d8567d08154e4812970365d80e5dca4ea4ddaa3ef514efc283fcde83ac2a97fc8c42c843b526bf415b63079"},
}

func TestVerifiesBetterAuthHashes(t *testing.T) {
	for _, v := range betterAuthVectors {
		ok, err := Verify(v.hash, v.password)
		if err != nil || !ok {
			t.Errorf("Verify(%q) = %v, %v; want true", v.password, ok, err)
		}
		ok, err = Verify(v.hash, v.password+"x")
		if err != nil || ok {
			t.Errorf("Verify(wrong password) = %v, %v; want false", ok, err)
		}
	}
	// The NFKC-equivalent spelling of the second vector verifies too.
	if ok, _ := Verify(betterAuthVectors[1].hash, "Pafisswörd-1"); !ok {
		t.Error("NFKC-equivalent password did not verify")
	}
}

func TestHashFormatAndRoundTrip(t *testing.T) {
	h, err := Hash("s3cret-password")
	if err != nil {
		t.Fatal(err)
	}
	salt, key, ok := strings.Cut(h, ":")
	if !ok || len(salt) != 32 || len(key) != 128 {
		t.Fatalf("hash %q is not <32 hex>:<128 hex>", h)
	}
	if ok, _ := Verify(h, "s3cret-password"); !ok {
		t.Error("own hash did not verify")
	}
	h2, _ := Hash("s3cret-password")
	if h2 == h {
		t.Error("two hashes of one password are equal: salt is not random")
	}
}

func TestVerifyRejectsMalformed(t *testing.T) {
	for _, h := range []string{"", "nocolon", ":abcd", "abcd:", "abcd:zz"} {
		if _, err := Verify(h, "x"); err != ErrMalformedHash {
			t.Errorf("Verify(%q) err = %v, want ErrMalformedHash", h, err)
		}
	}
}

func TestPoolBoundsConcurrencyAndHonoursContext(t *testing.T) {
	p := NewPool(1)
	release := make(chan struct{})
	started := make(chan struct{})
	// Occupy the only worker.
	go p.run(context.Background(), func() { close(started); <-release })
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := p.Hash(ctx, "whatever-password"); err != ErrPoolAbandoned {
		t.Fatalf("Hash with a busy pool and an ended context: err = %v, want ErrPoolAbandoned", err)
	}
	p.MaxWait = 10 * time.Millisecond
	if _, err := p.Verify(context.Background(), betterAuthVectors[0].hash, "x"); err != ErrPoolAbandoned {
		t.Fatalf("Verify past MaxWait: err = %v, want ErrPoolAbandoned", err)
	}
	close(release)
	h, err := p.Hash(context.Background(), "whatever-password")
	if err != nil {
		t.Fatalf("Hash after release: %v", err)
	}
	if ok, _ := p.Verify(context.Background(), h, "whatever-password"); !ok {
		t.Error("pool hash does not verify")
	}
}

func TestHashingThreadsRunAtLowerPriority(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("per-thread priority is Linux-only")
	}
	p := NewPool(1)
	var prio int
	var perr error
	p.run(context.Background(), func() {
		// getpriority returns 20-nice for the calling thread.
		prio, perr = syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	})
	if perr != nil {
		t.Fatal(perr)
	}
	if nice := 20 - prio; nice < hashNice {
		t.Errorf("hashing thread nice = %d, want >= %d", nice, hashNice)
	}
}

func BenchmarkHash(b *testing.B) {
	for b.Loop() {
		if _, err := Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := betterAuthVectors[0].hash
	for b.Loop() {
		if ok, _ := Verify(h, "correct horse battery staple"); !ok {
			b.Fatal("no match")
		}
	}
}
