-- +goose Up
-- The event dialect a message's back end speaks (unified, messenger,
-- whatsapp), chosen by the API key that sent it; its events and the
-- replies to it are delivered in that dialect.
ALTER TABLE messages ADD COLUMN dialect TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN dialect TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE events DROP COLUMN dialect;
ALTER TABLE messages DROP COLUMN dialect;
