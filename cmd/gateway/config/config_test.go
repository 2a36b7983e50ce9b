package config_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/cmd/gateway/config"
	"gateway/unify"
)

var contractEnv = map[string]string{
	"GATEWAY_API_KEY":     "k3y-for-the-unified-backend",
	"WEBHOOK_SECRET":      "webhook-s3cret",
	"UI_PASSWORD":         "correct horse",
	"RBM_CLIENT_TOKEN":    "rbm-client-token",
	"GATEWAY_CONTENT_KEY": contentKey,
}

// loadContract loads testdata/contract.yaml (the example of CONTRACT.md)
// from a temporary directory holding the service-account key it names.
func loadContract(t *testing.T) (*config.File, string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "contract.yaml"))
	require.NoError(t, err)
	dir := t.TempDir()
	writeServiceAccount(t, filepath.Join(dir, "rbm-service-account.json"))
	f, err := config.Load(writeFile(t, dir, "gateway.yaml", string(data)), env(contractEnv))
	require.NoError(t, err)
	return f, dir
}

func TestContractExample(t *testing.T) {
	t.Parallel()
	f, dir := loadContract(t)

	require.Equal(t, "127.0.0.1:8080", f.Listen)
	require.Equal(t, "sqlite:"+filepath.Join(dir, "data", "gateway.db"), f.Database)
	require.Equal(t, "http://127.0.0.1:8080", f.PublicURL)
	require.Nil(t, f.TLS)
	require.Equal(t, []config.APIKey{{Name: "unified-backend", Key: contractEnv["GATEWAY_API_KEY"], Dialect: config.DialectUnified}}, f.APIKeys)
	require.Equal(t, config.Webhook{
		URL: "http://127.0.0.1:9000/events", Secret: contractEnv["WEBHOOK_SECRET"], Timeout: config.Duration(10 * time.Second), Pipeline: 1,
	}, f.Webhook)
	require.Equal(t, contractEnv["UI_PASSWORD"], f.UI.AdminPassword)
	require.Equal(t, []config.Sender{{
		Name: "acme", SMSSource: "ACME", SMSNumbers: []string{"+33700000001"}, RBMAgent: "acme_agent", DefaultPolicy: "default",
	}}, f.Senders)

	require.Len(t, f.Carriers, 1)
	c := f.Carriers[0]
	require.Equal(t, "sim-fr", c.Name)
	require.Equal(t, []string{"+33"}, c.Prefixes)
	require.Equal(t, &config.SMPP{
		Address: "127.0.0.1:2775", SystemID: "gw", Password: "secret", Binds: 1, TPS: 100, Window: 10,
		EnquireLink: config.Duration(30 * time.Second), ResponseTimeout: config.Duration(10 * time.Second),
	}, c.SMPP)
	require.Equal(t, &config.RBM{
		BaseURL: "https://rcsbusinessmessaging.googleapis.com", TokenURL: "https://oauth2.googleapis.com/token",
		CredentialsFile: filepath.Join(dir, "rbm-service-account.json"), WebhookSecret: contractEnv["RBM_CLIENT_TOKEN"],
		Timeout: config.Duration(10 * time.Second),
	}, c.RBM)
	require.Equal(t, &config.MM7{
		URL: "http://127.0.0.1:8090/mm7", VASPID: "acme", VASID: "gateway", MaxSize: 614400,
		Namespace: "http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4", Version: "6.8.0",
	}, c.MM7)

	require.Equal(t, config.Privacy{
		EncryptionKey: contentKey, ContentRetention: config.Duration(168 * time.Hour), MetadataRetention: config.Duration(2160 * time.Hour),
	}, f.Privacy)
	require.True(t, f.Privacy.Encrypted())
	require.Equal(t, []byte("0123456789abcdef0123456789abcdef"), f.Privacy.Key())
	require.Equal(t, config.Log{Level: "info", Format: "text"}, f.Log)
	require.Nil(t, f.Sim)

	require.Equal(t, []unify.Policy{{
		Name: "default",
		Steps: []unify.Step{
			{Channel: unify.ChannelRCS, Timeout: 60 * time.Second},
			{Channel: unify.ChannelMMS, Timeout: 10 * time.Minute},
			{Channel: unify.ChannelSMS},
		},
		SMS:             unify.SMSOptions{NumberReplies: true},
		OnRevokeFailure: unify.RevokeSuppress,
	}}, f.UnifyPolicies())
	require.Equal(t, []unify.Sender{{
		Name: "acme", SMSSource: "ACME", SMSNumbers: []string{"+33700000001"}, RBMAgent: "acme_agent", DefaultPolicy: "default",
	}}, f.UnifySenders())
}

