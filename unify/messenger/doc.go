// Package messenger speaks the Messenger Platform's dialect for the unified
// back end (shared/specs/meta.md §1-2, §5): it reads Send API requests
// (POST /v1/messenger/messages) into the unified model, and writes the
// gateway's status and reply events as Messenger webhooks, so that a
// Messenger bot reaches phone-only users by changing its base URL.
//
// Mapping:
//
//   - recipient.phone_number (or a recipient.id that is an E.164 number: the
//     sender.id of this package's webhooks) → the message's To
//   - message.text → text; an image attachment → media
//   - generic template: one element → a rich card, several → a carousel;
//     title → title, subtitle → description, image_url → media,
//     default_action → one more open_url suggestion (DefaultActionText)
//   - button template → text with suggestions
//   - buttons: web_url → open_url, phone_number → dial, postback → reply
//   - quick_replies (content_type text) → suggested replies
//
// Anything else, and any field over Messenger's limits, is refused with the
// field's path in the request. Replies come back as a message with
// quick_reply.payload (a quick reply, or its number answered by SMS), a
// postback event (a postback button), or a plain message; receipts as
// delivery and read events.
//
// It imports only the standard library and gateway/unify.
package messenger
