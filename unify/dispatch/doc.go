// Package dispatch is the gateway's core: it accepts messages, stores them
// with the job that will send them, walks each message through the steps of
// its fallback policy over the channels, turns carrier receipts into attempt
// and message statuses, routes replies to the right conversation, and puts an
// event in the outbox for every change the unified back end must hear of.
//
// It imports gateway/unify, gateway/unify/sqlstore, gateway/carriers,
// gateway/internal/recency and prometheus. Channels are reached through the
// Channel interface declared here; they call back through the Handle*
// methods.
package dispatch
