package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
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
	ErrInvalidURL         = errors.New("webhook: the URL must be absolute https (http only for localhost)")
	ErrInvalidEventType   = errors.New("webhook: unknown event type")
	ErrNoEventTypes       = errors.New("webhook: subscribe to at least one event type")
	ErrInvalidRetryPolicy = errors.New(`webhook: retry policy must be "none" or "standard"`)
)

// Manager creates and changes endpoints. Secrets are sealed at rest.
type Manager struct {
	Store store.Store
	Box   *seal.Box
	Clock clock.Clock
	// Overlap is how long a rotated-out secret keeps signing (default 24 h).
	Overlap time.Duration
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

// CheckURL accepts absolute https URLs, and http for loopback hosts so a
// receiver on the same machine can be used in development.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || len(raw) > 2048 {
		return ErrInvalidURL
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if ip := net.ParseIP(h); h == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return ErrInvalidURL
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
		if err := CheckURL(*in.URL); err != nil {
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
// keeps signing next to it for the overlap window.
func (m *Manager) RotateSecret(ctx context.Context, id string) (*store.WebhookEndpoint, string, error) {
	secret := NewSecret()
	overlap := m.Overlap
	if overlap == 0 {
		overlap = 24 * time.Hour
	}
	e, err := m.Store.UpdateWebhookEndpoint(ctx, id, func(e *store.WebhookEndpoint) error {
		now := m.now()
		until := now.Add(overlap)
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
