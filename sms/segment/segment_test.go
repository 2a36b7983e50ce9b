package segment_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"gateway/sms/segment"
)

// gsmAlphabet is the GSM 03.38 default alphabet in septet order, written out
// from spec §8 independently of the package's table. Position 0x1B (escape)
// holds a placeholder that the tests skip.
var gsmAlphabet = []rune("@£$¥èéùìòÇ\nØø\rÅå" +
	"Δ_ΦΓΛΩΠΨΣΘΞ\x00ÆæßÉ" +
	" !\"#¤%&'()*+,-./" +
	"0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNO" +
	"PQRSTUVWXYZÄÖÑÜ§" +
	"¿abcdefghijklmno" +
	"pqrstuvwxyzäöñüà")

// gsmExtension is the extension table of spec §8: rune → code after 0x1B.
var gsmExtension = map[rune]byte{
	'\f': 0x0A, '^': 0x14, '{': 0x28, '}': 0x29, '\\': 0x2F,
	'[': 0x3C, '~': 0x3D, ']': 0x3E, '|': 0x40, '€': 0x65,
}

func TestChooseCount(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		text     string
		enc      segment.Encoding
		segments int
		units    int
	}{
		{"empty", "", segment.GSM7, 0, 0},
		{"ascii", "Hello, world!", segment.GSM7, 1, 13},
		{"euro", "€", segment.GSM7, 1, 2},
		{"extension chars", "€[]{}~^\\|", segment.GSM7, 1, 18},
		{"form feed", "\f", segment.GSM7, 1, 2},
		{"gsm latin and greek", "£¥èéùìòÇØøÅåÄÖÑÜäöñüà§¿¡ΔΦΓΛΩΠΨΣΘΞ", segment.GSM7, 1, 34},
		{"capital c cedilla", "Ç", segment.GSM7, 1, 1},
		{"small c cedilla", "ç", segment.UCS2, 1, 1},
		{"backtick", "a`b", segment.UCS2, 1, 3},
		{"curly quotes", "‘a’ “b”", segment.UCS2, 1, 7},
		{"emoji", "ok 😀", segment.UCS2, 1, 5},
		{"escape char itself", "\x1b", segment.UCS2, 1, 1},
		{"invalid utf-8", "a\xffb", segment.UCS2, 1, 3},
		{"160 septets", strings.Repeat("a", 160), segment.GSM7, 1, 160},
		{"161 septets", strings.Repeat("a", 161), segment.GSM7, 2, 161},
		{"2x153 septets", strings.Repeat("a", 306), segment.GSM7, 2, 306},
		{"2x153+1 septets", strings.Repeat("a", 307), segment.GSM7, 3, 307},
		{"80 euros = 160 septets", strings.Repeat("€", 80), segment.GSM7, 1, 160},
		// 76 escapes (152 septets) fit a part: 81 need 2 parts, 153 need 3.
		{"81 euros", strings.Repeat("€", 81), segment.GSM7, 2, 162},
		{"152 euros", strings.Repeat("€", 152), segment.GSM7, 2, 304},
		{"153 euros", strings.Repeat("€", 153), segment.GSM7, 3, 306},
		{"70 units", strings.Repeat("ж", 70), segment.UCS2, 1, 70},
		{"71 units", strings.Repeat("ж", 71), segment.UCS2, 2, 71},
		{"2x67 units", strings.Repeat("ж", 134), segment.UCS2, 2, 134},
		{"2x67+1 units", strings.Repeat("ж", 135), segment.UCS2, 3, 135},
		{"35 emoji = 70 units", strings.Repeat("😀", 35), segment.UCS2, 1, 70},
		// 33 emoji (66 units) fit a part of 67.
		{"36 emoji", strings.Repeat("😀", 36), segment.UCS2, 2, 72},
		{"67 emoji", strings.Repeat("😀", 67), segment.UCS2, 3, 134},
		{"invalid utf-8, 2 parts", strings.Repeat("\xff", 71), segment.UCS2, 2, 71},
		{"ascii with one emoji", strings.Repeat("a", 69) + "😀", segment.UCS2, 2, 71},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.enc, segment.Choose(tc.text))
			enc, segments, units := segment.Count(tc.text)
			require.Equal(t, tc.enc, enc)
			require.Equal(t, tc.segments, segments, "segments")
			require.Equal(t, tc.units, units, "units")
			if tc.text == "" {
				return
			}
			plan, err := segment.Split(tc.text, 7)
			require.NoError(t, err)
			require.Equal(t, tc.enc, plan.Encoding)
			require.Equal(t, tc.units, plan.Units)
			require.Len(t, plan.Segments, tc.segments)
			checkPlan(t, tc.text, plan)
		})
	}
}

