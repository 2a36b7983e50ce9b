package ui_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"gateway/unify"
	"gateway/web"
	"gateway/web/ui"
)

func TestMountNeedsItsParts(t *testing.T) {
	t.Parallel()
	err := ui.Mount(echo.New(), ui.Config{AdminPassword: "x"})
	require.ErrorContains(t, err, "ui: config lacks Policies, Previewer, Traffic, Sessions")
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		secure   bool
		password string
		token    func(page string) string
		status   int
		location string
		problem  string
	}{
		{name: "right password", password: password, status: http.StatusSeeOther, location: "/ui/traffic?status=failed"},
		{name: "right password over TLS", secure: true, password: password, status: http.StatusSeeOther, location: "/ui/traffic?status=failed"},
		{name: "wrong password", password: "guess", status: http.StatusUnauthorized, problem: "Wrong password."},
		{name: "empty password", password: "", status: http.StatusUnauthorized, problem: "Wrong password."},
		{name: "no form token", password: password, token: func(string) string { return "" }, status: http.StatusForbidden, problem: "The sign-in form expired"},
		{name: "forged form token", password: password, token: func(string) string { return "forged" }, status: http.StatusForbidden, problem: "The sign-in form expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, withConfig(func(cfg *ui.Config) { cfg.Secure = tc.secure }))
			c := b.client(t)
			page := c.get("/ui/signin?next=" + url.QueryEscape("/ui/traffic?status=failed"))
			require.Equal(t, http.StatusOK, page.StatusCode)
			require.Contains(t, page.Body, `<label for="password">Admin password</label>`)
			token := csrfOf(t, page.Body)
			if tc.token != nil {
				token = tc.token(page.Body)
			}
			res := c.post("/ui/signin", url.Values{"csrf": {token}, "password": {tc.password}, "next": {"/ui/traffic?status=failed"}})
			require.Equal(t, tc.status, res.StatusCode, res.Body)
			name := "gateway_ui"
			if tc.secure {
				name = "__Host-gateway_ui"
			}
			var session *http.Cookie
			for _, ck := range res.Cookies() {
				if ck.Name == name && ck.MaxAge > 0 {
					session = ck
				}
			}
			if tc.status != http.StatusSeeOther {
				require.Nil(t, session, "no session without the password")
				require.Contains(t, res.Body, tc.problem)
				require.Equal(t, http.StatusSeeOther, c.get("/ui/traffic").StatusCode)
				return
			}
			require.Equal(t, tc.location, res.Header.Get("Location"))
			require.NotNil(t, session)
			require.True(t, session.HttpOnly)
			require.Equal(t, http.SameSiteStrictMode, session.SameSite)
			require.Equal(t, tc.secure, session.Secure)
			require.Equal(t, "/", session.Path)
			require.Equal(t, int((12 * time.Hour).Seconds()), session.MaxAge)
			require.Equal(t, http.StatusOK, c.get("/ui/traffic").StatusCode)
		})
	}
}

func TestSignInRedirectsOnlyToOwnPages(t *testing.T) {
	t.Parallel()
	b := setup(t, withConfig(func(cfg *ui.Config) { cfg.SignInBurst = 100 }))
	for _, tc := range []struct{ next, want string }{
		{"/ui/policies", "/ui/policies"},
		{"/sim/", "/sim/"},
		{"https://evil.example/", "/ui/traffic"},
		{"//evil.example/ui/", "/ui/traffic"},
		{"/ui/signin", "/ui/traffic"},
		{"/v1/messages", "/ui/traffic"},
		{"", "/ui/traffic"},
	} {
		c := b.client(t)
		page := c.get("/ui/signin")
		res := c.post("/ui/signin", url.Values{"csrf": {csrfOf(t, page.Body)}, "password": {password}, "next": {tc.next}})
		require.Equal(t, tc.want, res.Header.Get("Location"), "next=%q", tc.next)
	}
}

