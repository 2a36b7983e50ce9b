// Package sim is a simulated carrier for tests and the demo: a strict SMPP 3.4
// SMSC (submit_sm in, deliver_sm receipts and MO messages out) plus an HTTP
// control API to inject faults, MO messages and receipts and to observe what
// was submitted.
//
// The SMSC is a raw TCP server that frames, parses and marshals PDUs itself
// with gosmpp's pdu and data packages; it deliberately does not use gosmpp's
// client Session, and it shares no code with the gateway's own SMS packages
// (gateway/sms/...): the GSM 03.38 and UCS-2 tables here are its own, so a
// mistake in one implementation is caught by the other.
//
// Imports: the standard library and github.com/linxGnu/gosmpp/{pdu,data}
// only. It must never import gateway/sms/... or any gateway package above it.
//
// HTTP: [Sim.Handler] serves the control API under /control/. Other
// simulated services of the same carrier (an RBM-compatible API, an MM7 relay,
// a handset page) belong in their own files of this package and mount their
// routes with [Sim.Handle] (or from New, next to the control routes in
// http.go), so one HTTP port serves them all.
package sim
