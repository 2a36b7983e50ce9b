-- +goose Up
-- A receipt names a part; with its message's id on the part, the lookup of
-- the part is all a receipt needs before it reads the message (the attempt
-- is read only when a recycled id matches several parts).
ALTER TABLE parts ADD COLUMN message_id TEXT NOT NULL DEFAULT '';
UPDATE parts SET message_id = (SELECT message_id FROM attempts WHERE attempts.id = parts.attempt_id);

-- +goose Down
ALTER TABLE parts DROP COLUMN message_id;
