package unify

import (
	"fmt"
	"time"
)

// Policy is an ordered list of channels to try and the options that shape
// the content on each.
type Policy struct {
	Name            string        `json:"name"`
	Steps           []Step        `json:"steps"`
	SMS             SMSOptions    `json:"sms"`
	MMS             MMSOptions    `json:"mms"`
	OnRevokeFailure RevokeFailure `json:"on_revoke_failure,omitempty"`
}

// Step is one channel of a policy. Timeout is how long the step may wait for
// delivery before the next step is taken (0: wait for a final receipt).
type Step struct {
	Channel ChannelKind   `json:"channel"`
	Timeout time.Duration `json:"timeout"`
}

// SMSOptions shape how rich content is written as SMS.
type SMSOptions struct {
	MaxSegments   int  `json:"max_segments,omitempty"`   // 0: no budget beyond the channel's own
	NumberReplies bool `json:"number_replies,omitempty"` // "Reply 1 for Track, 2 for Website"
	WebLink       bool `json:"web_link,omitempty"`       // add a link to a page that shows the full content
}

// MMSOptions shape MMS content.
type MMSOptions struct {
	MaxSize int `json:"max_size,omitempty"` // bytes; 0: the carrier's
}

// RevokeFailure says what to do when an RCS message that timed out cannot be
// revoked: it may still reach the phone, so a fallback could mean two copies.
type RevokeFailure string

// Revoke failure choices.
const (
	RevokeSuppress   RevokeFailure = "suppress"    // no second copy (marketing)
	RevokeSendAnyway RevokeFailure = "send_anyway" // one-time codes must arrive
)

// DefaultPolicy is used when neither the message nor its sender names one
// and the store has no policy called "default".
func DefaultPolicy() Policy {
	return Policy{Name: "default", Steps: []Step{{Channel: ChannelSMS}}, SMS: SMSOptions{NumberReplies: true}}
}

// Validate returns every problem with p, with paths below prefix.
func (p *Policy) Validate(prefix string) []FieldError {
	v := validator{}
	if p.Name == "" {
		v.add(join(prefix, "name"), "must not be empty")
	}
	if len(p.Steps) == 0 {
		v.add(join(prefix, "steps"), "must hold at least one step")
	}
	seen := map[ChannelKind]bool{}
	for i, s := range p.Steps {
		f := fmt.Sprintf("%s[%d]", join(prefix, "steps"), i)
		if !s.Channel.Valid() {
			v.add(join(f, "channel"), "must be one of rcs, mms, sms")
		} else if seen[s.Channel] {
			v.add(join(f, "channel"), "appears twice in the policy")
		}
		seen[s.Channel] = true
		if s.Timeout < 0 {
			v.add(join(f, "timeout"), "must not be negative")
		}
	}
	if p.SMS.MaxSegments < 0 || p.SMS.MaxSegments > 255 {
		v.add(join(prefix, "sms.max_segments"), "must be between 0 and 255")
	}
	if p.MMS.MaxSize < 0 {
		v.add(join(prefix, "mms.max_size"), "must not be negative")
	}
	switch p.OnRevokeFailure {
	case "", RevokeSuppress, RevokeSendAnyway:
	default:
		v.add(join(prefix, "on_revoke_failure"), "must be suppress or send_anyway")
	}
	return v.errs
}
