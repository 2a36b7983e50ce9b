package dispatch

import (
	"encoding/json"
	"fmt"
	"time"

	"gateway/unify"
)

func outboxEvent(id, key, typ string, body any, now time.Time) (unify.OutboxEvent, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return unify.OutboxEvent{}, fmt.Errorf("dispatch: encode %s event: %w", typ, err)
	}
	return unify.OutboxEvent{ID: id, Key: key, Type: typ, Body: b, CreatedAt: now}, nil
}
