package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/unify"
)

func rcsThenSMS(onRevokeFailure unify.RevokeFailure) unify.Policy {
	return unify.Policy{Name: "otp", Steps: []unify.Step{{Channel: unify.ChannelRCS, Timeout: 50 * time.Millisecond}, {Channel: unify.ChannelSMS}},
		OnRevokeFailure: onRevokeFailure}
}

func TestTimeoutRevokesThenFallsBack(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		policy      unify.RevokeFailure
		revokeErr   error
		wantRCS     unify.Status
		wantMessage unify.Status
		wantSMS     bool
	}{
		{"revoked", unify.RevokeSuppress, nil, unify.StatusRevoked, unify.StatusSent, true},
		{"already delivered, suppress", unify.RevokeSuppress, fmt.Errorf("rbm: %w", unify.ErrAlreadyDelivered), unify.StatusDelivered, unify.StatusDelivered, false},
		{"already delivered, send anyway", unify.RevokeSendAnyway, fmt.Errorf("rbm: %w", unify.ErrAlreadyDelivered), unify.StatusDelivered, unify.StatusSent, true},
		{"unconfirmed, suppress", unify.RevokeSuppress, errors.New("timeout"), unify.StatusSent, unify.StatusSent, false},
		{"unconfirmed, send anyway", unify.RevokeSendAnyway, errors.New("timeout"), unify.StatusExpired, unify.StatusSent, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, rcsThenSMS(tc.policy))
			b.rcs.RevokeFunc = func(*unify.Attempt) error { return tc.revokeErr }
			m := b.accept(t, unify.Message{To: "+33612345678", From: "acme", Policy: "otp", Content: text("code 1234")})
			require.Eventually(t, func() bool { return b.rcs.revokes.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
			var got *unify.Message
			require.Eventually(t, func() bool {
				var err error
				got, err = b.store.Message(context.Background(), m.ID)
				require.NoError(t, err)
				if tc.wantSMS {
					return len(got.Attempts) == 2 && got.Status == tc.wantMessage
				}
				return got.Attempts[0].Status == tc.wantRCS && got.Status == tc.wantMessage
			}, 5*time.Second, 5*time.Millisecond)
			require.Equal(t, tc.wantRCS, got.Attempts[0].Status, got.Attempts[0].Error)
			if tc.wantSMS {
				require.Equal(t, unify.ChannelSMS, got.Attempts[1].Channel)
				require.EqualValues(t, 1, b.sms.calls.Load())
			} else {
				time.Sleep(100 * time.Millisecond)
				require.Zero(t, b.sms.calls.Load(), "no second copy")
			}
		})
	}
}

func TestLateDeliveryAfterFallbackIsRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t, rcsThenSMS(unify.RevokeSuppress))
	m := b.accept(t, unify.Message{To: "+33612345678", From: "acme", Policy: "otp", Content: text("x")})
	require.Eventually(t, func() bool {
		got, _ := b.store.Message(context.Background(), m.ID)
		return len(got.Attempts) == 2
	}, 5*time.Second, 5*time.Millisecond)
	got, _ := b.store.Message(context.Background(), m.ID)
	rcsAttempt := got.Attempts[0]
	require.NoError(t, b.svc.HandleReceipt(context.Background(), unify.Receipt{Channel: unify.ChannelRCS, Carrier: "sim",
		Ref: unify.ExternalRef{Raw: string(rcsAttempt.ID)}, Status: unify.StatusDelivered}))
	got, _ = b.store.Message(context.Background(), m.ID)
	require.Equal(t, unify.StatusDelivered, got.Attempts[0].Status)
	require.Contains(t, got.Attempts[0].Error, "after the fallback")
	require.Equal(t, unify.StatusSent, got.Status, "the message follows its SMS attempt")
}

func TestNotCapableFallsBackAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, rcsThenSMS(unify.RevokeSuppress))
	b.rcs.SendFunc = func(*unify.Message, *unify.Attempt) (unify.SendResult, error) {
		return unify.SendResult{}, &unify.SendError{Kind: unify.ErrNotCapable, Err: errors.New("rbm 404")}
	}
	m := b.accept(t, unify.Message{To: "+33612345678", From: "acme", Policy: "otp", Content: text("x")})
	got := b.waitStatus(t, m.ID, unify.StatusSent)
	require.Len(t, got.Attempts, 2)
	require.Equal(t, unify.StatusFailed, got.Attempts[0].Status)
	require.Equal(t, unify.ChannelSMS, got.Channel)
}

func TestStopBlocksAndStartLifts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	m := b.accept(t, unify.Message{To: "+33612345678", From: "acme", Content: text("promo")})
	b.waitStatus(t, m.ID, unify.StatusSent)
	require.NoError(t, b.svc.HandleInbound(ctx, unify.Inbound{Channel: unify.ChannelSMS, Carrier: "sim", From: "+33612345678", To: "ACME", Text: " stop "}))
	blocked := b.accept(t, unify.Message{To: "+33612345678", From: "acme", Content: text("promo 2")})
	got := b.waitStatus(t, blocked.ID, unify.StatusFailed)
	require.Contains(t, got.Error, "opted out")
	require.Empty(t, got.Attempts)

	require.NoError(t, b.svc.HandleConsent(ctx, unify.ConsentChange{Channel: unify.ChannelRCS, Number: "+33612345678", To: "acme_agent", OptedOut: false, Keyword: "SUBSCRIBE"}))
	ok := b.accept(t, unify.Message{To: "+33612345678", From: "acme", Content: text("welcome back")})
	b.waitStatus(t, ok.ID, unify.StatusSent)
}

func TestPreviewAndWebReply(t *testing.T) {
	t.Parallel()
	b := setup(t, rcsThenSMS(unify.RevokeSuppress))
	ctx := context.Background()
	msg := unify.Message{To: "+33612345678", From: "acme", Policy: "otp", ConversationID: "conv-1", Content: unify.Content{
		Card: &unify.Card{Title: "Order", Suggestions: []unify.Suggestion{{Type: unify.SuggestReply, Text: "Track", Postback: "track"}, {Type: unify.SuggestReply, Text: "Cancel", Postback: "cancel"}}}}}
	p, err := b.svc.Preview(ctx, &msg, nil)
	require.NoError(t, err)
	require.Equal(t, "otp", p.Policy)
	require.Len(t, p.Channels, 2)
	require.Equal(t, unify.ChannelRCS, p.Channels[0].Channel)
	require.Equal(t, unify.ChannelSMS, p.Channels[1].Channel)

	m := b.accept(t, msg)
	b.waitStatus(t, m.ID, unify.StatusSent)
	link, err := b.svc.WebLink(ctx, m)
	require.NoError(t, err)
	again, err := b.svc.WebLink(ctx, m)
	require.NoError(t, err)
	require.Equal(t, link, again, "one link per message")
	token := link[len("/m/"):]
	require.NoError(t, b.svc.WebReply(ctx, token, 1))
	evs := b.events(t, m.ID)
	last := evs[len(evs)-1]
	require.Equal(t, "message.inbound", last["type"])
	require.Equal(t, "cancel", last["postback"])
	require.Equal(t, "conv-1", last["conversation_id"])
	require.Equal(t, "web", last["channel"])
	require.Error(t, b.svc.WebReply(ctx, "nope", 0))
}
