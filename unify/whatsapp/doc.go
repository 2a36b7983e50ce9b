// Package whatsapp speaks the WhatsApp Cloud API's dialect for the unified
// back end (shared/specs/meta.md §3-5): it reads send requests
// (POST /v1/whatsapp/messages) into the unified model, and writes the
// gateway's status and reply events as WhatsApp webhooks, so that a
// WhatsApp bot reaches phone-only users by changing its base URL.
//
// Mapping:
//
//   - to (digits, with or without '+') → the message's To in E.164
//   - type text → text; image (by link) → media, its caption → text
//   - location → location (name and address → its label)
//   - interactive button → text (header, body, footer) with suggested replies
//   - interactive list → text with the rows as suggested replies, in order,
//     which SMS numbers ("Reply 1 for …")
//
// Anything else, and any field over WhatsApp's limits, is refused with the
// field's path in the request. Replies come back as interactive
// button_reply or list_reply (a tap, or the number answered by SMS), text,
// or media messages; statuses as sent, delivered, read and failed.
//
// It imports only the standard library and gateway/unify.
package whatsapp
