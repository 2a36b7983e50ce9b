// Package segment turns message text into SMS user data and back: it chooses
// between the GSM 03.38 default alphabet (sent as unpacked septets, one per
// octet, data_coding 0x00) and UCS-2 (UTF-16BE, data_coding 0x08), counts
// septets or UTF-16 code units, cuts long texts into concatenated parts with
// an 8-bit-reference UDH, decodes the user data of received deliver_sm PDUs
// by data_coding, and reads the concatenation element of a received UDH.
//
// It is pure (no I/O, no clock, no global mutable state) and sits on the
// render path, so the common calls avoid allocations beyond their results.
//
// It imports only the standard library. In particular it does not import
// gosmpp: the SMPP link hands it bytes and data_coding values.
// See /work/shared/specs/smpp.md §6 (data_coding), §7 (long messages) and
// §8 (GSM 03.38 tables).
package segment
