package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// fetchTimeout bounds one JWKS fetch even when the HTTP client has no
// timeout of its own.
const fetchTimeout = 15 * time.Second

// maxDocument caps the size of the JSON documents the SDK reads from Auther.
const maxDocument = 1 << 20

var errThrottled = errors.New("refetch throttled by the cooldown")

// keyCache holds Auther's published keys. Lookups of a known kid take no
// lock. At most one fetch runs at a time and fetches start at most once per
// cooldown; a failed fetch leaves the previous keys in place.
type keyCache struct {
	url      string
	client   *http.Client
	ttl      time.Duration
	cooldown time.Duration
	now      func() time.Time

	set atomic.Pointer[keySet]

	mu          sync.Mutex
	lastAttempt time.Time
	running     *flight
}

type keySet struct {
	byKID   map[string]*jose.JSONWebKey
	fetched time.Time
}

type flight struct {
	done chan struct{}
	err  error
}

// get returns the key with this kid. A known kid is answered from memory
// (starting a background refresh when the set is older than the TTL); an
// unknown one waits for a refetch, unless the cooldown forbids it.
func (c *keyCache) get(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	s := c.set.Load()
	if s != nil {
		if k := s.byKID[kid]; k != nil {
			if c.now().Sub(s.fetched) >= c.ttl {
				c.start()
			}
			return k, nil
		}
	}
	err := c.refresh(ctx)
	if s = c.set.Load(); s == nil {
		return nil, fmt.Errorf("%w: %v", ErrKeysUnavailable, err)
	}
	if k := s.byKID[kid]; k != nil {
		return k, nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The request ended while waiting for the refetch: the kid may
		// well be valid, so this is "keys unavailable", not "unknown key".
		return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	return nil, fmt.Errorf("%w: kid %q", ErrUnknownKey, kid)
}

// refresh starts a fetch (or joins the running one) and waits for it.
func (c *keyCache) refresh(ctx context.Context) error {
	f := c.start()
	if f == nil {
		return errThrottled
	}
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// start returns the running fetch, or starts one when the cooldown allows,
// or returns nil.
func (c *keyCache) start() *flight {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running != nil {
		return c.running
	}
	now := c.now()
	if !c.lastAttempt.IsZero() && now.Sub(c.lastAttempt) < c.cooldown {
		return nil
	}
	c.lastAttempt = now
	f := &flight{done: make(chan struct{})}
	c.running = f
	go func() {
		f.err = c.fetch()
		c.mu.Lock()
		c.running = nil
		c.mu.Unlock()
		close(f.done)
	}()
	return f
}

// fetch downloads the key set and, when it holds at least one usable key,
// replaces the cached one.
func (c *keyCache) fetch() error {
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("auther: fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("auther: fetch JWKS %s: HTTP %d", c.url, resp.StatusCode)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(limitReader(resp.Body)).Decode(&doc); err != nil {
		return fmt.Errorf("auther: fetch JWKS %s: %w", c.url, err)
	}
	byKID := make(map[string]*jose.JSONWebKey, len(doc.Keys))
	for _, raw := range doc.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			continue // a key type this library does not know: skip it, keep the others
		}
		if k.KeyID == "" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		if !k.IsPublic() {
			k = k.Public()
			if !k.Valid() {
				continue
			}
		}
		byKID[k.KeyID] = &k
	}
	if len(byKID) == 0 {
		return fmt.Errorf("auther: JWKS %s holds no usable signing key", c.url)
	}
	c.set.Store(&keySet{byKID: byKID, fetched: c.now()})
	return nil
}

func limitReader(r io.Reader) io.Reader { return io.LimitReader(r, maxDocument) }
