package dispatch

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	accepted prometheus.Counter
	// Accepted messages by the way their first send reached a worker.
	toLane, toQueue prometheus.Counter
	// Receipts applied by where their attempt's state came from.
	stateFromMemory, stateFromStore prometheus.Counter
	sent                            *prometheus.CounterVec
	segments                        *prometheus.CounterVec
	status                          *prometheus.CounterVec
	retries                         *prometheus.CounterVec
	receipts                        *prometheus.CounterVec
	inbound                         *prometheus.CounterVec

	revocations *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_messages_accepted_total", Help: "Messages accepted by the API."}),
		sent:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_attempts_sent_total", Help: "Attempts the carrier accepted, by channel and carrier."}, []string{"channel", "carrier"}),
		segments: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_segments_sent_total", Help: "Parts submitted (SMS segments), by channel."}, []string{"channel"}),
		status:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_message_status_total", Help: "Message status changes, by channel and status."}, []string{"channel", "status"}),
		retries:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_send_retries_total", Help: "Sends put back for later, by channel and reason."}, []string{"channel", "reason"}),
		receipts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_receipts_total", Help: "Delivery receipts, by channel and outcome."}, []string{"channel", "outcome"}),
		inbound:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_inbound_total", Help: "Messages from phones routed to the back end, by channel."}, []string{"channel"}),

		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_revocations_total", Help: "Revocations of timed-out messages, by outcome."}, []string{"outcome"}),
	}
	paths := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_accepted_paths_total",
		Help: "Accepted messages by the way their first send reached a worker: lane (in memory, on the accepting instance) or queue (claimed from the store)."}, []string{"path"})
	m.toLane, m.toQueue = paths.WithLabelValues("lane"), paths.WithLabelValues("queue")
	states := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_receipt_states_total",
		Help: "Receipts applied, by where the state of their attempt came from: memory (this instance's send, checked by a conditional write) or store."}, []string{"from"})
	m.stateFromMemory, m.stateFromStore = states.WithLabelValues("memory"), states.WithLabelValues("store")
	if reg != nil {
		reg.MustRegister(m.accepted, paths, states, m.sent, m.segments, m.status, m.retries, m.receipts, m.inbound, m.revocations)
	}
	return m
}
