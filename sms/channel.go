package sms

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"gateway/sms/dlr"
	"gateway/sms/segment"
	"gateway/sms/smpp"
	"gateway/unify"
)

// Submitter sends one submit_sm and returns the SMSC's message id: the SMPP
// link of one carrier (*smpp.Link).
type Submitter interface {
	Submit(ctx context.Context, p smpp.Part) (string, error)
}

// WebLinker gives a message the address of a page that shows it in full
// (the policy's web fallback link).
type WebLinker interface {
	WebLink(ctx context.Context, m *unify.Message) (string, error)
}

// Config configures the SMS channel.
type Config struct {
	Links    map[string]Submitter // carrier name → its SMPP link
	Senders  []unify.Sender
	WebLinks WebLinker // nil: policies' web_link option is ignored
	// LinkTLS reports whether a carrier's SMPP link uses TLS (protection).
	LinkTLS func(carrier string) bool
	Logger  *slog.Logger
}

// Channel is the SMS channel over the carriers' SMPP links.
type Channel struct {
	links    map[string]Submitter
	senders  map[string]unify.Sender
	webLinks WebLinker
	linkTLS  func(string) bool
	log      *slog.Logger
	// partRetry is the pause before a part whose outcome is unknown (bind
	// dropped, no response) is submitted again.
	partRetry time.Duration
}

// Ready reports whether the link to carrier can submit now (a bind is up
// on this instance): the core hands messages straight to its workers only
// then.
func (c *Channel) Ready(carrier string) bool {
	l, ok := c.links[carrier]
	if !ok {
		return false
	}
	r, ok := l.(interface{ Ready() bool })
	return !ok || r.Ready()
}

// New builds the channel.
func New(cfg Config) *Channel {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.LinkTLS == nil {
		cfg.LinkTLS = func(string) bool { return false }
	}
	c := &Channel{links: cfg.Links, senders: map[string]unify.Sender{}, webLinks: cfg.WebLinks, linkTLS: cfg.LinkTLS,
		log: cfg.Logger, partRetry: 200 * time.Millisecond}
	for _, s := range cfg.Senders {
		c.senders[s.Name] = s
	}
	return c
}

// Kind is unify.ChannelSMS.
func (c *Channel) Kind() unify.ChannelKind { return unify.ChannelSMS }

// Render writes m as SMS text and counts its segments. It sends nothing
// (previews use it too).
func (c *Channel) Render(ctx context.Context, m *unify.Message, p *unify.Policy) (unify.Rendering, error) {
	r := unify.Rendering{Channel: unify.ChannelSMS, Protection: unify.ProtectionOf(unify.ChannelSMS, c.linkTLS(m.Carrier))}
	opts := RenderOptions{NumberReplies: true}
	if p != nil {
		opts.NumberReplies, opts.MaxSegments = p.SMS.NumberReplies, p.SMS.MaxSegments
		if p.SMS.WebLink && c.webLinks != nil && m.ID != "" && !isPlainText(&m.Content) {
			link, err := c.webLinks.WebLink(ctx, m)
			if err != nil {
				return r, err
			}
			opts.WebLink = link
		}
	}
	text, err := RenderText(&m.Content, opts)
	if err != nil {
		if !errors.Is(err, ErrTooLong) {
			return r, err
		}
		r.Skipped = err.Error()
	}
	enc, segs, units := segment.Count(text)
	r.SMS = &unify.SMSRendering{Text: text, Encoding: enc.String(), Segments: segs, Units: units}
	return r, nil
}

// isPlainText reports content an SMS carries whole, which needs no page.
func isPlainText(c *unify.Content) bool {
	return c.Kind() == unify.KindText && len(c.Suggestions) == 0
}

