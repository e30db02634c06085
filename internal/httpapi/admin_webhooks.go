package httpapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/auther/auther/internal/auth"
	"github.com/auther/auther/internal/store"
	"github.com/auther/auther/internal/webhook"
)

// The admin webhooks API: endpoints, their deliveries, replay and test.
// Mirrors `auther webhook …`.

func (s *Server) webhookRoutes(mux *http.ServeMux) {
	if s.hooks == nil {
		return
	}
	mux.Handle("GET /api/admin/webhooks", s.withAdmin(s.adminListWebhooks))
	mux.Handle("POST /api/admin/webhooks", s.withAdmin(s.adminCreateWebhook))
	mux.Handle("GET /api/admin/webhooks/{id}", s.withAdmin(s.adminGetWebhook))
	mux.Handle("PATCH /api/admin/webhooks/{id}", s.withAdmin(s.adminUpdateWebhook))
	mux.Handle("DELETE /api/admin/webhooks/{id}", s.withAdmin(s.adminDeleteWebhook))
	mux.Handle("POST /api/admin/webhooks/{id}/rotate-secret", s.withAdmin(s.adminRotateWebhookSecret))
	mux.Handle("POST /api/admin/webhooks/{id}/test", s.withAdmin(s.adminTestWebhook))
	mux.Handle("GET /api/admin/webhooks/{id}/deliveries", s.withAdmin(s.adminListDeliveries))
	mux.Handle("GET /api/admin/webhook-deliveries/{id}", s.withAdmin(s.adminGetDelivery))
	mux.Handle("POST /api/admin/webhook-deliveries/{id}/replay", s.withAdmin(s.adminReplayDelivery))
}

type webhookJSON struct {
	ID                      string   `json:"id"`
	URL                     string   `json:"url"`
	Description             string   `json:"description"`
	Events                  []string `json:"events"`
	RetryPolicy             string   `json:"retry_policy"`
	Disabled                bool     `json:"disabled"`
	Secret                  string   `json:"secret,omitempty"` // only when just created or rotated
	PreviousSecretExpiresAt *isoTime `json:"previous_secret_expires_at,omitempty"`
	CreatedAt               isoTime  `json:"created_at"`
	UpdatedAt               isoTime  `json:"updated_at"`
}

func toWebhook(e *store.WebhookEndpoint, secret string) webhookJSON {
	out := webhookJSON{ID: e.ID, URL: e.URL, Description: e.Description, Events: e.EventTypes, RetryPolicy: e.RetryPolicy,
		Disabled: e.Disabled, Secret: secret, CreatedAt: isoTime(e.CreatedAt), UpdatedAt: isoTime(e.UpdatedAt)}
	if e.PreviousSecretExpiresAt != nil {
		t := isoTime(*e.PreviousSecretExpiresAt)
		out.PreviousSecretExpiresAt = &t
	}
	if out.Events == nil {
		out.Events = []string{}
	}
	return out
}

type webhookReq struct {
	URL         *string   `json:"url"`
	Description *string   `json:"description"`
	Events      *[]string `json:"events"`
	RetryPolicy *string   `json:"retry_policy"`
	Disabled    *bool     `json:"disabled"`
}

func (q webhookReq) input() webhook.EndpointInput {
	return webhook.EndpointInput{URL: q.URL, Description: q.Description, EventTypes: q.Events, RetryPolicy: q.RetryPolicy, Disabled: q.Disabled}
}

// webhookError answers the manager's validation errors; false when err is
// something else.
func webhookError(w http.ResponseWriter, err error) bool {
	codes := []struct {
		err  error
		code string
	}{
		{webhook.ErrInvalidURL, "INVALID_WEBHOOK_URL"},
		{webhook.ErrInvalidEventType, "INVALID_EVENT_TYPE"},
		{webhook.ErrNoEventTypes, "INVALID_EVENT_TYPE"},
		{webhook.ErrInvalidRetryPolicy, "INVALID_RETRY_POLICY"},
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			writeError(w, errorf(http.StatusBadRequest, c.code, err.Error()))
			return true
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, errorf(http.StatusNotFound, "WEBHOOK_NOT_FOUND", "No such webhook endpoint"))
		return true
	}
	if errors.Is(err, webhook.ErrRotationInProgress) {
		writeError(w, errorf(http.StatusConflict, "ROTATION_IN_PROGRESS", "The previous secret still signs; rotate again with ?force=true to stop it now"))
		return true
	}
	return false
}