// checkPlan asserts what every plan must satisfy: segment texts concatenate
// to the input, each payload decodes to its segment's text and fits its
// capacity, and the headers number the parts.
func checkPlan(tb testing.TB, text string, plan segment.Plan) {
	tb.Helper()
	n := len(plan.Segments)
	require.NotZero(tb, n)
	single, part := 160, 153
	if plan.Encoding == segment.UCS2 {
		single, part = 70, 67
	}
	var joined strings.Builder
	units := 0
	for i, s := range plan.Segments {
		joined.WriteString(s.Text)
		require.Equal(tb, i+1, s.Seq)
		require.Equal(tb, n, s.Total)
		var got string
		u := len(s.Payload)
		if plan.Encoding == segment.GSM7 {
			got = segment.DecodeGSM7(s.Payload)
		} else {
			var err error
			got, err = segment.DecodeUCS2(s.Payload)
			require.NoError(tb, err)
			u /= 2
		}
		units += u
		// []rune turns each invalid byte into U+FFFD, as Split does.
		require.Equal(tb, string([]rune(s.Text)), got, "segment %d", s.Seq)
		if n == 1 {
			require.Nil(tb, s.UDH)
			require.LessOrEqual(tb, u, single)
			require.Equal(tb, s.Payload, s.ShortMessage())
			continue
		}
		require.LessOrEqual(tb, u, part, "segment %d", s.Seq)
		require.Equal(tb, []byte{0x05, 0x00, 0x03, s.UDH[3], byte(n), byte(i + 1)}, s.UDH)
		require.Equal(tb, plan.Segments[0].UDH[3], s.UDH[3], "one reference for all parts")
		require.Equal(tb, append(append([]byte{}, s.UDH...), s.Payload...), s.ShortMessage())
		// sm_length is at most 254; on the air a UCS2 part is at most 140
		// octets (GSM septets were bounded above).
		require.LessOrEqual(tb, len(s.ShortMessage()), 254)
		if plan.Encoding == segment.UCS2 {
			require.LessOrEqual(tb, len(s.ShortMessage()), 140)
		}
	}
	require.Equal(tb, text, joined.String())
	require.Equal(tb, plan.Units, units)
}

func TestSplitUDH(t *testing.T) {
	t.Parallel()
	plan, err := segment.Split(strings.Repeat("a", 153)+"bc"+strings.Repeat("d", 6), 0x2A)
	require.NoError(t, err)
	require.Len(t, plan.Segments, 2)
	s1, s2 := plan.Segments[0], plan.Segments[1]
	require.Equal(t, []byte{0x05, 0x00, 0x03, 0x2A, 0x02, 0x01}, s1.UDH)
	require.Equal(t, []byte{0x05, 0x00, 0x03, 0x2A, 0x02, 0x02}, s2.UDH)
	require.Equal(t, []byte("bcdddddd"), s2.Payload)
	require.Equal(t, []byte("\x05\x00\x03\x2A\x02\x02bcdddddd"), s2.ShortMessage())
	require.Len(t, s1.ShortMessage(), 6+153)
}

func TestSplitPayloadBytes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		text string
		enc  segment.Encoding
		want []byte
	}{
		{"gsm low septets", "@£$", segment.GSM7, []byte{0x00, 0x01, 0x02}},
		{"gsm escape", "a€[", segment.GSM7, []byte{'a', 0x1B, 0x65, 0x1B, 0x3C}},
		{"gsm specials", "¤¡¿_", segment.GSM7, []byte{0x24, 0x40, 0x60, 0x11}},
		{"ucs2 bmp", "hé`", segment.UCS2, []byte{0x00, 0x68, 0x00, 0xE9, 0x00, 0x60}},
		{"ucs2 surrogate pair", "😀", segment.UCS2, []byte{0xD8, 0x3D, 0xDE, 0x00}},
		{"invalid utf-8 as U+FFFD", "\xff", segment.UCS2, []byte{0xFF, 0xFD}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plan, err := segment.Split(tc.text, 0)
			require.NoError(t, err)
			require.Equal(t, tc.enc, plan.Encoding)
			require.Len(t, plan.Segments, 1)
			require.Equal(t, segment.Segment{Seq: 1, Total: 1, Payload: tc.want, Text: tc.text}, plan.Segments[0])
		})
	}
}

