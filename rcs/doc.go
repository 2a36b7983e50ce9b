// Package rcs is the RCS channel over Google's RCS Business Messaging (RBM)
// REST API v1 (shared/specs/rbm.md): a Client for the API (service-account
// OAuth2 or a static token, retries with back-off), a CapabilityCache that
// remembers which phones are reachable over RCS and learns from traffic, the
// conversion of a unified message into an RBM AgentMessage with RBM's own
// content limits (CheckLimits), the Channel the core sends and revokes
// through, and the handler logic for the RBM webhook (signed callbacks with
// user messages, receipts and consent changes), reported through Sink.
//
// It imports gateway/unify, golang.org/x/oauth2, the Prometheus client and
// the standard library; never the core (dispatch), the store, web or cmd.
// The core reaches it through dispatch.Channel and dispatch.Revoker, and it
// calls back through Sink.
package rcs
