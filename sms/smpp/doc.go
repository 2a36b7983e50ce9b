// Package smpp is the gateway's SMPP 3.4 link to one carrier's SMSC, seen from
// the ESME side: a fixed number of transceiver binds held open with rebind
// back-off, one adaptive (AIMD) submit rate shared by those binds, a window of
// unacknowledged submit_sm per bind, keep-alive, and at-least-once handling of
// deliver_sm (receipts and MO messages are acknowledged only once the
// DeliverFunc has handled them). Several gateway instances share one
// carrier's binds and TPS through a SlotLeaser (slots.go).
//
// The package deals in octets: callers hand it finished parts (UDH included)
// and receive deliver_sm raw. Encoding, segmentation and receipt parsing live
// elsewhere (sms/segment, sms/dlr).
//
// It is built on github.com/linxGnu/gosmpp v0.3.1 in its "all PDU" manual mode
// (see shared/specs/smpp.md §12 for the library's pitfalls) and may import only
// gosmpp, golang.org/x/time/rate, the Prometheus client and the standard
// library.
package smpp
