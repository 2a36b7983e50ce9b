package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"gateway/unify"
	"gateway/web"
)

const (
	testKey     = "k-test-0123456789"
	testKeyName = "backend"
	testPhone   = "+33612345678"
)

var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// fakeMessages is the core as the API sees it: it records every call and
// keeps accepted messages and idempotency keys in memory.
type fakeMessages struct {
	mu        sync.Mutex
	accepts   []acceptCall
	msgs      map[unify.MessageID]*unify.Message
	idem      map[string]idemEntry
	seq       int
	acceptErr error                                         // returned by Accept when set
	msgFunc   func(unify.MessageID) (*unify.Message, error) // replaces the store lookup when set
	record    bool
}

type acceptCall struct {
	Msg  unify.Message
	Idem unify.Idempotency
}

type idemEntry struct {
	hash string
	id   unify.MessageID
}

func newFake() *fakeMessages {
	return &fakeMessages{msgs: map[unify.MessageID]*unify.Message{}, idem: map[string]idemEntry{}, record: true}
}

func (f *fakeMessages) Accept(_ context.Context, m *unify.Message, idem unify.Idempotency) (*unify.Message, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.record {
		f.accepts = append(f.accepts, acceptCall{Msg: *m, Idem: idem})
	}
	if f.acceptErr != nil {
		return nil, false, f.acceptErr
	}
	scope := idem.Scope + "\x00" + idem.Key
	if idem.Key != "" && f.record {
		if e, ok := f.idem[scope]; ok {
			if e.hash != idem.Hash {
				return nil, false, unify.Errorf(unify.CodeConflict, "the Idempotency-Key was used with another request")
			}
			c := *f.msgs[e.id]
			return &c, true, nil
		}
	}
	f.seq++
	stored := *m
	stored.ID = unify.MessageID(fmt.Sprintf("msg_%026d", f.seq))
	stored.Status = unify.StatusAccepted
	if stored.Policy == "" {
		stored.Policy = "default"
	}
	stored.CreatedAt, stored.UpdatedAt = testNow, testNow
	if f.record {
		f.msgs[stored.ID] = &stored
	}
	if idem.Key != "" && f.record {
		f.idem[scope] = idemEntry{hash: idem.Hash, id: stored.ID}
	}
	c := stored
	return &c, false, nil
}

func (f *fakeMessages) Message(_ context.Context, id unify.MessageID) (*unify.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.msgFunc != nil {
		return f.msgFunc(id)
	}
	m, ok := f.msgs[id]
	if !ok {
		return nil, unify.Errorf(unify.CodeNotFound, "no message %s", id)
	}
	c := *m
	return &c, nil
}

func (f *fakeMessages) acceptCalls() []acceptCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]acceptCall(nil), f.accepts...)
}

// syncBuffer collects log output written from handler goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testBundle struct {
	srv  *web.Server
	fake *fakeMessages
	logs *syncBuffer
	reg  *prometheus.Registry
}

type option func(*web.Config)

func setup(tb testing.TB, opts ...option) *testBundle {
	tb.Helper()
	b := &testBundle{fake: newFake(), logs: &syncBuffer{}, reg: prometheus.NewRegistry()}
	cfg := web.Config{
		APIKeys:    map[string]string{testKey: testKeyName, "k-other-key": "other"},
		Messages:   b.fake,
		Registerer: b.reg,
		Gatherer:   b.reg,
		Logger:     slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		NowFunc:    func() time.Time { return testNow },
	}
	for _, o := range opts {
		o(&cfg)
	}
	b.srv = web.New(cfg)
	return b
}

// request builds a request with the test key and a JSON body.
func request(method, path, body string, header ...string) *http.Request {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("Authorization", "Bearer "+testKey)
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			r.Header.Del(header[i])
			continue
		}
		r.Header.Set(header[i], header[i+1])
	}
	return r
}

// do serves r and checks the exchange against the OpenAPI document: the
// answer always, the request whenever the server took it (2xx), so that the
// document is neither stricter than the server on accepted requests nor
// wrong about any answer the tests see.
func (b *testBundle) do(tb testing.TB, r *http.Request) *httptest.ResponseRecorder {
	tb.Helper()
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(r.Body)
		require.NoError(tb, err)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	rec := httptest.NewRecorder()
	b.srv.ServeHTTP(rec, r)
	checkExchange(tb, r, body, rec)
	return rec
}

func (b *testBundle) post(tb testing.TB, body string, header ...string) *httptest.ResponseRecorder {
	tb.Helper()
	return b.do(tb, request(http.MethodPost, "/v1/messages", body, header...))
}

// problem decodes a problem+json answer and checks its invariants.
func problem(tb testing.TB, rec *httptest.ResponseRecorder, status int, slug string) web.Problem {
	tb.Helper()
	require.Equal(tb, status, rec.Code, rec.Body.String())
	require.Equal(tb, "application/problem+json", rec.Header().Get("Content-Type"))
	var p web.Problem
	require.NoError(tb, json.Unmarshal(rec.Body.Bytes(), &p))
	require.Equal(tb, status, p.Status)
	require.Equal(tb, web.ProblemTypeBase+slug, p.Type)
	require.Equal(tb, http.StatusText(status), p.Title)
	require.NotEmpty(tb, p.RequestID)
	require.Equal(tb, rec.Header().Get("X-Request-Id"), p.RequestID)
	return p
}

// sendBody is a valid request around the given content.
func sendBody(content string) string {
	return `{"to":"` + testPhone + `","from":"acme","content":` + content + `}`
}