func (s *Server) adminListWebhooks(w http.ResponseWriter, r *http.Request, _ *auth.Current) {
	es, err := s.store.ListWebhookEndpoints(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]webhookJSON, 0, len(es))
	for i := range es {
		out = append(out, toWebhook(&es[i], ""))
	}
	writeJSON(w, 200, out)
}

func (s *Server) adminCreateWebhook(w http.ResponseWriter, r *http.Request, c *auth.Current) {
	var req webhookReq
	if e := decode(r, &req); e != nil {
		writeError(w, e)
		return
	}
	if missing(w, field{"url", req.URL}) {
		return
	}
	if req.Events == nil {
		writeError(w, errorf(http.StatusBadRequest, "VALIDATION_ERROR", "[body.events] Invalid input: expected array, received undefined"))
		return
	}
	e, secret, err := s.hooks.Create(r.Context(), req.input())
	if err != nil {
		if !webhookError(w, err) {
			s.fail(w, r, err)
		}
		return
	}
	s.log.Info("webhook endpoint created", "webhook_id", e.ID, "by", c.User.ID)
	writeJSON(w, http.StatusCreated, toWebhook(e, secret))
}

func (s *Server) adminGetWebhook(w http.ResponseWriter, r *http.Request, _ *auth.Current) {
	e, err := s.store.GetWebhookEndpoint(r.Context(), r.PathValue("id"))
	if err != nil {
		if !webhookError(w, err) {
			s.fail(w, r, err)
		}
		return
	}
	writeJSON(w, 200, toWebhook(e, ""))
}

func (s *Server) adminUpdateWebhook(w http.ResponseWriter, r *http.Request, c *auth.Current) {
	var req webhookReq
	if e := decode(r, &req); e != nil {
		writeError(w, e)
		return
	}
	e, err := s.hooks.Update(r.Context(), r.PathValue("id"), req.input())
	if err != nil {
		if !webhookError(w, err) {
			s.fail(w, r, err)
		}
		return
	}
	s.log.Info("webhook endpoint updated", "webhook_id", e.ID, "by", c.User.ID)
	writeJSON(w, 200, toWebhook(e, ""))
}

func (s *Server) adminDeleteWebhook(w http.ResponseWriter, r *http.Request, c *auth.Current) {
	if err := s.store.DeleteWebhookEndpoint(r.Context(), r.PathValue("id")); err != nil {
		if !webhookError(w, err) {
			s.fail(w, r, err)
		}
		return
	}
	s.log.Info("webhook endpoint deleted", "webhook_id", r.PathValue("id"), "by", c.User.ID)
	writeJSON(w, 200, map[string]bool{"success": true})
}

func (s *Server) adminRotateWebhookSecret(w http.ResponseWriter, r *http.Request, c *auth.Current) {
	e, secret, err := s.hooks.RotateSecret(r.Context(), r.PathValue("id"), r.URL.Query().Get("force") == "true")
	if err != nil {
		if !webhookError(w, err) {
			s.fail(w, r, err)
		}
		return
	}
	s.log.Info("webhook secret rotated", "webhook_id", e.ID, "by", c.User.ID)
	writeJSON(w, 200, toWebhook(e, secret))
}

func (s *Server) adminTestWebhook(w http.ResponseWriter, r *http.Request, _ *auth.Current) {
	res, err := s.deliverer.SendTest(r.Context(), r.PathValue("id"))
	if err != nil {
		if !webhookError(w, err) {
			s.fail(w, r, err)
		}
		return
	}
	writeJSON(w, 200, map[string]any{"delivered": res.OK(), "status_code": res.StatusCode, "duration_ms": res.Duration.Milliseconds(),
		"response": res.Response, "error": res.Err})
}

type attemptJSON struct {
	StatusCode int     `json:"status_code"`
	Error      string  `json:"error,omitempty"`
	DurationMs int64   `json:"duration_ms"`
	Response   string  `json:"response"`
	CreatedAt  isoTime `json:"created_at"`
}

