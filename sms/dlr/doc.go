// Package dlr reads SMPP delivery receipts and matches the SMSC message ids
// they carry to the ids submit_sm_resp returned.
//
// A receipt is a deliver_sm whose esm_class has message type 0x04; its text
// follows the near-universal SMPP 3.4 Appendix B layout
// ("id:… sub:… dlvrd:… submit date:… done date:… stat:… err:… text:…") and
// may be accompanied by the receipted_message_id, message_state and
// network_error_code TLVs (spec §10). SMSCs differ in case, order, missing
// fields and in how they print message ids (hex in the response, decimal in
// the receipt), so Parse is lenient and Match compares ids in several forms.
//
// It is pure (no I/O, no clock, no global mutable state) and imports only
// the standard library; the SMPP link extracts the text and TLVs from the PDU
// (this package does not import gosmpp).
package dlr
