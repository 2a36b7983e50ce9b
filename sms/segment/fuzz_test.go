package segment_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"gateway/sms/segment"
)

func FuzzSplit(f *testing.F) {
	for _, seed := range []string{
		"",
		"hello",
		strings.Repeat("a", 152) + "€b" + strings.Repeat("c", 20),
		strings.Repeat("ж", 66) + "😀" + strings.Repeat("ж", 10),
		strings.Repeat("[]", 90),
		"a\xffb\xc3",
		strings.Repeat("\xff\xe2\x82", 30),
		"`ç😀€",
	} {
		f.Add(seed, uint8(3))
	}
	f.Fuzz(func(t *testing.T, text string, ref uint8) {
		plan, err := segment.Split(text, ref)
		enc, n, units := segment.Count(text)
		switch {
		case text == "":
			require.ErrorIs(t, err, segment.ErrEmpty)
			return
		case n > 255:
			require.ErrorIs(t, err, segment.ErrTooManyParts)
			return
		}
		require.NoError(t, err)
		require.Equal(t, enc, plan.Encoding)
		require.Equal(t, units, plan.Units)
		require.Len(t, plan.Segments, n)
		checkPlan(t, text, plan)
		if n > 1 {
			require.Equal(t, ref, plan.Segments[0].UDH[3])
		}
	})
}

func FuzzFindConcat(f *testing.F) {
	for _, seed := range [][]byte{
		nil,
		{0x05, 0x00, 0x03, 0x2A, 0x03, 0x02, 'h', 'i'},
		{0x06, 0x08, 0x04, 0x12, 0x34, 0x05, 0x05},
		{0x0B, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, 0x07, 0x02, 0x01},
		{0x05, 0x00, 0xFF},
		{0xFF},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, sm []byte) {
		udh, data, err := segment.ParseUDH(sm)
		if err != nil {
			require.ErrorIs(t, err, segment.ErrBadUDH)
			udh = sm // FindConcat must cope with what ParseUDH rejects too
		} else {
			require.Equal(t, len(sm), len(udh)+len(data))
		}
		c, ok := segment.FindConcat(udh)
		if ok {
			require.NotZero(t, c.Seq)
			require.LessOrEqual(t, c.Seq, c.Total)
		} else {
			require.Equal(t, segment.Concat{}, c)
		}
	})
}
