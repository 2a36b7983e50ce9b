package mms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Fetcher defaults.
const (
	DefaultFetchMaxSize      = 5 << 20
	DefaultFetchTimeout      = 10 * time.Second
	DefaultFetchMaxRedirects = 3
)

// Errors of Fetch, found with errors.Is.
var (
	// ErrForbiddenAddress: the URL (or a redirect) leads to an address the
	// fetcher may not reach.
	ErrForbiddenAddress = errors.New("mms: media address not allowed")
	// ErrTooLarge: the media is larger than the fetcher's MaxSize.
	ErrTooLarge = errors.New("mms: media too large")
)

// Fetcher downloads media for MMS parts. Media URLs come from API callers, so
// a fetch must not become a way into the gateway's own network (SSRF): the
// address is checked when the connection is dialled, after DNS resolution,
// for the first request and every redirect alike, so a name that resolves
// to 10.0.0.1 (or re-resolves there after a first check, DNS rebinding) is
// refused. Proxies from the environment are ignored for the same reason.
//
// Refused unless allowed: loopback (AllowLoopback); RFC 1918, fc00::/7 and
// 100.64.0.0/10 CGNAT (AllowPrivate). Always refused: unspecified,
// link-local (169.254.0.0/16 holds cloud metadata services), multicast,
// broadcast and reserved ranges, and IPv6 forms that embed a refused IPv4
// address (NAT64, 6to4).
//
// The zero value is ready to use; set fields before the first Fetch. A
// Fetcher is safe for concurrent use.
type Fetcher struct {
	// MaxSize caps the body in bytes (default 5 MiB); reading stops past it.
	MaxSize int64
	// Timeout bounds one fetch, redirects and body included (default 10s).
	Timeout time.Duration
	// MaxRedirects is how many redirects are followed (default 3).
	MaxRedirects int
	// AllowLoopback lets the fetcher reach 127.0.0.0/8 and ::1 (tests, demo).
	AllowLoopback bool
	// AllowPrivate lets the fetcher reach RFC 1918, unique-local and CGNAT
	// addresses (a media server inside the operator's network).
	AllowPrivate bool
	// UserAgent is sent with every request (default "gateway-mms").
	UserAgent string

	once   sync.Once
	client *http.Client
}

// Fetched is a downloaded media file.
type Fetched struct {
	URL         string // after redirects
	ContentType string // media type without parameters, lower-case
	Size        int
	Data        []byte
}

// FetchError is a failed fetch. Temporary says whether trying again later
// may succeed (timeouts, network errors, HTTP 5xx, 408 and 429) or not
// (refused addresses, oversized media, other HTTP errors, bad URLs).
type FetchError struct {
	URL        string
	StatusCode int // the HTTP status, when the server answered with an error
	Temporary  bool
	Err        error
}

// Error says which URL failed and how.
func (e *FetchError) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("mms: fetch %s: HTTP %d", e.URL, e.StatusCode)
	}
	return fmt.Sprintf("mms: fetch %s: %v", e.URL, e.Err)
}

// Unwrap gives errors.Is access to ErrForbiddenAddress and ErrTooLarge.
func (e *FetchError) Unwrap() error { return e.Err }

// Fetch downloads rawURL. Only http and https URLs are fetched; the answer
// must be a 2xx. Its Content-Type is taken from the response, or sniffed from
// the first bytes when the server sends none or application/octet-stream.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) (*Fetched, error) {
	f.once.Do(f.init)
	fail := func(temp bool, err error) (*Fetched, error) {
		return nil, &FetchError{URL: rawURL, Temporary: temp, Err: err}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return fail(false, err)
	}
	if err := checkURL(u); err != nil {
		return fail(false, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fail(false, err)
	}
	req.Header.Set("User-Agent", f.userAgent())
	req.Header.Set("Accept", "image/*, video/*, audio/*;q=0.9, */*;q=0.1")
	resp, err := f.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is already in FetchError
		}
		return fail(temporaryDialError(err), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		temp := resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests
		return nil, &FetchError{URL: rawURL, StatusCode: resp.StatusCode, Temporary: temp, Err: fmt.Errorf("HTTP %s", resp.Status)}
	}
	limit := f.maxSize()
	if resp.ContentLength > limit {
		return fail(false, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, resp.ContentLength, limit))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fail(true, err)
	}
	if int64(len(data)) > limit {
		return fail(false, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit))
	}
	return &Fetched{URL: resp.Request.URL.String(), ContentType: contentTypeOf(resp.Header.Get("Content-Type"), data), Size: len(data), Data: data}, nil
}

