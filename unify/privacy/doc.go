// Package privacy keeps the gateway's promise of holding as little readable
// data, for as short a time, as the operator chooses (issue 9):
//
//   - Sweeper enforces retention: it drops message bodies, inbound texts and
//     delivered reply events once their content retention has run out after
//     a message's final status, and deletes whole rows once their metadata
//     retention has, in small batches bounded per tick so that the send path
//     keeps its throughput. Retention is global and may be overridden per
//     sender.
//   - Eraser erases a subject (DELETE /v1/subjects/{phone}): every body,
//     text, conversation link, consent record, web link, MO fragment,
//     idempotency record and event naming the number, and its capability
//     cache entries through a Forget hook. Metadata kept for accounting is
//     pseudonymised with a keyed hash (Pseudonyms). It answers with counts,
//     emits subject.erased, and is idempotent.
//   - MaskHandler wraps a slog.Handler so that no log line, at any level,
//     carries a full phone number, a message's content or a secret.
//
// It imports the standard library, gateway/unify and gateway/unify/sqlstore
// (where all of its SQL lives). Content sealing at rest is gateway/unify/seal.
package privacy
