package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"gateway/web"
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		auth      string // "" removes the header
		status    int
		challenge string
	}{
		{"missing", "", http.StatusUnauthorized, `Bearer realm="gateway"`},
		{"wrong key", "Bearer k-wrong", http.StatusUnauthorized, `Bearer realm="gateway", error="invalid_token"`},
		{"prefix of the key", "Bearer " + testKey[:5], http.StatusUnauthorized, `Bearer realm="gateway", error="invalid_token"`},
		{"key with a suffix", "Bearer " + testKey + "x", http.StatusUnauthorized, `Bearer realm="gateway", error="invalid_token"`},
		{"basic scheme", "Basic " + testKey, http.StatusUnauthorized, `Bearer realm="gateway"`},
		{"no token", "Bearer ", http.StatusUnauthorized, `Bearer realm="gateway"`},
		{"bare key", testKey, http.StatusUnauthorized, `Bearer realm="gateway"`},
		{"right key", "Bearer " + testKey, http.StatusAccepted, ""},
		{"scheme is case-insensitive", "bearer " + testKey, http.StatusAccepted, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			rec := b.post(t, sendBody(`{"text":"hi"}`), "Authorization", tc.auth)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			if tc.status != http.StatusUnauthorized {
				require.Len(t, b.fake.acceptCalls(), 1)
				return
			}
			problem(t, rec, http.StatusUnauthorized, "unauthorized")
			require.Equal(t, tc.challenge, rec.Header().Get("WWW-Authenticate"))
			require.Empty(t, b.fake.acceptCalls())
			require.NotContains(t, rec.Body.String(), testKey)

			get := b.do(t, request(http.MethodGet, "/v1/messages/msg_1", "", "Authorization", tc.auth))
			problem(t, get, http.StatusUnauthorized, "unauthorized")
		})
	}
}

// Paths under /v1 that do not exist answer 401 to strangers: the API's shape
// is not shown before authentication.
func TestUnknownRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		name   string
		req    *http.Request
		status int
		slug   string
	}{
		{"unknown v1 path without key", request(http.MethodGet, "/v1/nope", "", "Authorization", ""), http.StatusUnauthorized, "unauthorized"},
		{"unknown v1 path", request(http.MethodGet, "/v1/nope", ""), http.StatusNotFound, "not_found"},
		{"unknown path", request(http.MethodGet, "/nope", ""), http.StatusNotFound, "not_found"},
		{"wrong method", request(http.MethodGet, "/v1/messages", ""), http.StatusMethodNotAllowed, "method_not_allowed"},
	} {
		rec := httptest.NewRecorder()
		b.srv.ServeHTTP(rec, tc.req)
		problem(t, rec, tc.status, tc.slug)
	}
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := b.do(t, request(http.MethodGet, "/healthz", "", "Authorization", ""))
	require.Equal(t, http.StatusOK, rec.Code)
	require.JSONEq(t, `{"status":"ok"}`, rec.Body.String())
}

type checker struct {
	name  string
	check func(ctx context.Context) error
}

func (c checker) Name() string                    { return c.name }
func (c checker) Check(ctx context.Context) error { return c.check(ctx) }