func TestContractExampleNeedsItsVariables(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("testdata", "contract.yaml"))
	require.NoError(t, err)
	f, err := config.Parse(data, noEnv)
	require.Nil(t, f, "unset variables are decoding problems")
	require.Equal(t, []string{
		"api_keys[0].key: environment variable GATEWAY_API_KEY is not set",
		"webhook.secret: environment variable WEBHOOK_SECRET is not set",
		"ui.admin_password: environment variable UI_PASSWORD is not set",
		// credentials_file is relative to the working directory with Parse.
		"carriers[0].rbm.credentials_file: no such file: ./rbm-service-account.json",
		"carriers[0].rbm.webhook_secret: environment variable RBM_CLIENT_TOKEN is not set",
		"privacy.encryption_key: environment variable GATEWAY_CONTENT_KEY is not set",
	}, strip(problems(t, err)))
}

// minimal is the least a valid file holds.
const minimal = `api_keys: [{name: backend, key: 0123456789abcdef}]
senders: [{name: acme, sms_source: ACME}]
carriers:
  - name: fr
    prefixes: ["+33"]
    smpp: {address: "127.0.0.1:2775", system_id: gw}
    rbm: {token: t, webhook_secret: s}
    mm7: {url: "http://127.0.0.1:8090/mm7", vasp_id: acme}
privacy: {encryption: "off"}
policies: [{name: promo, steps: [{channel: sms}]}]
sim: {}
`

func TestDefaults(t *testing.T) {
	t.Parallel()
	f, err := config.Parse([]byte(minimal), noEnv)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:8080", f.Listen)
	require.Equal(t, "sqlite:./data/gateway.db", f.Database)
	require.Equal(t, "http://127.0.0.1:8080", f.PublicURL)
	require.Equal(t, "unified", f.APIKeys[0].Dialect)
	require.Equal(t, 10*time.Second, f.Webhook.Timeout.Duration())
	require.Equal(t, "default", f.Senders[0].DefaultPolicy)
	s := f.Carriers[0].SMPP
	require.Equal(t, []any{1, 100, 10, 30 * time.Second, 10 * time.Second, false},
		[]any{s.Binds, s.TPS, s.Window, s.EnquireLink.Duration(), s.ResponseTimeout.Duration(), s.TLS})
	require.Nil(t, s.SourceTON)
	r := f.Carriers[0].RBM
	require.Equal(t, []any{"https://rcsbusinessmessaging.googleapis.com", "https://oauth2.googleapis.com/token", 10 * time.Second},
		[]any{r.BaseURL, r.TokenURL, r.Timeout.Duration()})
	m := f.Carriers[0].MM7
	require.Equal(t, []any{614400, config.DefaultMM7Namespace, "6.8.0"}, []any{m.MaxSize, m.Namespace, m.Version})
	require.Equal(t, 168*time.Hour, f.Privacy.ContentRetention.Duration())
	require.Equal(t, 2160*time.Hour, f.Privacy.MetadataRetention.Duration())
	require.False(t, f.Privacy.Encrypted())
	require.Nil(t, f.Privacy.Key())
	require.Equal(t, config.Log{Level: "info", Format: "text"}, f.Log)
	require.Equal(t, &config.Sim{SMPP: "127.0.0.1:2775", HTTP: "127.0.0.1:8090"}, f.Sim)
	require.Equal(t, config.Policy{
		Name: "promo", Steps: []config.Step{{Channel: "sms"}},
		SMS: config.SMSOptions{NumberReplies: true}, OnRevokeFailure: "suppress",
	}, f.Policies[0])

	// The file defines no "default" policy: unify's is added.
	require.Equal(t, []string{"promo", "default"}, policyNames(f.UnifyPolicies()))
	require.Equal(t, unify.DefaultPolicy(), f.UnifyPolicies()[1])
}

func TestExplicitValuesOverrideDefaults(t *testing.T) {
	t.Parallel()
	src := strings.Replace(minimal, `system_id: gw}`, `system_id: gw, binds: 4, tps: 250, enquire_link: 0s}`, 1)
	src += "policies: [{name: otp, steps: [{channel: sms}], sms: {number_replies: false}, on_revoke_failure: send_anyway}]\n"
	src = strings.Replace(src, "policies: [{name: promo, steps: [{channel: sms}]}]\n", "", 1)
	f, err := config.Parse([]byte(src), noEnv)
	// An explicit zero is not replaced by the default: it is refused.
	require.Equal(t, []string{"carriers[0].smpp.enquire_link: must be at least 1s"}, strip(problems(t, err)))
	require.Equal(t, 4, f.Carriers[0].SMPP.Binds)
	require.Equal(t, 250, f.Carriers[0].SMPP.TPS)
	require.False(t, f.Policies[0].SMS.NumberReplies)
	require.Equal(t, unify.RevokeSendAnyway, f.UnifyPolicies()[0].OnRevokeFailure)
}

func TestPublicURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, extra, want string
	}{
		{"from listen", "listen: 127.0.0.1:9090\n", "http://127.0.0.1:9090"},
		{"unspecified host", "listen: 0.0.0.0:8080\n", "http://localhost:8080"},
		{"empty host", "listen: \":8080\"\n", "http://localhost:8080"},
		{"ipv6", "listen: \"[::1]:8080\"\n", "http://[::1]:8080"},
		{"tls", "tls: {cert_file: " + os.Args[0] + ", key_file: " + os.Args[0] + "}\n", "https://127.0.0.1:8080"},
		{"explicit, slash trimmed", "public_url: https://gw.example/base/\n", "https://gw.example/base"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := config.Parse([]byte(minimal+tc.extra), noEnv)
			require.NoError(t, err)
			require.Equal(t, tc.want, f.PublicURL)
		})
	}
}

// TestDecodeProblems covers what is wrong before validation: the File is
// nil and each problem has its path and line.
func TestDecodeProblems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		src  string
		want []config.Problem
	}{
		{
			"unknown top-level key",
			"listen: 127.0.0.1:8080\nlisten_addr: x\n",
			[]config.Problem{{Path: "listen_addr", Line: 2, Message: "unknown key"}},
		},
		{
			"unknown key with a hint",
			"carriers:\n  - name: fr\n    smpp:\n      tsp: 10\n",
			[]config.Problem{{Path: "carriers[0].smpp.tsp", Line: 4, Message: `unknown key (did you mean "tps"?)`}},
		},
		{
			"misspelt section",
			"webhok:\n  url: x\n",
			[]config.Problem{{Path: "webhok", Line: 1, Message: `unknown key (did you mean "webhook"?)`}},
		},
		{
			"whole number",
			"carriers:\n  - name: fr\n    smpp: {tps: fast}\n",
			[]config.Problem{{Path: "carriers[0].smpp.tps", Line: 3, Message: `must be a whole number, got "fast"`}},
		},
		{
			"fraction",
			"policies: [{name: p, sms: {max_segments: 1.5}}]\n",
			[]config.Problem{{Path: "policies[0].sms.max_segments", Line: 1, Message: `must be a whole number, got "1.5"`}},
		},
		{
			"bool",
			"webhook: {allow_http: yes please}\n",
			[]config.Problem{{Path: "webhook.allow_http", Line: 1, Message: `must be true or false, got "yes please"`}},
		},
		{
			"duration without unit",
			"webhook:\n  timeout: 30\n",
			[]config.Problem{{Path: "webhook.timeout", Line: 2, Message: `must be a duration such as 30s, 10m or 168h, got "30"`}},
		},
		{
			"list expected",
			"carriers: [{name: fr, prefixes: \"+33\"}]\n",
			[]config.Problem{{Path: "carriers[0].prefixes", Line: 1, Message: `must be a list, got "+33"`}},
		},
		{
			"mapping expected",
			"carriers:\n  - name: fr\n    smpp: [127.0.0.1:2775]\n",
			[]config.Problem{{Path: "carriers[0].smpp", Line: 3, Message: "must be a mapping of keys to values, got a list"}},
		},
		{
			"value expected",
			"listen:\n  host: 127.0.0.1\n",
			[]config.Problem{{Path: "listen", Line: 2, Message: "must be a single value, got a mapping"}},
		},
		{
			"duplicate key",
			"log:\n  level: info\n  level: debug\n",
			[]config.Problem{{Path: "log.level", Line: 3, Message: "appears twice (first on line 2)"}},
		},
		{
			"root is a list",
			"- listen: x\n",
			[]config.Problem{{Line: 1, Message: "the file must be a mapping of keys to values, got a list"}},
		},
		{
			"syntax error",
			"listen: 127.0.0.1:8080\n  database: x\n",
			[]config.Problem{{Line: 2, Message: "YAML syntax: mapping values are not allowed in this context"}},
		},
		{
			"second document",
			"listen: 127.0.0.1:8080\n---\nlisten: 127.0.0.1:8081\n",
			[]config.Problem{{Line: 2, Message: "a second YAML document starts here; the file must hold one"}},
		},
		{
			"unset variable",
			"webhook:\n  url: https://x.example\n  secret: ${WEBHOOK_SECRET}\n",
			[]config.Problem{{Path: "webhook.secret", Line: 3, Message: "environment variable WEBHOOK_SECRET is not set"}},
		},
		{
			"unterminated variable",
			"webhook: {secret: \"${WEBHOOK_SECRET\"}\n",
			[]config.Problem{{Path: "webhook.secret", Line: 1, Message: "unterminated ${ (write $${ for a literal ${)"}},
		},
		{
			"bad variable name",
			"webhook: {secret: \"${1X}\"}\n",
			[]config.Problem{{Path: "webhook.secret", Line: 1, Message: "${1X} does not name an environment variable (write $${ for a literal ${)"}},
		},
		{
			"alias loop",
			"policies: &p\n  - name: x\n    steps: *p\n",
			[]config.Problem{{Path: "policies[0].steps[0].name", Line: 2, Message: "unknown key"}},
		},
		{
			"merge of a scalar",
			"log:\n  <<: info\n",
			[]config.Problem{{Path: "log.<<", Line: 2, Message: `must be a mapping or a list of mappings, got "info"`}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := config.Parse([]byte(tc.src), noEnv)
			require.Nil(t, f)
			ps := problems(t, err)
			// Validation problems elsewhere in these fragments are not the point.
			var got []config.Problem
			for _, p := range ps {
				for _, w := range tc.want {
					if p.Path == w.Path {
						got = append(got, p)
						break
					}
				}
			}
			require.Equal(t, tc.want, got, "all: %v", strip(ps))
		})
	}
}

