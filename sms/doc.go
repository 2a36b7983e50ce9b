// Package sms is the SMS channel: it writes a unified message as SMS text,
// encodes and cuts it into segments (sms/segment), submits them over the
// carrier's SMPP link (sms/smpp) and reports the ids the SMSC gave each
// part; the other way, it turns deliver_sm into receipts (sms/dlr) and
// inbound messages for the core.
//
// It imports gateway/unify and its own subpackages; the core reaches it
// through dispatch.Channel and it calls back through Sink.
package sms
