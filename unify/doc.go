// Package unify is the gateway's vocabulary: the unified message model that the
// REST API accepts (text, media, rich card, carousel, location, suggestions),
// its validation, the statuses a message and each of its attempts go through,
// fallback policies, receipts and inbound messages coming back from the
// channels, events for the unified back end, and the error kinds every layer
// shares.
//
// It imports only the standard library: every other package depends on it and
// it depends on none of them.
package unify
