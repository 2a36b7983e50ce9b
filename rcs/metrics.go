package rcs

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds the Prometheus collectors of the RCS channel: API calls of
// every Client, the capability cache and the webhook. A nil *Metrics is valid
// and records nothing.
type Metrics struct {
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	retries   *prometheus.CounterVec
	hits      prometheus.Counter
	misses    prometheus.Counter
	lookups   *prometheus.CounterVec
	age       prometheus.Histogram
	entries   prometheus.Gauge
	callbacks *prometheus.CounterVec
}

// NewMetrics creates the collectors and registers them with reg (when reg is
// not nil). Call it once per registry and share the result.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gateway", Subsystem: "rbm", Name: "requests_total",
			Help: "RBM API requests by carrier, operation and HTTP status (\"error\" when no answer came).",
		}, []string{"carrier", "op", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "gateway", Subsystem: "rbm", Name: "request_duration_seconds",
			Help:    "Time of one RBM API call, retries and back-off included.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10),
		}, []string{"carrier", "op"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gateway", Subsystem: "rbm", Name: "retries_total",
			Help: "RBM API requests sent again after a 429, a 5xx, a network error or a refused token.",
		}, []string{"carrier", "op"}),
		hits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "gateway", Subsystem: "rcs_capability", Name: "cache_hits_total",
			Help: "Capability lookups answered from the cache.",
		}),
		misses: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "gateway", Subsystem: "rcs_capability", Name: "cache_misses_total",
			Help: "Capability lookups that asked RBM (absent, expired or stale entry).",
		}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gateway", Subsystem: "rcs_capability", Name: "lookups_total",
			Help: "Capability lookups by outcome: capable, not_capable, error.",
		}, []string{"outcome"}),
		age: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "gateway", Subsystem: "rcs_capability", Name: "entry_age_seconds",
			Help:    "Age of the cache entries that answered lookups.",
			Buckets: []float64{60, 600, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600, 48 * 3600},
		}),
		entries: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "gateway", Subsystem: "rcs_capability", Name: "cache_entries",
			Help: "Capability answers held in memory.",
		}),
		callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gateway", Subsystem: "rbm", Name: "callbacks_total",
			Help: "RBM webhook calls by carrier, kind (text, suggestion, delivered, ttl_revoke_failed, ...) and result.",
		}, []string{"carrier", "kind", "result"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.latency, m.retries, m.hits, m.misses, m.lookups, m.age, m.entries, m.callbacks)
	}
	return m
}

func (m *Metrics) request(carrier, op string, status int) {
	if m == nil {
		return
	}
	code := "error"
	if status > 0 {
		code = strconv.Itoa(status)
	}
	m.requests.WithLabelValues(carrier, op, code).Inc()
}

func (m *Metrics) call(carrier, op string, d time.Duration) {
	if m != nil {
		m.latency.WithLabelValues(carrier, op).Observe(d.Seconds())
	}
}

func (m *Metrics) retry(carrier, op string) {
	if m != nil {
		m.retries.WithLabelValues(carrier, op).Inc()
	}
}

func (m *Metrics) hit(age time.Duration) {
	if m != nil {
		m.hits.Inc()
		m.age.Observe(age.Seconds())
	}
}

func (m *Metrics) miss() {
	if m != nil {
		m.misses.Inc()
	}
}

func (m *Metrics) lookup(outcome string) {
	if m != nil {
		m.lookups.WithLabelValues(outcome).Inc()
	}
}

func (m *Metrics) setEntries(n int) {
	if m != nil {
		m.entries.Set(float64(n))
	}
}

func (m *Metrics) callback(carrier, kind, result string) {
	if m != nil {
		m.callbacks.WithLabelValues(carrier, kind, result).Inc()
	}
}
