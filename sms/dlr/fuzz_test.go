package dlr_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"gateway/sms/dlr"
)

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		"id:1234567890 sub:001 dlvrd:001 submit date:2611251200 done date:2611251201 stat:DELIVRD err:000 text:Hello",
		"ID:0A1B SUBMIT DATE:261125120005 stat : undeliv",
		"submit_date:2602301200 done date: stat:",
		"text:",
		"id:\x00",
		"submit date",
	} {
		f.Add(seed, "6699\x00", 2)
		f.Add(seed, "", -1)
	}
	f.Fuzz(func(t *testing.T, text, tlvID string, state int) {
		r, err := dlr.Parse(text, dlr.TLVs{ReceiptedMessageID: tlvID, MessageState: state})
		if err != nil {
			require.ErrorIs(t, err, dlr.ErrNotReceipt)
			return
		}
		require.True(t, r.ID != "" || r.State != 0)
		require.GreaterOrEqual(t, r.Submitted, -1)
		require.GreaterOrEqual(t, r.Delivered, -1)
		_ = dlr.Match(r.ID, tlvID)
	})
}
