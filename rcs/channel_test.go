package rcs_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/rcs"
	"gateway/unify"
)

type bundle struct {
	rbm   *script
	ch    *rcs.Channel
	sink  *recordingSink
	clock *fakeClock
	cfg   rcs.Config
}

// setup builds a channel on one scripted RBM carrier "sim-fr", sender "acme"
// with agent "acme_agent", webhook secret "hook-secret".
func setup(t *testing.T, mod ...func(*rcs.Config)) *bundle {
	t.Helper()
	b := &bundle{rbm: newScript(t), sink: &recordingSink{}, clock: newClock()}
	b.cfg = rcs.Config{
		Clients: map[string]*rcs.Client{"sim-fr": newClient(t, b.rbm)},
		Agents:  map[string]string{"acme": "acme_agent", "noagent": ""},
		Secrets: map[string]string{"sim-fr": "hook-secret"},
		NowFunc: b.clock.Now,
	}
	for _, f := range mod {
		f(&b.cfg)
	}
	b.ch = rcs.New(b.cfg, b.sink)
	t.Cleanup(func() { _ = b.ch.Close() })
	return b
}

const attemptID = "6F1C0A1E-5D8B-4C0E-9A41-2F3B7C9D0E11"

func message(c unify.Content) (*unify.Message, *unify.Attempt) {
	m := &unify.Message{ID: "msg_1", To: phone, From: "acme", Content: c}
	a := &unify.Attempt{ID: attemptID, MessageID: m.ID, Channel: unify.ChannelRCS, Carrier: "sim-fr"}
	return m, a
}

func capStep(status int, answer string) step {
	return step{
		method: "GET", path: "/v1/phones/+33612345678/capabilities",
		query:  map[string]string{"requestId": "*", "agentId": "acme_agent"},
		status: status, answer: answer,
	}
}

func golden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	require.NoError(t, err)
	return string(b)
}

func postStep(body string, status int, answer string) step {
	return step{
		method: "POST", path: "/v1/phones/+33612345678/agentMessages",
		query: map[string]string{"messageId": attemptID, "agentId": "acme_agent"},
		body:  body, status: status, answer: answer,
	}
}

const allFeatures = `{"features":["REVOCATION","RICHCARD_STANDALONE","RICHCARD_CAROUSEL","ACTION_CREATE_CALENDAR_EVENT","ACTION_DIAL","ACTION_OPEN_URL","ACTION_SHARE_LOCATION","ACTION_VIEW_LOCATION"]}`

func TestSendCardThenCachedCapability(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.rbm.add(capStep(200, allFeatures), postStep(golden(t, "card"), 200, ""), postStep(golden(t, "card"), 200, ""))
	m, a := message(goldenContents["card"])
	ctx := context.Background()
	res, err := b.ch.Send(ctx, m, a, nil)
	require.NoError(t, err)
	require.Equal(t, unify.SendResult{Segments: 1, Parts: []unify.Part{{
		Seq: 1, Status: unify.StatusSent,
		Ref: unify.ExternalRef{ID: attemptID, Raw: strings.ToLower(attemptID)},
	}}}, res)
	// The second send to the number asks RBM nothing about capabilities.
	_, err = b.ch.Send(ctx, m, a, nil)
	require.NoError(t, err)
}

func TestSendToPhoneWithoutRCS(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.rbm.add(capStep(404, googleError(404, "NOT_FOUND", "not found")))
	m, a := message(unify.Content{Text: "hi"})
	ctx := context.Background()
	for range 2 { // the second answer comes from the cache
		_, err := b.ch.Send(ctx, m, a, nil)
		require.ErrorIs(t, err, unify.ErrNotCapable)
	}
}

func TestSendAgentNotLaunchedIsNotCapable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.rbm.add(capStep(403, googleError(403, "PERMISSION_DENIED", "not a tester")))
	m, a := message(unify.Content{Text: "hi"})
	_, err := b.ch.Send(context.Background(), m, a, nil)
	require.ErrorIs(t, err, unify.ErrNotCapable)
}

func TestSend404MarksCapabilityStale(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.rbm.add(
		capStep(200, allFeatures),
		postStep(textBody, 404, googleError(404, "NOT_FOUND", "gone")),
		capStep(404, ""), // asked again because of the 404
	)
	m, a := message(unify.Content{Text: "hi"})
	ctx := context.Background()
	_, err := b.ch.Send(ctx, m, a, nil)
	require.ErrorIs(t, err, unify.ErrNotCapable)
	var se *unify.SendError
	require.ErrorAs(t, err, &se)
	require.Equal(t, "404 NOT_FOUND", se.Code)
	_, err = b.ch.Send(ctx, m, a, nil)
	require.ErrorIs(t, err, unify.ErrNotCapable)
}

