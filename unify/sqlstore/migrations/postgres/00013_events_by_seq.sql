-- +goose Up
-- The outbox records deliveries, failures and releases by seq, the
-- table's own key, so the unique index on the text id goes: an index
-- write a message's event, and a seek in it for every delivery recorded
-- (docs/BENCHMARKS.md). Seqs come from a sequence and are never given
-- again, which the dispatcher relies on: it holds seqs in memory while an
-- erasure may delete their events.
ALTER TABLE events DROP CONSTRAINT events_id_key;

-- +goose Down
ALTER TABLE events ADD CONSTRAINT events_id_key UNIQUE (id);
