package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/auther/auther/internal/clock"
	"github.com/auther/auther/internal/event"
	"github.com/auther/auther/internal/id"
	"github.com/auther/auther/internal/seal"
	"github.com/auther/auther/internal/store"
)

// Errors of endpoint management; each is a bad request by the caller.
var (
	ErrInvalidURL         = errors.New("webhook: the URL must be absolute https to a public host (http and private hosts only when webhook-allow-private is on)")
	ErrRotationInProgress = errors.New("webhook: the previous secret still signs; rotating again now would stop it at once (force to do it anyway)")
	ErrInvalidEventType   = errors.New("webhook: unknown event type")
	ErrNoEventTypes       = errors.New("webhook: subscribe to at least one event type")
	ErrInvalidRetryPolicy = errors.New(`webhook: retry policy must be "none" or "standard"`)
)

// Manager creates and changes endpoints. Secrets are sealed at rest.
type Manager struct {
	Store store.Store
	Box   *seal.Box
	Clock clock.Clock
	// Overlap is how long a rotated-out secret keeps signing (0: not at all).
	Overlap time.Duration
	// AllowPrivate accepts http URLs and loopback or private hosts
	// (development). The delivery client checks resolved addresses too.
	AllowPrivate bool
}

// EndpointInput describes an endpoint to create or the fields to change
// (nil leaves a field as it is).
type EndpointInput struct {
	URL         *string
	Description *string
	EventTypes  *[]string
	RetryPolicy *string
	Disabled    *bool
}

func (m *Manager) now() time.Time { return m.Clock.Now().UTC().Truncate(time.Millisecond) }

// CheckURL accepts absolute https URLs to public hosts; with allowPrivate
// also http, and loopback or private hosts (a receiver on the same machine
// or network during development).
func CheckURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || len(raw) > 2048 {
		return ErrInvalidURL
	}
	if allowPrivate {
		if u.Scheme == "https" || u.Scheme == "http" {
			return nil
		}
		return ErrInvalidURL
	}
	h := u.Hostname()
	if u.Scheme != "https" || h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return ErrInvalidURL
	}
	if ip, err := netip.ParseAddr(h); err == nil && !isPublic(ip) {
		return ErrInvalidURL
	}
	return nil
}

func normaliseTypes(types []string) ([]string, error) {
	if len(types) == 0 {
		return nil, ErrNoEventTypes
	}
	out := make([]string, 0, len(types))
	for _, t := range types {
		t = strings.TrimSpace(t)
		if !event.Known(t) {
			return nil, fmt.Errorf("%w: %q", ErrInvalidEventType, t)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if slices.Contains(out, "*") {
		return []string{"*"}, nil
	}
	slices.Sort(out)
	return out, nil
}

func (m *Manager) apply(e *store.WebhookEndpoint, in EndpointInput) error {
	if in.URL != nil {
		if err := CheckURL(*in.URL, m.AllowPrivate); err != nil {
			return err
		}
		e.URL = *in.URL
	}
	if in.Description != nil {
		e.Description = strings.TrimSpace(*in.Description)
	}
	if in.EventTypes != nil {
		types, err := normaliseTypes(*in.EventTypes)
		if err != nil {
			return err
		}
		e.EventTypes = types
	}
	if in.RetryPolicy != nil {
		if *in.RetryPolicy != store.RetryNone && *in.RetryPolicy != store.RetryStandard {
			return ErrInvalidRetryPolicy
		}
		e.RetryPolicy = *in.RetryPolicy
	}
	if in.Disabled != nil {
		e.Disabled = *in.Disabled
	}
	return nil
}

// Create adds an endpoint and returns it with its secret, which is shown
// this once and never again.
func (m *Manager) Create(ctx context.Context, in EndpointInput) (*store.WebhookEndpoint, string, error) {
	if in.URL == nil {
		return nil, "", ErrInvalidURL
	}
	if in.EventTypes == nil {
		return nil, "", ErrNoEventTypes
	}
	now := m.now()
	secret := NewSecret()
	e := &store.WebhookEndpoint{ID: "wh_" + id.New(), RetryPolicy: store.RetryStandard, Secret: m.Box.Seal(secret), CreatedAt: now, UpdatedAt: now}
	if err := m.apply(e, in); err != nil {
		return nil, "", err
	}
	if err := m.Store.CreateWebhookEndpoint(ctx, e); err != nil {
		return nil, "", err
	}
	return e, secret, nil
}

// Update changes the given fields.
func (m *Manager) Update(ctx context.Context, id string, in EndpointInput) (*store.WebhookEndpoint, error) {
	return m.Store.UpdateWebhookEndpoint(ctx, id, func(e *store.WebhookEndpoint) error {
		e.UpdatedAt = m.now()
		return m.apply(e, in)
	})
}

// RotateSecret gives the endpoint a new secret and returns it. The old one
// keeps signing next to it for the overlap window. While an earlier
// rotation's overlap is still running, rotating again would stop the secret
// receivers may still hold at once, so it is refused unless force.
func (m *Manager) RotateSecret(ctx context.Context, id string, force bool) (*store.WebhookEndpoint, string, error) {
	secret := NewSecret()
	e, err := m.Store.UpdateWebhookEndpoint(ctx, id, func(e *store.WebhookEndpoint) error {
		now := m.now()
		if !force && e.PreviousSecretExpiresAt != nil && now.Before(*e.PreviousSecretExpiresAt) {
			return ErrRotationInProgress
		}
		until := now.Add(m.Overlap)
		e.PreviousSecret, e.PreviousSecretExpiresAt = e.Secret, &until
		e.Secret, e.UpdatedAt = m.Box.Seal(secret), now
		return nil
	})
	return e, secret, err
}

// Secrets opens the secrets an endpoint signs with now, current first.
func (m *Manager) Secrets(e *store.WebhookEndpoint, now time.Time) ([]string, error) {
	cur, err := m.Box.Open(e.Secret)
	if err != nil {
		return nil, fmt.Errorf("webhook %s: cannot open its secret (was AUTHER_SECRET changed?): %w", e.ID, err)
	}
	out := []string{cur}
	if e.PreviousSecret != "" && e.PreviousSecretExpiresAt != nil && now.Before(*e.PreviousSecretExpiresAt) {
		if prev, err := m.Box.Open(e.PreviousSecret); err == nil {
			out = append(out, prev)
		}
	}
	return out, nil
}