// temporaryDialError says whether a failed request may work later: refused
// addresses and redirects will not, nor will a name that does not exist;
// timeouts and other network errors may.
func temporaryDialError(err error) bool {
	var dns *net.DNSError
	switch {
	case errors.Is(err, ErrForbiddenAddress), errors.Is(err, errRedirect):
		return false
	case errors.As(err, &dns) && dns.IsNotFound:
		return false
	}
	return true
}

var errRedirect = errors.New("redirect refused")

func checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.Hostname() == "" {
		return errors.New("no host")
	}
	return nil
}

// contentTypeOf is the response's media type, or what the bytes look like
// when the server did not say.
func contentTypeOf(header string, data []byte) string {
	mt, _, err := mime.ParseMediaType(header)
	mt = strings.ToLower(mt)
	if err != nil || mt == "" || mt == "application/octet-stream" {
		mt, _, _ = mime.ParseMediaType(http.DetectContentType(data))
	}
	return mt
}

func (f *Fetcher) maxSize() int64 {
	if f.MaxSize > 0 {
		return f.MaxSize
	}
	return DefaultFetchMaxSize
}

func (f *Fetcher) userAgent() string {
	if f.UserAgent != "" {
		return f.UserAgent
	}
	return "gateway-mms"
}

func (f *Fetcher) init() {
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = DefaultFetchTimeout
	}
	maxRedirects := f.MaxRedirects
	if maxRedirects <= 0 {
		maxRedirects = DefaultFetchMaxRedirects
	}
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: f.control}
	tr := &http.Transport{
		Proxy: nil, // a proxy would dial for us and escape the address check
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return f.dial(ctx, dialer, network, addr)
		},
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           32,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
	f.client = &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("%w: more than %d redirects", errRedirect, maxRedirects)
			}
			if err := checkURL(req.URL); err != nil {
				return fmt.Errorf("%w: %w", errRedirect, err)
			}
			// Literal addresses fail here with a clear message; names are
			// checked when dialled.
			if ip, err := netip.ParseAddr(req.URL.Hostname()); err == nil {
				if err := f.permitted(ip); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// dial resolves the host itself and connects only to permitted addresses,
// by address, so the name is resolved once and what is checked is what is
// dialled.
func (f *Fetcher) dial(ctx context.Context, d *net.Dialer, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	var firstErr error
	for _, ip := range ips {
		err := f.permitted(ip)
		if err == nil {
			var conn net.Conn
			if conn, err = d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port)); err == nil {
				return conn, nil
			}
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("no address for %s", host)
	}
	return nil, firstErr
}

// control runs before connect(2) on the address actually dialled: a second
// check, should anything dial without going through dial.
func (f *Fetcher) control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	return f.permitted(ip)
}

var (
	cgnat     = netip.MustParsePrefix("100.64.0.0/10")
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
	reserved  = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
		netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
		netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
		netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
		netip.MustParsePrefix("100::/64"),        // discard-only
		netip.MustParsePrefix("2001:db8::/32"),   // documentation
		netip.MustParsePrefix("192.0.2.0/24"),    // documentation
		netip.MustParsePrefix("198.51.100.0/24"), // documentation
		netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	}
)

// permitted says whether the fetcher may connect to ip.
func (f *Fetcher) permitted(ip netip.Addr) error {
	ip = ip.Unmap().WithZone("")
	refuse := func(what string) error { return fmt.Errorf("%w: %s is %s", ErrForbiddenAddress, ip, what) }
	switch {
	case !ip.IsValid():
		return refuse("invalid")
	case ip.IsLoopback():
		if f.AllowLoopback {
			return nil
		}
		return refuse("a loopback address")
	case ip.IsPrivate() || cgnat.Contains(ip):
		if f.AllowPrivate {
			return nil
		}
		return refuse("a private address")
	case ip.IsUnspecified():
		return refuse("unspecified")
	case ip.IsLinkLocalUnicast():
		return refuse("a link-local address")
	case ip.IsMulticast():
		return refuse("a multicast address")
	case nat64.Contains(ip):
		b := ip.As16()
		return f.permitted(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(ip):
		b := ip.As16()
		return f.permitted(netip.AddrFrom4([4]byte(b[2:6])))
	}
	for _, p := range reserved {
		if p.Contains(ip) {
			return refuse("a reserved address")
		}
	}
	return nil
}
