package password

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"time"
)

// ErrPoolAbandoned is returned when the caller's context ended while it was
// waiting for a hashing slot (the client went away or timed out).
var ErrPoolAbandoned = errors.New("password: gave up waiting for a hashing slot")

// Pool bounds how many scrypt computations run at once. Each takes ~32 MiB and
// a full core for tens of milliseconds; without a bound a sign-in flood would
// exhaust memory and starve cheap requests such as session checks.
type Pool struct {
	slots chan struct{}
	dummy string
	once  sync.Once

	// MaxWait, when positive, bounds how long a caller waits for a slot;
	// past it the caller gets ErrPoolAbandoned (shed load, answer 503)
	// rather than queueing without end.
	MaxWait time.Duration
	// OnWait, when set, observes how long each caller waited for a slot.
	OnWait func(time.Duration)
}

// NewPool returns a pool with size slots; size <= 0 means runtime.NumCPU().
func NewPool(size int) *Pool {
	if size <= 0 {
		size = runtime.NumCPU()
	}
	return &Pool{slots: make(chan struct{}, size)}
}

// Size is the number of hashes that may run at once.
func (p *Pool) Size() int { return cap(p.slots) }

func (p *Pool) acquire(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}: // fast path: a free slot, no timer
		if p.OnWait != nil {
			p.OnWait(0)
		}
		return nil
	default:
	}
	start := time.Now()
	var timeout <-chan time.Time
	if p.MaxWait > 0 {
		t := time.NewTimer(p.MaxWait)
		defer t.Stop()
		timeout = t.C
	}
	var err error
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		err = ErrPoolAbandoned
	case <-timeout:
		err = ErrPoolAbandoned
	}
	if p.OnWait != nil {
		p.OnWait(time.Since(start))
	}
	return err
}

func (p *Pool) release() { <-p.slots }

// Hash hashes pw once a slot is free.
func (p *Pool) Hash(ctx context.Context, pw string) (string, error) {
	if err := p.acquire(ctx); err != nil {
		return "", err
	}
	defer p.release()
	return Hash(pw)
}

// Verify checks pw against hash once a slot is free.
func (p *Pool) Verify(ctx context.Context, hash, pw string) (bool, error) {
	if err := p.acquire(ctx); err != nil {
		return false, err
	}
	defer p.release()
	return Verify(hash, pw)
}

// VerifyDummy spends the same work as Verify against a hash that matches no
// password. Sign-in calls it for unknown emails so that the response time does
// not reveal whether an account exists.
func (p *Pool) VerifyDummy(ctx context.Context, pw string) error {
	p.once.Do(func() {
		h, err := Hash("auther-dummy-password-never-matches")
		if err != nil {
			panic(err)
		}
		p.dummy = h
	})
	_, err := p.Verify(ctx, p.dummy, pw)
	return err
}