func TestPagesNeedASession(t *testing.T) {
	t.Parallel()
	b := setup(t, withConfig(func(cfg *ui.Config) { cfg.Handset = http.NotFoundHandler() }))
	c := b.client(t)
	// A REST API key is no way in.
	c.headers.Set("Authorization", "Bearer some-api-key")
	for _, path := range []string{"/ui", "/ui/traffic", "/ui/traffic/msg_1", "/ui/policies", "/ui/policies/new",
		"/ui/policies/edit/default", "/ui/carriers", "/ui/sim", "/sim/", "/sim/inbox?n=1"} {
		res := c.get(path)
		require.Equal(t, http.StatusSeeOther, res.StatusCode, path)
		require.Equal(t, "/ui/signin?next="+url.QueryEscape(path), res.Header.Get("Location"), path)
	}
	for _, path := range []string{"/ui/policies/new", "/ui/policies/edit/otp", "/ui/policies/delete/otp", "/ui/preview", "/ui/signout", "/sim/reply"} {
		res := c.post(path, url.Values{"name": {"x"}, "steps[0].channel": {"sms"}})
		require.Equal(t, http.StatusUnauthorized, res.StatusCode, path)
	}
	_, ok := b.policies.get("otp")
	require.True(t, ok)
	require.Zero(t, b.policies.saveCount())
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		token func(real string) string
		ok    bool
	}{
		{"no token", func(string) string { return "" }, false},
		{"wrong token", func(string) string { return "AAAA" }, false},
		{"another session's token", nil, false},
		{"the session's token", func(real string) string { return real }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			c := b.client(t)
			real := c.signIn()
			token := ""
			if tc.token != nil {
				token = tc.token(real)
			} else {
				token = b.client(t).signIn()
			}
			form := func() url.Values {
				v := url.Values{"name": {"promo"}, "steps[0].channel": {"rcs"}, "steps[0].timeout": {"30s"}, "steps[1].channel": {"sms"}, "op": {"save"}}
				if token != "" {
					v.Set("csrf", token)
				}
				return v
			}
			create := c.post("/ui/policies/new", form())
			del := c.post("/ui/policies/delete/otp", url.Values{"csrf": {token}})
			prev := c.post("/ui/preview", form())
			_, created := b.policies.get("promo")
			_, kept := b.policies.get("otp")
			if !tc.ok {
				for _, r := range []response{create, del, prev} {
					require.Equal(t, http.StatusForbidden, r.StatusCode)
					require.Contains(t, r.Body, "This form is out of date")
				}
				require.False(t, created, "a forged form saved nothing")
				require.True(t, kept, "a forged form deleted nothing")
				// And a forged sign-out does not sign out.
				require.Equal(t, http.StatusForbidden, c.post("/ui/signout", url.Values{"csrf": {token}}).StatusCode)
				require.Equal(t, http.StatusOK, c.get("/ui/traffic").StatusCode)
				return
			}
			require.Equal(t, http.StatusSeeOther, create.StatusCode, create.Body)
			require.Equal(t, http.StatusSeeOther, del.StatusCode, del.Body)
			require.Equal(t, http.StatusOK, prev.StatusCode)
			require.True(t, created)
			require.False(t, kept)
		})
	}
}

func TestCSRFHeader(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client(t)
	token := c.signIn()
	c.headers.Set("X-CSRF-Token", token)
	res := c.post("/ui/preview", url.Values{"steps[0].channel": {"sms"}})
	require.Equal(t, http.StatusOK, res.StatusCode)
}

func TestSignOutRevokesTheSession(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client(t)
	token := c.signIn()
	old := *c.cookies["gateway_ui"]

	out := c.post("/ui/signout", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusSeeOther, out.StatusCode)
	require.Equal(t, "/ui/signin?signed_out=1", out.Header.Get("Location"))
	require.NotContains(t, c.cookies, "gateway_ui", "the browser is told to forget the cookie")

	// Someone who kept the cookie (a copy, a stolen laptop) gets nothing.
	thief := b.client(t)
	thief.cookies["gateway_ui"] = &old
	res := thief.get("/ui/traffic")
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.True(t, strings.HasPrefix(res.Header.Get("Location"), "/ui/signin"))
	res = thief.post("/ui/policies/new", url.Values{"csrf": {token}, "name": {"promo"}, "steps[0].channel": {"sms"}})
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	_, created := b.policies.get("promo")
	require.False(t, created)
	require.Contains(t, c.get("/ui/signin?signed_out=1").Body, "You are signed out.")
}

func TestSessionExpires(t *testing.T) {
	t.Parallel()
	b := setup(t, withConfig(func(cfg *ui.Config) { cfg.SessionTTL = time.Hour }))
	c := b.client(t)
	c.signIn()
	b.clock.Advance(59 * time.Minute)
	require.Equal(t, http.StatusOK, c.get("/ui/traffic").StatusCode)
	b.clock.Advance(time.Minute)
	require.Equal(t, http.StatusSeeOther, c.get("/ui/traffic").StatusCode)
}

