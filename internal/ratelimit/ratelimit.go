// Package ratelimit is an in-memory, per-key fixed-window limiter with Better
// Auth's default rules. It is per process: behind several replicas each has
// its own budget (a shared store can implement Limiter later).
package ratelimit

import (
	"strings"
	"sync"
	"time"

	"github.com/auther/auther/internal/clock"
)

// Rule allows Max requests per Window.
type Rule struct {
	Window time.Duration
	Max    int
}

// RuleFor returns Better Auth's rule for a path relative to /api/auth.
func RuleFor(path string) Rule {
	switch {
	case strings.HasPrefix(path, "/sign-in"), strings.HasPrefix(path, "/sign-up"),
		strings.HasPrefix(path, "/change-password"), strings.HasPrefix(path, "/change-email"):
		return Rule{10 * time.Second, 3}
	case strings.HasPrefix(path, "/request-password-reset"), strings.HasPrefix(path, "/send-verification-email"),
		strings.HasPrefix(path, "/forget-password"), strings.HasPrefix(path, "/email-otp/send-verification-otp"),
		strings.HasPrefix(path, "/email-otp/request-password-reset"):
		return Rule{60 * time.Second, 3}
	}
	return Rule{10 * time.Second, 100}
}

// Bucket names the counter a path is limited under. Paths that carry a
// value (reset tokens) share one bucket, and anything long is cut, so
// clients cannot create counters without end by inventing paths.
func Bucket(path string) string {
	if strings.HasPrefix(path, "/reset-password/") {
		return "/reset-password/:token"
	}
	if len(path) > 64 {
		return strings.Clone(path[:64]) // a copy: do not pin the long original
	}
	return path
}

// maxPerShard bounds memory: past it, an arbitrary idle-or-not window is
// forgotten to make room (fairness suffers only under a flood of clients).
const maxPerShard = 4096

type window struct {
	start time.Time
	count int
}

const shards = 32

// Limiter counts requests per key.
type Limiter struct {
	clock  clock.Clock
	shards [shards]struct {
		sync.Mutex
		m map[string]*window
	}
}

// New returns an empty limiter.
func New(c clock.Clock) *Limiter {
	l := &Limiter{clock: c}
	for i := range l.shards {
		l.shards[i].m = map[string]*window{}
	}
	return l
}

func fnv(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// Allow counts one request for key under rule. When the budget is spent it
// returns false and how long until the window resets.
func (l *Limiter) Allow(key string, r Rule) (bool, time.Duration) {
	now := l.clock.Now()
	sh := &l.shards[fnv(key)%shards]
	sh.Lock()
	defer sh.Unlock()
	w := sh.m[key]
	if w == nil || now.Sub(w.start) >= r.Window {
		if w == nil {
			if len(sh.m) >= maxPerShard {
				for k := range sh.m { // map order is random: evict one
					delete(sh.m, k)
					break
				}
			}
			w = &window{}
			sh.m[key] = w
		}
		w.start, w.count = now, 0
	}
	if w.count >= r.Max {
		return false, w.start.Add(r.Window).Sub(now)
	}
	w.count++
	return true, 0
}

// Sweep drops windows older than maxAge so memory stays bounded by the
// number of recently active clients.
func (l *Limiter) Sweep(maxAge time.Duration) {
	now := l.clock.Now()
	for i := range l.shards {
		sh := &l.shards[i]
		sh.Lock()
		for k, w := range sh.m {
			if now.Sub(w.start) > maxAge {
				delete(sh.m, k)
			}
		}
		sh.Unlock()
	}
}
