package privacy

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"gateway/unify"
	"gateway/unify/sqlstore"
)

// EraserConfig configures an Eraser.
type EraserConfig struct {
	Store      *sqlstore.Store
	Pseudonyms *Pseudonyms
	// Forget, when set, drops what an in-memory cache holds about a number
	// (the RCS channel's (*rcs.CapabilityCache).Forget). It is called on
	// every erasure, after the store's part has committed, even when the
	// store held nothing.
	Forget func(phone string)
	// OnEvents is called after a commit that queued the subject.erased
	// event (the webhook dispatcher's Wake).
	OnEvents func()
	// Batch is the messages (and inbound messages) erased per transaction
	// (default 500).
	Batch   int
	NowFunc func() time.Time
	Logger  *slog.Logger
}

// Eraser erases what the gateway holds about a phone number.
type Eraser struct {
	cfg EraserConfig
}

// NewEraser builds an eraser.
func NewEraser(cfg EraserConfig) *Eraser {
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.OnEvents == nil {
		cfg.OnEvents = func() {}
	}
	return &Eraser{cfg: cfg}
}

// Erasure is the outcome of an erasure.
type Erasure struct {
	Number     string                 `json:"number"`
	NumberHash string                 `json:"number_hash"`
	Counts     sqlstore.ErasureCounts `json:"counts"`
	// EventID is the subject.erased event queued, "" when there was
	// nothing to erase (a second call).
	EventID string `json:"event_id,omitempty"`
}

// ErasedEvent is the body of a subject.erased event. It carries the number
// in clear: the back end asked for the erasure of its own user and needs to
// match the event to its request; it is sealed at rest like every event body
// and deleted once delivered and past content retention. NumberHash is the
// pseudonym kept in the gateway's accounting rows.
type ErasedEvent struct {
	Type       string                 `json:"type"`
	ID         string                 `json:"id"`
	Number     string                 `json:"number"`
	NumberHash string                 `json:"number_hash"`
	Counts     sqlstore.ErasureCounts `json:"counts"`
	At         time.Time              `json:"at"`
}

// Erase erases phone (E.164): the content of every message to it and from
// it, with the number kept for accounting replaced by its pseudonym;
// messages not yet final are failed unsent; its conversation links, consent
// records, web links, MO fragments, idempotency records and the events
// about it are deleted, and Forget drops its cache entries. Work goes in
// batches, each its own transaction; the last one queues subject.erased
// with the counts. Erasing a number the store holds nothing of changes
// nothing and queues no event, so a second call is a no-op.
func (e *Eraser) Erase(ctx context.Context, phone string) (Erasure, error) {
	if !unify.LooksE164(phone) {
		return Erasure{}, unify.Invalid(unify.FieldError{Field: "phone", Message: "must be an E.164 number such as +33612345678"})
	}
	out := Erasure{Number: phone, NumberHash: e.cfg.Pseudonyms.Hash(phone)}
	pseudonym := e.cfg.Pseudonyms.Pseudonym(phone)
	for {
		var (
			c    sqlstore.ErasureCounts
			more bool
			evID string
		)
		err := e.cfg.Store.InTx(ctx, func(tx *sqlstore.Tx) error {
			now := e.cfg.NowFunc().UTC()
			var err error
			c, more, err = tx.EraseSubject(phone, pseudonym, now, e.cfg.Batch)
			if err != nil || more {
				return err
			}
			total := out.Counts
			total.Add(c)
			if !total.Any() {
				return nil
			}
			ev := ErasedEvent{Type: unify.EventSubjectErased, ID: unify.NewEventID(), Number: phone, NumberHash: out.NumberHash, Counts: total, At: now}
			body, err := json.Marshal(ev)
			if err != nil {
				return fmt.Errorf("privacy: encode event: %w", err)
			}
			evID = ev.ID
			return tx.AddEvent(unify.OutboxEvent{ID: ev.ID, Key: "subject:" + out.NumberHash, Type: ev.Type, Body: body, CreatedAt: now}, "")
		})
		if err != nil {
			return out, fmt.Errorf("privacy: erase: %w", err)
		}
		out.Counts.Add(c)
		if more {
			continue
		}
		out.EventID = evID
		break
	}
	if out.Counts.Any() {
		// The write-ahead log still holds the rows as they were before.
		if err := e.cfg.Store.Checkpoint(ctx); err != nil {
			e.cfg.Logger.Warn("privacy: checkpoint after an erasure failed; the log is overwritten in time", "err", err)
		}
	}
	if e.cfg.Forget != nil {
		e.cfg.Forget(phone)
	}
	if out.EventID != "" {
		e.cfg.OnEvents()
	}
	// The hash, not the number: logs never hold a full number.
	e.cfg.Logger.Info("privacy: subject erased", "number_hash", out.NumberHash, "messages", out.Counts.Messages,
		"inbound", out.Counts.Inbound, "consents", out.Counts.Consents, "events", out.Counts.Events, "event_id", out.EventID)
	return out, nil
}

// EraseSubject is Erase as the REST API (web.SubjectEraser) calls it: the
// pseudonym and the counts by name.
func (e *Eraser) EraseSubject(ctx context.Context, phone string) (string, map[string]int, error) {
	er, err := e.Erase(ctx, phone)
	if err != nil {
		return "", nil, err
	}
	b, err := json.Marshal(er.Counts)
	if err != nil {
		return "", nil, fmt.Errorf("privacy: %w", err)
	}
	var counts map[string]int
	if err := json.Unmarshal(b, &counts); err != nil {
		return "", nil, fmt.Errorf("privacy: %w", err)
	}
	return er.NumberHash, counts, nil
}
