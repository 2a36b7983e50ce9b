package config_test

import (
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"gateway/cmd/gateway/config"
)

func TestBaseIsValid(t *testing.T) {
	t.Parallel()
	dir := setupDir(t)
	f, err := loadMutated(t, dir, nil)
	require.NoError(t, err)
	require.NotNil(t, f)
}

// TestValidate changes one thing in a valid config and expects exactly the
// listed problems ("path: message", the message matched as a prefix), or
// none.
func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		muts map[string]any
		want []string
	}{
		// listen, database, public_url, tls
		{"listen not host:port", map[string]any{"listen": "localhost"}, []string{"listen: must be host:port"}},
		{"listen bad port", map[string]any{"listen": "127.0.0.1:99999"}, []string{"listen: port must be a number from 0 to 65535"}},
		{"listen all interfaces", map[string]any{"listen": ":8080"}, nil},
		{"database unknown scheme", map[string]any{"database": "mysql://gw@db/gw"}, []string{"database: must be sqlite:PATH or a postgres:// URL"}},
		{"database sqlite without path", map[string]any{"database": "sqlite:"}, []string{"database: sqlite: needs a path"}},
		{"database postgres", map[string]any{"database": "postgres://gw:pw@db:5432/gw?sslmode=disable"}, nil},
		{"database postgresql", map[string]any{"database": "postgresql://gw@db/gw"}, nil},
		{"database bad postgres url", map[string]any{"database": "postgres://gw:pw@db:port/gw"}, []string{"database: is not a valid postgres:// URL"}},
		{"public_url not http", map[string]any{"public_url": "ftp://gw.example"}, []string{"public_url: must be an absolute http or https URL"}},
		{"public_url relative", map[string]any{"public_url": "/gw"}, []string{"public_url: must be an absolute http or https URL"}},
		{"tls cert missing", map[string]any{"tls.cert_file": "missing.pem"}, []string{"tls.cert_file: no such file"}},
		{"tls key empty", map[string]any{"tls.key_file": ""}, []string{"tls.key_file: must not be empty"}},

		// api_keys
		{"api_keys none", map[string]any{"api_keys": []any{}}, []string{"api_keys: must hold at least one key"}},
		{"api_keys missing", map[string]any{"api_keys": del{}}, []string{"api_keys: must hold at least one key"}},
		{"api key without name", map[string]any{"api_keys[0].name": ""}, []string{"api_keys[0].name: must not be empty"}},
		{"api key names repeat", map[string]any{"api_keys[1].name": "backend"}, []string{`api_keys[1].name: "backend" is also the name of api_keys[0]`}},
		{"api key empty", map[string]any{"api_keys[0].key": ""}, []string{"api_keys[0].key: must not be empty"}},
		{"api key short", map[string]any{"api_keys[0].key": "0123456789abcde"}, []string{"api_keys[0].key: must be at least 16 characters"}},
		{"api keys repeat", map[string]any{"api_keys[1].key": "0123456789abcdef"}, []string{"api_keys[1].key: is the same key as api_keys[0]"}},
		{"api key dialect", map[string]any{"api_keys[0].dialect": "telegram"}, []string{"api_keys[0].dialect: must be unified, messenger or whatsapp"}},
		{"api key dialect whatsapp", map[string]any{"api_keys[0].dialect": "whatsapp"}, nil},
		{"api key sender", map[string]any{"api_keys[1].sender": "acme"}, nil},
		{"api key sender unknown", map[string]any{"api_keys[1].sender": "acne"}, []string{`api_keys[1].sender: "acne" is not the name of a sender`}},

		// webhook
		{"webhook absent", map[string]any{"webhook": del{}}, nil},
		{"webhook url relative", map[string]any{"webhook.url": "events.example/hook"}, []string{"webhook.url: must be an absolute http or https URL"}},
		{"webhook plain http refused", map[string]any{"webhook.url": "http://events.example/hook"}, []string{"webhook.url: plain http to a host that is not loopback is refused"}},
		{"webhook plain http allowed", map[string]any{"webhook.url": "http://events.example/hook", "webhook.allow_http": true}, nil},
		{"webhook http localhost", map[string]any{"webhook.url": "http://localhost:9000/events"}, nil},
		{"webhook http 127/8", map[string]any{"webhook.url": "http://127.0.0.2:9000/events"}, nil},
		{"webhook http ::1", map[string]any{"webhook.url": "http://[::1]:9000/events"}, nil},
		{"webhook http private net refused", map[string]any{"webhook.url": "http://10.0.0.1/events"}, []string{"webhook.url: plain http"}},
		{"webhook without secret", map[string]any{"webhook.secret": ""}, []string{"webhook.secret: must be set when webhook.url is"}},
		{"webhook pipeline", map[string]any{"webhook.pipeline": 8}, nil},
		{"webhook pipeline zero", map[string]any{"webhook.pipeline": 0}, []string{"webhook.pipeline: must be 1 to 16"}},
		{"webhook pipeline too deep", map[string]any{"webhook.pipeline": 17}, []string{"webhook.pipeline: must be 1 to 16"}},
		{"webhook zero timeout", map[string]any{"webhook.timeout": "0s"}, []string{"webhook.timeout: must be more than 0s"}},
		{"webhook verify_token", map[string]any{"webhook.verify_token": "bot-verify-token"}, nil},
		{"webhook verify_token without url", map[string]any{"webhook.url": "", "webhook.verify_token": "t"}, []string{"webhook.verify_token: needs webhook.url"}},
		{"webhook verify_token control", map[string]any{"webhook.verify_token": "a\nb"}, []string{"webhook.verify_token: must not contain control characters"}},
		{"webhook verify_token long", map[string]any{"webhook.verify_token": strings.Repeat("t", 257)}, []string{"webhook.verify_token: must be at most 256 bytes"}},

		// ui
		{"ui password short", map[string]any{"ui.admin_password": "1234567"}, []string{"ui.admin_password: must be at least 8 characters"}},
		{"ui password unset", map[string]any{"ui": del{}}, nil},

		// senders
		{"senders none", map[string]any{"senders": []any{}}, []string{"senders: must hold at least one sender"}},
		{"sender without name", map[string]any{"senders[1].name": ""}, []string{"senders[1].name: must not be empty"}},
		{"sender names repeat", map[string]any{"senders[1].name": "acme"}, []string{`senders[1].name: "acme" is also the name of senders[0]`}},
		{"sender with no address", map[string]any{"senders[1]": map[string]any{"name": "mute"}}, []string{"senders[1]: needs at least one of sms_source, sms_numbers and rbm_agent"}},
		{"sender rbm only", map[string]any{"senders[1]": map[string]any{"name": "rich", "rbm_agent": "rich_agent"}}, nil},
		{"source alphanumeric too long", map[string]any{"senders[0].sms_source": "ACMEMARKETS1"}, []string{"senders[0].sms_source: an alphanumeric sender id must be at most 11 characters"}},
		{"source alphanumeric 11", map[string]any{"senders[0].sms_source": "ACME Market"}, nil},
		{"source not gsm safe", map[string]any{"senders[0].sms_source": "ACME{1}"}, []string{`senders[0].sms_source: an alphanumeric sender id may hold only letters A-Z, digits, spaces and GSM punctuation, not '{'`}},
		{"source accented", map[string]any{"senders[0].sms_source": "Café"}, []string{"senders[0].sms_source: an alphanumeric sender id may hold only"}},
		{"source short code 8", map[string]any{"senders[0].sms_source": "12345678"}, nil},
		{"source digits too long", map[string]any{"senders[0].sms_source": "123456789"}, []string{"senders[0].sms_source: a number of more than 8 digits is a long number"}},
		{"source long number", map[string]any{"senders[0].sms_source": "+33700000002"}, nil},
		{"source long number not possible", map[string]any{"senders[0].sms_source": "+3370000000"}, []string{"senders[0].sms_source: is not a possible number"}},
		{"source plus junk", map[string]any{"senders[0].sms_source": "+33 7 00"}, []string{"senders[0].sms_source: must be an E.164 number"}},
		{"sms number national", map[string]any{"senders[0].sms_numbers[0]": "0700000001"}, []string{"senders[0].sms_numbers[0]: must be an E.164 number"}},
		{"sms number impossible", map[string]any{"senders[0].sms_numbers[0]": "+1555"}, []string{"senders[0].sms_numbers[0]: must be an E.164 number"}},
		{"sms number too short for country", map[string]any{"senders[0].sms_numbers[0]": "+33612345"}, []string{"senders[0].sms_numbers[0]: is not a possible number"}},
		{"sms number in two senders", map[string]any{"senders[1].sms_numbers": []any{"+33700000001"}}, []string{"senders[1].sms_numbers[0]: +33700000001 is also listed at senders[0].sms_numbers[0]"}},
		{"default policy unknown", map[string]any{"senders[0].default_policy": "promo2"}, []string{`senders[0].default_policy: no policy named "promo2"`}},
		{"default policy default", map[string]any{"senders[0].default_policy": "default"}, nil},

		// carriers
		{"carriers none", map[string]any{"carriers": []any{}}, []string{"carriers: must hold at least one carrier"}},
		{"carrier name empty", map[string]any{"carriers[1].name": ""}, []string{"carriers[1].name: must not be empty"}},
		{"carrier name upper case", map[string]any{"carriers[1].name": "Sim-US"}, []string{"carriers[1].name: may only hold a-z, 0-9, '-' and '_'"}},
		{"carrier name slash", map[string]any{"carriers[1].name": "sim/us"}, []string{"carriers[1].name: may only hold"}},
		{"carrier names repeat", map[string]any{"carriers[1].name": "sim-fr"}, []string{`carriers[1].name: "sim-fr" is also the name of carriers[0]`}},
		{"carrier without prefixes", map[string]any{"carriers[1].prefixes": []any{}}, []string{"carriers[1].prefixes: must hold at least one E.164 prefix"}},
		{"prefix without plus", map[string]any{"carriers[1].prefixes[0]": "1"}, []string{"carriers[1].prefixes[0]: must be + then 1 to 15 digits"}},
		{"prefix too long", map[string]any{"carriers[1].prefixes[0]": "+1234567890123456"}, []string{"carriers[1].prefixes[0]: must be + then 1 to 15 digits"}},
		{"prefix letters", map[string]any{"carriers[1].prefixes[0]": "+1a"}, []string{"carriers[1].prefixes[0]: must be + then 1 to 15 digits"}},
		{"prefix repeated across carriers", map[string]any{"carriers[1].prefixes": []any{"+1", "+33"}}, []string{"carriers[1].prefixes[1]: +33 is also listed at carriers[0].prefixes[0]"}},
		{"longer prefix elsewhere is fine", map[string]any{"carriers[1].prefixes": []any{"+336"}}, nil},
		{"carrier without links", map[string]any{"carriers[1].rbm": del{}}, []string{"carriers[1]: needs at least one of smpp, rbm and mm7"}},

		// smpp
		{"smpp address no port", map[string]any{"carriers[0].smpp.address": "127.0.0.1"}, []string{"carriers[0].smpp.address: must be host:port"}},
		{"smpp address no host", map[string]any{"carriers[0].smpp.address": ":2775"}, []string{"carriers[0].smpp.address: must name a host"}},
		{"smpp address port 0", map[string]any{"carriers[0].smpp.address": "127.0.0.1:0"}, []string{"carriers[0].smpp.address: port must be a number from 1 to 65535"}},
		{"smpp system_id empty", map[string]any{"carriers[0].smpp.system_id": ""}, []string{"carriers[0].smpp.system_id: must not be empty"}},
		{"smpp system_id 16", map[string]any{"carriers[0].smpp.system_id": "abcdefghijklmnop"}, []string{"carriers[0].smpp.system_id: must be at most 15 characters"}},
		{"smpp system_id 15", map[string]any{"carriers[0].smpp.system_id": "abcdefghijklmno"}, nil},
		{"smpp password 9", map[string]any{"carriers[0].smpp.password": "123456789"}, []string{"carriers[0].smpp.password: must be at most 8 characters"}},
		{"smpp password empty", map[string]any{"carriers[0].smpp.password": ""}, nil},
		{"smpp system_type 13", map[string]any{"carriers[0].smpp.system_type": "abcdefghijklm"}, []string{"carriers[0].smpp.system_type: must be at most 12 characters"}},
		{"smpp binds 0", map[string]any{"carriers[0].smpp.binds": 0}, []string{"carriers[0].smpp.binds: must be between 1 and 64"}},
		{"smpp binds 65", map[string]any{"carriers[0].smpp.binds": 65}, []string{"carriers[0].smpp.binds: must be between 1 and 64"}},
		{"smpp binds 64", map[string]any{"carriers[0].smpp.binds": 64}, nil},
		{"smpp tps 0", map[string]any{"carriers[0].smpp.tps": 0}, []string{"carriers[0].smpp.tps: must be between 1 and 100000"}},
		{"smpp tps too high", map[string]any{"carriers[0].smpp.tps": 100001}, []string{"carriers[0].smpp.tps: must be between 1 and 100000"}},
		{"smpp window 0", map[string]any{"carriers[0].smpp.window": 0}, []string{"carriers[0].smpp.window: must be between 1 and 1000"}},
		{"smpp window 1001", map[string]any{"carriers[0].smpp.window": 1001}, []string{"carriers[0].smpp.window: must be between 1 and 1000"}},
		{"smpp enquire_link short", map[string]any{"carriers[0].smpp.enquire_link": "999ms"}, []string{"carriers[0].smpp.enquire_link: must be at least 1s"}},
		{"smpp enquire_link 1s", map[string]any{"carriers[0].smpp.enquire_link": "1s"}, nil},
		{"smpp response_timeout 0", map[string]any{"carriers[0].smpp.response_timeout": "0s"}, []string{"carriers[0].smpp.response_timeout: must be more than 0s"}},
		{"smpp ca_file without tls", map[string]any{"carriers[0].smpp.tls": false}, []string{"carriers[0].smpp.ca_file: needs tls: true"}},
		{"smpp ca_file missing", map[string]any{"carriers[0].smpp.ca_file": "nope.pem"}, []string{"carriers[0].smpp.ca_file: no such file"}},
		{"smpp ca_file is a directory", map[string]any{"carriers[0].smpp.ca_file": "."}, []string{"carriers[0].smpp.ca_file: is not a regular file"}},
		{"smpp tls without ca_file", map[string]any{"carriers[0].smpp.ca_file": del{}}, nil},
		{"smpp source_ton 7", map[string]any{"carriers[0].smpp.source_ton": 7}, []string{"carriers[0].smpp.source_ton: must be a TON from 0 to 6"}},
		{"smpp dest_ton -1", map[string]any{"carriers[0].smpp.dest_ton": -1}, []string{"carriers[0].smpp.dest_ton: must be a TON from 0 to 6"}},
		{"smpp source_npi 2", map[string]any{"carriers[0].smpp.source_npi": 2}, []string{"carriers[0].smpp.source_npi: must be an NPI"}},
		{"smpp dest_npi 18", map[string]any{"carriers[0].smpp.dest_npi": 18}, nil},

		// rbm
		{"rbm base_url relative", map[string]any{"carriers[1].rbm.base_url": "rcs.example"}, []string{"carriers[1].rbm.base_url: must be an absolute http or https URL"}},
		{"rbm token_url empty", map[string]any{"carriers[1].rbm.token_url": ""}, []string{"carriers[1].rbm.token_url: must be an absolute http or https URL"}},
		{"rbm both credentials", map[string]any{"carriers[0].rbm.token": "static"}, []string{"carriers[0].rbm: set credentials_file or token, not both"}},
		{"rbm no credentials", map[string]any{"carriers[1].rbm.token": ""}, []string{"carriers[1].rbm: needs credentials_file (a service-account JSON key) or token"}},
		{"rbm credentials missing", map[string]any{"carriers[0].rbm.credentials_file": "gone.json"}, []string{"carriers[0].rbm.credentials_file: no such file"}},
		{"rbm credentials not json", map[string]any{"carriers[0].rbm.credentials_file": "cert.pem"}, []string{"carriers[0].rbm.credentials_file: is not a JSON service-account key"}},
		{"rbm credentials no key", map[string]any{"carriers[0].rbm.credentials_file": "nokey.json"}, []string{"carriers[0].rbm.credentials_file: has no private_key"}},
		{"rbm credentials no email", map[string]any{"carriers[0].rbm.credentials_file": "noemail.json"}, []string{"carriers[0].rbm.credentials_file: has no client_email"}},
		{"rbm credentials key not pem", map[string]any{"carriers[0].rbm.credentials_file": "notpem.json"}, []string{"carriers[0].rbm.credentials_file: has a private_key that is not PEM"}},
		{"rbm webhook_secret empty", map[string]any{"carriers[1].rbm.webhook_secret": ""}, []string{"carriers[1].rbm.webhook_secret: must be set"}},
		{"rbm timeout 0", map[string]any{"carriers[1].rbm.timeout": "0s"}, []string{"carriers[1].rbm.timeout: must be more than 0s"}},

		// mm7
		{"mm7 url missing", map[string]any{"carriers[0].mm7.url": del{}}, []string{"carriers[0].mm7.url: must be an absolute http or https URL"}},
		{"mm7 vasp_id empty", map[string]any{"carriers[0].mm7.vasp_id": ""}, []string{"carriers[0].mm7.vasp_id: must not be empty"}},
		{"mm7 max_size 999", map[string]any{"carriers[0].mm7.max_size": 999}, []string{"carriers[0].mm7.max_size: must be between 1000 and 10000000"}},
		{"mm7 max_size too big", map[string]any{"carriers[0].mm7.max_size": 10_000_001}, []string{"carriers[0].mm7.max_size: must be between 1000 and 10000000"}},
		{"mm7 max_size 10M", map[string]any{"carriers[0].mm7.max_size": 10_000_000}, nil},
		{"mm7 namespace", map[string]any{"carriers[0].mm7.namespace": "REL-6-MM7-1-4"}, []string{"carriers[0].mm7.namespace: must be an absolute URI"}},
		{"mm7 version", map[string]any{"carriers[0].mm7.version": "6.8"}, []string{"carriers[0].mm7.version: must be a version such as 6.8.0"}},
		{"mm7 rel5", map[string]any{"carriers[0].mm7.namespace": "http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-5-MM7-1-0", "carriers[0].mm7.version": "5.3.0"}, nil},

		// privacy
		{"key not base64", map[string]any{"privacy.encryption_key": "not base64!"}, []string{"privacy.encryption_key: must be the standard base64 of 32 bytes"}},
		{"key 16 bytes", map[string]any{"privacy.encryption_key": base64.StdEncoding.EncodeToString(make([]byte, 16))}, []string{"privacy.encryption_key: must be the standard base64 of 32 bytes"}},
		{"key url base64", map[string]any{"privacy.encryption_key": base64.URLEncoding.EncodeToString([]byte(strings.Repeat("\xfb", 32)))}, []string{"privacy.encryption_key: must be the standard base64 of 32 bytes"}},
		{"key missing", map[string]any{"privacy.encryption_key": del{}}, []string{"privacy.encryption_key: must be set (the base64 of 32 bytes) unless privacy.encryption is off"}},
		{"key missing encryption on", map[string]any{"privacy.encryption_key": del{}, "privacy.encryption": "on"}, []string{"privacy.encryption_key: must be set"}},
		{"key missing encryption off", map[string]any{"privacy.encryption_key": del{}, "privacy.encryption": "off"}, nil},
		{"encryption bad", map[string]any{"privacy.encryption": "maybe"}, []string{"privacy.encryption: must be on or off"}},
		{"content retention negative", map[string]any{"privacy.content_retention": "-1h"}, []string{"privacy.content_retention: must not be negative"}},
		{"metadata retention negative", map[string]any{"privacy.metadata_retention": "-1s"}, []string{"privacy.metadata_retention: must not be negative"}},
		{"content retention zero", map[string]any{"privacy.content_retention": "0s"}, nil},

		// policies
		{"policy names repeat", map[string]any{"policies[1]": map[string]any{"name": "promo", "steps": []any{map[string]any{"channel": "sms"}}}}, []string{`policies[1].name: "promo" is also the name of policies[0]`}},
		{"policy without name", map[string]any{"policies[0].name": "", "senders[0].default_policy": "default"}, []string{"policies[0].name: must not be empty"}},
		{"policy without steps", map[string]any{"policies[0].steps": []any{}}, []string{"policies[0].steps: must hold at least one step"}},
		{"step channel unknown", map[string]any{"policies[0].steps[1].channel": "fax"}, []string{"policies[0].steps[1].channel: must be one of rcs, mms, sms"}},
		{"step channel twice", map[string]any{"policies[0].steps[1].channel": "rcs"}, []string{"policies[0].steps[1].channel: appears twice in the policy"}},
		{"step timeout negative", map[string]any{"policies[0].steps[0].timeout": "-1s"}, []string{"policies[0].steps[0].timeout: must not be negative"}},
		{"policy max_segments", map[string]any{"policies[0].sms.max_segments": 256}, []string{"policies[0].sms.max_segments: must be between 0 and 255"}},
		{"policy mms max_size", map[string]any{"policies[0].mms.max_size": -1}, []string{"policies[0].mms.max_size: must not be negative"}},
		{"on_revoke_failure bad", map[string]any{"policies[0].on_revoke_failure": "retry"}, []string{"policies[0].on_revoke_failure: must be suppress or send_anyway"}},
		{"on_revoke_failure send_anyway", map[string]any{"policies[0].on_revoke_failure": "send_anyway"}, nil},
		{"file defines default", map[string]any{"policies[1]": map[string]any{"name": "default", "steps": []any{map[string]any{"channel": "sms"}}}}, nil},

		// log, sim
		{"log level", map[string]any{"log.level": "verbose"}, []string{"log.level: must be debug, info, warn or error"}},
		{"log format", map[string]any{"log.format": "xml"}, []string{"log.format: must be text or json"}},
		{"sim smpp", map[string]any{"sim.smpp": "2775"}, []string{"sim.smpp: must be host:port"}},
		{"sim http", map[string]any{"sim.http": "127.0.0.1:http"}, []string{"sim.http: port must be a number"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := setupDir(t)
			writeFile(t, dir, "nokey.json", `{"client_email": "a@b.c"}`)
			writeFile(t, dir, "noemail.json", `{"private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}`)
			writeFile(t, dir, "notpem.json", `{"client_email": "a@b.c", "private_key": "MIIB"}`)
			f, err := loadMutated(t, dir, tc.muts)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.NotNil(t, f, "validation problems return the File too")
			got := strip(problems(t, err))
			require.Len(t, got, len(tc.want), "got %q", got)
			for i, w := range tc.want {
				require.True(t, strings.HasPrefix(got[i], w), "problem %d:\n got %q\nwant %q...", i, got[i], w)
			}
		})
	}
}

