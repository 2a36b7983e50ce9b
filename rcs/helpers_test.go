package rcs_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/rcs"
	"gateway/unify"
)

// step is one request the scripted RBM server expects and how it answers.
type step struct {
	method string
	path   string            // as sent, with the literal '+': /v1/phones/+33612345678/agentMessages
	query  map[string]string // expected query values; "*" means any non-empty value
	auth   string            // expected Authorization header (default "Bearer test-token")
	body   string            // expected JSON body, compared as JSON; empty: no check

	status int // answer (default 200)
	answer string
	header map[string]string
	hangup bool // close the connection without answering
	stall  bool // answer only when the client gives up (per-request timeout)
}

// script is an httptest RBM server that expects its steps in order. An
// unexpected request, or a step left unused when the test ends, fails the
// test.
type script struct {
	t     testing.TB
	srv   *httptest.Server
	mu    sync.Mutex
	steps []step
	next  int
	seen  []*http.Request
}

func newScript(tb testing.TB, steps ...step) *script {
	tb.Helper()
	s := &script{t: tb, steps: steps}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(func() {
		s.srv.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.next != len(s.steps) {
			tb.Errorf("scripted RBM server: %d of %d expected requests were made", s.next, len(s.steps))
		}
	})
	return s
}

// add appends more expected requests.
func (s *script) add(steps ...step) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.steps = append(s.steps, steps...)
}

func (s *script) requests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.seen...)
}

func (s *script) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.seen = append(s.seen, r)
	if s.next >= len(s.steps) {
		s.mu.Unlock()
		s.t.Errorf("scripted RBM server: unexpected request %s %s", r.Method, r.RequestURI)
		http.Error(w, "unexpected", http.StatusTeapot)
		return
	}
	st := s.steps[s.next]
	s.next++
	s.mu.Unlock()

	path, rawQuery, _ := strings.Cut(r.RequestURI, "?")
	if r.Method != st.method || path != st.path {
		s.t.Errorf("scripted RBM server: got %s %s, want %s %s", r.Method, path, st.method, st.path)
	}
	q, _ := url.ParseQuery(rawQuery)
	for k, want := range st.query {
		got := q.Get(k)
		if want == "*" && got == "" || want != "*" && got != want {
			s.t.Errorf("scripted RBM server: query %s = %q, want %q", k, got, want)
		}
	}
	auth := st.auth
	if auth == "" {
		auth = "Bearer test-token"
	}
	if got := r.Header.Get("Authorization"); got != auth {
		s.t.Errorf("scripted RBM server: Authorization %q, want %q", got, auth)
	}
	if st.body != "" {
		if !jsonEqual(st.body, string(body)) {
			s.t.Errorf("scripted RBM server: body\n%s\nwant\n%s", body, st.body)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			s.t.Errorf("scripted RBM server: Content-Type %q", ct)
		}
	}
	switch {
	case st.hangup:
		hj, _ := w.(http.Hijacker)
		conn, _, err := hj.Hijack()
		if err == nil {
			_ = conn.Close()
		}
		return
	case st.stall:
		<-r.Context().Done()
		return
	}
	for k, v := range st.header {
		w.Header().Set(k, v)
	}
	status := st.status
	if status == 0 {
		status = http.StatusOK
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	answer := st.answer
	if answer == "" && status == http.StatusOK {
		answer = "{}"
	}
	_, _ = io.WriteString(w, answer)
}

func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// googleError is RBM's JSON error body.
func googleError(code int, status, msg string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "status": status, "message": msg}})
	return string(b)
}

// newClient builds a Client on the script with a static token and quick
// back-off.
func newClient(tb testing.TB, s *script, mod ...func(*rcs.ClientConfig)) *rcs.Client {
	tb.Helper()
	cfg := rcs.ClientConfig{
		Carrier: "sim", BaseURL: s.srv.URL, Token: "test-token",
		Timeout: 2 * time.Second, MaxAttempts: 3, MinBackoff: 2 * time.Millisecond, MaxBackoff: 10 * time.Millisecond,
	}
	for _, f := range mod {
		f(&cfg)
	}
	c, err := rcs.NewClient(cfg)
	require.NoError(tb, err)
	return c
}

// recordingSink keeps what the channel reports; while fail is set, every
// report fails with it.
type recordingSink struct {
	mu       sync.Mutex
	receipts []unify.Receipt
	inbound  []unify.Inbound
	consent  []unify.ConsentChange
	fail     error
}

func (r *recordingSink) HandleReceipt(_ context.Context, rc unify.Receipt) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.receipts = append(r.receipts, rc)
	return nil
}

func (r *recordingSink) HandleInbound(_ context.Context, in unify.Inbound) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.inbound = append(r.inbound, in)
	return nil
}

func (r *recordingSink) HandleConsent(_ context.Context, c unify.ConsentChange) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.consent = append(r.consent, c)
	return nil
}

func (r *recordingSink) setFail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = err
}

func (r *recordingSink) counts() (receipts, inbound, consent int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.receipts), len(r.inbound), len(r.consent)
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func ptr[T any](v T) *T { return &v }
