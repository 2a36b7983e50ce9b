package mms

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	submits   *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	callbacks *prometheus.CounterVec
	fetches   *prometheus.CounterVec
	scaled    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		submits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gateway", Subsystem: "mm7", Name: "submits_total",
			Help: "SubmitReq by outcome: ok, throttled, temporary, rejected, invalid_content, not_capable.",
		}, []string{"carrier", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "gateway", Subsystem: "mm7", Name: "submit_duration_seconds",
			Help:    "Time of one SubmitReq round trip to the MMSC.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 10),
		}, []string{"carrier"}),
		callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gateway", Subsystem: "mm7", Name: "callbacks_total",
			Help: "Requests from MMSCs by operation (DeliveryReportReq, DeliverReq, …) and answer (ok, ignored, fault, retry).",
		}, []string{"carrier", "operation", "result"}),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gateway", Subsystem: "mms", Name: "media_fetches_total",
			Help: "Media fetched for MMS by outcome: ok, refused (permanent), temporary.",
		}, []string{"result"}),
		scaled: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "gateway", Subsystem: "mms", Name: "images_scaled_total",
			Help: "Images re-encoded or scaled down to fit an MMS size limit.",
		}),
	}
	if reg != nil {
		m.submits = register(reg, m.submits)
		m.latency = register(reg, m.latency)
		m.callbacks = register(reg, m.callbacks)
		m.fetches = register(reg, m.fetches)
		m.scaled = register(reg, m.scaled)
	}
	return m
}

// register registers c, or returns the collector already registered under
// its name (two channels built on one registry, as tests do).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err) // a programming error: two different metrics with one name
	}
	return c
}
