package smpp

import (
	"strconv"

	"github.com/linxGnu/gosmpp/data"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds the Prometheus collectors of every Link of the process,
// labelled by carrier (and bind where useful). A nil *Metrics is valid and
// records nothing.
type Metrics struct {
	submits   *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	bindsUp   *prometheus.GaugeVec
	window    *prometheus.GaugeVec
	throttles *prometheus.CounterVec
	rate      *prometheus.GaugeVec
	delivers  *prometheus.CounterVec
	bindFails *prometheus.CounterVec
}

// NewMetrics creates the collectors and registers them with reg (when reg is
// not nil). Call it once per registry and share the result between links.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		submits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gateway", Subsystem: "smpp", Name: "submits_total",
			Help: "Submit calls by outcome: ok, throttled, temporary, rejected, unknown (written, no response).",
		}, []string{"carrier", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "gateway", Subsystem: "smpp", Name: "submit_duration_seconds",
			Help:    "Time from Submit to its outcome, queueing and throttle retries included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"carrier"}),
		bindsUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "gateway", Subsystem: "smpp", Name: "binds_up",
			Help: "Transceiver binds currently bound.",
		}, []string{"carrier"}),
		window: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "gateway", Subsystem: "smpp", Name: "window_in_use",
			Help: "submit_sm awaiting submit_sm_resp, per bind.",
		}, []string{"carrier", "bind"}),
		throttles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gateway", Subsystem: "smpp", Name: "throttles_total",
			Help: "submit_sm_resp with ESME_RTHROTTLED or ESME_RMSGQFUL.",
		}, []string{"carrier", "status"}),
		rate: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "gateway", Subsystem: "smpp", Name: "rate_limit",
			Help: "Current adaptive submit_sm rate limit (per second, across binds).",
		}, []string{"carrier"}),
		delivers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gateway", Subsystem: "smpp", Name: "deliver_sm_total",
			Help: "deliver_sm/data_sm received by kind (receipt, mo) and answer (ok, retry).",
		}, []string{"carrier", "kind", "result"}),
		bindFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gateway", Subsystem: "smpp", Name: "bind_failures_total",
			Help: "Failed dial or bind_transceiver attempts.",
		}, []string{"carrier"}),
	}
	if reg != nil {
		reg.MustRegister(m.submits, m.latency, m.bindsUp, m.window, m.throttles, m.rate, m.delivers, m.bindFails)
	}
	return m
}

// linkMetrics is m curried with one link's carrier; every method is a no-op
// when m is nil.
type linkMetrics struct {
	m       *Metrics
	carrier string
	window  []prometheus.Gauge
}

func (m *Metrics) forLink(carrier string, binds int) *linkMetrics {
	lm := &linkMetrics{m: m, carrier: carrier}
	if m != nil {
		for i := range binds {
			lm.window = append(lm.window, m.window.WithLabelValues(carrier, strconv.Itoa(i)))
		}
	}
	return lm
}

func (lm *linkMetrics) submit(result string, seconds float64) {
	if lm.m == nil {
		return
	}
	lm.m.submits.WithLabelValues(lm.carrier, result).Inc()
	lm.m.latency.WithLabelValues(lm.carrier).Observe(seconds)
}

func (lm *linkMetrics) setBindsUp(n int) {
	if lm.m != nil {
		lm.m.bindsUp.WithLabelValues(lm.carrier).Set(float64(n))
	}
}

func (lm *linkMetrics) setWindow(bind, n int) {
	if lm.m != nil {
		lm.window[bind].Set(float64(n))
	}
}

func (lm *linkMetrics) throttle(status uint32) {
	if lm.m != nil {
		lm.m.throttles.WithLabelValues(lm.carrier, data.CommandStatusType(status).String()).Inc()
	}
}

func (lm *linkMetrics) setRate(r float64) {
	if lm.m != nil {
		lm.m.rate.WithLabelValues(lm.carrier).Set(r)
	}
}

func (lm *linkMetrics) deliver(kind, result string) {
	if lm.m != nil {
		lm.m.delivers.WithLabelValues(lm.carrier, kind, result).Inc()
	}
}

func (lm *linkMetrics) bindFailed() {
	if lm.m != nil {
		lm.m.bindFails.WithLabelValues(lm.carrier).Inc()
	}
}
