package privacy_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"gateway/unify/privacy"
)

func TestMaskNumbers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"+33612345678", "+3361234****"},
		{"to +33612345678.", "to +3361234****."},
		{"no carrier serves +14155550123", "no carrier serves +1415555****"},
		{"sim-fr|33612345678|ACME|12|3", "sim-fr|3361234****|ACME|12|3"},
		{"in:acme:+33612345678", "in:acme:+3361234****"},
		{"0612345678", "061234****"},
		{"+441234", "+441234"}, // too short for a number
		{"+4412345", "+441****"},
		{"+441234567", "+44123****"},
		{"msg_0123456789abcdef01234567", "msg_0123456789abcdef01234567"},                 // an id, not a number
		{"12345678-1234-4abc-8def-123456789012", "12345678-1234-4abc-8def-123456789012"}, // a UUID
		{"took 1732536000.25s", "took 1732536000.25s"},
		{"1234567890123456", "1234567890123456"}, // 16 digits: longer than E.164
		{"short 1234567", "short 1234567"},
		{"two +33612345678 and +33698765432", "two +3361234**** and +3369876****"},
		{"", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, privacy.MaskNumbers(tc.in))
		})
	}
}

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

func TestMaskHandler(t *testing.T) {
	t.Parallel()
	const number, text = "+33612345678", "my secret message"
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			opts := &slog.HandlerOptions{Level: slog.LevelDebug}
			var h slog.Handler = slog.NewTextHandler(&buf, opts)
			if format == "json" {
				h = slog.NewJSONHandler(&buf, opts)
			}
			log := slog.New(privacy.MaskHandler(h)).With("from", number, "password", "hunter2hunter2")
			log.Debug("inbound from "+number, "text", text, "msg_id", "msg_0123456789abcdef01234567",
				slog.Group("payload", "content", text, "to", number, "api_key", "k-123", slog.Group("secret", "x", "y")),
				"err", errors.New("no carrier serves "+number),
				"who", stringer{number}, "raw", []byte(text), "count", 3,
				"obj", struct{ To string }{number})
			log.WithGroup("body").Info("in a sensitive group", "anything", text)
			log.WithGroup("req").With("Authorization", "Bearer abc").Warn("grouped", "webhook_secret", "s3cr3t", "phone", number)
			log.Error("consent", "sender", "acme", "number", strings.TrimPrefix(number, "+"))
			out := buf.String()
			for _, leak := range []string{number, "33612345678", text, "hunter2", "k-123", "Bearer abc", "s3cr3t"} {
				require.NotContains(t, out, leak)
			}
			for _, kept := range []string{"+3361234****", "msg_0123456789abcdef01234567", "no carrier serves +3361234****", "count", "acme",
				"in a sensitive group", "grouped"} {
				require.Contains(t, out, kept)
			}
			require.Equal(t, 4, strings.Count(out, "\n"), "every record is still written")
		})
	}
}

func ExampleMaskHandler() {
	var buf bytes.Buffer
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	log := slog.New(privacy.MaskHandler(h))
	log.Info("reply routed", "from", "+33612345678", "text", "see you at 6", "msg_id", "msg_42")
	fmt.Print(buf.String())
	// Output: level=INFO msg="reply routed" from=+3361234**** msg_id=msg_42
}
