package config_test

import (
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"gateway/cmd/gateway/config"
)

// env returns a lookupEnv func over vars.
func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

func noEnv(string) (string, bool) { return "", false }

// contentKey is a valid privacy.encryption_key.
var contentKey = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

// writeServiceAccount writes a fake service-account key (the PEM block holds
// random bytes: only its shape is checked).
func writeServiceAccount(tb testing.TB, path string) {
	tb.Helper()
	raw := make([]byte, 64)
	_, _ = rand.Read(raw)
	key := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: raw}))
	body := `{"type": "service_account", "client_email": "gw@project.iam.gserviceaccount.com", "private_key": ` +
		strconv.Quote(key) + `}`
	require.NoError(tb, os.WriteFile(path, []byte(body), 0o600))
}

// writeFile writes content to dir/name and returns the path.
func writeFile(tb testing.TB, dir, name, content string) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	require.NoError(tb, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// problems returns err as Problems, failing when it is anything else.
func problems(tb testing.TB, err error) config.Problems {
	tb.Helper()
	require.Error(tb, err)
	var ps *config.Problems
	require.True(tb, errors.As(err, &ps), "error %T is not *config.Problems: %v", err, err)
	require.NotEmpty(tb, *ps)
	return *ps
}

// strip is what a problem looks like in assertions: "path: message".
func strip(ps config.Problems) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Path + ": " + p.Message
	}
	return out
}

// del is a mutation value that removes the key.
type del struct{}

// mutate sets path ("carriers[0].smpp.tps") in a tree decoded from YAML to
// v, or removes it when v is del{}. A list index one past the end appends.
func mutate(tb testing.TB, root map[string]any, path string, v any) {
	tb.Helper()
	var cur any = root
	parts := strings.Split(path, ".")
	for i, part := range parts {
		last := i == len(parts)-1
		name, idx := part, -1
		if j := strings.IndexByte(part, '['); j >= 0 {
			n, err := strconv.Atoi(strings.TrimSuffix(part[j+1:], "]"))
			require.NoError(tb, err, path)
			name, idx = part[:j], n
		}
		m, ok := cur.(map[string]any)
		require.True(tb, ok, "%s: %s is not a mapping", path, name)
		if idx < 0 {
			if last {
				if _, isDel := v.(del); isDel {
					delete(m, name)
				} else {
					m[name] = v
				}
				return
			}
			if m[name] == nil {
				m[name] = map[string]any{}
			}
			cur = m[name]
			continue
		}
		list, _ := m[name].([]any)
		require.LessOrEqual(tb, idx, len(list), path)
		if idx == len(list) {
			list = append(list, map[string]any{})
			m[name] = list
		}
		if last {
			if _, isDel := v.(del); isDel {
				m[name] = append(list[:idx:idx], list[idx+1:]...)
			} else {
				list[idx] = v
			}
			return
		}
		cur = list[idx]
	}
}

// baseYAML is a valid config that uses every section; the files it names
// are written by setupDir.
const baseYAML = `
listen: 127.0.0.1:8080
database: sqlite:./gw.db
tls: {cert_file: cert.pem, key_file: key.pem}
api_keys:
  - {name: backend, key: 0123456789abcdef}
  - {name: messenger, key: fedcba9876543210, dialect: messenger}
webhook: {url: "https://events.example/hook", secret: s3cret}
ui: {admin_password: password1}
senders:
  - {name: acme, sms_source: ACME, sms_numbers: ["+33700000001"], rbm_agent: acme_agent, default_policy: promo}
  - {name: bank, sms_source: "36000"}
carriers:
  - name: sim-fr
    prefixes: ["+33"]
    smpp: {address: "127.0.0.1:2775", system_id: gw, password: secret, tls: true, ca_file: ca.pem, source_ton: 5, source_npi: 0}
    rbm: {credentials_file: sa.json, webhook_secret: rbm-secret}
    mm7: {url: "http://127.0.0.1:8090/mm7", vasp_id: acme}
  - name: sim-us
    prefixes: ["+1"]
    rbm: {token: static-token, webhook_secret: x, base_url: "http://127.0.0.1:8090"}
privacy: {encryption_key: "${KEY}"}
policies:
  - name: promo
    steps: [{channel: rcs, timeout: 60s}, {channel: sms}]
log: {level: debug, format: json}
sim: {}
`

// setupDir writes the files baseYAML names into a new directory.
func setupDir(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	writeFile(tb, dir, "cert.pem", "cert")
	writeFile(tb, dir, "key.pem", "key")
	writeFile(tb, dir, "ca.pem", "ca")
	writeServiceAccount(tb, filepath.Join(dir, "sa.json"))
	return dir
}

// loadMutated writes baseYAML with the mutations applied into dir and loads it.
func loadMutated(tb testing.TB, dir string, muts map[string]any) (*config.File, error) {
	tb.Helper()
	var root map[string]any
	require.NoError(tb, yaml.Unmarshal([]byte(baseYAML), &root))
	for _, path := range sortedKeys(muts) {
		mutate(tb, root, path, muts[path])
	}
	data, err := yaml.Marshal(root)
	require.NoError(tb, err)
	return config.Load(writeFile(tb, dir, "gateway.yaml", string(data)), env(map[string]string{"KEY": contentKey}))
}

func sortedKeys(m map[string]any) []string {
	keys := slices.Collect(maps.Keys(m))
	// Shorter paths first, so a list is replaced before its items are set.
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
	})
	return keys
}