func TestSignInIsRateLimited(t *testing.T) {
	t.Parallel()
	attempt := func(c *client, pw string) int {
		page := c.get("/ui/signin")
		return c.post("/ui/signin", url.Values{"csrf": {csrfOf(t, page.Body)}, "password": {pw}}).StatusCode
	}
	limits := withConfig(func(cfg *ui.Config) { cfg.SignInBurst, cfg.SignInEvery = 3, 20*time.Second })

	t.Run("per address", func(t *testing.T) {
		t.Parallel()
		// Behind a trusted proxy (loopback here) the client's address comes
		// from X-Forwarded-For.
		b := setup(t, limits, func(o *setupOpts) { o.e.IPExtractor = echo.ExtractIPFromXFFHeader() })
		attacker, other := b.client(t), b.client(t)
		attacker.headers.Set("X-Forwarded-For", "203.0.113.7")
		other.headers.Set("X-Forwarded-For", "198.51.100.2")
		for range 3 {
			require.Equal(t, http.StatusUnauthorized, attempt(attacker, "guess"))
		}
		page := attacker.get("/ui/signin")
		res := attacker.post("/ui/signin", url.Values{"csrf": {csrfOf(t, page.Body)}, "password": {password}})
		require.Equal(t, http.StatusTooManyRequests, res.StatusCode, "even the right password waits")
		require.Equal(t, "20", res.Header.Get("Retry-After"))
		require.Contains(t, res.Body, "Too many attempts")
		require.NotContains(t, attacker.cookies, "gateway_ui")

		require.Equal(t, http.StatusSeeOther, attempt(other, password), "another address is not held up")

		b.clock.Advance(20 * time.Second)
		require.Equal(t, http.StatusSeeOther, attempt(attacker, password), "one attempt per interval comes back")
	})

	t.Run("forwarded header ignored without a trusted proxy", func(t *testing.T) {
		t.Parallel()
		b := setup(t, limits)
		c := b.client(t)
		for i := range 4 {
			c.headers.Set("X-Forwarded-For", "192.0.2."+string(rune('1'+i)))
			want := http.StatusUnauthorized
			if i == 3 {
				want = http.StatusTooManyRequests
			}
			require.Equal(t, want, attempt(c, "guess"), "attempt %d", i+1)
		}
	})
}

func TestNoPasswordNoSignIn(t *testing.T) {
	t.Parallel()
	b := setup(t, withConfig(func(cfg *ui.Config) { cfg.AdminPassword = "" }))
	c := b.client(t)
	page := c.get("/ui/signin")
	require.Contains(t, page.Body, "No admin password is configured")
	res := c.post("/ui/signin", url.Values{"csrf": {csrfOf(t, page.Body)}, "password": {""}})
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	require.NotContains(t, c.cookies, "gateway_ui")
}

type noMessages struct{}

func (noMessages) Accept(context.Context, *unify.Message, unify.Idempotency) (*unify.Message, bool, error) {
	return nil, false, unify.Errorf(unify.CodeInternal, "not in this test")
}

func (noMessages) Message(_ context.Context, id unify.MessageID) (*unify.Message, error) {
	return nil, unify.Errorf(unify.CodeNotFound, "no message %q", id)
}

// TestUIAndAPIKeepApart mounts the UI on the real web server: the UI's
// cookie does not open the REST API, an API key does not open the UI.
func TestUIAndAPIKeepApart(t *testing.T) {
	t.Parallel()
	s := web.New(web.Config{Messages: noMessages{}, APIKeys: map[string]string{"k-123": "backend"}, Logger: slog.New(slog.DiscardHandler)})
	b := setup(t, func(o *setupOpts) { o.e, o.handler = s.Echo(), s })
	c := b.client(t)
	c.signIn()

	res := c.get("/v1/messages/msg_1")
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "the UI cookie is no API key")

	api := b.client(t)
	api.headers.Set("Authorization", "Bearer k-123")
	require.Equal(t, http.StatusNotFound, api.get("/v1/messages/msg_1").StatusCode, "the key works on the API")
	res = api.get("/ui/traffic")
	require.Equal(t, http.StatusSeeOther, res.StatusCode, "and opens no page")
	require.True(t, strings.HasPrefix(res.Header.Get("Location"), "/ui/signin"))
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client(t)
	c.signIn()
	for _, path := range []string{"/ui/signin", "/ui/traffic", "/ui/policies/new"} {
		res := c.get(path)
		require.Contains(t, res.Header.Get("Content-Security-Policy"), "script-src 'self'", path)
		require.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"), path)
		require.Equal(t, "no-store", res.Header.Get("Cache-Control"), path)
		require.NotContains(t, res.Body, "<script>", "no inline script: the CSP would block it")
		require.NotContains(t, res.Body, "style=\"", "no inline style: the CSP would block it")
	}
}
