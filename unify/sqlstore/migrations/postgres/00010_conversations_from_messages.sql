-- +goose Up
-- A reply's conversation is the newest message to its number from its sender
-- that reached the carrier, which the messages already say (on the index
-- messages_page_to). Keeping it in a table of its own cost an upsert on
-- every send, about 2 % of the gateway's throughput (docs/BENCHMARKS.md).
DROP TABLE conversations;

-- +goose Down
CREATE TABLE conversations (
    sender          TEXT NOT NULL,
    phone           TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    conversation_id TEXT NOT NULL DEFAULT '',
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (sender, phone)
);
INSERT INTO conversations (sender, phone, message_id, conversation_id, updated_at)
SELECT m.sender, m.to_number, m.id, m.conversation_id, m.created_at FROM messages m
WHERE m.status IN ('sent', 'delivered', 'read') AND NOT EXISTS (
    SELECT 1 FROM messages n WHERE n.to_number = m.to_number AND n.sender = m.sender
    AND n.status IN ('sent', 'delivered', 'read')
    AND (n.created_at > m.created_at OR (n.created_at = m.created_at AND n.id > m.id)));