func TestSplitNeverCutsEscape(t *testing.T) {
	t.Parallel()
	// The € would take septets 153 and 154: the whole escape moves on.
	text := strings.Repeat("a", 152) + "€" + strings.Repeat("b", 10)
	plan, err := segment.Split(text, 1)
	require.NoError(t, err)
	require.Len(t, plan.Segments, 2)
	require.Len(t, plan.Segments[0].Payload, 152)
	require.Equal(t, strings.Repeat("a", 152), plan.Segments[0].Text)
	require.Equal(t, []byte{0x1B, 0x65, 'b'}, plan.Segments[1].Payload[:3])
	checkPlan(t, text, plan)
}

func TestSplitNeverCutsSurrogatePair(t *testing.T) {
	t.Parallel()
	// The emoji would take units 67 and 68: the whole pair moves on.
	text := strings.Repeat("ж", 66) + "😀" + strings.Repeat("ж", 10)
	plan, err := segment.Split(text, 1)
	require.NoError(t, err)
	require.Len(t, plan.Segments, 2)
	require.Len(t, plan.Segments[0].Payload, 66*2)
	require.Equal(t, []byte{0xD8, 0x3D, 0xDE, 0x00}, plan.Segments[1].Payload[:4])
	checkPlan(t, text, plan)
}

func TestSplitLongMixed(t *testing.T) {
	t.Parallel()
	text := []rune(strings.Repeat("Prix: 10€ [promo] valable à Paris. ", 12))[:400]
	require.Len(t, text, 400)
	plan, err := segment.Split(string(text), 200)
	require.NoError(t, err)
	require.Equal(t, segment.GSM7, plan.Encoding)
	euros := strings.Count(string(text), "€") + strings.Count(string(text), "[") + strings.Count(string(text), "]")
	require.Equal(t, 400+euros, plan.Units)
	require.Len(t, plan.Segments, 3)
	checkPlan(t, string(text), plan)
}

func TestSplitErrors(t *testing.T) {
	t.Parallel()
	_, err := segment.Split("", 0)
	require.ErrorIs(t, err, segment.ErrEmpty)

	plan, err := segment.Split(strings.Repeat("a", 153*255), 0)
	require.NoError(t, err)
	require.Len(t, plan.Segments, 255)
	checkPlan(t, strings.Repeat("a", 153*255), plan)

	_, err = segment.Split(strings.Repeat("a", 153*255+1), 0)
	require.ErrorIs(t, err, segment.ErrTooManyParts)
	require.ErrorContains(t, err, "256 parts")
	_, n, _ := segment.Count(strings.Repeat("a", 153*255+1))
	require.Equal(t, 256, n)
}

func TestEncodingNames(t *testing.T) {
	t.Parallel()
	require.Equal(t, "gsm7", segment.GSM7.String())
	require.Equal(t, "ucs2", segment.UCS2.String())
	require.Equal(t, "Encoding(0)", segment.Encoding(0).String())
	require.Equal(t, byte(0x00), segment.GSM7.DataCoding())
	require.Equal(t, byte(0x08), segment.UCS2.DataCoding())
	b, err := json.Marshal(struct{ Encoding segment.Encoding }{segment.UCS2})
	require.NoError(t, err)
	require.JSONEq(t, `{"Encoding":"ucs2"}`, string(b))
}

func TestGSM7RoundTripEveryChar(t *testing.T) {
	t.Parallel()
	require.Len(t, gsmAlphabet, 128)
	for code, r := range gsmAlphabet {
		if code == 0x1B {
			continue
		}
		b, err := segment.EncodeGSM7(string(r))
		require.NoError(t, err, "%q", r)
		require.Equal(t, []byte{byte(code)}, b, "%q", r)
		require.Equal(t, string(r), segment.DecodeGSM7(b))
		require.Equal(t, segment.GSM7, segment.Choose(string(r)))
	}
	for r, code := range gsmExtension {
		b, err := segment.EncodeGSM7(string(r))
		require.NoError(t, err, "%q", r)
		require.Equal(t, []byte{0x1B, code}, b, "%q", r)
		require.Equal(t, string(r), segment.DecodeGSM7(b))
	}
	// The whole alphabet at once, escape removed.
	all := strings.Replace(string(gsmAlphabet), "\x00", "", 1)
	b, err := segment.EncodeGSM7(all)
	require.NoError(t, err)
	require.Len(t, b, 127)
	require.Equal(t, all, segment.DecodeGSM7(b))
}

func TestEncodeGSM7Error(t *testing.T) {
	t.Parallel()
	_, err := segment.EncodeGSM7("ab`c")
	require.ErrorIs(t, err, segment.ErrNotGSM7)
	require.ErrorContains(t, err, "U+0060")
	require.ErrorContains(t, err, "byte 2")
	_, err = segment.EncodeGSM7("façade")
	require.ErrorContains(t, err, "U+00E7")
}

