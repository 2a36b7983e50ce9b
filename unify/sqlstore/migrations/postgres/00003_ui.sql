-- +goose Up
-- The operator UI's sessions, kept server-side so that signing out revokes
-- them. id is the SHA-256 (hex) of the cookie's token: a copy of the
-- database opens no session. csrf is the session's form token.
CREATE TABLE ui_sessions (
    id         TEXT PRIMARY KEY,
    csrf       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX ui_sessions_expires ON ui_sessions (expires_at);

-- The traffic list pages by keyset, newest first: ORDER BY created_at DESC,
-- id DESC after (created_at, id) < (cursor). One index per filter, each
-- ending in (created_at, id), lets every filter (and the time range) walk an
-- index in order and stop after one page, however many rows there are.
-- (created_at, id) and (to_number, created_at, id) supersede the two
-- indexes of 00001, which would only cost writes.
DROP INDEX IF EXISTS messages_created;
DROP INDEX IF EXISTS messages_to;
CREATE INDEX messages_page ON messages (created_at, id);
CREATE INDEX messages_page_to ON messages (to_number, created_at, id);
CREATE INDEX messages_page_sender ON messages (sender, created_at, id);
CREATE INDEX messages_page_status ON messages (status, created_at, id);
CREATE INDEX messages_page_channel ON messages (channel, created_at, id);

-- A message page lists the replies routed to it.
CREATE INDEX inbound_message ON inbound (message_id);

-- +goose Down
DROP INDEX inbound_message;
DROP INDEX messages_page_channel;
DROP INDEX messages_page_status;
DROP INDEX messages_page_sender;
DROP INDEX messages_page_to;
DROP INDEX messages_page;
CREATE INDEX messages_to ON messages (to_number, created_at);
CREATE INDEX messages_created ON messages (created_at);
DROP TABLE ui_sessions;
