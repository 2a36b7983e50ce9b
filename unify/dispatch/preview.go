package dispatch

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"gateway/unify"
	"gateway/unify/sqlstore"
)

// Preview is what a message would become on each channel, in the order of
// its policy: the answer of POST /v1/previews.
type Preview struct {
	Policy   string            `json:"policy"`
	Channels []unify.Rendering `json:"channels"`
}

// Preview renders m on every step of its policy (or of p when given, the UI
// previewing a policy being edited) without sending anything.
func (s *Service) Preview(ctx context.Context, m *unify.Message, p *unify.Policy) (*Preview, error) {
	if p == nil {
		sender, ok := s.senders[m.From]
		if !ok {
			return nil, unify.Invalid(unify.FieldError{Field: "from", Message: fmt.Sprintf("no sender named %q", m.From)})
		}
		name := m.Policy
		if name == "" {
			name = sender.DefaultPolicy
		}
		if name == "" {
			name = "default"
		}
		pol, err := s.policy(ctx, name)
		if err != nil {
			if unify.CodeOf(err) == unify.CodeNotFound {
				return nil, unify.Invalid(unify.FieldError{Field: "policy", Message: fmt.Sprintf("no policy named %q", name)})
			}
			return nil, err
		}
		p = &pol
	}
	out := &Preview{Policy: p.Name}
	for i, step := range p.Steps {
		ch, ok := s.channels[step.Channel]
		if !ok {
			out.Channels = append(out.Channels, unify.Rendering{Channel: step.Channel, Protection: unify.ProtectionOf(step.Channel, false),
				Skipped: "the gateway has no " + string(step.Channel) + " channel"})
			continue
		}
		r, err := ch.Render(ctx, m, p)
		if err != nil {
			return nil, err
		}
		if _, skip := s.prepare(m, p, i); skip != "" && r.Skipped == "" {
			r.Skipped = skip
		}
		out.Channels = append(out.Channels, r)
	}
	return out, nil
}

// WebLink returns the address of the page that shows m in full (the SMS web
// fallback), creating its unguessable token the first time.
func (s *Service) WebLink(ctx context.Context, m *unify.Message) (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	now := s.now()
	err := s.store.InTx(ctx, func(tx *sqlstore.Tx) error {
		var err error
		token, err = tx.CreateWebLink(m.ID, token, now.Add(s.cfg.WebLinkTTL), now)
		return err
	})
	if err != nil {
		return "", err
	}
	return strings.TrimRight(s.cfg.WebLinkBase, "/") + "/m/" + token, nil
}

// WebLinkMessage returns the message a web link shows, while it works.
func (s *Service) WebLinkMessage(ctx context.Context, token string) (*unify.Message, error) {
	id, ok, err := s.store.WebLink(ctx, token, s.now())
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &unify.Error{Code: unify.CodeNotFound, Message: "this link does not exist or has expired"}
	}
	return s.store.Message(ctx, id)
}

// WebReply routes a tap on suggestion index (in Content.AllSuggestions
// order) of the page behind token, exactly as an RCS tap would come back.
func (s *Service) WebReply(ctx context.Context, token string, index int) error {
	m, err := s.WebLinkMessage(ctx, token)
	if err != nil {
		return err
	}
	all := m.Content.AllSuggestions()
	if index < 0 || index >= len(all) {
		return unify.Invalid(unify.FieldError{Field: "suggestion", Message: "no such suggestion"})
	}
	sg := all[index]
	in := unify.Inbound{Channel: unify.ChannelWeb, Carrier: m.Carrier, From: m.To, Text: sg.Text, Postback: sg.PostbackOrText(), At: s.now()}
	if sender, ok := s.senders[m.From]; ok {
		if addrs := sender.Addresses(); len(addrs) > 0 {
			in.To = addrs[0]
		}
	}
	return s.store.InTx(ctx, func(tx *sqlstore.Tx) error { return s.routeInboundTo(tx, in, m.From, s.now()) })
}
