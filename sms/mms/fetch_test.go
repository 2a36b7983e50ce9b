package mms_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/sms/mms"
)

func TestFetch(t *testing.T) {
	t.Parallel()
	jpg := encodeJPEG(t, photo(64, 48, 1, false), 80)
	ms := newMediaServer(t, map[string]file{
		"/box.jpg":   {ctype: "image/jpeg", data: jpg},
		"/params":    {ctype: "IMAGE/PNG; name=x.png", data: []byte("not really")},
		"/untyped":   {data: jpg},
		"/octet":     {ctype: "application/octet-stream", data: jpg},
		"/page.html": {ctype: "text/html; charset=utf-8", data: []byte("<html></html>")},
	})
	f := &mms.Fetcher{AllowLoopback: true}
	for _, tc := range []struct {
		path, wantType string
		wantSize       int
	}{
		{"/box.jpg", "image/jpeg", len(jpg)},
		{"/params", "image/png", 10},
		{"/untyped", "image/jpeg", len(jpg)}, // sniffed
		{"/octet", "image/jpeg", len(jpg)},   // sniffed
		{"/page.html", "text/html", 13},
	} {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			got, err := f.Fetch(context.Background(), ms.URL+tc.path)
			require.NoError(t, err)
			require.Equal(t, tc.wantType, got.ContentType)
			require.Equal(t, tc.wantSize, got.Size)
			require.Len(t, got.Data, tc.wantSize)
			require.Equal(t, ms.URL+tc.path, got.URL)
		})
	}
}

func TestFetchErrors(t *testing.T) {
	t.Parallel()
	ms := newMediaServer(t, map[string]file{
		"/gone": {ctype: "image/jpeg", status: http.StatusGone},
		"/busy": {ctype: "image/jpeg", status: http.StatusServiceUnavailable},
	})
	f := &mms.Fetcher{AllowLoopback: true}
	for _, tc := range []struct {
		url        string
		status     int
		temporary  bool
		errContain string
	}{
		{ms.URL + "/gone", http.StatusGone, false, "HTTP 410"},
		{ms.URL + "/busy", http.StatusServiceUnavailable, true, "HTTP 503"},
		{ms.URL + "/missing", http.StatusNotFound, false, "HTTP 404"},
		{"ftp://example.com/a.jpg", 0, false, "scheme"},
		{"file:///etc/passwd", 0, false, "scheme"},
		{"http:///nohost", 0, false, "no host"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			t.Parallel()
			_, err := f.Fetch(context.Background(), tc.url)
			var fe *mms.FetchError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tc.status, fe.StatusCode)
			require.Equal(t, tc.temporary, fe.Temporary)
			require.ErrorContains(t, err, tc.errContain)
		})
	}
}

func TestFetchSizeCap(t *testing.T) {
	t.Parallel()
	big := make([]byte, 4096)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		if r.URL.Path == "/chunked" {
			// No Content-Length: the cap must hold while reading.
			for range 8 {
				_, _ = w.Write(big)
				w.(http.Flusher).Flush()
			}
			return
		}
		_, _ = w.Write(big)
	}))
	t.Cleanup(srv.Close)
	f := &mms.Fetcher{AllowLoopback: true, MaxSize: 1000}
	for _, path := range []string{"/length", "/chunked"} {
		_, err := f.Fetch(context.Background(), srv.URL+path)
		require.ErrorIs(t, err, mms.ErrTooLarge, path)
		var fe *mms.FetchError
		require.ErrorAs(t, err, &fe)
		require.False(t, fe.Temporary)
	}
	ok := &mms.Fetcher{AllowLoopback: true, MaxSize: 4096}
	got, err := ok.Fetch(context.Background(), srv.URL+"/length")
	require.NoError(t, err)
	require.Equal(t, 4096, got.Size)
}

func TestFetchTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	f := &mms.Fetcher{AllowLoopback: true, Timeout: 100 * time.Millisecond}
	start := time.Now()
	_, err := f.Fetch(context.Background(), srv.URL+"/slow.jpg")
	require.Error(t, err)
	require.Less(t, time.Since(start), 5*time.Second)
	var fe *mms.FetchError
	require.ErrorAs(t, err, &fe)
	require.True(t, fe.Temporary, "a timeout may work later")
}

