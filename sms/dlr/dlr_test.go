package dlr_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/sms/dlr"
)

// noTLV is what the SMPP link passes when a receipt has no TLVs.
var noTLV = dlr.TLVs{MessageState: -1}

func date(y int, mo time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		text string
		tlv  dlr.TLVs
		want dlr.Receipt
	}{
		{
			name: "standard",
			text: "id:1234567890 sub:001 dlvrd:001 submit date:2611251200 done date:2611251201 stat:DELIVRD err:000 text:Hello world",
			tlv:  noTLV,
			want: dlr.Receipt{ID: "1234567890", State: dlr.Delivered, Submitted: 1, Delivered: 1,
				SubmitDate: date(2026, 11, 25, 12, 0, 0), DoneDate: date(2026, 11, 25, 12, 1, 0), Err: "000", Text: "Hello world"},
		},
		{
			name: "undeliverable, no text",
			text: "id:7 sub:001 dlvrd:000 submit date:2611251200 done date:2611251230 stat:UNDELIV err:013",
			tlv:  noTLV,
			want: dlr.Receipt{ID: "7", State: dlr.Undeliverable, Submitted: 1, Delivered: 0,
				SubmitDate: date(2026, 11, 25, 12, 0, 0), DoneDate: date(2026, 11, 25, 12, 30, 0), Err: "013"},
		},
		{
			name: "missing fields",
			text: "id:abc stat:EXPIRED",
			tlv:  noTLV,
			want: dlr.Receipt{ID: "abc", State: dlr.Expired, Submitted: -1, Delivered: -1},
		},
		{
			name: "upper-case keys, any order, seconds in dates",
			text: "STAT:DELIVRD ERR:000 ID:0A1B2C SUB:1 DLVRD:1 DONE DATE:261125120159 SUBMIT DATE:261125120005",
			tlv:  noTLV,
			want: dlr.Receipt{ID: "0A1B2C", State: dlr.Delivered, Submitted: 1, Delivered: 1,
				SubmitDate: date(2026, 11, 25, 12, 0, 5), DoneDate: date(2026, 11, 25, 12, 1, 59), Err: "000"},
		},
		{
			name: "Text: with spaces, colons and keys inside",
			text: "id:42 sub:001 dlvrd:001 stat:DELIVRD err:000 Text:Meet at 10:30, id:99 stat:REJECTD ",
			tlv:  noTLV,
			want: dlr.Receipt{ID: "42", State: dlr.Delivered, Submitted: 1, Delivered: 1, Err: "000",
				Text: "Meet at 10:30, id:99 stat:REJECTD"},
		},
		{
			name: "underscored dates, lower-case stat, unknown keys, trailing NUL",
			text: "id:5 foo:bar submit_date:2601010000 done_date:2601010001 stat:delivrd err:0\x00",
			tlv:  noTLV,
			want: dlr.Receipt{ID: "5", State: dlr.Delivered, Submitted: -1, Delivered: -1,
				SubmitDate: date(2026, 1, 1, 0, 0, 0), DoneDate: date(2026, 1, 1, 0, 1, 0), Err: "0"},
		},
		{
			name: "space before colon, empty id value",
			text: "id: stat : ACCEPTD",
			tlv:  noTLV,
			want: dlr.Receipt{State: dlr.Accepted, Submitted: -1, Delivered: -1},
		},
		{
			name: "bad dates and counts",
			text: "id:1 sub:abc dlvrd:-1 submit date:2613011200 done date:2602301200 stat:DELIVRD",
			tlv:  noTLV,
			want: dlr.Receipt{ID: "1", State: dlr.Delivered, Submitted: -1, Delivered: -1},
		},
		{
			name: "short date",
			text: "id:1 done date:26112512 stat:DELIVRD",
			tlv:  noTLV,
			want: dlr.Receipt{ID: "1", State: dlr.Delivered, Submitted: -1, Delivered: -1},
		},
		{
			name: "only TLVs",
			text: "",
			tlv:  dlr.TLVs{ReceiptedMessageID: "6699\x00", MessageState: 2, NetworkErrorCode: []byte{3, 0, 0}},
			want: dlr.Receipt{ID: "6699", State: dlr.Delivered, Submitted: -1, Delivered: -1, NetworkError: []byte{3, 0, 0}},
		},
		{
			name: "TLVs override the text",
			text: "id:1A2B sub:001 dlvrd:000 stat:ENROUTE err:000",
			tlv:  dlr.TLVs{ReceiptedMessageID: "6699", MessageState: 5},
			want: dlr.Receipt{ID: "6699", State: dlr.Undeliverable, Submitted: 1, Delivered: 0, Err: "000"},
		},
		{
			name: "invalid TLV state falls back to the text",
			text: "id:1 stat:REJECTD",
			tlv:  dlr.TLVs{MessageState: 9},
			want: dlr.Receipt{ID: "1", State: dlr.Rejected, Submitted: -1, Delivered: -1},
		},
		{
			name: "zero TLVs value (state 0) falls back to the text",
			text: "id:1 stat:DELETED",
			want: dlr.Receipt{ID: "1", State: dlr.Deleted, Submitted: -1, Delivered: -1},
		},
		{
			name: "unknown stat value with an id",
			text: "id:1 stat:WEIRD",
			tlv:  noTLV,
			want: dlr.Receipt{ID: "1", Submitted: -1, Delivered: -1},
		},
		{
			name: "state without id",
			text: "stat:UNKNOWN err:000",
			tlv:  noTLV,
			want: dlr.Receipt{State: dlr.Unknown, Submitted: -1, Delivered: -1, Err: "000"},
		},
		{
			name: "duplicate key keeps the first",
			text: "id:1 stat:DELIVRD stat:UNDELIV",
			tlv:  noTLV,
			want: dlr.Receipt{ID: "1", State: dlr.Delivered, Submitted: -1, Delivered: -1},
		},
		{
			name: "key glued to a word is not a key",
			text: "msgid:9 xstat:DELIVRD id:1 stat:EXPIRED",
			tlv:  noTLV,
			want: dlr.Receipt{ID: "1", State: dlr.Expired, Submitted: -1, Delivered: -1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := dlr.Parse(tc.text, tc.tlv)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseStates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		stat      string
		want      dlr.State
		final     bool
		delivered bool
	}{
		{"ENROUTE", dlr.Enroute, false, false},
		{"DELIVRD", dlr.Delivered, true, true},
		{"EXPIRED", dlr.Expired, true, false},
		{"DELETED", dlr.Deleted, true, false},
		{"UNDELIV", dlr.Undeliverable, true, false},
		{"ACCEPTD", dlr.Accepted, false, false},
		{"UNKNOWN", dlr.Unknown, false, false},
		{"REJECTD", dlr.Rejected, true, false},
		{"DELIVERED", dlr.Delivered, true, true},
		{"Undeliverable", dlr.Undeliverable, true, false},
		{"REJECTED", dlr.Rejected, true, false},
	} {
		t.Run(tc.stat, func(t *testing.T) {
			t.Parallel()
			r, err := dlr.Parse("id:1 stat:"+tc.stat+" err:000", noTLV)
			require.NoError(t, err)
			require.Equal(t, tc.want, r.State)
			require.Equal(t, tc.final, r.State.Final())
			require.Equal(t, tc.delivered, r.State.Delivered())
			if len(tc.stat) == 7 {
				require.Equal(t, tc.stat, r.State.String())
			}
			// The same state as a message_state TLV.
			r, err = dlr.Parse("", dlr.TLVs{ReceiptedMessageID: "1", MessageState: int(tc.want)})
			require.NoError(t, err)
			require.Equal(t, tc.want, r.State)
		})
	}
	require.Equal(t, "State(0)", dlr.State(0).String())
	require.Equal(t, "State(9)", dlr.State(9).String())
	require.False(t, dlr.State(0).Final())
}

func TestParseGarbage(t *testing.T) {
	t.Parallel()
	for _, text := range []string{
		"",
		"hello world",
		"sub:001 dlvrd:001 err:000",
		"stat:NOPE",
		"ident:1 status:DELIVRD",
		"text:id:1 stat:DELIVRD",
	} {
		t.Run(text, func(t *testing.T) {
			t.Parallel()
			_, err := dlr.Parse(text, noTLV)
			require.ErrorIs(t, err, dlr.ErrNotReceipt)
			require.ErrorContains(t, err, "dlr: ")
		})
	}
}

func TestKeysOf(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("f", 64)
	for _, tc := range []struct {
		id   string
		want dlr.Keys
	}{
		{"", dlr.Keys{}},
		{"  \x00", dlr.Keys{}},
		{"0", dlr.Keys{Raw: "0", Dec: "0", Hex: "0"}},
		{"000", dlr.Keys{Raw: "0", Dec: "0", Hex: "0"}},
		{"6699", dlr.Keys{Raw: "6699", Dec: "6699", Hex: "26265"}},
		{"1A2B", dlr.Keys{Raw: "1a2b", Hex: "6699"}},
		{"001a2b", dlr.Keys{Raw: "1a2b", Hex: "6699"}},
		{"0042", dlr.Keys{Raw: "42", Dec: "42", Hex: "66"}},
		{"msg-42", dlr.Keys{Raw: "msg-42"}},
		{"550E8400-E29B-41D4-A716-446655440000", dlr.Keys{Raw: "550e8400-e29b-41d4-a716-446655440000"}},
		{"18446744073709551615", dlr.Keys{Raw: "18446744073709551615", Dec: "18446744073709551615",
			Hex: "114598615266301018707477"}},
		{"ffffffffffffffff", dlr.Keys{Raw: "ffffffffffffffff", Hex: "18446744073709551615"}},
		{"10000000000000000", dlr.Keys{Raw: "10000000000000000", Dec: "10000000000000000", Hex: "18446744073709551616"}},
		{long, dlr.Keys{Raw: long, Hex: "115792089237316195423570985008687907853269984665640564039457584007913129639935"}},
		{long + "ff", dlr.Keys{Raw: long + "ff"}}, // 66 hex digits: no SMSC id is that long
		{" 1A2B\x00", dlr.Keys{Raw: "1a2b", Hex: "6699"}},
	} {
		t.Run(tc.id, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, dlr.KeysOf(tc.id))
		})
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		receipt   string
		submitted string
		want      bool
	}{
		{"same", "abc123", "abc123", true},
		{"case", "ABC123", "abc123", true},
		{"leading zeros", "000123", "123", true},
		{"decimal receipt, hex response", "6699", "1A2B", true},
		{"hex receipt, decimal response", "1a2b", "6699", true},
		{"decimal with zeros vs hex", "0006699", "00001a2b", true},
		{"long decimal vs long hex", "18446744073709551616", "10000000000000000", true},
		{"uuid case", "550E8400-E29B-41D4-A716-446655440000", "550e8400-e29b-41d4-a716-446655440000", true},
		{"uuid differs", "550e8400-e29b-41d4-a716-446655440000", "550e8400-e29b-41d4-a716-446655440001", false},
		{"different", "6698", "1A2B", false},
		{"both empty", "", "", false},
		{"empty receipt", "", "0", false},
		{"empty submitted", "0", "", false},
		{"non-numeric", "msg-1", "msg-2", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, dlr.Match(tc.receipt, tc.submitted))
		})
	}
}

func TestParseAllocations(t *testing.T) {
	text := "id:1234567890 sub:001 dlvrd:001 submit date:2611251200 done date:2611251201 stat:DELIVRD err:000 text:Hello world"
	require.Zero(t, testing.AllocsPerRun(100, func() {
		if _, err := dlr.Parse(text, noTLV); err != nil {
			panic(err)
		}
	}))
}
