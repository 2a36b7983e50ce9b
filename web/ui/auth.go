package ui

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"gateway/unify"
	"gateway/unify/sqlstore"
)

const ctxSession = "ui.session"

// csrfField is the form field (and csrfHeader the header) that carries the
// session's CSRF token.
const (
	csrfField  = "csrf"
	csrfHeader = "X-CSRF-Token"
)

func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// sessionID is what the store keeps for a cookie token.
func sessionID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// session returns the request's live session, if any.
func (h *handler) session(c echo.Context) (sqlstore.UISession, bool, error) {
	ck, err := c.Cookie(h.cookie)
	if err != nil || ck.Value == "" {
		return sqlstore.UISession{}, false, nil
	}
	s, err := h.cfg.Sessions.UISession(c.Request().Context(), sessionID(ck.Value))
	if unify.CodeOf(err) == unify.CodeNotFound {
		return sqlstore.UISession{}, false, nil
	}
	if err != nil {
		return sqlstore.UISession{}, false, err
	}
	if !h.now().Before(s.ExpiresAt) {
		return sqlstore.UISession{}, false, nil
	}
	return s, true, nil
}

// authed lets signed-in operators through and checks the CSRF token of
// every request that may change something. Without a session, a page
// request is sent to sign-in and anything else gets 401.
func (h *handler) authed(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		s, ok, err := h.session(c)
		if err != nil {
			return h.fail(c, err)
		}
		req := c.Request()
		if !ok {
			if req.Method == http.MethodGet || req.Method == http.MethodHead {
				return c.Redirect(http.StatusSeeOther, "/ui/signin?next="+url.QueryEscape(req.URL.RequestURI()))
			}
			if req.Header.Get("X-Requested-With") == "fetch" {
				return c.HTML(http.StatusUnauthorized, `<p class="problem">You are signed out. <a href="/ui/signin">Sign in</a> again.</p>`)
			}
			return h.render(c, http.StatusUnauthorized, "error", "Signed out", "You are signed out: sign in again, then repeat what you were doing.")
		}
		c.Set(ctxSession, s)
		if !safeMethod(req.Method) && !strings.HasPrefix(req.URL.Path, "/sim/") {
			tok := req.Header.Get(csrfHeader)
			if tok == "" {
				tok = c.FormValue(csrfField)
			}
			if !sameToken(tok, s.CSRF) {
				if req.Header.Get("X-Requested-With") == "fetch" {
					return c.HTML(http.StatusForbidden, `<p class="problem">This page is out of date: reload it.</p>`)
				}
				return h.render(c, http.StatusForbidden, "error", "Form expired",
					"This form is out of date or did not come from this page. Go back, reload the page and try again.")
			}
		}
		return next(c)
	}
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sameOrigin guards the proxied handset, whose own scripts post without our
// CSRF token: browsers name the origin of every cross-site POST (Origin,
// Sec-Fetch-Site), and a request that has neither header did not come from
// a browser page, so it is no forgery.
func (h *handler) sameOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if !safeMethod(req.Method) {
			if site := req.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
				return c.String(http.StatusForbidden, "cross-site request refused")
			}
			if o := req.Header.Get("Origin"); o != "" {
				u, err := url.Parse(o)
				if err != nil || u.Host != req.Host {
					return c.String(http.StatusForbidden, "cross-site request refused")
				}
			}
		}
		return next(c)
	}
}

func (h *handler) setCookie(c echo.Context, name, value, path string, maxAge int) {
	c.SetCookie(&http.Cookie{
		Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: h.cfg.Secure, SameSite: http.SameSiteStrictMode,
	})
}

type signInView struct {
	Token   string // pre-session CSRF token
	Next    string
	Error   string
	Notice  string
	NoLogin bool
}

func (h *handler) signInPage(c echo.Context) error {
	if _, ok, err := h.session(c); err == nil && ok {
		return c.Redirect(http.StatusSeeOther, safeNext(c.QueryParam("next")))
	}
	v := signInView{Next: safeNext(c.QueryParam("next")), NoLogin: h.cfg.AdminPassword == ""}
	if c.QueryParam("signed_out") != "" {
		v.Notice = "You are signed out."
	}
	return h.renderSignIn(c, http.StatusOK, v)
}