func TestDecodeProblemsComeWithValidation(t *testing.T) {
	t.Parallel()
	src := "listen: nowhere\nlog: {level: loud, colour: true}\nwebhook: {url: \"https://e.example\", secret: \"${S}\"}\n"
	f, err := config.Parse([]byte(src), noEnv)
	require.Nil(t, f)
	require.Equal(t, []string{
		"listen: must be host:port, such as 127.0.0.1:8080",
		"log.colour: unknown key",
		"log.level: must be debug, info, warn or error",
		// not "webhook.secret: must be set": the variable is the problem
		"webhook.secret: environment variable S is not set",
		"api_keys: must hold at least one key: the REST API needs one",
		"senders: must hold at least one sender: it is the \"from\" of the send API",
		"carriers: must hold at least one carrier",
		"privacy.encryption_key: must be set (the base64 of 32 bytes) unless privacy.encryption is off",
	}, strip(problems(t, err)))
}

func TestEmptyFile(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"", "# nothing yet\n", "---\n", "~\n"} {
		f, err := config.Parse([]byte(src), noEnv)
		require.NotNil(t, f, "%q", src)
		require.Equal(t, []string{
			"api_keys: must hold at least one key: the REST API needs one",
			"senders: must hold at least one sender: it is the \"from\" of the send API",
			"carriers: must hold at least one carrier",
			"privacy.encryption_key: must be set (the base64 of 32 bytes) unless privacy.encryption is off",
		}, strip(problems(t, err)), "%q", src)
	}
}

func TestEnvSubstitution(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"PASS": "pa$$word${X}", "TPS": "250", "HOST": "db.example", "EMPTY": ""}
	for _, tc := range []struct {
		name, value, want string
	}{
		{"whole value", "${PASS}", "pa$$word${X}"}, // not expanded again
		{"inside text", "pre-${HOST}-post", "pre-db.example-post"},
		{"twice", "${HOST}/${HOST}", "db.example/db.example"},
		{"escaped", "$${HOST}", "${HOST}"},
		{"escaped then expanded", "$${HOST}${HOST}", "${HOST}db.example"},
		{"dollar alone", "pa$word$", "pa$word$"},
		{"double dollar", "pa$$word", "pa$$word"},
		{"set but empty", "x${EMPTY}y", "xy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := strings.Replace(minimal, "sms_source: ACME}", "sms_source: ACME, rbm_agent: '"+tc.value+"'}", 1)
			f, err := config.Parse([]byte(src), env(vars))
			require.NoError(t, err)
			require.Equal(t, tc.want, f.Senders[0].RBMAgent)
		})
	}

	t.Run("numbers and comments", func(t *testing.T) {
		t.Parallel()
		numbers := strings.Replace(minimal, "system_id: gw}", `system_id: gw, tps: "${TPS}"} # ${NOT_SET}`, 1) +
			"webhook:\n  timeout: ${TIMEOUT} # ${NOT_SET}\n# listen: ${ALSO_NOT_SET}\n"
		vars := map[string]string{"TPS": "250", "TIMEOUT": "15s"}
		f, err := config.Parse([]byte(numbers), env(vars))
		require.NoError(t, err)
		require.Equal(t, 250, f.Carriers[0].SMPP.TPS)
		require.Equal(t, 15*time.Second, f.Webhook.Timeout.Duration())

		f, err = config.Parse([]byte(numbers+"${KEY_NOT_EXPANDED}: x\n"), env(vars))
		require.Nil(t, f)
		require.Equal(t, []string{"${KEY_NOT_EXPANDED}: unknown key"}, strip(problems(t, err)))
	})
}

