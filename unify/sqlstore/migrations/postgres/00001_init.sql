-- +goose Up
-- Times are unix microseconds (INTEGER) so the same SQL orders them on
-- SQLite and PostgreSQL.
CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    to_number       TEXT NOT NULL,
    sender          TEXT NOT NULL,
    policy          TEXT NOT NULL,
    conversation_id TEXT NOT NULL DEFAULT '',
    client_ref      TEXT NOT NULL DEFAULT '',
    content_key     TEXT NOT NULL DEFAULT '',
    content         BYTEA,
    status          TEXT NOT NULL,
    channel         TEXT NOT NULL DEFAULT '',
    carrier         TEXT NOT NULL DEFAULT '',
    error           TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX messages_created ON messages (created_at);
CREATE INDEX messages_to ON messages (to_number, created_at);

CREATE TABLE attempts (
    id          TEXT PRIMARY KEY,
    message_id  TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    step        BIGINT NOT NULL,
    channel     TEXT NOT NULL,
    carrier     TEXT NOT NULL,
    status      TEXT NOT NULL,
    segments    BIGINT NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX attempts_message ON attempts (message_id);

-- One row per piece the carrier acknowledged on its own (an SMS segment).
-- ext_raw / ext_dec / ext_hex are the forms a receipt may name it by.
CREATE TABLE parts (
    attempt_id  TEXT NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,
    seq         BIGINT NOT NULL,
    carrier     TEXT NOT NULL,
    ext_id      TEXT NOT NULL,
    ext_raw     TEXT NOT NULL,
    ext_dec     TEXT NOT NULL DEFAULT '',
    ext_hex     TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL,
    error       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (attempt_id, seq)
);
CREATE INDEX parts_raw ON parts (carrier, ext_raw);
CREATE INDEX parts_dec ON parts (carrier, ext_dec) WHERE ext_dec <> '';
CREATE INDEX parts_hex ON parts (carrier, ext_hex) WHERE ext_hex <> '';

-- Receipts that arrived before the submit_sm_resp that names their part was
-- recorded (SMPP allows the race); reconciled when the part is stored.
CREATE TABLE orphan_receipts (
    id          BIGSERIAL PRIMARY KEY,
    carrier     TEXT NOT NULL,
    ext_raw     TEXT NOT NULL,
    ext_dec     TEXT NOT NULL DEFAULT '',
    ext_hex     TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL,
    error       TEXT NOT NULL DEFAULT '',
    at          BIGINT NOT NULL
);
CREATE INDEX orphan_receipts_carrier ON orphan_receipts (carrier, ext_raw);

CREATE TABLE jobs (
    id          BIGSERIAL PRIMARY KEY,
    kind        TEXT NOT NULL,
    ref         TEXT NOT NULL,
    run_at      BIGINT NOT NULL,
    lease_owner TEXT NOT NULL DEFAULT '',
    lease_until BIGINT NOT NULL DEFAULT 0,
    tries       BIGINT NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX jobs_kind_ref ON jobs (kind, ref);
CREATE INDEX jobs_due ON jobs (run_at);

CREATE TABLE events (
    seq          BIGSERIAL PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    key          TEXT NOT NULL,
    type         TEXT NOT NULL,
    message_id   TEXT NOT NULL DEFAULT '',
    body         BYTEA NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    next_at      BIGINT NOT NULL,
    lease_owner  TEXT NOT NULL DEFAULT '',
    lease_until  BIGINT NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX events_pending ON events (seq) WHERE delivered_at IS NULL;
CREATE INDEX events_message ON events (message_id);

-- The last message sent to a phone from a sender: where its replies go.
CREATE TABLE conversations (
    sender          TEXT NOT NULL,
    phone           TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    conversation_id TEXT NOT NULL DEFAULT '',
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (sender, phone)
);

CREATE TABLE idempotency (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE inbound (
    id              TEXT PRIMARY KEY,
    external_id     TEXT NOT NULL DEFAULT '',
    channel         TEXT NOT NULL,
    carrier         TEXT NOT NULL,
    from_number     TEXT NOT NULL,
    sender          TEXT NOT NULL DEFAULT '',
    to_addr         TEXT NOT NULL DEFAULT '',
    content_key     TEXT NOT NULL DEFAULT '',
    content         BYTEA,
    message_id      TEXT NOT NULL DEFAULT '',
    conversation_id TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX inbound_external ON inbound (carrier, external_id) WHERE external_id <> '';
CREATE INDEX inbound_from ON inbound (from_number);

-- Parts of a concatenated MO kept until the whole text is there (or a
-- timeout gives up waiting for the missing ones).
CREATE TABLE mo_fragments (
    carrier     TEXT NOT NULL,
    from_number TEXT NOT NULL,
    to_addr     TEXT NOT NULL,
    ref         TEXT NOT NULL,
    total       BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    content_key TEXT NOT NULL DEFAULT '',
    content     BYTEA,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (carrier, from_number, to_addr, ref, total, seq)
);

CREATE TABLE policies (
    name       TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE policies;
DROP TABLE mo_fragments;
DROP TABLE inbound;
DROP TABLE idempotency;
DROP TABLE conversations;
DROP TABLE events;
DROP TABLE jobs;
DROP TABLE orphan_receipts;
DROP TABLE parts;
DROP TABLE attempts;
DROP TABLE messages;
