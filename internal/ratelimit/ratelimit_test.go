package ratelimit

import (
	"testing"
	"time"

	"github.com/auther/auther/internal/clock"
)

func TestSignInRuleAllowsThreePerTenSeconds(t *testing.T) {
	c := clock.NewFake(time.Unix(1_700_000_000, 0))
	l := New(c)
	r := RuleFor("/sign-in/email")
	for i := range 3 {
		if ok, _ := l.Allow("1.2.3.4|/sign-in/email", r); !ok {
			t.Fatalf("request %d refused", i+1)
		}
	}
	ok, retry := l.Allow("1.2.3.4|/sign-in/email", r)
	if ok || retry != 10*time.Second {
		t.Fatalf("4th request: ok=%v retry=%v, want refused with 10s", ok, retry)
	}
	if ok, _ := l.Allow("5.6.7.8|/sign-in/email", r); !ok {
		t.Error("another IP was limited")
	}
	c.Advance(4 * time.Second)
	if _, retry := l.Allow("1.2.3.4|/sign-in/email", r); retry != 6*time.Second {
		t.Errorf("retry after 4s = %v, want 6s", retry)
	}
	c.Advance(6 * time.Second)
	if ok, _ := l.Allow("1.2.3.4|/sign-in/email", r); !ok {
		t.Error("not allowed after the window passed")
	}
}

func TestRules(t *testing.T) {
	cases := map[string]Rule{
		"/sign-up/email":          {10 * time.Second, 3},
		"/change-password":        {10 * time.Second, 3},
		"/request-password-reset": {60 * time.Second, 3},
		"/get-session":            {10 * time.Second, 100},
	}
	for p, want := range cases {
		if got := RuleFor(p); got != want {
			t.Errorf("RuleFor(%s) = %v, want %v", p, got, want)
		}
	}
}

func TestSweepForgetsIdleClients(t *testing.T) {
	c := clock.NewFake(time.Unix(0, 0))
	l := New(c)
	l.Allow("a", Rule{time.Second, 1})
	c.Advance(2 * time.Minute)
	l.Sweep(time.Minute)
	n := 0
	for i := range l.shards {
		n += len(l.shards[i].m)
	}
	if n != 0 {
		t.Errorf("%d windows left after sweep", n)
	}
}
