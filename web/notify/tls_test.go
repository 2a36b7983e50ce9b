package notify_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Webhooks outside the machine are https (the configuration refuses plain
// http elsewhere): events go over TLS to a receiver whose certificate the
// client trusts, and fail, kept for a retry, at one it does not.
func TestHTTPSWebhook(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		trusted   bool
		delivered bool
	}{
		{"trusted certificate", true, true},
		{"unknown authority", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			b.recv.srv.Close()
			tlsSrv := httptest.NewTLSServer(b.recv.srv.Config.Handler)
			t.Cleanup(tlsSrv.Close)
			b.cfg.URL = tlsSrv.URL + "/events"
			if tc.trusted {
				roots := x509.NewCertPool()
				roots.AddCert(tlsSrv.Certificate())
				b.cfg.TLS = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
			}
			id := b.store.add("msg_1", b.clock.Now())
			b.start(t)
			if tc.delivered {
				eventually(t, func() bool { return b.store.delivered(id) }, "delivered over TLS")
				require.Equal(t, []string{id}, b.recv.ids())
				require.Zero(t, b.recv.badSigs)
				return
			}
			eventually(t, func() bool { return len(b.store.event(id).failures) > 0 }, "failure recorded")
			require.Contains(t, b.store.event(id).failures[0].err, "certificate")
			require.True(t, strings.HasPrefix(b.cfg.URL, "https://"))
			require.Empty(t, b.recv.ids())
		})
	}
}

// A receiver that closes keep-alive connections left idle (as most servers
// do after a while) makes the next POST on such a connection fail before any
// answer: it is sent again once on a new connection, not recorded as a
// failed delivery and delayed by a back-off.
func TestIdleConnectionClosedByTheReceiver(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.recv.srv.Close()
	srv := httptest.NewUnstartedServer(b.recv.srv.Config.Handler)
	srv.Config.IdleTimeout = 20 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	b.cfg.URL = srv.URL + "/events"
	first := b.store.add("msg_1", b.clock.Now())
	b.start(t)
	eventually(t, func() bool { return b.store.delivered(first) }, "first event delivered")
	time.Sleep(100 * time.Millisecond) // the receiver closes the idle connection
	second := b.store.add("msg_2", b.clock.Now())
	eventually(t, func() bool { return b.store.delivered(second) }, "second event delivered")
	require.Empty(t, b.store.event(second).failures, "the stale connection cost no failed try")
	require.Equal(t, []string{first, second}, b.recv.ids())
}