// Send submits every segment of the message over the carrier's link and
// returns the SMSC's id for each. A part whose outcome is unknown (the bind
// dropped under it) is submitted again until ctx ends; a refusal of any part
// fails the attempt.
func (c *Channel) Send(ctx context.Context, m *unify.Message, a *unify.Attempt, p *unify.Policy) (unify.SendResult, error) {
	link, ok := c.links[a.Carrier]
	if !ok {
		return unify.SendResult{}, &unify.SendError{Kind: unify.ErrNotCapable, Err: fmt.Errorf("sms: carrier %s has no SMPP link", a.Carrier)}
	}
	r, err := c.Render(ctx, m, p)
	if err != nil {
		return unify.SendResult{}, err
	}
	if r.Skipped != "" {
		return unify.SendResult{}, &unify.SendError{Kind: unify.ErrInvalidContent, Err: fmt.Errorf("sms: %s", r.Skipped)}
	}
	plan, err := segment.Split(r.SMS.Text, concatRef(a.ID))
	if err != nil {
		return unify.SendResult{}, &unify.SendError{Kind: unify.ErrInvalidContent, Err: fmt.Errorf("sms: %w", err)}
	}
	src := SourceAddress(c.senders[m.From], m.To)
	dst, err := DestinationAddress(m.To)
	if err != nil {
		return unify.SendResult{}, &unify.SendError{Kind: unify.ErrRejected, Err: err}
	}
	parts := make([]unify.Part, len(plan.Segments))
	errs := make([]error, len(plan.Segments))
	submit := func(i int, sp smpp.Part) {
		id, err := c.submitPart(ctx, link, sp)
		if err == nil {
			k := dlr.KeysOf(id)
			parts[i] = unify.Part{Seq: i + 1, Status: unify.StatusSent, Ref: unify.ExternalRef{ID: id, Raw: k.Raw, Dec: k.Dec, Hex: k.Hex}}
		}
		errs[i] = err
	}
	// Parts go out concurrently: each waits for its own submit_sm_resp, and
	// the link's window and rate limit decide how many are on the wire. A
	// single part, most messages, is sent from this goroutine: one less
	// goroutine and hand-over a message.
	var wg sync.WaitGroup
	for i, seg := range plan.Segments {
		sp := smpp.Part{
			SourceTON: src.TON, SourceNPI: src.NPI, Source: src.Addr,
			DestTON: dst.TON, DestNPI: dst.NPI, Dest: dst.Addr,
			DataCoding: plan.Encoding.DataCoding(), RegisteredDelivery: 0x01,
			ShortMessage: seg.ShortMessage(),
		}
		if seg.UDH != nil {
			sp.EsmClass |= 0x40 // UDHI
		}
		if len(plan.Segments) == 1 {
			submit(i, sp)
			continue
		}
		wg.Go(func() { submit(i, sp) })
	}
	wg.Wait()
	if err := worstError(errs); err != nil {
		return unify.SendResult{}, err
	}
	return unify.SendResult{Parts: parts, Segments: len(parts), Encoding: plan.Encoding.String()}, nil
}

func (c *Channel) submitPart(ctx context.Context, link Submitter, p smpp.Part) (string, error) {
	for {
		id, err := link.Submit(ctx, p)
		if err == nil {
			return id, nil
		}
		se := classify(err)
		if !errors.Is(se, unify.ErrTemporary) && !errors.Is(se, unify.ErrThrottled) || ctx.Err() != nil {
			return "", se
		}
		// Only this part goes again: the others were acknowledged and
		// sending them twice would show the person duplicates.
		t := time.NewTimer(c.partRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", se
		case <-t.C:
		}
	}
}

// classify maps the link's errors onto unify's send failure kinds.
func classify(err error) error {
	var se *smpp.SubmitError
	if errors.As(err, &se) {
		code := ""
		if se.Status != 0 {
			code = fmt.Sprintf("%s 0x%02X", smpp.StatusName(se.Status), se.Status)
		}
		kind := unify.ErrTemporary
		switch se.Kind {
		case smpp.Throttled:
			kind = unify.ErrThrottled
		case smpp.Rejected:
			kind = unify.ErrRejected
		}
		return &unify.SendError{Kind: kind, Code: code, Err: err}
	}
	return &unify.SendError{Kind: unify.ErrTemporary, Err: err}
}

// worstError returns the error that decides the attempt: a refusal beats a
// temporary failure (retrying cannot help), which beats success.
func worstError(errs []error) error {
	var temp error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if errors.Is(err, unify.ErrRejected) || errors.Is(err, unify.ErrInvalidContent) {
			return err
		}
		if temp == nil {
			temp = err
		}
	}
	return temp
}

// concatRef derives the 8-bit concatenation reference from the attempt id:
// stable for the attempt, so a part re-sent after a bind drop carries the
// same reference as its siblings and the phone still joins them.
func concatRef(id unify.AttemptID) uint8 {
	h := sha256.Sum256([]byte(id))
	return uint8(binary.BigEndian.Uint16(h[:2]))
}
