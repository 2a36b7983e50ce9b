// Package carriers knows the carriers the gateway is connected to: their
// names, the E.164 prefixes they serve and which channels each offers, and
// routes a phone number to the carrier that serves it (longest prefix wins).
//
// It imports only the standard library and gateway/unify. The simulated
// carrier lives in carriers/sim and shares no code with the channels.
package carriers
