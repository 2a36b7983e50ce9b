package smpp_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/sms/smpp"
)

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := smpp.Config{Address: "127.0.0.1:2775", SystemID: "gw"}.WithDefaults()
	require.Equal(t, 1, c.Binds)
	require.Equal(t, 100, c.TPS)
	require.Equal(t, 10, c.Window)
	require.Equal(t, 30*time.Second, c.EnquireLink)
	require.Equal(t, 10*time.Second, c.ResponseTimeout)
	require.Equal(t, 500*time.Millisecond, c.RebindMin)
	require.Equal(t, 30*time.Second, c.RebindMax)
	require.Equal(t, time.Second, c.ThrottlePause)
	require.Equal(t, 10, c.DeliverConcurrency)
	require.Equal(t, 5*time.Second, c.SlotRenew)
	require.NoError(t, c.Validate())
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	valid := smpp.Config{Address: "smsc.example:2775", SystemID: "gw", Password: "secret"}.WithDefaults()
	for _, tc := range []struct {
		name   string
		mutate func(*smpp.Config)
		want   []string
	}{
		{"valid", func(*smpp.Config) {}, nil},
		{"no address", func(c *smpp.Config) { c.Address = "" }, []string{"smpp.address: is required"}},
		{"no port", func(c *smpp.Config) { c.Address = "smsc.example" }, []string{"smpp.address: must be host:port"}},
		{"no system_id", func(c *smpp.Config) { c.SystemID = "" }, []string{"smpp.system_id: is required"}},
		{"long fields", func(c *smpp.Config) {
			c.SystemID = strings.Repeat("s", 16)
			c.Password = "123456789"
			c.SystemType = strings.Repeat("t", 13)
		}, []string{"smpp.system_id: at most 15", "smpp.password: at most 8", "smpp.system_type: at most 12"}},
		{"zero numbers", func(c *smpp.Config) {
			c.Binds, c.TPS, c.Window, c.DeliverConcurrency = 0, -1, 0, 0
		}, []string{"smpp.binds: must be > 0", "smpp.tps: must be > 0", "smpp.window: must be > 0",
			"smpp.deliver_concurrency: must be > 0"}},
		{"zero durations", func(c *smpp.Config) {
			c.EnquireLink, c.ResponseTimeout, c.ThrottlePause, c.SlotRenew = 0, -time.Second, 0, -1
		}, []string{"smpp.enquire_link: must be > 0", "smpp.response_timeout: must be > 0",
			"smpp.throttle_pause: must be > 0", "smpp.slot_renew: must be > 0"}},
		{"rebind order", func(c *smpp.Config) { c.RebindMin, c.RebindMax = time.Minute, time.Second },
			[]string{"smpp.rebind_max: must be >= rebind_min"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := valid
			tc.mutate(&c)
			err := c.Validate()
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			lines := strings.Split(err.Error(), "\n")
			require.Len(t, lines, len(tc.want), "%v", err)
			for i, w := range tc.want {
				require.True(t, strings.HasPrefix(lines[i], w), "line %d: %q does not start with %q", i, lines[i], w)
			}
		})
	}
}