// TestValidateSeveral reports every problem of a config at once, each with
// the line of its value.
func TestValidateSeveral(t *testing.T) {
	t.Parallel()
	src := `listen: nowhere
api_keys:
  - {name: a, key: short}
senders:
  - {name: acme, sms_source: ACME, default_policy: promo}
carriers:
  - name: FR
    prefixes: ["+33"]
    smpp:
      address: 127.0.0.1:2775
      system_id: gw
      tps: 0
privacy: {encryption: off}
log: {level: loud}
`
	f, err := config.Parse([]byte(src), noEnv)
	require.NotNil(t, f)
	ps := problems(t, err)
	require.Equal(t, []string{
		"listen: must be host:port, such as 127.0.0.1:8080",
		"api_keys[0].key: must be at least 16 characters",
		`senders[0].default_policy: no policy named "promo"`,
		"carriers[0].name: may only hold a-z, 0-9, '-' and '_' (it appears in callback URLs)",
		"carriers[0].smpp.tps: must be between 1 and 100000",
		"log.level: must be debug, info, warn or error",
	}, strip(ps))
	lines := make([]int, len(ps))
	for i, p := range ps {
		lines[i] = p.Line
	}
	require.Equal(t, []int{1, 3, 5, 7, 12, 14}, lines)
	require.Equal(t, strings.Join(strip(ps), "\n"), err.Error())

	// Validate on the returned File finds the same problems.
	again := problems(t, f.Validate())
	require.Equal(t, ps, again)
}

