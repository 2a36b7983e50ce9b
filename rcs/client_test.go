package rcs_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/rcs"
	"gateway/unify"
)

const phone = "+33612345678"

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[47][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestCapabilities(t *testing.T) {
	t.Parallel()
	s := newScript(t, step{
		method: "GET", path: "/v1/phones/+33612345678/capabilities",
		query:  map[string]string{"requestId": "*", "agentId": "acme_agent"},
		answer: `{"features":["RICHCARD_STANDALONE","ACTION_DIAL","SOMETHING_NEW"]}`,
	})
	c := newClient(t, s)
	f, err := c.Capabilities(context.Background(), phone, "acme_agent")
	require.NoError(t, err)
	require.Equal(t, []string{"RICHCARD_STANDALONE", "ACTION_DIAL", "SOMETHING_NEW"}, f)
	require.Regexp(t, uuidRE, s.requests()[0].URL.Query().Get("requestId"))
}

func TestCapabilitiesNotRCS(t *testing.T) {
	t.Parallel()
	s := newScript(t, step{
		method: "GET", path: "/v1/phones/+33612345678/capabilities",
		status: 404, answer: googleError(404, "NOT_FOUND", "Requested entity was not found."),
	})
	_, err := newClient(t, s).Capabilities(context.Background(), phone, "acme_agent")
	require.ErrorIs(t, err, rcs.ErrNotRCS)
	var ae *rcs.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, &rcs.APIError{Status: 404, Code: "NOT_FOUND", Message: "Requested entity was not found."}, ae)
}

const textBody = `{"contentMessage":{"text":"hi"}}`

func textMessage() *rcs.AgentMessage {
	return &rcs.AgentMessage{ContentMessage: rcs.ContentMessage{Text: "hi"}}
}

func sendStep(status int, answer string) step {
	return step{
		method: "POST", path: "/v1/phones/+33612345678/agentMessages",
		query: map[string]string{"messageId": "6f1c0a1e-5d8b-4c0e-9a41-2f3b7c9d0e11", "agentId": "acme_agent"},
		body:  textBody, status: status, answer: answer,
	}
}

const msgID = "6f1c0a1e-5d8b-4c0e-9a41-2f3b7c9d0e11"

func TestSendMessageRetriesWithSameMessageID(t *testing.T) {
	t.Parallel()
	s := newScript(t,
		sendStep(500, googleError(500, "INTERNAL", "boom")),
		step{method: "POST", path: "/v1/phones/+33612345678/agentMessages", hangup: true},
		sendStep(200, `{"name":"phones/+33612345678/agentMessages/`+msgID+`"}`),
	)
	err := newClient(t, s).SendMessage(context.Background(), phone, "acme_agent", msgID, textMessage())
	require.NoError(t, err)
	for _, r := range s.requests() {
		require.Equal(t, msgID, r.URL.Query().Get("messageId"))
	}
}

func TestSendMessageBacksOffOn429(t *testing.T) {
	t.Parallel()
	s := newScript(t,
		sendStep(429, googleError(429, "RESOURCE_EXHAUSTED", "slow down")),
		sendStep(200, ""),
	)
	c := newClient(t, s, func(cfg *rcs.ClientConfig) { cfg.MinBackoff, cfg.MaxBackoff = 40*time.Millisecond, 40*time.Millisecond })
	start := time.Now()
	require.NoError(t, c.SendMessage(context.Background(), phone, "acme_agent", msgID, textMessage()))
	// Jitter keeps at least half the back-off.
	require.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
}

func TestSendMessageGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	busy := googleError(429, "RESOURCE_EXHAUSTED", "slow down")
	s := newScript(t, sendStep(429, busy), sendStep(429, busy), sendStep(429, busy))
	err := newClient(t, s).SendMessage(context.Background(), phone, "acme_agent", msgID, textMessage())
	var ae *rcs.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, 429, ae.Status)
	require.ErrorIs(t, rcs.SendError(err), unify.ErrThrottled)
}

func TestSendMessageHonoursRetryAfterUpToMaxBackoff(t *testing.T) {
	t.Parallel()
	s := newScript(t,
		step{method: "POST", path: "/v1/phones/+33612345678/agentMessages", status: 429, header: map[string]string{"Retry-After": "3600"}},
		sendStep(200, ""),
	)
	// Retry-After asks for an hour; MaxBackoff (10ms) bounds the wait.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, newClient(t, s).SendMessage(ctx, phone, "acme_agent", msgID, textMessage()))
}

func TestSendMessageRetriesAfterRequestTimeout(t *testing.T) {
	t.Parallel()
	s := newScript(t,
		step{method: "POST", path: "/v1/phones/+33612345678/agentMessages", stall: true},
		sendStep(200, ""),
	)
	c := newClient(t, s, func(cfg *rcs.ClientConfig) { cfg.Timeout = 50 * time.Millisecond })
	require.NoError(t, c.SendMessage(context.Background(), phone, "acme_agent", msgID, textMessage()))
}

func TestSendMessageStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	s := newScript(t, sendStep(503, googleError(503, "UNAVAILABLE", "later")))
	c := newClient(t, s, func(cfg *rcs.ClientConfig) { cfg.MinBackoff, cfg.MaxBackoff = time.Hour, time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for len(s.requests()) == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	err := c.SendMessage(ctx, phone, "acme_agent", msgID, textMessage())
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, rcs.SendError(err), unify.ErrTemporary)
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		code   string
		kind   error
	}{
		{"bad request", 400, "INVALID_ARGUMENT", unify.ErrInvalidContent},
		{"agent not launched", 403, "PERMISSION_DENIED", unify.ErrNotCapable},
		{"not an rcs user", 404, "NOT_FOUND", unify.ErrNotCapable},
		{"static token refused", 401, "UNAUTHENTICATED", unify.ErrTemporary},
		{"conflict", 409, "ALREADY_EXISTS", unify.ErrRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newScript(t, sendStep(tc.status, googleError(tc.status, tc.code, "no")))
			err := newClient(t, s).SendMessage(context.Background(), phone, "acme_agent", msgID, textMessage())
			se := rcs.SendError(err)
			require.ErrorIs(t, se, tc.kind)
			require.Equal(t, strconv.Itoa(tc.status)+" "+tc.code, se.Code)
		})
	}
}

func TestAPIErrorKind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		want   error
	}{
		{400, unify.ErrInvalidContent},
		{401, unify.ErrTemporary},
		{403, unify.ErrNotCapable},
		{404, unify.ErrNotCapable},
		{408, unify.ErrTemporary},
		{409, unify.ErrRejected},
		{413, unify.ErrInvalidContent},
		{429, unify.ErrThrottled},
		{500, unify.ErrTemporary},
		{503, unify.ErrTemporary},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, (&rcs.APIError{Status: tc.status}).Kind())
		})
	}
	require.ErrorIs(t, rcs.SendError(errors.New("connection reset")), unify.ErrTemporary)
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	revoke := func(status int, answer string) step {
		return step{
			method: "DELETE", path: "/v1/phones/+33612345678/agentMessages/" + msgID,
			query: map[string]string{"agentId": "acme_agent"}, status: status, answer: answer,
		}
	}
	s := newScript(t, revoke(200, "{}"), revoke(404, googleError(404, "NOT_FOUND", "gone")), revoke(500, ""), revoke(500, ""), revoke(500, ""))
	c := newClient(t, s)
	ctx := context.Background()
	require.NoError(t, c.Revoke(ctx, phone, "acme_agent", msgID))

	err := c.Revoke(ctx, phone, "acme_agent", msgID)
	require.ErrorIs(t, err, unify.ErrAlreadyDelivered)

	err = c.Revoke(ctx, phone, "acme_agent", msgID)
	require.Error(t, err)
	require.NotErrorIs(t, err, unify.ErrAlreadyDelivered, "a 500 leaves the outcome unknown")
}

func TestSendEvent(t *testing.T) {
	t.Parallel()
	s := newScript(t,
		step{
			method: "POST", path: "/v1/phones/+33612345678/agentEvents",
			query: map[string]string{"eventId": "0b6e2f2a-1c1d-4b7a-8e3e-9f5d1a2b3c4d", "agentId": "acme_agent"},
			body:  `{"eventType":"READ","messageId":"MxA1"}`,
		},
		step{method: "POST", path: "/v1/phones/+33612345678/agentEvents", body: `{"eventType":"IS_TYPING"}`},
	)
	c := newClient(t, s)
	ctx := context.Background()
	require.NoError(t, c.SendEvent(ctx, phone, "acme_agent", "0b6e2f2a-1c1d-4b7a-8e3e-9f5d1a2b3c4d", rcs.AgentEvent{EventType: rcs.EventRead, MessageID: "MxA1"}))
	require.NoError(t, c.SendEvent(ctx, phone, "acme_agent", "1b6e2f2a-1c1d-4b7a-8e3e-9f5d1a2b3c4d", rcs.AgentEvent{EventType: rcs.EventIsTyping}))
}

func TestClientRefusesMalformedPhone(t *testing.T) {
	t.Parallel()
	s := newScript(t)
	err := newClient(t, s).SendMessage(context.Background(), "+336/../../x", "acme_agent", msgID, textMessage())
	require.Error(t, err)
}

func TestNewClientNeedsOneCredential(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]rcs.ClientConfig{
		"none":         {},
		"both":         {Token: "t", CredentialsJSON: []byte(`{}`)},
		"not a key":    {CredentialsJSON: []byte(`{"type":"authorized_user"}`)},
		"missing file": {CredentialsFile: filepath.Join(t.TempDir(), "nope.json")},
		"bad base url": {Token: "t", BaseURL: "ftp://x"},
	} {
		_, err := rcs.NewClient(cfg)
		require.Error(t, err, name)
	}
}

// tokenServer is an OAuth2 token endpoint that checks the JWT-bearer
// assertion against the service account's public key.
type tokenServer struct {
	t      *testing.T
	key    *rsa.PublicKey
	mu     sync.Mutex
	issued []string
	srv    *httptest.Server
}

