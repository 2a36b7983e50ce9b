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
// The same HTTP port also serves the carrier's other services, each an
// independent implementation of the carrier side of a wire format in
// shared/specs (again sharing no code with gateway/rcs or gateway/sms/mms):
//
//   - rbm.go, rbm_content.go: an RBM-compatible REST API (/v1/phones/…,
//     /token) that validates AgentMessage JSON against the documented limits,
//     counts capability checks, and calls the gateway back with signed
//     Pub/Sub-style pushes (DELIVERED, READ, user messages, server events).
//   - mm7.go: an MM7 relay (POST /mm7) that checks SubmitReq envelopes,
//     content and SMIL namespace-aware and answers SubmitRsp or a SOAP Fault
//     with the MM7 status code; it sends DeliveryReportReq and MO DeliverReq.
//   - callback.go: the ordered, retried queues of callbacks to the gateway.
//   - handset.go: a handset page (/handset) and its JSON under
//     /control/handset to read and answer what a number received.
//
// Imports: the standard library and github.com/linxGnu/gosmpp/{pdu,data}
// only. It must never import gateway/sms/..., gateway/rcs/... or any gateway
// package above it.
//
// HTTP: [Sim.Handler] serves the control API under /control/ and the
// services above. More routes can be mounted with [Sim.Handle].
package sim