// renderSignIn shows the form with a fresh pre-session token, set in a
// cookie and in the form: a forged cross-site post can send neither (the
// cookie is SameSite=Strict and HttpOnly), so nobody can sign a victim's
// browser into a session of theirs.
func (h *handler) renderSignIn(c echo.Context, status int, v signInView) error {
	v.Token = newToken()
	h.setCookie(c, h.preCook, v.Token, "/", 3600)
	return h.render(c, status, "signin", "Sign in", v)
}

func (h *handler) signIn(c echo.Context) error {
	ctx := c.Request().Context()
	now := h.now()
	next := safeNext(c.FormValue("next"))
	if ok, retry := h.limits.allow(h.remoteIP(c), now); !ok {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
		return h.renderSignIn(c, http.StatusTooManyRequests, signInView{Next: next,
			Error: "Too many attempts from your address. Wait a little and try again."})
	}
	pre, err := c.Cookie(h.preCook)
	if err != nil || !sameToken(c.FormValue(csrfField), pre.Value) {
		return h.renderSignIn(c, http.StatusForbidden, signInView{Next: next,
			Error: "The sign-in form expired. Please try again."})
	}
	if h.cfg.AdminPassword == "" {
		return h.renderSignIn(c, http.StatusUnauthorized, signInView{Next: next, NoLogin: true})
	}
	got := sha256.Sum256([]byte(c.FormValue("password")))
	if subtle.ConstantTimeCompare(got[:], h.pwSum[:]) != 1 {
		return h.renderSignIn(c, http.StatusUnauthorized, signInView{Next: next, Error: "Wrong password."})
	}
	if err := h.cfg.Sessions.DeleteExpiredUISessions(ctx, now); err != nil {
		h.log.WarnContext(ctx, "ui: delete expired sessions", "err", err)
	}
	token := newToken()
	s := sqlstore.UISession{ID: sessionID(token), CSRF: newToken(), CreatedAt: now, ExpiresAt: now.Add(h.cfg.SessionTTL)}
	if err := h.cfg.Sessions.CreateUISession(ctx, s); err != nil {
		return h.fail(c, err)
	}
	h.setCookie(c, h.preCook, "", "/", -1)
	h.setCookie(c, h.cookie, token, "/", int(h.cfg.SessionTTL/time.Second))
	return c.Redirect(http.StatusSeeOther, next)
}

func (h *handler) signOut(c echo.Context) error {
	s := c.Get(ctxSession).(sqlstore.UISession)
	if err := h.cfg.Sessions.DeleteUISession(c.Request().Context(), s.ID); err != nil {
		return h.fail(c, err)
	}
	h.setCookie(c, h.cookie, "", "/", -1)
	return c.Redirect(http.StatusSeeOther, "/ui/signin?signed_out=1")
}

// safeNext keeps the after-sign-in redirect on our own pages: an open
// redirect would lend the gateway's name to a phishing link.
func safeNext(next string) string {
	if (strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "/sim/") || next == "/sim") &&
		!strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") && !strings.HasPrefix(next, "/ui/signin") {
		return next
	}
	return "/ui/traffic"
}

// limiter rate-limits sign-in attempts per client address.
type limiter struct {
	mu    sync.Mutex
	every rate.Limit
	burst int
	m     map[string]*rate.Limiter
}

// maxTracked bounds the limiter's memory; past it, addresses whose bucket
// is full again are forgotten.
const maxTracked = 4096

func newLimiter(every rate.Limit, burst int) *limiter {
	return &limiter{every: every, burst: burst, m: make(map[string]*rate.Limiter)}
}

// allow takes one attempt from ip's bucket; when none is left it says how
// long until one is.
func (l *limiter) allow(ip string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.m[ip]
	if !ok {
		if len(l.m) >= maxTracked {
			for k, v := range l.m {
				if v.TokensAt(now) >= float64(l.burst) {
					delete(l.m, k)
				}
			}
		}
		lim = rate.NewLimiter(l.every, l.burst)
		l.m[ip] = lim
	}
	if lim.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - lim.TokensAt(now)
	return false, time.Duration(missing / float64(l.every) * float64(time.Second))
}
