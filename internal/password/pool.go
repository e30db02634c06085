package password

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"time"
)

// ErrPoolAbandoned is returned when the caller stopped waiting for a hashing
// worker: its context ended (the client went away) or MaxWait passed.
var ErrPoolAbandoned = errors.New("password: gave up waiting for a hashing worker")

// Pool runs scrypt on a fixed set of worker goroutines. Each hash takes
// ~32 MiB and a full core for tens of milliseconds; without a bound a sign-in
// flood would exhaust memory. The workers are pinned to OS threads whose
// scheduling priority is lowered (see lowerPriority), so when the machine is
// saturated the kernel runs cheap requests such as session checks first and
// hashing uses the CPU they leave; with nothing else to do, hashing still
// gets every core.
type Pool struct {
	jobs    chan *job
	workers int
	dummy   string
	once    sync.Once

	// MaxWait, when positive, bounds how long a caller waits for a free
	// worker; past it the caller gets ErrPoolAbandoned (shed load, answer
	// 503) rather than queueing without end.
	MaxWait time.Duration
	// OnWait, when set, observes how long each caller waited for a worker.
	OnWait func(time.Duration)
}

type job struct {
	fn   func()
	done chan struct{}
}

// NewPool starts size workers; size <= 0 means runtime.NumCPU(). The
// workers live as long as the process.
func NewPool(size int) *Pool {
	if size <= 0 {
		size = runtime.NumCPU()
	}
	p := &Pool{jobs: make(chan *job), workers: size}
	for range size {
		go p.work()
	}
	return p
}

// Size is the number of hashes that may run at once.
func (p *Pool) Size() int { return p.workers }

func (p *Pool) work() {
	runtime.LockOSThread() // never unlocked: the thread keeps its priority
	lowerPriority()
	for j := range p.jobs {
		j.fn()
		close(j.done)
	}
}

// run hands fn to a worker and waits for it to finish.
func (p *Pool) run(ctx context.Context, fn func()) error {
	j := &job{fn: fn, done: make(chan struct{})}
	select {
	case p.jobs <- j: // fast path: an idle worker, no timer
		p.observe(0)
	default:
		start := time.Now()
		var timeout <-chan time.Time
		if p.MaxWait > 0 {
			t := time.NewTimer(p.MaxWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case p.jobs <- j:
			p.observe(time.Since(start))
		case <-ctx.Done():
			p.observe(time.Since(start))
			return ErrPoolAbandoned
		case <-timeout:
			p.observe(time.Since(start))
			return ErrPoolAbandoned
		}
	}
	<-j.done
	return nil
}

func (p *Pool) observe(d time.Duration) {
	if p.OnWait != nil {
		p.OnWait(d)
	}
}

// Hash hashes pw on a worker.
func (p *Pool) Hash(ctx context.Context, pw string) (h string, err error) {
	if rerr := p.run(ctx, func() { h, err = Hash(pw) }); rerr != nil {
		return "", rerr
	}
	return h, err
}

// Verify checks pw against hash on a worker.
func (p *Pool) Verify(ctx context.Context, hash, pw string) (ok bool, err error) {
	if rerr := p.run(ctx, func() { ok, err = Verify(hash, pw) }); rerr != nil {
		return false, rerr
	}
	return ok, err
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