func TestMergeKeys(t *testing.T) {
	t.Parallel()
	src := `api_keys: [{name: backend, key: 0123456789abcdef}]
senders: [{name: acme, sms_source: ACME}]
privacy: {encryption: "off"}
x-smpp: &smpp {system_id: gw, password: secret, tps: 50}
carriers:
  - name: fr
    prefixes: ["+33"]
    smpp: {<<: *smpp, address: "127.0.0.1:2775", tps: 20}
  - name: be
    prefixes: ["+32"]
    smpp:
      <<: [*smpp, {window: 5, tps: 1}]
      address: "127.0.0.1:2776"
`
	// x-smpp is not a key of the file: anchors must live in known places.
	_, err := config.Parse([]byte(src), noEnv)
	require.Equal(t, []string{`x-smpp: unknown key`}, strip(problems(t, err)))

	src = strings.Replace(src, "x-smpp: &smpp {system_id: gw, password: secret, tps: 50}\n", "", 1)
	src = strings.Replace(src, "  - name: fr\n", "  - name: fr\n    smpp: &smpp {system_id: gw, password: secret, tps: 50}\n", 1)
	src = strings.Replace(src, "    smpp: {<<: *smpp, address: \"127.0.0.1:2775\", tps: 20}\n", "", 1)
	src = strings.Replace(src, "  - name: fr\n    smpp: &smpp {system_id: gw, password: secret, tps: 50}\n",
		"  - name: fr\n    smpp: &smpp {system_id: gw, password: secret, tps: 50, address: \"127.0.0.1:2775\"}\n", 1)
	f, err := config.Parse([]byte(src), noEnv)
	require.NoError(t, err)
	fr, be := f.Carriers[0].SMPP, f.Carriers[1].SMPP
	require.Equal(t, []any{"gw", "secret", 50, 10}, []any{fr.SystemID, fr.Password, fr.TPS, fr.Window})
	// Own keys beat merged ones; among merged mappings, the first wins.
	require.Equal(t, []any{"gw", "secret", 50, 5, "127.0.0.1:2776"}, []any{be.SystemID, be.Password, be.TPS, be.Window, be.Address})
}

func TestAliasBomb(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("policies:\n  - &a0 {name: x}\n")
	for i := 1; i <= 30; i++ {
		b.WriteString("  - &a" + strconv.Itoa(i) + " {<<: [*a" + strconv.Itoa(i-1) + ", *a" + strconv.Itoa(i-1) + "]}\n")
	}
	start := time.Now()
	f, err := config.Parse([]byte(b.String()), noEnv)
	require.Nil(t, f)
	require.Contains(t, err.Error(), "aliases expand too far")
	require.Less(t, time.Since(start), 20*time.Second)
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	f, err := config.Load(filepath.Join(t.TempDir(), "nope.yaml"), noEnv)
	require.Nil(t, f)
	require.ErrorIs(t, err, fs.ErrNotExist)
	var ps *config.Problems
	require.False(t, errors.As(err, &ps))
	require.True(t, strings.HasPrefix(err.Error(), "config: "), err.Error())
}

func TestProblemString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p    config.Problem
		want string
	}{
		{config.Problem{Path: "carriers[0].smpp.tps", Message: "must be between 1 and 100000", Line: 9}, "carriers[0].smpp.tps: must be between 1 and 100000"},
		{config.Problem{Message: "YAML syntax: x", Line: 3}, "line 3: YAML syntax: x"},
		{config.Problem{Message: "YAML syntax: x"}, "YAML syntax: x"},
	} {
		require.Equal(t, tc.want, tc.p.String())
	}
	ps := config.Problems{{Path: "a", Message: "b"}, {Path: "c", Message: "d"}}
	require.Equal(t, "a: b\nc: d", ps.Error())
}

func policyNames(ps []unify.Policy) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}