func TestSendFailureKinds(t *testing.T) {
	t.Parallel()
	busy := googleError(429, "RESOURCE_EXHAUSTED", "slow down")
	for _, tc := range []struct {
		name  string
		steps []step
		want  error
	}{
		{"invalid argument", []step{capStep(200, allFeatures), postStep(textBody, 400, googleError(400, "INVALID_ARGUMENT", "bad"))}, unify.ErrInvalidContent},
		{"throttled", []step{capStep(200, allFeatures), postStep(textBody, 429, busy), postStep(textBody, 429, busy), postStep(textBody, 429, busy)}, unify.ErrThrottled},
		{"server errors", []step{capStep(200, allFeatures), postStep(textBody, 502, ""), postStep(textBody, 502, ""), postStep(textBody, 503, "")}, unify.ErrTemporary},
		{"capability check throttled", []step{capStep(429, busy), capStep(429, busy), capStep(429, busy)}, unify.ErrThrottled},
		{"capability check refused as malformed", []step{capStep(400, googleError(400, "INVALID_ARGUMENT", "agent"))}, unify.ErrRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.rbm.add(tc.steps...)
			m, a := message(unify.Content{Text: "hi"})
			_, err := b.ch.Send(context.Background(), m, a, nil)
			require.Equal(t, tc.want, unify.SendKind(err))
		})
	}
}

func TestSendRefusedBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		carrier string
		from    string
		to      string
		content unify.Content
		want    error
	}{
		{"carrier without RBM", "other", "acme", phone, unify.Content{Text: "hi"}, unify.ErrNotCapable},
		{"sender without agent", "sim-fr", "noagent", phone, unify.Content{Text: "hi"}, unify.ErrNotCapable},
		{"unknown sender", "sim-fr", "nobody", phone, unify.Content{Text: "hi"}, unify.ErrNotCapable},
		{"over RBM's limits", "sim-fr", "acme", phone, unify.Content{Text: strings.Repeat("a", rcs.MaxTextBytes+1)}, unify.ErrInvalidContent},
		{"not a phone number", "sim-fr", "acme", "12345", unify.Content{Text: "hi"}, unify.ErrRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t) // any request would fail the script
			m, a := message(tc.content)
			m.From, m.To, a.Carrier = tc.from, tc.to, tc.carrier
			_, err := b.ch.Send(context.Background(), m, a, nil)
			require.Equal(t, tc.want, unify.SendKind(err))
		})
	}
}

func TestSendNeedsThePhonesFeatures(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.rbm.add(capStep(200, `{"features":["RICHCARD_STANDALONE","ACTION_OPEN_URL"]}`))
	m, a := message(goldenContents["carousel"])
	_, err := b.ch.Send(context.Background(), m, a, nil)
	require.ErrorIs(t, err, unify.ErrNotCapable)
	require.ErrorContains(t, err, rcs.FeatureRichCardCarousel)

	// The same phone can take a card with a link.
	b.rbm.add(postStep("", 200, ""))
	m.Content = unify.Content{Card: &unify.Card{Title: "t", Suggestions: []unify.Suggestion{{Type: unify.SuggestOpenURL, Text: "Web", URL: "https://example.com"}}}}
	_, err = b.ch.Send(context.Background(), m, a, nil)
	require.NoError(t, err)
}

func TestRender(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *rcs.Config) { c.TrafficType, c.TTL = "TRANSACTION", 90*time.Minute })
	m, _ := message(goldenContents["card"])
	r, err := b.ch.Render(context.Background(), m, nil)
	require.NoError(t, err)
	require.Equal(t, unify.ChannelRCS, r.Channel)
	require.Empty(t, r.Skipped)
	require.Equal(t, unify.Protection{Transport: "tls"}, r.Protection)
	var got map[string]any
	require.NoError(t, json.Unmarshal(r.RBM, &got))
	require.Equal(t, "TRANSACTION", got["messageTrafficType"])
	require.Equal(t, "5400s", got["ttl"])
	var want map[string]any
	require.NoError(t, json.Unmarshal([]byte(golden(t, "card")), &want))
	require.Equal(t, want["contentMessage"], got["contentMessage"])

	m.From = "noagent"
	r, err = b.ch.Render(context.Background(), m, nil)
	require.NoError(t, err)
	require.Equal(t, "sender noagent has no RBM agent", r.Skipped)

	m.From = "acme"
	m.Content = unify.Content{Card: &unify.Card{Title: strings.Repeat("t", 201), Suggestions: replies(5)}}
	r, err = b.ch.Render(context.Background(), m, nil)
	require.NoError(t, err)
	require.Contains(t, r.Skipped, "content.card.title: ")
	require.Contains(t, r.Skipped, "content.card.suggestions[4]: ")
	require.NotEmpty(t, r.RBM, "the preview still shows what it would be")
}

