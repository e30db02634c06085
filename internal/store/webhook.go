package store

import (
	"context"
	"time"
)

// Event is one lifecycle event in the outbox. Payload is the exact JSON body
// receivers get; Subject orders delivery (events of one subject reach each
// endpoint in the order they were recorded).
type Event struct {
	Seq       int64 // assigned by the store, increasing
	ID        string
	Type      string
	Subject   string
	Payload   []byte
	CreatedAt time.Time
}

// Retry policies of a webhook endpoint.
const (
	RetryNone     = "none"     // one attempt
	RetryStandard = "standard" // exponential backoff until the retry window ends
)

// WebhookEndpoint is a URL that receives events. Secrets are sealed by the
// caller. PreviousSecret, until PreviousSecretExpiresAt, still signs (next to
// the new one) so receivers can roll over without losing events.
type WebhookEndpoint struct {
	ID                      string
	URL                     string
	Description             string
	EventTypes              []string // "*" = every type
	Secret                  string
	PreviousSecret          string
	PreviousSecretExpiresAt *time.Time
	RetryPolicy             string
	Disabled                bool
	CreatedAt               time.Time
	UpdatedAt               time.Time
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryDead      = "dead"
)

// Delivery is one event on its way to one endpoint.
type Delivery struct {
	ID            string
	EventSeq      int64
	EventID       string
	EventType     string
	EndpointID    string
	Subject       string
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	// RetryFrom starts the retry window (creation, or the last replay).
	RetryFrom      time.Time
	LastStatusCode int
	LastError      string
	DeliveredAt    *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// Filled by ClaimDeliveries: what the sender needs.
	Payload  []byte
	Endpoint *WebhookEndpoint
}

// DeliveryAttempt records one try at sending a delivery.
type DeliveryAttempt struct {
	ID         string
	DeliveryID string
	// Claim is the delivery's Attempts when it was claimed: an outcome is
	// recorded only if no later claim took the delivery meanwhile.
	Claim      int
	StatusCode int    // 0 when no response came
	Error      string // transport error or non-2xx summary
	Duration   time.Duration
	Response   string // first 1 KB of the response body
	CreatedAt  time.Time
}

// DeliveryOutcome is what RecordAttempt does to the delivery.
type DeliveryOutcome struct {
	Status        string    // DeliveryDelivered, DeliveryPending (retry) or DeliveryDead
	NextAttemptAt time.Time // for a retry
}

// ListDeliveriesOptions filters deliveries, newest first.
type ListDeliveriesOptions struct {
	EndpointID string
	Status     string // "" = any
	Limit      int    // <= 0 means 50
}

// WebhookStore is the part of Store that keeps endpoints and delivers the
// outbox.
type WebhookStore interface {
	CreateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error
	GetWebhookEndpoint(ctx context.Context, id string) (*WebhookEndpoint, error)
	ListWebhookEndpoints(ctx context.Context) ([]WebhookEndpoint, error)
	// UpdateWebhookEndpoint loads, applies fn and saves in one transaction.
	UpdateWebhookEndpoint(ctx context.Context, id string, fn func(*WebhookEndpoint) error) (*WebhookEndpoint, error)
	DeleteWebhookEndpoint(ctx context.Context, id string) error

	// EmitTo records ev for one endpoint only, whatever it subscribes to
	// (the test event).
	EmitTo(ctx context.Context, endpointID string, ev Event) (*Delivery, error)
	// ClaimDeliveries leases up to limit due deliveries of active endpoints
	// so no other worker or replica takes them until the lease ends, and
	// counts an attempt on each; the first claim starts the retry window. A delivery is due only when no earlier
	// event of the same subject is still pending for the same endpoint, so
	// each endpoint sees a subject's events in order.
	// Deliveries to the endpoints in skip are left for later.
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int, skip ...string) ([]Delivery, error)
	// RecordAttempt stores an attempt and applies its outcome, in one
	// transaction. ErrNotFound when the delivery is gone (its endpoint was
	// deleted) or was claimed again since (a.Claim no longer matches): the
	// outcome is then dropped.
	RecordAttempt(ctx context.Context, a *DeliveryAttempt, out DeliveryOutcome) error
	GetDelivery(ctx context.Context, id string) (*Delivery, error)
	ListDeliveries(ctx context.Context, opts ListDeliveriesOptions) ([]Delivery, error)
	ListAttempts(ctx context.Context, deliveryID string) ([]DeliveryAttempt, error)
	// ReplayDelivery puts a delivery (delivered or dead) back in the queue,
	// due now, with a fresh retry window, and keeps its event from the
	// retention sweep.
	ReplayDelivery(ctx context.Context, id string, now time.Time) (*Delivery, error)
	// ListEvents returns recorded events with Seq > after, oldest first.
	ListEvents(ctx context.Context, after int64, limit int) ([]Event, error)
	// DeleteOldEvents removes up to limit events last touched (recorded or
	// replayed) before cutoff that have no pending delivery (their
	// deliveries go with them).
	DeleteOldEvents(ctx context.Context, cutoff time.Time, limit int) (int, error)
}
