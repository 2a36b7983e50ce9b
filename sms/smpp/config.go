package smpp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// Config describes one carrier's SMPP account. The zero value of every
// numeric or duration field means "use the default" (see WithDefaults).
type Config struct {
	// Carrier names the carrier in logs and metric labels.
	Carrier string
	// Address is the SMSC's host:port.
	Address string
	// SystemID, Password and SystemType go into bind_transceiver.
	SystemID, Password, SystemType string
	// Binds is the number of transceiver binds to hold open (default 1).
	Binds int
	// TPS is the contracted submit_sm rate across all binds (default 100).
	TPS int
	// Window is the number of unacknowledged submit_sm per bind (default 10).
	Window int
	// EnquireLink is the keep-alive period (default 30s).
	EnquireLink time.Duration
	// ResponseTimeout bounds the wait for submit_sm_resp, enquire_link_resp
	// and bind_transceiver_resp (default 10s).
	ResponseTimeout time.Duration
	// RebindMin and RebindMax bound the exponential back-off between bind
	// attempts (defaults 500ms and 30s). A bind that stayed up at least
	// RebindMax resets the back-off.
	RebindMin, RebindMax time.Duration
	// ThrottlePause is how long submitting stops after ESME_RTHROTTLED or
	// ESME_RMSGQFUL, and the period of the additive rate increase that
	// follows (default 1s).
	ThrottlePause time.Duration
	// DeliverConcurrency is the number of deliver_sm handled at once per bind
	// (default Window). Beyond it deliver_sm is answered ESME_RX_T_APPN so the
	// SMSC redelivers later.
	DeliverConcurrency int
	// TLS, when set, wraps the connection in TLS.
	TLS *tls.Config
	// Dial, when set, replaces the TCP/TLS dialer (tests).
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// NowFunc, when set, replaces time.Now for timestamps (Status, Deliver).
	NowFunc func() time.Time

	// Slots, when set, shares Binds with the other gateway instances of the
	// carrier: Binds is then the carrier's total, each bind loop dials only
	// while it holds its slot's lease, and the rate limit is this
	// instance's part of TPS (see SlotLeaser). nil: this process is the only
	// one and holds every bind.
	Slots SlotLeaser
	// SlotRenew is how often a held slot's lease is renewed, and a slot this
	// instance waits for is tried again (default 5s). The leaser's leases
	// must last several periods.
	SlotRenew time.Duration
}

// Field limits of bind_transceiver (SMPP 3.4 §4.1.5; sizes include the NUL).
const (
	maxSystemID   = 15
	maxPassword   = 8
	maxSystemType = 12
)

// WithDefaults returns c with every unset field given its default.
func (c Config) WithDefaults() Config {
	if c.Binds == 0 {
		c.Binds = 1
	}
	if c.TPS == 0 {
		c.TPS = 100
	}
	if c.Window == 0 {
		c.Window = 10
	}
	if c.EnquireLink == 0 {
		c.EnquireLink = 30 * time.Second
	}
	if c.ResponseTimeout == 0 {
		c.ResponseTimeout = 10 * time.Second
	}
	if c.RebindMin == 0 {
		c.RebindMin = 500 * time.Millisecond
	}
	if c.RebindMax == 0 {
		c.RebindMax = 30 * time.Second
	}
	if c.ThrottlePause == 0 {
		c.ThrottlePause = time.Second
	}
	if c.DeliverConcurrency == 0 {
		c.DeliverConcurrency = c.Window
	}
	if c.SlotRenew == 0 {
		c.SlotRenew = 5 * time.Second
	}
	return c
}

// Validate reports every problem of c as it will be used (call it on
// c.WithDefaults()), each prefixed with its path relative to the carrier
// ("smpp.tps: must be > 0"), joined with errors.Join.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("smpp.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Address == "" {
		bad("address", "is required")
	} else if host, port, err := net.SplitHostPort(c.Address); err != nil || host == "" || port == "" {
		bad("address", "must be host:port, got %q", c.Address)
	}
	if c.SystemID == "" {
		bad("system_id", "is required")
	} else if len(c.SystemID) > maxSystemID {
		bad("system_id", "at most %d characters, got %d", maxSystemID, len(c.SystemID))
	}
	if len(c.Password) > maxPassword {
		bad("password", "at most %d characters, got %d", maxPassword, len(c.Password))
	}
	if len(c.SystemType) > maxSystemType {
		bad("system_type", "at most %d characters, got %d", maxSystemType, len(c.SystemType))
	}
	positive := []struct {
		name string
		v    int
	}{
		{"binds", c.Binds}, {"tps", c.TPS}, {"window", c.Window}, {"deliver_concurrency", c.DeliverConcurrency},
	}
	for _, p := range positive {
		if p.v <= 0 {
			bad(p.name, "must be > 0")
		}
	}
	durations := []struct {
		name string
		v    time.Duration
	}{
		{"enquire_link", c.EnquireLink}, {"response_timeout", c.ResponseTimeout},
		{"rebind_min", c.RebindMin}, {"rebind_max", c.RebindMax}, {"throttle_pause", c.ThrottlePause},
		{"slot_renew", c.SlotRenew},
	}
	for _, d := range durations {
		if d.v <= 0 {
			bad(d.name, "must be > 0")
		}
	}
	if c.RebindMin > 0 && c.RebindMax > 0 && c.RebindMax < c.RebindMin {
		bad("rebind_max", "must be >= rebind_min (%s)", c.RebindMin)
	}
	return errors.Join(errs...)
}
