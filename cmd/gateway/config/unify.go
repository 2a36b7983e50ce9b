package config

import (
	"time"

	"gateway/unify"
)

// UnifyPolicies returns the file's policies as unify.Policy values, with
// unify.DefaultPolicy added when the file defines none named "default"
// (senders and messages may always name "default"). Call it after Validate.
func (f *File) UnifyPolicies() []unify.Policy {
	out := make([]unify.Policy, 0, len(f.Policies)+1)
	hasDefault := false
	for _, p := range f.Policies {
		out = append(out, p.unify())
		hasDefault = hasDefault || p.Name == "default"
	}
	if !hasDefault {
		out = append(out, unify.DefaultPolicy())
	}
	return out
}

func (p Policy) unify() unify.Policy {
	steps := make([]unify.Step, len(p.Steps))
	for i, s := range p.Steps {
		steps[i] = unify.Step{Channel: unify.ChannelKind(s.Channel), Timeout: time.Duration(s.Timeout)}
	}
	return unify.Policy{
		Name:  p.Name,
		Steps: steps,
		SMS: unify.SMSOptions{
			MaxSegments:   p.SMS.MaxSegments,
			NumberReplies: p.SMS.NumberReplies,
			WebLink:       p.SMS.WebLink,
		},
		MMS:             unify.MMSOptions{MaxSize: p.MMS.MaxSize},
		OnRevokeFailure: revokeFailure(p.OnRevokeFailure),
	}
}

func revokeFailure(s string) unify.RevokeFailure {
	if s == "" {
		return unify.RevokeSuppress
	}
	return unify.RevokeFailure(s)
}

// UnifySenders returns the file's senders as unify.Sender values; an empty
// default_policy becomes "default". Call it after Validate.
func (f *File) UnifySenders() []unify.Sender {
	out := make([]unify.Sender, len(f.Senders))
	for i, s := range f.Senders {
		pol := s.DefaultPolicy
		if pol == "" {
			pol = "default"
		}
		out[i] = unify.Sender{
			Name:          s.Name,
			SMSSource:     s.SMSSource,
			SMSNumbers:    append([]string(nil), s.SMSNumbers...),
			RBMAgent:      s.RBMAgent,
			DefaultPolicy: pol,
		}
	}
	return out
}
