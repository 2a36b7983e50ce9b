-- +goose Up
-- One consent record per (sender, number): STOP/START by SMS or MMS,
-- UNSUBSCRIBE/SUBSCRIBE on RCS.
CREATE TABLE consents (
    sender     TEXT NOT NULL,
    number     TEXT NOT NULL,
    opted_out  INTEGER NOT NULL,
    channel    TEXT NOT NULL,
    keyword    TEXT NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (sender, number)
);

-- Unguessable, expiring links to a page showing a message's full content
-- (the SMS web fallback).
CREATE TABLE web_links (
    token      TEXT PRIMARY KEY,
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX web_links_message ON web_links (message_id);

-- +goose Down
DROP TABLE web_links;
DROP TABLE consents;
