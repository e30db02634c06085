// Package metrics holds Auther's Prometheus collectors on a registry of its
// own, so tests can build independent servers.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the collectors the server updates.
type Metrics struct {
	Registry *prometheus.Registry
	Requests *prometheus.CounterVec   // by route, method, status
	Latency  *prometheus.HistogramVec // by route
	HashWait prometheus.Histogram     // time waiting for a password-hash slot
	RateHits *prometheus.CounterVec   // 429s by route
	Swept    *prometheus.CounterVec   // expired rows deleted, by table
	Mail     *prometheus.CounterVec   // mail delivery outcomes
	Webhooks *prometheus.CounterVec   // webhook delivery outcomes
	// OAuthFailures counts refused OAuth requests by endpoint and reason.
	OAuthFailures *prometheus.CounterVec
}

// New registers Auther's collectors and the Go/process ones.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auther_http_requests_total", Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "auther_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		HashWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "auther_password_hash_wait_seconds", Help: "Time spent waiting for a password-hashing slot.",
			Buckets: []float64{.0001, .001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		RateHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auther_rate_limited_total", Help: "Requests refused by the rate limiter, by route.",
		}, []string{"route"}),
		Swept: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auther_expired_rows_deleted_total", Help: "Expired rows deleted by the sweeper, by table.",
		}, []string{"table"}),
		Mail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auther_mail_deliveries_total", Help: "Mail delivery attempts by outcome (sent, retry, failed).",
		}, []string{"outcome"}),
		Webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auther_webhook_deliveries_total", Help: "Webhook delivery attempts by outcome (delivered, retry, dead).",
		}, []string{"outcome"}),
		OAuthFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auther_oauth_failures_total", Help: "Refused OAuth/OIDC requests by endpoint and RFC error code.",
		}, []string{"endpoint", "reason"}),
	}
	r.MustRegister(m.Requests, m.Latency, m.HashWait, m.RateHits, m.Swept, m.Mail, m.Webhooks, m.OAuthFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveHashWait records a wait for a hashing slot.
func (m *Metrics) ObserveHashWait(d time.Duration) { m.HashWait.Observe(d.Seconds()) }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}