func TestValidateBuiltInCode(t *testing.T) {
	t.Parallel()
	// A File built in code has no defaults and no lines: every missing
	// value is reported, with Line 0.
	f := &config.File{}
	ps := problems(t, f.Validate())
	for _, p := range ps {
		require.Zero(t, p.Line, p.String())
	}
	require.Contains(t, strip(ps), "carriers: must hold at least one carrier")
	require.Contains(t, strip(ps), "listen: must be host:port, such as 127.0.0.1:8080")
}

func TestRelativePaths(t *testing.T) {
	t.Parallel()
	dir := setupDir(t)
	f, err := loadMutated(t, dir, map[string]any{"database": "sqlite:gw.db?_busy_timeout=5000"})
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "cert.pem"), f.TLS.CertFile)
	require.Equal(t, filepath.Join(dir, "key.pem"), f.TLS.KeyFile)
	require.Equal(t, filepath.Join(dir, "ca.pem"), f.Carriers[0].SMPP.CAFile)
	require.Equal(t, filepath.Join(dir, "sa.json"), f.Carriers[0].RBM.CredentialsFile)
	require.Equal(t, "sqlite:"+filepath.Join(dir, "gw.db")+"?_busy_timeout=5000", f.Database)

	abs := filepath.Join(t.TempDir(), "x.db")
	for _, tc := range []struct{ in, want string }{
		{"sqlite:" + abs, "sqlite:" + abs},
		{"sqlite::memory:", "sqlite::memory:"},
		{"sqlite:file:gw.db?mode=memory", "sqlite:file:gw.db?mode=memory"},
		{"postgres://db/gw", "postgres://db/gw"},
	} {
		f, err := loadMutated(t, dir, map[string]any{"database": tc.in})
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, f.Database)
	}
}

func TestParseKeepsRelativePaths(t *testing.T) {
	t.Parallel()
	src := `database: sqlite:./data/gw.db
api_keys: [{name: a, key: 0123456789abcdef}]
senders: [{name: a, sms_source: A}]
carriers: [{name: a, prefixes: ["+1"], rbm: {credentials_file: ./nowhere/sa.json, webhook_secret: x}}]
privacy: {encryption: "off"}
`
	f, err := config.Parse([]byte(src), noEnv)
	require.Equal(t, []string{"carriers[0].rbm.credentials_file: no such file: ./nowhere/sa.json"}, strip(problems(t, err)))
	require.Equal(t, "sqlite:./data/gw.db", f.Database)
}