func (ts *tokenServer) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		ts.t.Errorf("token request: %v", err)
	}
	if g := r.PostForm.Get("grant_type"); g != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		ts.t.Errorf("grant_type %q", g)
	}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) != 3 {
		ts.t.Errorf("assertion is not a JWT")
		http.Error(w, "bad", 400)
		return
	}
	var hdr struct{ Alg, Typ, Kid string }
	var claims struct {
		Iss, Scope, Aud string
		Iat, Exp        int64
	}
	decodeSeg(ts.t, parts[0], &hdr)
	decodeSeg(ts.t, parts[1], &claims)
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(ts.key, crypto.SHA256, sum[:], sig); err != nil {
		ts.t.Errorf("assertion signature: %v", err)
	}
	if hdr.Alg != "RS256" || hdr.Kid != "key-1" {
		ts.t.Errorf("JWT header %+v", hdr)
	}
	if claims.Iss != "rbm@acme.iam.gserviceaccount.com" || claims.Scope != rcs.Scope || claims.Aud != ts.srv.URL+"/token" || claims.Exp <= claims.Iat {
		ts.t.Errorf("JWT claims %+v", claims)
	}
	ts.mu.Lock()
	tok := "ya29.token-" + strconv.Itoa(len(ts.issued)+1)
	ts.issued = append(ts.issued, tok)
	ts.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
}

func (ts *tokenServer) count() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.issued)
}

func decodeSeg(t *testing.T, seg string, v any) {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		t.Errorf("JWT segment: %v", err)
	}
}

// writeServiceAccount writes a service-account key with a fresh RSA key
// whose token_uri points nowhere: the client must use its TokenURL.
func writeServiceAccount(t *testing.T) (string, *rsa.PublicKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	sa := map[string]string{
		"type": "service_account", "project_id": "acme", "private_key_id": "key-1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "rbm@acme.iam.gserviceaccount.com", "client_id": "1",
		"token_uri": "https://oauth2.invalid/token",
	}
	b, err := json.Marshal(sa)
	require.NoError(t, err)
	name := filepath.Join(t.TempDir(), "sa.json")
	require.NoError(t, os.WriteFile(name, b, 0o600))
	return name, &key.PublicKey
}

func TestServiceAccountTokenFlow(t *testing.T) {
	t.Parallel()
	file, pub := writeServiceAccount(t)
	ts := &tokenServer{t: t, key: pub}
	ts.srv = httptest.NewServer(http.HandlerFunc(ts.serve))
	t.Cleanup(ts.srv.Close)

	s := newScript(t,
		step{method: "POST", path: "/v1/phones/+33612345678/agentMessages", auth: "Bearer ya29.token-1"},
		step{method: "POST", path: "/v1/phones/+33612345678/agentMessages", auth: "Bearer ya29.token-1"},
		// The token was revoked: one 401, a new token, the same request again.
		step{method: "POST", path: "/v1/phones/+33612345678/agentMessages", auth: "Bearer ya29.token-1", status: 401, answer: googleError(401, "UNAUTHENTICATED", "expired")},
		step{method: "POST", path: "/v1/phones/+33612345678/agentMessages", auth: "Bearer ya29.token-2"},
		// A second 401 right after a fresh token is not retried again.
		step{method: "POST", path: "/v1/phones/+33612345678/agentMessages", auth: "Bearer ya29.token-2", status: 401},
		step{method: "POST", path: "/v1/phones/+33612345678/agentMessages", auth: "Bearer ya29.token-3", status: 401},
	)
	c := newClient(t, s, func(cfg *rcs.ClientConfig) {
		cfg.Token, cfg.CredentialsFile, cfg.TokenURL = "", file, ts.srv.URL+"/token"
	})
	ctx := context.Background()
	require.NoError(t, c.SendMessage(ctx, phone, "acme_agent", msgID, textMessage()))
	require.NoError(t, c.SendMessage(ctx, phone, "acme_agent", msgID, textMessage()))
	require.Equal(t, 1, ts.count(), "the token is cached")
	require.NoError(t, c.SendMessage(ctx, phone, "acme_agent", msgID, textMessage()))
	require.Equal(t, 2, ts.count())
	err := c.SendMessage(ctx, phone, "acme_agent", msgID, textMessage())
	require.ErrorIs(t, rcs.SendError(err), unify.ErrTemporary)
	require.Equal(t, 3, ts.count())
}

func TestTokenEndpointRefusal(t *testing.T) {
	t.Parallel()
	file, _ := writeServiceAccount(t)
	tok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"error":"invalid_grant","assertion":"secret-ish"}`, http.StatusBadRequest)
	}))
	t.Cleanup(tok.Close)
	s := newScript(t)
	c := newClient(t, s, func(cfg *rcs.ClientConfig) { cfg.Token, cfg.CredentialsFile, cfg.TokenURL = "", file, tok.URL })
	err := c.SendMessage(context.Background(), phone, "acme_agent", msgID, textMessage())
	require.ErrorContains(t, err, "token request refused with status 400")
	require.NotContains(t, err.Error(), "secret-ish")
	require.ErrorIs(t, rcs.SendError(err), unify.ErrTemporary)
}