func TestReadyz(t *testing.T) {
	t.Parallel()
	ok := checker{"store", func(context.Context) error { return nil }}
	failing := checker{"sim-fr", func(context.Context) error {
		return errors.New("smpp: bind to 10.0.0.1:2775 as gw/secret-password refused")
	}}
	ctxBound := checker{"slow", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}
	hung := make(chan struct{})
	t.Cleanup(func() { close(hung) })
	ignoresCtx := checker{"hung", func(context.Context) error { <-hung; return nil }}

	for _, tc := range []struct {
		name     string
		checkers []web.Checker
		status   int
		want     string
	}{
		{"no checkers", nil, http.StatusOK, `{"status":"ok","checks":[]}`},
		{"all pass", []web.Checker{ok}, http.StatusOK, `{"status":"ok","checks":[{"name":"store","status":"ok"}]}`},
		{"one fails", []web.Checker{ok, failing}, http.StatusServiceUnavailable,
			`{"status":"unavailable","checks":[{"name":"store","status":"ok"},{"name":"sim-fr","status":"fail"}]}`},
		{"one times out", []web.Checker{ctxBound, ok}, http.StatusServiceUnavailable,
			`{"status":"unavailable","checks":[{"name":"slow","status":"timeout"},{"name":"store","status":"ok"}]}`},
		{"one ignores the deadline", []web.Checker{ok, ignoresCtx}, http.StatusServiceUnavailable,
			`{"status":"unavailable","checks":[{"name":"store","status":"ok"},{"name":"hung","status":"timeout"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *web.Config) {
				c.Checkers = tc.checkers
				c.ReadyTimeout = 50 * time.Millisecond
			})
			rec := b.do(t, request(http.MethodGet, "/readyz", "", "Authorization", ""))
			require.Equal(t, tc.status, rec.Code)
			require.JSONEq(t, tc.want, rec.Body.String())
			require.NotContains(t, rec.Body.String(), "secret-password")
			if tc.status != http.StatusOK {
				require.Contains(t, b.logs.String(), "readiness check failed")
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.Equal(t, http.StatusAccepted, b.post(t, sendBody(`{"text":"hi"}`)).Code)
	b.do(t, request(http.MethodGet, "/v1/messages/msg_none", ""))
	b.srv.ServeHTTP(httptest.NewRecorder(), request(http.MethodGet, "/wp-login.php?user="+testPhone, ""))

	rec := b.do(t, request(http.MethodGet, "/metrics", "", "Authorization", ""))
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()
	for _, want := range []string{
		`gateway_http_requests_total{code="202",method="POST",route="/v1/messages"} 1`,
		`gateway_http_requests_total{code="404",method="GET",route="/v1/messages/:id"} 1`,
		`gateway_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`gateway_http_request_duration_seconds_count{method="POST",route="/v1/messages"} 1`,
	} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, "wp-login")
	require.NotContains(t, body, "msg_none")

	// A second server on the same registry shares the series.
	again := web.New(web.Config{Messages: b.fake, Registerer: b.reg})
	again.ServeHTTP(httptest.NewRecorder(), request(http.MethodGet, "/healthz", ""))
	rec = b.do(t, request(http.MethodGet, "/metrics", "", "Authorization", ""))
	require.Contains(t, rec.Body.String(), `gateway_http_requests_total{code="200",method="GET",route="/healthz"} 1`)
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		sent string
		kept bool
	}{
		{"client id kept", "req-42.a:b_c", true},
		{"none sent", "", false},
		{"spaces replaced", "a b", false},
		{"log forging replaced", "x\" level=ERROR", false},
		{"too long replaced", strings.Repeat("r", 129), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			rec := b.do(t, request(http.MethodGet, "/v1/messages/msg_none", "", "X-Request-Id", tc.sent))
			p := problem(t, rec, http.StatusNotFound, "not_found")
			if tc.kept {
				require.Equal(t, tc.sent, p.RequestID)
			} else {
				require.NotEqual(t, tc.sent, p.RequestID)
				require.Len(t, p.RequestID, 32)
			}
			require.Contains(t, b.logs.String(), `"request_id":"`+p.RequestID+`"`)
		})
	}
}

// The access log says who called what and how it ended, and nothing of what
// was sent: no body, no phone number, no key.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.Equal(t, http.StatusAccepted, b.post(t, `{"to":"+33612345678","from":"acme","client_ref":"order-77","content":{"text":"secret code 123456"}}`).Code)
	b.post(t, `{"to":"+33699999999","from":"acme","content":{"text":"code 654321","cards":1}}`)
	b.post(t, `{"to":"+33612345678"}`, "Authorization", "Bearer k-wrong-key")

	logs := b.logs.String()
	for _, secret := range []string{"+33612345678", "+33699999999", "33612345678", "123456", "654321", "order-77", testKey, "k-wrong-key"} {
		require.NotContains(t, logs, secret)
	}
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	require.Len(t, lines, 3)
	var first map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &first))
	require.Equal(t, "http request", first["msg"])
	require.Equal(t, "POST", first["method"])
	require.Equal(t, "/v1/messages", first["route"])
	require.EqualValues(t, 202, first["status"])
	require.Equal(t, testKeyName, first["key"])
	require.NotEmpty(t, first["request_id"])
}

// Routes other packages mount on the API group share authentication, request
// ids and problem answers.
func TestAPIGroupIsExtensible(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.srv.API().POST("/previews", func(c echo.Context) error {
		m, err := web.BindMessage(c)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]string{"to": m.To, "key": web.KeyName(c)})
	})
	for _, tc := range []struct {
		name   string
		req    *http.Request
		status int
		want   string
	}{
		{"valid", request(http.MethodPost, "/v1/previews", sendBody(`{"text":"hi"}`)), http.StatusOK, `{"to":"+33612345678","key":"backend"}`},
		{"invalid", request(http.MethodPost, "/v1/previews", sendBody(`{"txt":"hi"}`)), http.StatusBadRequest, ""},
		{"no key", request(http.MethodPost, "/v1/previews", sendBody(`{"text":"hi"}`), "Authorization", ""), http.StatusUnauthorized, ""},
	} {
		rec := httptest.NewRecorder()
		b.srv.ServeHTTP(rec, tc.req)
		require.Equal(t, tc.status, rec.Code, tc.name)
		if tc.want != "" {
			require.JSONEq(t, tc.want, rec.Body.String())
		} else {
			require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
		}
	}
	require.Empty(t, b.fake.acceptCalls())
}
