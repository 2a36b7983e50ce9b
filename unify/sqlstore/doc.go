// Package sqlstore keeps the gateway's state in SQL: messages and their
// attempts, the job queue that drives sends and timers, the outbox of events
// for the unified back end, idempotency keys, inbound messages
// and policies, and the leases by which several instances share a carrier's
// bind slots (binds.go). The same queries run on SQLite (the embedded
// default) and PostgreSQL (several gateway instances); each dialect has its
// own numbered, embedded migrations, and store_test.go is the conformance
// suite both pass.
//
// All SQL of the gateway lives here. It imports sqlx, the two drivers, goose
// and gateway/unify.
package sqlstore
