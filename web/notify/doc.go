// Package notify delivers events (message.status, message.inbound,
// consent.changed, subject.erased) to the unified back end's webhook.
//
// The core writes each event into an outbox table in the same transaction as
// the state change that causes it; a [Dispatcher] drains that outbox. A store
// with one writer may instead hand it a status event as that transaction
// commits (see [Dispatcher.Reserve]): no claim then reads it back. Every
// event is POSTed with its JSON body, signed with HMAC-SHA256 in
// X-Gateway-Signature (see [Sign] and [Verify]), and retried with
// exponential back-off until the receiver answers 2xx, so delivery is at
// least once: receivers de-duplicate with X-Gateway-Event-Id. Events that
// share a key (a message id for status events) are delivered one at a time,
// oldest first, so a receiver never sees "delivered" before "sent"; events of
// different keys go concurrently, up to a bound. All delivery state (attempts,
// next try, leases) lives in the [Store], so a restart, or another gateway
// instance sharing the database, carries on where this one stopped.
//
// Events of messages sent by an API key of the messenger or whatsapp dialect
// are POSTed as Meta's webhooks instead ([Render]), signed with
// X-Hub-Signature-256 as well, after Meta's subscription handshake when a
// verify token is configured.
//
// It imports the standard library, gateway/unify, its dialect adapters
// (gateway/unify/messenger, gateway/unify/whatsapp), gateway/internal/recency,
// fasthttp's client and the Prometheus client only; the SQL store implements
// [Store] and [Dispatcher.Reserve]'s side without this package importing it.
package notify
