-- +goose Up
-- Privacy (issue 9). content_purged_at is when retention or an erasure
-- dropped a row's content (0: never), so the UI can say "content purged"
-- rather than show an empty body. Events now hold their body sealed like
-- message content: replies carry the phone's text.
ALTER TABLE messages ADD COLUMN content_purged_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE inbound ADD COLUMN content_purged_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN content_key TEXT NOT NULL DEFAULT '';

-- The sweeper's reads. Partial indexes hold only rows that still have
-- content, keyed by created_at, which never changes: status updates (several
-- per message) touch no index entry, and a sweep bounded by created_at < cutoff
-- reads only the rows still waiting for their retention to run out.
CREATE INDEX messages_unpurged ON messages (created_at) WHERE content IS NOT NULL;
CREATE INDEX inbound_unpurged ON inbound (created_at) WHERE content IS NOT NULL;
CREATE INDEX inbound_created ON inbound (created_at);
-- Events other than status events hold a number or a reply's text; they go
-- once delivered and past content retention.
CREATE INDEX events_personal ON events (created_at) WHERE type <> 'message.status';

-- +goose Down
DROP INDEX events_personal;
DROP INDEX inbound_created;
DROP INDEX inbound_unpurged;
DROP INDEX messages_unpurged;
ALTER TABLE events DROP COLUMN content_key;
ALTER TABLE inbound DROP COLUMN content_purged_at;
ALTER TABLE messages DROP COLUMN content_purged_at;