func TestChannelRevoke(t *testing.T) {
	t.Parallel()
	b := setup(t)
	del := func(status int) step {
		return step{method: "DELETE", path: "/v1/phones/+33612345678/agentMessages/" + attemptID,
			query: map[string]string{"agentId": "acme_agent"}, status: status}
	}
	b.rbm.add(del(200), del(404))
	m, a := message(unify.Content{Text: "hi"})
	ctx := context.Background()
	require.NoError(t, b.ch.Revoke(ctx, m, a))
	require.ErrorIs(t, b.ch.Revoke(ctx, m, a), unify.ErrAlreadyDelivered)

	a.Carrier = "other"
	err := b.ch.Revoke(ctx, m, a)
	require.Error(t, err)
	require.NotErrorIs(t, err, unify.ErrAlreadyDelivered)
}

func TestCapability(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.rbm.add(capStep(200, `{"features":["RICHCARD_STANDALONE"]}`))
	ctx := context.Background()
	cp, cached, err := b.ch.Capability(ctx, "acme", phone)
	require.NoError(t, err)
	require.False(t, cached)
	require.Equal(t, rcs.Capability{Capable: true, Features: []string{"RICHCARD_STANDALONE"}, CheckedAt: b.clock.Now()}, cp)
	b.clock.Advance(time.Hour)
	cp, cached, err = b.ch.Capability(ctx, "acme", phone)
	require.NoError(t, err)
	require.True(t, cached)
	require.Equal(t, time.Hour, b.clock.Now().Sub(cp.CheckedAt))

	_, _, err = b.ch.Capability(ctx, "nobody", phone)
	require.Equal(t, unify.CodeNotFound, unify.CodeOf(err))
	_, _, err = b.ch.Capability(ctx, "acme", "0612345678")
	require.Equal(t, unify.CodeInvalid, unify.CodeOf(err))

	fail := step{method: "GET", path: "/v1/phones/+33700000000/capabilities", status: 500}
	b.rbm.add(fail, fail, fail)
	_, _, err = b.ch.Capability(ctx, "acme", "+33700000000")
	require.Equal(t, unify.CodeUnavailable, unify.CodeOf(err))
}

func TestCapabilityRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *rcs.Config) {
		c.RouteFunc = func(p string) (string, bool) { return "sim-fr", strings.HasPrefix(p, "+33") }
	})
	b.rbm.add(capStep(200, "{}"))
	cp, _, err := b.ch.Capability(context.Background(), "acme", phone)
	require.NoError(t, err)
	require.True(t, cp.Capable)
	require.Empty(t, cp.Features)
	// No RBM carrier serves +1: not capable, nothing asked.
	cp, cached, err := b.ch.Capability(context.Background(), "acme", "+12223334444")
	require.NoError(t, err)
	require.False(t, cached)
	require.False(t, cp.Capable)
}

func TestObserveSMSReply(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const other = "+33700000000"
	b.rbm.add(capStep(200, allFeatures), step{method: "GET", path: "/v1/phones/" + other + "/capabilities", status: 404})
	ctx := context.Background()
	lookup := func(p string) bool {
		_, cached, err := b.ch.Capability(ctx, "acme", p)
		require.NoError(t, err)
		return cached
	}
	require.False(t, lookup(phone))
	require.False(t, lookup(other))
	b.ch.ObserveSMSReply(phone)
	b.ch.ObserveSMSReply(other)
	// Only the number cached as capable is asked again.
	b.rbm.add(capStep(200, allFeatures))
	require.False(t, lookup(phone))
	require.True(t, lookup(other))

	b.ch.Forget(phone)
	b.rbm.add(capStep(200, allFeatures))
	require.False(t, lookup(phone))
}
