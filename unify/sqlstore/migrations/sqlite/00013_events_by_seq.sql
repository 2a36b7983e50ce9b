-- +goose Up
-- The outbox records deliveries, failures and releases by seq, the
-- table's own key, so the unique index on the text id goes: two index
-- writes a message, and a seek in it for every delivery recorded
-- (docs/BENCHMARKS.md). SQLite drops a constraint only by rebuilding the
-- table, once, at the upgrade. AUTOINCREMENT stays: the dispatcher holds
-- seqs in memory while an erasure may delete their events, and a seq
-- given again to a new event would have that one marked delivered
-- without being sent.
CREATE TABLE events_by_seq (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL,
    key          TEXT NOT NULL,
    type         TEXT NOT NULL,
    message_id   TEXT NOT NULL DEFAULT '',
    body         BLOB NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      INTEGER NOT NULL,
    lease_owner  TEXT NOT NULL DEFAULT '',
    lease_until  INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    delivered_at INTEGER,
    dialect      TEXT NOT NULL DEFAULT '',
    content_key  TEXT NOT NULL DEFAULT ''
);
INSERT INTO events_by_seq (seq, id, key, type, message_id, body, attempts, next_at, lease_owner, lease_until, last_error, created_at, delivered_at, dialect, content_key)
    SELECT seq, id, key, type, message_id, body, attempts, next_at, lease_owner, lease_until, last_error, created_at, delivered_at, dialect, content_key FROM events;
-- Seqs of events deleted at the top are not given again.
INSERT INTO sqlite_sequence (name, seq) SELECT 'events_by_seq', seq FROM sqlite_sequence WHERE name = 'events'
    AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'events_by_seq');
UPDATE sqlite_sequence SET seq = max(seq, (SELECT seq FROM sqlite_sequence WHERE name = 'events'))
    WHERE name = 'events_by_seq' AND EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'events');
DROP TABLE events;
ALTER TABLE events_by_seq RENAME TO events;
CREATE INDEX events_pending ON events (seq) WHERE delivered_at IS NULL;
CREATE INDEX events_message ON events (message_id);
CREATE INDEX events_personal ON events (created_at) WHERE type <> 'message.status';

-- +goose Down
CREATE UNIQUE INDEX events_id ON events (id);
