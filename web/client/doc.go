// Package client is a Go client of the gateway's REST API, used by
// `gateway send` and by the load tool: send one message, read a message back,
// and send a CSV batch (`to,text` plus optional `from`, `conversation_id`,
// `client_ref` columns) with bounded concurrency and a per-row idempotency
// key, so that running the same file again does not send anything twice.
//
// Errors the API answers as application/problem+json (RFC 9457) come back as
// *[APIError]; problems with one line of a batch as *[LineError].
//
// It imports the standard library and gateway/unify only: it is the outside
// view of the API and must not depend on the server's packages.
package client
