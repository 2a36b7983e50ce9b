// Package sqlstore keeps the gateway's state in SQL: messages and their
// attempts, the job queue that drives sends and timers, the outbox of events
// for the unified back end, conversations, idempotency keys, inbound messages
// and policies. The same queries run on SQLite (the embedded default) and
// PostgreSQL (several gateway instances); each dialect has its own numbered,
// embedded migrations.
//
// All SQL of the gateway lives here. It imports sqlx, the two drivers, goose
// and gateway/unify.
package sqlstore