type deliveryJSON struct {
	ID             string        `json:"id"`
	EventID        string        `json:"event_id"`
	EventType      string        `json:"event_type"`
	WebhookID      string        `json:"webhook_id"`
	Status         string        `json:"status"`
	Attempts       int           `json:"attempts"`
	NextAttemptAt  *isoTime      `json:"next_attempt_at,omitempty"`
	LastStatusCode int           `json:"last_status_code,omitempty"`
	LastError      string        `json:"last_error,omitempty"`
	DeliveredAt    *isoTime      `json:"delivered_at,omitempty"`
	CreatedAt      isoTime       `json:"created_at"`
	AttemptLog     []attemptJSON `json:"attempt_log,omitempty"`
}

func toDelivery(d *store.Delivery) deliveryJSON {
	out := deliveryJSON{ID: d.ID, EventID: d.EventID, EventType: d.EventType, WebhookID: d.EndpointID, Status: d.Status,
		Attempts: d.Attempts, LastStatusCode: d.LastStatusCode, LastError: d.LastError, CreatedAt: isoTime(d.CreatedAt)}
	if d.Status == store.DeliveryPending {
		t := isoTime(d.NextAttemptAt)
		out.NextAttemptAt = &t
	}
	if d.DeliveredAt != nil {
		t := isoTime(*d.DeliveredAt)
		out.DeliveredAt = &t
	}
	return out
}

func (s *Server) adminListDeliveries(w http.ResponseWriter, r *http.Request, _ *auth.Current) {
	q := r.URL.Query()
	status := q.Get("status")
	if status != "" && status != store.DeliveryPending && status != store.DeliveryDelivered && status != store.DeliveryDead {
		writeError(w, errorf(http.StatusBadRequest, "VALIDATION_ERROR", "[query.status] Expected pending, delivered or dead"))
		return
	}
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeError(w, errorf(http.StatusBadRequest, "VALIDATION_ERROR", "[query.limit] Expected a number from 1 to 500"))
			return
		}
		limit = n
	}
	if _, err := s.store.GetWebhookEndpoint(r.Context(), r.PathValue("id")); err != nil {
		if !webhookError(w, err) {
			s.fail(w, r, err)
		}
		return
	}
	ds, err := s.store.ListDeliveries(r.Context(), store.ListDeliveriesOptions{EndpointID: r.PathValue("id"), Status: status, Limit: limit})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]deliveryJSON, 0, len(ds))
	for i := range ds {
		out = append(out, toDelivery(&ds[i]))
	}
	writeJSON(w, 200, out)
}

func deliveryNotFound(w http.ResponseWriter) {
	writeError(w, errorf(http.StatusNotFound, "DELIVERY_NOT_FOUND", "No such delivery"))
}

func (s *Server) adminGetDelivery(w http.ResponseWriter, r *http.Request, _ *auth.Current) {
	d, err := s.store.GetDelivery(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		deliveryNotFound(w)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	atts, err := s.store.ListAttempts(r.Context(), d.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := toDelivery(d)
	out.AttemptLog = []attemptJSON{}
	for _, a := range atts {
		out.AttemptLog = append(out.AttemptLog, attemptJSON{a.StatusCode, a.Error, a.Duration.Milliseconds(), a.Response, isoTime(a.CreatedAt)})
	}
	writeJSON(w, 200, out)
}

func (s *Server) adminReplayDelivery(w http.ResponseWriter, r *http.Request, c *auth.Current) {
	d, err := s.store.ReplayDelivery(r.Context(), r.PathValue("id"), s.auth.Clock.Now().UTC().Truncate(1e6))
	switch {
	case errors.Is(err, store.ErrNotFound):
		deliveryNotFound(w)
		return
	case errors.Is(err, store.ErrConflict):
		writeError(w, errorf(http.StatusConflict, "DELIVERY_PENDING", "The delivery is still pending; it will be retried on its own"))
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	s.deliverer.Wake()
	s.log.Info("webhook delivery replayed", "delivery_id", d.ID, "by", c.User.ID)
	writeJSON(w, 200, toDelivery(d))
}
