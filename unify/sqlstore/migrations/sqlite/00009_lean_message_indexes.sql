-- +goose Up
-- Every index on messages is written by every message, and the status and
-- channel ones again on every change of them: under load the two dropped
-- here cost about 5 % of the gateway's throughput (docs/BENCHMARKS.md). A
-- deployment has few senders and three channels, so a page of the traffic
-- list filtered by either walks messages_page newest first and keeps the
-- rows that match, which are rarely far apart; the number and the status,
-- where a page may be one row in a million (one person's, the failed ones),
-- keep their indexes.
DROP INDEX messages_page_sender;
DROP INDEX messages_page_channel;

-- +goose Down
CREATE INDEX messages_page_sender ON messages (sender, created_at, id);
CREATE INDEX messages_page_channel ON messages (channel, created_at, id);
