package config_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/cmd/gateway/config"
)

// Per-sender retention and keys being rotated out (issue 9).
func TestPrivacyValidate(t *testing.T) {
	t.Parallel()
	oldKey := base64.StdEncoding.EncodeToString([]byte("abcdef0123456789abcdef0123456789"))
	for _, tc := range []struct {
		name string
		muts map[string]any
		want []string
	}{
		{"sender content override", map[string]any{"senders[0].retention": map[string]any{"content": "0s"}}, nil},
		{"sender both overrides", map[string]any{"senders[0].retention": map[string]any{"content": "24h", "metadata": "8760h"}}, nil},
		{"sender retention empty", map[string]any{"senders[0].retention": map[string]any{}}, []string{"senders[0].retention: must set content, metadata or both"}},
		{"sender content negative", map[string]any{"senders[0].retention.content": "-1s"}, []string{"senders[0].retention.content: must not be negative"}},
		{"sender metadata negative", map[string]any{"senders[0].retention.metadata": "-1h"}, []string{"senders[0].retention.metadata: must not be negative"}},
		{"sender retention not a duration", map[string]any{"senders[0].retention.content": "a week"}, []string{"senders[0].retention.content: must be a duration"}},
		{"sender retention unknown key", map[string]any{"senders[0].retention": map[string]any{"content": "1h", "body": "1h"}}, []string{`senders[0].retention.body: unknown key`}},
		{"old key", map[string]any{"privacy.old_encryption_keys": []any{oldKey}}, nil},
		{"old key not 32 bytes", map[string]any{"privacy.old_encryption_keys": []any{oldKey, "c2hvcnQ="}}, []string{"privacy.old_encryption_keys[1]: must be the standard base64 of 32 bytes"}},
		{"old key is the current key", map[string]any{"privacy.old_encryption_keys": []any{"${KEY}"}}, []string{"privacy.old_encryption_keys[0]: is the current privacy.encryption_key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := loadMutated(t, setupDir(t), tc.muts)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			_ = f // nil when the YAML could not be decoded
			got := strip(problems(t, err))
			require.Len(t, got, len(tc.want), "got %q", got)
			for i, w := range tc.want {
				require.True(t, strings.HasPrefix(got[i], w), "problem %d:\n got %q\nwant %q...", i, got[i], w)
			}
		})
	}
}

func TestSenderRetention(t *testing.T) {
	t.Parallel()
	f, err := config.Parse([]byte(`
api_keys: [{name: backend, key: 0123456789abcdef}]
senders:
  - {name: acme, sms_source: ACME}
  - {name: otp, sms_source: OTP, retention: {content: 0s}}
  - {name: archive, sms_source: ARCH, retention: {content: 720h, metadata: 0s}}
carriers: [{name: c, prefixes: ["+33"], smpp: {address: "127.0.0.1:2775", system_id: gw, password: pw}}]
privacy: {encryption: "off", content_retention: 24h, old_encryption_keys: ["`+base64.StdEncoding.EncodeToString(make([]byte, 32))+`"]}
`), noEnv)
	require.NoError(t, err)
	for i, want := range [][2]time.Duration{{24 * time.Hour, 2160 * time.Hour}, {0, 2160 * time.Hour}, {720 * time.Hour, 0}} {
		c, m := f.SenderRetention(f.Senders[i])
		require.Equal(t, want, [2]time.Duration{c, m}, f.Senders[i].Name)
	}
	require.Equal(t, [][]byte{make([]byte, 32)}, f.Privacy.OldKeys())
}
