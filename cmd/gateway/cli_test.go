package main_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func runCLI(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(gatewayBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), env...)
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return out.String(), errb.String(), code
}

func TestCheckConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good, _ := writeConfig(t, dir, "127.0.0.1:2775", setupOpts{webhookURL: "http://127.0.0.1:9000/events"})
	out, _, code := runCLI(t, nil, "check-config", "--config", good)
	require.Equal(t, 0, code)
	require.Contains(t, out, "ok")

	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(`
listen: 127.0.0.1:8080
api_keys: [{name: a, key: short}]
senders: [{name: acme, sms_source: ACME, default_policy: nope}]
carriers:
  - name: fr
    prefixes: ["+33"]
    smpp: {address: "127.0.0.1:2775", system_id: gw, password: secret, tps: 0}
privacy: {encryption: "off"}
`), 0o600))
	_, errOut, code := runCLI(t, nil, "check-config", "--config", bad)
	require.Equal(t, 2, code)
	for _, want := range []string{"api_keys[0].key", "senders[0].default_policy", "carriers[0].smpp.tps"} {
		require.Contains(t, errOut, want)
	}

	_, errOut, code = runCLI(t, nil, "serve")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "--config")
	_, _, code = runCLI(t, nil, "frobnicate")
	require.Equal(t, 2, code)
}

func TestSendCommand(t *testing.T) {
	t.Parallel()
	smsc := startSim(t)
	cfg, _ := writeConfig(t, t.TempDir(), smsc.SMPPAddr(), setupOpts{webhookURL: "http://127.0.0.1:1/unused"})
	gw := startGateway(t, cfg)
	env := []string{"GATEWAY_URL=" + gw.url, "GATEWAY_API_KEY=" + apiKey}

	out, errOut, code := runCLI(t, env, "send", "--to", "+33612345678", "--from", "acme", "--text", "hi from the CLI")
	require.Equal(t, 0, code, errOut)
	id := strings.TrimSpace(out)
	require.True(t, strings.HasPrefix(id, "msg_"), out)
	gw.waitStatus(id, "delivered", 30*time.Second)

	_, errOut, code = runCLI(t, env, "send", "--to", "0612", "--from", "acme", "--text", "x")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "to:")

	csv := filepath.Join(t.TempDir(), "batch.csv")
	require.NoError(t, os.WriteFile(csv, []byte("to,text,client_ref\n+33612345678,first,a\n+33612345679,second,b\n+33612345670,\"third, with comma\",c\n"), 0o600))
	out, errOut, code = runCLI(t, env, "send", "--file", csv, "--from", "acme")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "sent 3, failed 0")
	require.Eventually(t, func() bool {
		n := 0
		for _, m := range smsc.Messages() {
			if m.Text == "third, with comma" || m.Text == "first" || m.Text == "second" {
				n++
			}
		}
		return n == 3
	}, 30*time.Second, 20*time.Millisecond)
}