func TestFetchRedirects(t *testing.T) {
	t.Parallel()
	jpg := encodeJPEG(t, photo(16, 16, 2, false), 80)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case strings.HasPrefix(p, "/hop/"):
			// /hop/N redirects N more times, then to the image.
			var n int
			_, _ = fmt.Sscanf(p, "/hop/%d", &n)
			next := "/img.jpg"
			if n > 1 {
				next = fmt.Sprintf("/hop/%d", n-1)
			}
			http.Redirect(w, r, next, http.StatusFound)
		case strings.HasPrefix(p, "/to/"):
			http.Redirect(w, r, "http://"+strings.TrimPrefix(p, "/to/")+"/x.jpg", http.StatusFound)
		case p == "/img.jpg":
			w.Header().Set("Content-Type", "image/jpeg")
			_, _ = w.Write(jpg)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	f := &mms.Fetcher{AllowLoopback: true}
	for _, tc := range []struct {
		name, path string
		forbidden  bool // refused as an address
		ok         bool
	}{
		{"three redirects followed", "/hop/3", false, true},
		{"four redirects refused", "/hop/4", false, false},
		{"to RFC 1918", "/to/10.0.0.7", true, false},
		{"to 192.168", "/to/192.168.1.1", true, false},
		{"to cloud metadata", "/to/169.254.169.254", true, false},
		{"to CGNAT", "/to/100.64.1.1", true, false},
		{"to unique local", "/to/[fd00::1]", true, false},
		{"to unspecified", "/to/0.0.0.0", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := f.Fetch(context.Background(), srv.URL+tc.path)
			if tc.ok {
				require.NoError(t, err)
				require.Equal(t, jpg, got.Data)
				require.Equal(t, srv.URL+"/img.jpg", got.URL)
				return
			}
			require.Error(t, err)
			require.Equal(t, tc.forbidden, errors.Is(err, mms.ErrForbiddenAddress), "%v", err)
			var fe *mms.FetchError
			require.ErrorAs(t, err, &fe)
			require.False(t, fe.Temporary)
		})
	}
}

// The address check happens when dialling, after name resolution: a name
// that leads to loopback is refused like the literal address, and nothing
// reaches the server.
func TestFetchLoopbackRefusedUnlessAllowed(t *testing.T) {
	t.Parallel()
	ms := newMediaServer(t, map[string]file{"/a.jpg": {ctype: "image/jpeg", data: []byte{0xff, 0xd8}}})
	_, port, err := net.SplitHostPort(ms.Listener.Addr().String())
	require.NoError(t, err)
	strict := &mms.Fetcher{}
	for _, u := range []string{
		ms.URL + "/a.jpg",
		"http://localhost:" + port + "/a.jpg",
		"http://[::ffff:127.0.0.1]:" + port + "/a.jpg",
		"http://[64:ff9b::7f00:1]:" + port + "/a.jpg", // NAT64 form of 127.0.0.1
	} {
		_, err := strict.Fetch(context.Background(), u)
		require.ErrorIs(t, err, mms.ErrForbiddenAddress, u)
	}
	require.Zero(t, ms.hitsOf("/a.jpg"))

	allowed := &mms.Fetcher{AllowLoopback: true}
	_, err = allowed.Fetch(context.Background(), ms.URL+"/a.jpg")
	require.NoError(t, err)
	require.Equal(t, 1, ms.hitsOf("/a.jpg"))
}

// Literal addresses of every refused kind fail before any connection is
// attempted; AllowPrivate opens private ranges only.
func TestFetchAddressRules(t *testing.T) {
	t.Parallel()
	strict := &mms.Fetcher{Timeout: time.Second}
	private := &mms.Fetcher{Timeout: time.Second, AllowPrivate: true}
	for _, tc := range []struct {
		host           string
		privateAllowed bool
	}{
		{"127.0.0.1", false},
		{"[::1]", false},
		{"10.1.2.3", true},
		{"172.16.0.1", true},
		{"192.168.0.1", true},
		{"100.64.0.1", true},
		{"[fc00::1]", true},
		{"169.254.169.254", false},
		{"[fe80::1]", false},
		{"0.0.0.0", false},
		{"[::]", false},
		{"224.0.0.1", false},
		{"[ff02::1]", false},
		{"255.255.255.255", false},
		{"[2002:a00:1::]", true}, // 6to4 of 10.0.0.1
	} {
		t.Run(tc.host, func(t *testing.T) {
			t.Parallel()
			_, err := strict.Fetch(context.Background(), "http://"+tc.host+":9/x.jpg")
			require.ErrorIs(t, err, mms.ErrForbiddenAddress)
			if !tc.privateAllowed {
				_, err := private.Fetch(context.Background(), "http://"+tc.host+":9/x.jpg")
				require.ErrorIs(t, err, mms.ErrForbiddenAddress)
			}
		})
	}
}
