package mms_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"testing"

	"github.com/stretchr/testify/require"

	"gateway/sms/mms"
)

func TestFitImage(t *testing.T) {
	t.Parallel()
	bigJPEG := encodeJPEG(t, photo(480, 360, 3, false), 95)
	opaquePNG := encodePNG(t, photo(400, 300, 4, false))
	alphaPNG := encodePNG(t, photo(320, 240, 5, true))
	smallJPEG := encodeJPEG(t, photo(40, 30, 6, false), 80)
	bigGIF := encodeGIF(t, photo(200, 150, 7, false))
	for _, tc := range []struct {
		name     string
		in       []byte
		max      int
		wantType string
		same     bool // returned unchanged
		scaled   bool // fewer pixels (else the same size, re-encoded)
	}{
		{"jpeg under the limit passes unchanged", smallJPEG, len(smallJPEG), "image/jpeg", true, false},
		{"big jpeg scaled", bigJPEG, 20_000, "image/jpeg", false, true},
		{"big jpeg, generous limit: quality only", bigJPEG, len(bigJPEG) - 1, "image/jpeg", false, false},
		{"opaque png becomes jpeg", opaquePNG, 50_000, "image/jpeg", false, false},
		{"png with transparency stays png, scaled", alphaPNG, 120_000, "image/png", false, true},
		{"small gif passes", bigGIF, len(bigGIF), "image/gif", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Greater(t, len(tc.in), 0)
			out, typ, err := mms.FitImage(tc.in, tc.max)
			require.NoError(t, err)
			require.Equal(t, tc.wantType, typ)
			require.LessOrEqual(t, len(out), tc.max)
			if tc.same {
				require.Equal(t, tc.in, out)
				return
			}
			require.Less(t, len(out), len(tc.in))
			// Still a picture, with its aspect ratio.
			inCfg, _, err := image.DecodeConfig(bytes.NewReader(tc.in))
			require.NoError(t, err)
			outCfg, format, err := image.DecodeConfig(bytes.NewReader(out))
			require.NoError(t, err)
			require.Equal(t, typ, "image/"+format)
			require.InDelta(t, float64(inCfg.Width)/float64(inCfg.Height), float64(outCfg.Width)/float64(outCfg.Height), 0.02)
			require.Equal(t, tc.scaled, outCfg.Width < inCfg.Width, "scaled from %d to %d pixels wide", inCfg.Width, outCfg.Width)
		})
	}
}

func TestFitImageRefuses(t *testing.T) {
	t.Parallel()
	bigGIF := encodeGIF(t, photo(200, 150, 7, false))
	bigJPEG := encodeJPEG(t, photo(320, 240, 8, false), 90)
	for _, tc := range []struct {
		name string
		in   []byte
		max  int
	}{
		{"gif too large", bigGIF, len(bigGIF) / 2},
		{"not an image", []byte("<html>hello</html>"), 5},
		{"limit too small for any size", bigJPEG, 200},
		{"truncated jpeg", bigJPEG[:len(bigJPEG)/3], 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := mms.FitImage(tc.in, tc.max)
			require.ErrorIs(t, err, mms.ErrCannotFit)
		})
	}
}

// A PNG header can claim far more pixels than its bytes hold; FitImage must
// refuse it without decoding.
func TestFitImageRefusesPixelBombs(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := []byte{'I', 'H', 'D', 'R', 0, 0, 0x75, 0x30, 0, 0, 0x75, 0x30, 8, 2, 0, 0, 0} // 30000×30000 RGB
	b.Write([]byte{0, 0, 0, 13})
	b.Write(chunk)
	b.Write(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(chunk)))
	b.Write(make([]byte, 2000))
	_, _, err := mms.FitImage(b.Bytes(), 1000)
	require.ErrorIs(t, err, mms.ErrCannotFit)
	require.ErrorContains(t, err, "30000×30000")
}
