// Package ui is the operator's web UI, served by the gateway itself under
// /ui (and the handset simulator under /sim): sign-in with the admin
// password, the fallback policy editor with a live preview of each step as
// the phone would show it, the traffic list with its filters, per-minute
// chart and message timelines, and the state of each carrier's links.
//
// Pages are rendered on the server with html/template; a little plain
// JavaScript (no build step) refreshes the preview and asks before
// deleting. Templates, stylesheet, script and images are embedded, so the UI
// works on a machine with no internet, and the Content-Security-Policy
// allows no other origin for scripts and styles.
//
// # Security
//
// Sessions live in the store (Sessions) so that signing out revokes them; the
// cookie holds a random token whose SHA-256 is the stored id. The cookie is
// HttpOnly, SameSite=Strict, Secure when Config.Secure is set, and opens only
// /ui and /sim: the REST API under /v1 takes Bearer keys only, and a Bearer
// key opens no page here. Every POST carries the session's CSRF token (the
// sign-in form a pre-session one, double-submitted in a cookie), and sign-in
// attempts are rate-limited per client address.
//
// # What it may import
//
// The standard library, echo v4, golang.org/x/time/rate, gateway/unify, and
// gateway/unify/sqlstore for the record types of the traffic list and the
// sessions (Traffic and Sessions are interfaces that *sqlstore.Store
// satisfies). The policy store and the renderer are reached through
// Policies and Previewer, implemented by the core and wired in cmd/gateway.
package ui
