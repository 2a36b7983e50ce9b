package mms_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/sms/mms"
	"gateway/unify"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(tb testing.TB, name string, got []byte) {
	tb.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(tb, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(tb, err, "run go test -update to create %s", path)
	require.Equal(tb, string(want), string(got), "golden file %s (go test -update rewrites it)", path)
}

var fixedNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// photo draws a w×h picture that compresses like a photograph: smooth
// gradients with some noise, so JPEG and PNG sizes are realistic.
func photo(w, h int, seed uint64, alpha bool) image.Image {
	r := rand.New(rand.NewPCG(seed, seed+1))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			n := uint8(r.IntN(48))
			a := uint8(255)
			if alpha && x < w/4 {
				a = uint8(x * 255 / (w / 4))
			}
			img.SetNRGBA(x, y, color.NRGBA{R: uint8(x*255/w) + n, G: uint8(y*255/h) + n, B: uint8((x+y)*127/(w+h)) + n, A: a})
		}
	}
	return img
}

func encodeJPEG(tb testing.TB, img image.Image, q int) []byte {
	tb.Helper()
	var b bytes.Buffer
	require.NoError(tb, jpeg.Encode(&b, img, &jpeg.Options{Quality: q}))
	return b.Bytes()
}

func encodePNG(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	var b bytes.Buffer
	require.NoError(tb, png.Encode(&b, img))
	return b.Bytes()
}

func encodeGIF(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	var b bytes.Buffer
	require.NoError(tb, gif.Encode(&b, img, nil))
	return b.Bytes()
}

// file is what the media server answers for one path.
type file struct {
	ctype  string
	data   []byte
	status int
}

// mediaServer serves files on loopback and counts requests.
type mediaServer struct {
	*httptest.Server
	mu    sync.Mutex
	hits  map[string]int
	files map[string]file
}

func newMediaServer(tb testing.TB, files map[string]file) *mediaServer {
	tb.Helper()
	ms := &mediaServer{hits: map[string]int{}, files: files}
	ms.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ms.mu.Lock()
		ms.hits[r.URL.Path]++
		f, ok := ms.files[r.URL.Path]
		ms.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		if f.ctype != "" {
			w.Header().Set("Content-Type", f.ctype)
		} else {
			w.Header()["Content-Type"] = nil // no sniffing by net/http either
		}
		if f.status != 0 {
			w.WriteHeader(f.status)
		}
		_, _ = w.Write(f.data)
	}))
	tb.Cleanup(ms.Close)
	return ms
}

func (ms *mediaServer) hitsOf(path string) int {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.hits[path]
}

// fakeSink records what the channel reports.
type fakeSink struct {
	mu       sync.Mutex
	receipts []unify.Receipt
	inbound  []unify.Inbound
	err      error
}

func (s *fakeSink) HandleReceipt(_ context.Context, r unify.Receipt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.receipts = append(s.receipts, r)
	return nil
}

func (s *fakeSink) HandleInbound(_ context.Context, in unify.Inbound) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.inbound = append(s.inbound, in)
	return nil
}

var errSinkDown = errors.New("store down")

// newChannel builds a channel with one carrier "sim" at mmscURL, a fetcher
// allowed on loopback, and a fixed clock.
func newChannel(tb testing.TB, mmscURL string, sink mms.Sink, tweak func(*mms.Config)) *mms.Channel {
	tb.Helper()
	cfg := mms.Config{
		Carriers: map[string]mms.CarrierConfig{"sim": {
			URL: mmscURL, VASPID: "acme", VASID: "gateway", ServiceCode: "promo-1",
			Username: "gw", Password: "s3cret",
		}},
		Senders: map[string]string{"acme": "36000"},
		Fetcher: &mms.Fetcher{AllowLoopback: true, Timeout: 5 * time.Second},
		NowFunc: func() time.Time { return fixedNow },
	}
	if tweak != nil {
		tweak(&cfg)
	}
	if sink == nil {
		sink = &fakeSink{}
	}
	return mms.New(cfg, sink)
}

func sendErrorKind(tb testing.TB, err error) error {
	tb.Helper()
	var se *unify.SendError
	require.ErrorAs(tb, err, &se)
	return se.Kind
}
