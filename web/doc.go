// Package web is the gateway's HTTP edge: the REST API of the unified back end
// (POST /v1/messages, GET /v1/messages/{id}; Meta's request shapes at
// POST /v1/messenger/messages and /v1/whatsapp/messages, see meta.go), the
// operational endpoints (/healthz, /readyz, /metrics) and the OpenAPI 3.1
// description of it all (/openapi.json, embedded from openapi.json in this
// directory).
//
// # What it may import
//
// The standard library, unify (the vocabulary) and its dialect adapters
// (unify/messenger, unify/whatsapp), echo v4, nyaruka/phonenumbers and the
// Prometheus client. It never imports dispatch, the channels or the
// carriers: the core is reached through the small interfaces declared here
// (Messages, Checker), which *dispatch.Service and friends satisfy in
// cmd/gateway/wire.go. The subpackages web/notify (signed events to the back
// end) and web/client (a Go client of this API) are separate.
//
// # Errors
//
// Every error leaves as RFC 9457 application/problem+json through the single
// echo HTTPErrorHandler installed by New. Handlers return a *unify.Error
// (codes map to statuses: invalid 400, not_found 404, conflict 409,
// unavailable 503 with Retry-After, internal 500 with a generic detail and the
// cause only logged); echo's own errors keep their status. The problem "type"
// is a stable, non-dereferenceable URI built as
//
//	https://gateway.invalid/problems/{slug}
//
// with slug one of invalid, unauthorized, not_found, method_not_allowed,
// conflict, too_large, unsupported_media_type, unavailable, internal; any
// other status gets "about:blank". Clients switch on the slug, not on the
// title or detail, which are for humans. Problems also carry the request id
// ("request_id"), the same as the X-Request-Id response header.
//
// # Adding routes
//
// Other packages (webhooks, the UI, previews) mount their routes on the same
// server before it starts serving, so they share request ids, access logs,
// metrics and problem answers:
//
//	s := web.New(cfg)
//	s.API().POST("/previews", h)           // /v1/previews, Bearer key required
//	g := s.Echo().Group("/webhooks/rbm")   // unauthenticated; verify signatures yourself
//	g.POST("/:carrier", h)
//
// A handler that takes a send body uses BindMessage, so previews and sends
// accept exactly the same requests. New routes of the public API belong in
// openapi.json too; its test checks the recorded traffic against it.
package web