func TestDecodeGSM7Odd(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, ""},
		{"unknown escape shows the base char", []byte{0x1B, 'A'}, "A"},
		{"escape escape is a space", []byte{'a', 0x1B, 0x1B, 'b'}, "a b"},
		{"trailing escape is a space", []byte{'a', 0x1B}, "a "},
		{"high bit ignored", []byte{0x80 | 'a', 0x80}, "a@"},
		{"escape with high bit", []byte{0x9B, 0xE5}, "€"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := segment.DecodeGSM7(tc.in)
			require.Equal(t, tc.want, got)
			require.True(t, utf8.ValidString(got))
		})
	}
}

func TestDecodeUCS2(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		in      []byte
		want    string
		wantErr bool
	}{
		{"empty", nil, "", false},
		{"bmp", []byte{0x00, 0x68, 0x04, 0x36}, "hж", false},
		{"pair", []byte{0xD8, 0x3D, 0xDE, 0x00}, "😀", false},
		{"lone high at end", []byte{0x00, 0x61, 0xD8, 0x3D}, "a\uFFFD", false},
		{"lone low", []byte{0xDE, 0x00, 0x00, 0x61}, "\uFFFDa", false},
		{"high then bmp", []byte{0xD8, 0x3D, 0x00, 0x61}, "\uFFFDa", false},
		{"odd length", []byte{0x00, 0x61, 0x00}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := segment.DecodeUCS2(tc.in)
			if tc.wantErr {
				require.ErrorContains(t, err, "odd length")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	gsm := []byte{'H', 0x05, 0x1B, 0x65}              // "Hé€"
	ucs2 := []byte{0x00, 'H', 0x00, 0xE9, 0x20, 0xAC} // "Hé€"
	for _, tc := range []struct {
		dc      byte
		in      []byte
		want    string
		wantErr error
	}{
		{0x00, gsm, "Hé€", nil},
		{0x01, []byte("Hi!"), "Hi!", nil},
		{0x01, []byte{'H', 0xE9}, "Hé", nil},
		{0x03, []byte{'H', 0xE9, 0xA4}, "Hé¤", nil},
		{0x08, ucs2, "Hé€", nil},
		{0x02, []byte{1, 2}, "", segment.ErrBinary},
		{0x04, []byte{1, 2}, "", segment.ErrBinary},
		{0x05, []byte{1, 2}, "", segment.ErrUnsupportedCoding},
		{0x06, []byte{1, 2}, "", segment.ErrUnsupportedCoding},
		{0x09, []byte{1, 2}, "", segment.ErrUnsupportedCoding},
		{0x0F, []byte{1, 2}, "", segment.ErrUnsupportedCoding},
		{0x10, gsm, "Hé€", nil},
		{0x11, gsm, "Hé€", nil},
		{0x13, gsm, "Hé€", nil},
		{0x14, gsm, "", segment.ErrBinary},
		{0x16, gsm, "", segment.ErrBinary},
		{0x18, ucs2, "Hé€", nil},
		{0x1A, ucs2, "Hé€", nil},
		{0x1C, gsm, "", segment.ErrUnsupportedCoding},
		{0x20, gsm, "", segment.ErrUnsupportedCoding}, // compressed
		{0x31, gsm, "", segment.ErrUnsupportedCoding}, // compressed, class 1
		{0x40, gsm, "Hé€", nil},                       // automatic deletion group
		{0x48, ucs2, "Hé€", nil},
		{0x80, gsm, "", segment.ErrUnsupportedCoding},
		{0xBF, gsm, "", segment.ErrUnsupportedCoding},
		{0xC0, gsm, "Hé€", nil}, // message waiting, discard
		{0xD8, gsm, "Hé€", nil}, // message waiting, store
		{0xE0, ucs2, "Hé€", nil},
		{0xF0, gsm, "Hé€", nil}, // flash
		{0xF1, gsm, "Hé€", nil},
		{0xF3, gsm, "Hé€", nil},
		{0xF4, gsm, "", segment.ErrBinary},
		{0xF7, gsm, "", segment.ErrBinary},
	} {
		t.Run(hex(tc.dc), func(t *testing.T) {
			t.Parallel()
			got, err := segment.Decode(tc.dc, tc.in)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.ErrorContains(t, err, hex(tc.dc))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	_, err := segment.Decode(0x08, []byte{0x00})
	require.ErrorContains(t, err, "odd length")
}

func hex(b byte) string {
	const digits = "0123456789ABCDEF"
	return "0x" + string([]byte{digits[b>>4], digits[b&0x0F]})
}

func TestParseUDH(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		in      []byte
		udh     []byte
		data    []byte
		wantErr bool
	}{
		{"concat", []byte{5, 0, 3, 9, 2, 1, 'h', 'i'}, []byte{5, 0, 3, 9, 2, 1}, []byte("hi"), false},
		{"header only", []byte{5, 0, 3, 9, 2, 1}, []byte{5, 0, 3, 9, 2, 1}, []byte{}, false},
		{"udhl zero", []byte{0, 'h'}, []byte{0}, []byte("h"), false},
		{"empty", nil, nil, nil, true},
		{"udhl past end", []byte{5, 0, 3, 9, 2}, nil, nil, true},
		{"udhl 255", append([]byte{255}, make([]byte, 10)...), nil, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			udh, data, err := segment.ParseUDH(tc.in)
			if tc.wantErr {
				require.ErrorIs(t, err, segment.ErrBadUDH)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.udh, udh)
			require.Equal(t, tc.data, data)
			require.Equal(t, len(udh), cap(udh), "appending to the udh must not overwrite the data")
		})
	}
}

func TestFindConcat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		udh  []byte
		want segment.Concat
		ok   bool
	}{
		{"8-bit", []byte{0x05, 0x00, 0x03, 0x2A, 0x03, 0x02}, segment.Concat{Ref: 0x2A, Total: 3, Seq: 2}, true},
		{"16-bit", []byte{0x06, 0x08, 0x04, 0x12, 0x34, 0x05, 0x05}, segment.Concat{Ref: 0x1234, Total: 5, Seq: 5, Ref16: true}, true},
		{"port element first", []byte{0x0B, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, 0x07, 0x02, 0x01},
			segment.Concat{Ref: 7, Total: 2, Seq: 1}, true},
		{"language shift after", []byte{0x08, 0x00, 0x03, 0x07, 0x02, 0x02, 0x25, 0x01, 0x01},
			segment.Concat{Ref: 7, Total: 2, Seq: 2}, true},
		{"repeated, last wins", []byte{0x0A, 0x00, 0x03, 0x01, 0x02, 0x01, 0x00, 0x03, 0x09, 0x04, 0x03},
			segment.Concat{Ref: 9, Total: 4, Seq: 3}, true},
		{"no concat element", []byte{0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0}, segment.Concat{}, false},
		{"empty", nil, segment.Concat{}, false},
		{"udhl zero", []byte{0x00}, segment.Concat{}, false},
		{"udhl past end", []byte{0x05, 0x00, 0x03, 0x2A, 0x03}, segment.Concat{}, false},
		{"element past udhl", []byte{0x04, 0x00, 0x03, 0x2A, 0x03, 0x02}, segment.Concat{}, false},
		{"element header cut", []byte{0x01, 0x00}, segment.Concat{}, false},
		{"wrong length", []byte{0x04, 0x00, 0x02, 0x2A, 0x03}, segment.Concat{}, false},
		{"total zero", []byte{0x05, 0x00, 0x03, 0x2A, 0x00, 0x00}, segment.Concat{}, false},
		{"seq zero", []byte{0x05, 0x00, 0x03, 0x2A, 0x03, 0x00}, segment.Concat{}, false},
		{"seq past total", []byte{0x05, 0x00, 0x03, 0x2A, 0x03, 0x04}, segment.Concat{}, false},
		{"16-bit seq past total", []byte{0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x03}, segment.Concat{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := segment.FindConcat(tc.udh)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestSplitFindConcatRoundTrip(t *testing.T) {
	t.Parallel()
	plan, err := segment.Split(strings.Repeat("ж", 200), 0xFE)
	require.NoError(t, err)
	for _, s := range plan.Segments {
		udh, data, err := segment.ParseUDH(s.ShortMessage())
		require.NoError(t, err)
		require.Equal(t, s.Payload, data)
		c, ok := segment.FindConcat(udh)
		require.True(t, ok)
		require.Equal(t, segment.Concat{Ref: 0xFE, Total: uint8(s.Total), Seq: uint8(s.Seq)}, c)
	}
}

func TestAllocations(t *testing.T) {
	text := strings.Repeat("Prix: 10€ [promo] ", 20)
	require.Zero(t, testing.AllocsPerRun(100, func() { segment.Count(text) }))
	require.Zero(t, testing.AllocsPerRun(100, func() { segment.Choose(text) }))
	// One buffer for all headers and payloads, one slice of segments.
	require.LessOrEqual(t, testing.AllocsPerRun(100, func() {
		if _, err := segment.Split(text, 1); err != nil {
			panic(err)
		}
	}), 2.0)
}
