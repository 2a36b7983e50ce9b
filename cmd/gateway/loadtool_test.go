package main_test

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLoadToolMeasuresARunningGateway drives a real gateway process and its
// simulated carrier with the load tool, its sink standing in for the
// unified back end, and checks the figures it reports add up.
func TestLoadToolMeasuresARunningGateway(t *testing.T) {
	t.Parallel()
	smsc := startSim(t)
	sink := freePort(t)
	cfg, _ := writeConfig(t, t.TempDir(), smsc.SMPPAddr(), setupOpts{webhookURL: "http://" + sink + "/events"})
	gw := startGateway(t, cfg)

	const n = 300
	line, errOut, code := runCLI(t, nil, "bench", "--url", gw.url, "--key", apiKey, "--n", strconv.Itoa(n),
		"--concurrency", "8", "--sink", sink, "--wait", "60s")
	require.Equal(t, 0, code, errOut)

	require.Contains(t, line, "accepted="+strconv.Itoa(n)+" ", line)
	require.Contains(t, line, "errors=none", line)
	for _, figure := range []string{"accepted/s", "submitted/s", "delivered/s"} {
		m := regexp.MustCompile(regexp.QuoteMeta(figure) + `=([0-9]+) `).FindStringSubmatch(line)
		require.NotNil(t, m, "%s is measured: %s", figure, line)
		v, _ := strconv.Atoi(m[1])
		require.Positive(t, v, line)
	}
	require.Regexp(t, `p50=[0-9.]+[µm]?s p90=[0-9.]+[µm]?s p99=[0-9.]+[µm]?s`, line)
	require.Regexp(t, `rss=[1-9][0-9]*MB`, line, "the gateway's RSS, read from its metrics")
	require.Len(t, smsc.Messages(), n, "every accepted message reached the carrier once")
}

// TestLoadToolCountsErrorsByKind: refused requests are reported by kind and
// the run fails, rather than passing off fewer messages as a result.
func TestLoadToolCountsErrorsByKind(t *testing.T) {
	t.Parallel()
	smsc := startSim(t)
	cfg, _ := writeConfig(t, t.TempDir(), smsc.SMPPAddr(), setupOpts{})
	gw := startGateway(t, cfg)

	out, errOut, code := runCLI(t, nil, "bench", "--url", gw.url, "--key", "not-a-key-0123456789", "--n", "20",
		"--concurrency", "4", "--wait", "1s")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "20 of 20 messages were not accepted")
	require.Contains(t, out, `errors="http 401":20`, out)
}
