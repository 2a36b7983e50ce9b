package dispatch

import (
	"context"
	"strings"
	"time"

	"gateway/unify"
	"gateway/unify/sqlstore"
)

// HandleInbound routes a message from a phone to the conversation of the last
// message sent to that phone from the sender it answers, and queues the
// message.inbound event. It returns once that is durably recorded: a channel
// acknowledges the carrier only then. Pieces of a concatenated SMS are kept
// until the whole text is there.
func (s *Service) HandleInbound(ctx context.Context, in unify.Inbound) error {
	if in.At.IsZero() {
		in.At = s.now()
	}
	var err error
	if in.Part != nil && in.Part.Total > 1 {
		err = s.addFragment(ctx, in)
	} else {
		err = s.store.InTx(ctx, func(tx *sqlstore.Tx) error { return s.routeInbound(tx, in, s.now()) })
	}
	if err != nil {
		return err
	}
	if s.cfg.OnInbound != nil {
		s.cfg.OnInbound(in)
	}
	return nil
}

func (s *Service) addFragment(ctx context.Context, in unify.Inbound) error {
	f := sqlstore.Fragment{Carrier: in.Carrier, From: in.From, To: in.To, Ref: in.Part.Ref,
		Total: in.Part.Total, Seq: in.Part.Seq, Text: in.Text, At: in.At}
	return s.store.InTx(ctx, func(tx *sqlstore.Tx) error {
		frags, err := tx.AddFragment(f)
		if err != nil {
			return err
		}
		if len(frags) < f.Total {
			if len(frags) == 1 {
				return tx.AddJob(sqlstore.JobMOFlush, f.GroupKey(), s.now().Add(s.cfg.MOTimeout))
			}
			return nil
		}
		return s.routeFragments(tx, in, f, frags)
	})
}

// flushFragments routes what arrived of a concatenated SMS whose other parts
// never came, marking the gaps, rather than holding it forever.
func (s *Service) flushFragments(ctx context.Context, j sqlstore.Job) error {
	f, err := sqlstore.FragmentFromKey(j.Ref)
	if err != nil {
		return s.store.InTx(ctx, func(tx *sqlstore.Tx) error { return tx.CompleteJob(j, s.cfg.Owner) })
	}
	return s.store.InTx(ctx, func(tx *sqlstore.Tx) error {
		frags, err := tx.Fragments(f)
		if err != nil {
			return err
		}
		if len(frags) > 0 {
			in := unify.Inbound{Channel: unify.ChannelSMS, Carrier: f.Carrier, From: f.From, To: f.To, At: frags[0].At}
			if err := s.routeFragments(tx, in, f, frags); err != nil {
				return err
			}
		}
		return tx.CompleteJob(j, s.cfg.Owner)
	})
}

func (s *Service) routeFragments(tx *sqlstore.Tx, in unify.Inbound, f sqlstore.Fragment, frags []sqlstore.Fragment) error {
	var b strings.Builder
	next := 1
	for _, fr := range frags {
		if fr.Seq != next {
			b.WriteString("[…]")
		}
		b.WriteString(fr.Text)
		next = fr.Seq + 1
	}
	if next <= f.Total {
		b.WriteString("[…]")
	}
	in.Text, in.Part, in.At = b.String(), nil, frags[0].At
	if err := tx.DeleteFragments(f); err != nil {
		return err
	}
	if err := tx.DeleteJob(sqlstore.JobMOFlush, f.GroupKey()); err != nil {
		return err
	}
	return s.routeInbound(tx, in, s.now())
}

// routeInbound finds the conversation a reply belongs to and queues its event.
func (s *Service) routeInbound(tx *sqlstore.Tx, in unify.Inbound, now time.Time) error {
	return s.routeInboundTo(tx, in, "", now)
}

// routeInboundTo is routeInbound with the sender known in advance (a tap on
// a web fallback page knows its message).
func (s *Service) routeInboundTo(tx *sqlstore.Tx, in unify.Inbound, knownSender string, now time.Time) error {
	var (
		sender string
		conv   sqlstore.Conversation
		found  bool
	)
	candidates := s.sendersAt(in.To)
	if knownSender != "" {
		candidates = []string{knownSender}
	}
	for _, name := range candidates {
		c, ok, err := tx.Conversation(name, in.From)
		if err != nil {
			return err
		}
		if ok && (!found || c.CreatedAt.After(conv.CreatedAt)) {
			sender, conv, found = name, c, true
		}
		if sender == "" {
			sender = name
		}
	}
	dialect := ""
	if found {
		orig, err := tx.Message(conv.MessageID)
		if err != nil && unify.CodeOf(err) != unify.CodeNotFound {
			return err
		}
		if orig != nil {
			dialect = orig.Dialect
			if in.Postback == "" && in.Text != "" {
				if sg, ok := unify.MatchReply(in.Text, orig.Content.AllSuggestions()); ok {
					in.Postback = sg.PostbackOrText()
				}
			}
		}
	}
	if in.Channel == unify.ChannelSMS || in.Channel == unify.ChannelMMS {
		if optOut, kw, ok := s.consentKeyword(in.Text); ok {
			targets := s.sendersAt(in.To)
			if len(targets) == 0 && sender != "" {
				targets = []string{sender}
			}
			if err := s.applyConsent(tx, targets, unify.ConsentChange{Channel: in.Channel, Carrier: in.Carrier, Number: in.From,
				To: in.To, OptedOut: optOut, Keyword: kw, At: in.At}); err != nil {
				return err
			}
		}
	}
	rec := sqlstore.InboundRecord{ID: "in_" + string(unify.NewMessageID())[4:], Inbound: in, Sender: sender}
	if found {
		rec.MessageID, rec.ConversationID = conv.MessageID, conv.ConversationID
	}
	dup, err := tx.InsertInbound(rec)
	if err != nil || dup {
		return err
	}
	to := sender
	if to == "" {
		to = in.To
	}
	media := in.Media
	if media == nil {
		media = []unify.Media{}
	}
	ev := unify.InboundEvent{
		Type: unify.EventInbound, ID: unify.NewEventID(), From: in.From, To: to, Channel: in.Channel, Carrier: in.Carrier,
		ConversationID: rec.ConversationID, InReplyTo: rec.MessageID, Text: in.Text, Postback: in.Postback,
		Media: media, Location: in.Location, At: in.At,
	}
	oe, err := outboxEvent(ev.ID, "in:"+to+":"+in.From, ev.Type, ev, now)
	if err != nil {
		return err
	}
	oe.Dialect = dialect
	s.metrics.inbound.WithLabelValues(string(in.Channel)).Inc()
	return tx.AddEvent(oe, rec.MessageID)
}

// sendersAt lists the senders reachable at an address as a carrier reports
// it: SMSCs drop or keep the '+' of long numbers at will, so digits are
// compared when the address is numeric.
func (s *Service) sendersAt(addr string) []string {
	var out []string
	for _, sd := range s.cfg.Senders {
		for _, a := range sd.Addresses() {
			if sameAddress(a, addr) {
				out = append(out, sd.Name)
				break
			}
		}
	}
	return out
}

func sameAddress(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	da, db := strings.TrimPrefix(a, "+"), strings.TrimPrefix(b, "+")
	return da != "" && da == db && isDigits(da)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
