package notify

import (
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	delivered *prometheus.CounterVec
	failed    *prometheus.CounterVec
	latency   prometheus.Histogram
	age       prometheus.Histogram
	inflight  prometheus.Gauge
	// handedOver counts events given to the dispatcher as their
	// transaction committed, without a claim.
	handedOver prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, log *slog.Logger) *metrics {
	m := &metrics{
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_webhook_events_delivered_total",
			Help: "Events the webhook acknowledged with a 2xx, by event type.",
		}, []string{"type"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_webhook_events_failed_total",
			Help: "Failed webhook tries (each is retried), by event type and reason (http_4xx, http_5xx, http_other, timeout, transport).",
		}, []string{"type", "reason"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gateway_webhook_post_duration_seconds",
			Help:    "Duration of one webhook POST, whatever its outcome.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
		age: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gateway_webhook_event_age_seconds",
			Help: "Time from an event's creation to its delivery: how far behind the webhook is.",
			// From well under a second (the normal case) to the hours a
			// receiver outage can pile up.
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600},
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gateway_webhook_posts_in_flight",
			Help: "Webhook POSTs currently in flight.",
		}),
		handedOver: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gateway_webhook_events_handed_over_total",
			Help: "Events handed to the webhook dispatcher as the transaction that stored them committed, without a claim from the outbox.",
		}),
	}
	if reg != nil {
		m.delivered = register(reg, log, m.delivered)
		m.failed = register(reg, log, m.failed)
		m.latency = register(reg, log, m.latency)
		m.age = register(reg, log, m.age)
		m.inflight = register(reg, log, m.inflight)
		m.handedOver = register(reg, log, m.handedOver)
	}
	return m
}

// register adds c to reg, or reuses the collector already registered under
// the same name, so that two dispatchers on one registry (tests, a reload)
// share their metrics instead of panicking.
func register[C prometheus.Collector](reg prometheus.Registerer, log *slog.Logger, c C) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	log.Warn("notify: cannot register metric", "err", err)
	return c
}
