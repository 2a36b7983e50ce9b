// Package mms is the MMS channel: it lays a unified message out as an MMS
// (a SMIL presentation with image, video or audio parts and UTF-8 text
// parts), fetches the media safely and scales JPEG and PNG images down to the
// carrier's size limit, submits the result to the carrier's MMSC as an MM7
// SubmitReq (3GPP TS 23.140 over SOAP 1.1, shared/specs/mm7.md) and reports
// the MMSC's message id. The other way, it reads the MMSC's
// DeliveryReportReq and DeliverReq (MO MMS) for the webhook the web layer
// mounts at POST /webhooks/mm7/{carrier}, and hands receipts and inbound
// messages to the core through Sink.
//
// The pieces:
//
//   - Fetcher: GETs media URLs with a size cap, a timeout and a redirect
//     limit, and refuses loopback, private, link-local and other
//     non-public addresses when it dials, so that DNS tricks cannot reach
//     the gateway's own network.
//   - FitImage: re-encodes or scales a JPEG/PNG until it fits a byte budget.
//   - Channel: Render (also used by previews), Send (the MM7 client) and
//     HandleCallback (the MMSC's requests).
//   - ParseRequest, ReceiptOf, InboundOf: the pure parsing behind
//     HandleCallback.
//
// It may import gateway/unify, golang.org/x/image, the Prometheus client and
// the standard library; never dispatch, sqlstore, web, cmd or the other sms
// packages (the core reaches it through dispatch.Channel).
package mms
