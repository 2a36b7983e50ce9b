package dispatch

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gateway/unify"
	"gateway/unify/sqlstore"
)

// DefaultStopWords and DefaultStartWords are the keywords that opt a number
// out of, or back into, a sender's messages when sent alone by SMS or MMS.
var (
	DefaultStopWords  = []string{"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "ARRET", "STOP SMS"}
	DefaultStartWords = []string{"START", "UNSTOP", "SUBSCRIBE", "YES"}
)

// ConsentEvent is the body of a consent.changed event.
type ConsentEvent struct {
	Type     string            `json:"type"`
	ID       string            `json:"id"`
	Number   string            `json:"number"`
	Sender   string            `json:"sender"`
	OptedOut bool              `json:"opted_out"`
	Channel  unify.ChannelKind `json:"channel"`
	Keyword  string            `json:"keyword"`
	At       time.Time         `json:"at"`
}

// HandleConsent records an opt-out or opt-in reported by a channel (RBM
// UNSUBSCRIBE / SUBSCRIBE) for every sender reachable at its address.
func (s *Service) HandleConsent(ctx context.Context, c unify.ConsentChange) error {
	if c.At.IsZero() {
		c.At = s.now()
	}
	return s.store.InTx(ctx, func(tx *sqlstore.Tx) error {
		return s.applyConsent(tx, s.sendersAt(c.To), c)
	})
}

func (s *Service) applyConsent(tx *sqlstore.Tx, senders []string, c unify.ConsentChange) error {
	for _, sender := range senders {
		changed, err := tx.SetConsent(sender, c.Number, sqlstore.Consent{OptedOut: c.OptedOut, Channel: c.Channel, Keyword: c.Keyword, UpdatedAt: c.At})
		if err != nil || !changed {
			return err
		}
		ev := ConsentEvent{Type: unify.EventConsentChanged, ID: unify.NewEventID(), Number: c.Number, Sender: sender,
			OptedOut: c.OptedOut, Channel: c.Channel, Keyword: c.Keyword, At: c.At}
		oe, err := outboxEvent(ev.ID, "consent:"+sender+":"+c.Number, ev.Type, ev, s.now())
		if err != nil {
			return err
		}
		if err := tx.AddEvent(oe, ""); err != nil {
			return err
		}
		s.log.Info("consent changed", "sender", sender, "opted_out", c.OptedOut, "channel", c.Channel)
	}
	return nil
}

// consentKeyword reports whether an inbound text is a STOP or START keyword.
func (s *Service) consentKeyword(text string) (optOut bool, keyword string, ok bool) {
	t := strings.ToUpper(strings.Join(strings.Fields(text), " "))
	t = strings.TrimRight(t, ".!")
	for _, w := range s.cfg.StopWords {
		if t == strings.ToUpper(w) {
			return true, t, true
		}
	}
	for _, w := range s.cfg.StartWords {
		if t == strings.ToUpper(w) {
			return false, t, true
		}
	}
	return false, "", false
}

// optedOut fails a send at once when its recipient opted out of the sender.
func (s *Service) optedOut(ctx context.Context, m *unify.Message) (string, error) {
	return optOutReason(m)(s.store.ConsentOf(ctx, m.From, m.To))
}

// optOutReason says why m cannot be sent under the consent record read for
// its sender and recipient: "" when it can.
func optOutReason(m *unify.Message) func(sqlstore.Consent, bool, error) (string, error) {
	return func(c sqlstore.Consent, found bool, err error) (string, error) {
		if err != nil || !found || !c.OptedOut {
			return "", err
		}
		return fmt.Sprintf("the recipient opted out of %s (%s by %s on %s)", m.From, c.Keyword, c.Channel, c.UpdatedAt.Format(time.RFC3339)), nil
	}
}
