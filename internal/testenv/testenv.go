// Package testenv holds the one rule for a test whose component (a
// PostgreSQL database, a browser, root for a tmpfs) is missing: on a
// developer's machine it skips and says how to get the component; under CI
// it fails, because CI installs every component and a skip there would
// hide a test that never ran.
package testenv

import (
	"os"
	"testing"
)

// InCI reports whether the tests run under CI: CI is set to anything but
// "", "false" or "0" (.ci/run sets CI=true).
func InCI() bool {
	ci := os.Getenv("CI")
	return ci != "" && ci != "false" && ci != "0"
}

// Missing ends the test for a missing component: it fails under CI and
// skips elsewhere, with the reason given.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if InCI() {
		tb.Fatalf("CI must run this test: "+format, args...)
	}
	tb.Skipf(format, args...)
}
