// Command gateway is the RCS/SMS interop gateway.
//
//	gateway                         the demo: SQLite in ./data, an in-process carrier simulator
//	gateway serve --config FILE     the real thing
//	gateway send --to +33… --from acme --text "hi"
//	gateway check-config --config FILE
//	gateway migrate --config FILE
//	gateway rotate-key --config FILE --old-key BASE64
//
// Exit codes: 0 ok, 1 runtime error, 2 bad usage or configuration.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// exitError carries an exit code with the one-line message printed to stderr.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

const usage = `usage: gateway [command] [flags]

commands:
  (none)         run the demo: SQLite at ./data/gateway.db, HTTP on 127.0.0.1:8080,
                 an in-process simulated carrier, the handset simulator at /sim
  serve          run the gateway: --config FILE
  send           send one message (or --file batch.csv) through a running gateway
  check-config   validate a configuration file: --config FILE
  migrate        apply database migrations: --config FILE
  rotate-key     re-seal stored content under the config's encryption key:
                 --config FILE --old-key BASE64 (or $GATEWAY_OLD_CONTENT_KEY)
  bench          drive load through a running gateway and report throughput and latency
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "gateway:", err)
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}

type env func(string) (string, bool)

func run(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv env) error {
	if len(args) == 0 {
		return runDemo(ctx, stdout, stderr)
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr, lookupEnv)
	case "send":
		return runSend(ctx, args[1:], stdout, stderr, lookupEnv)
	case "check-config":
		return runCheckConfig(args[1:], stdout, stderr, lookupEnv)
	case "migrate":
		return runMigrate(ctx, args[1:], stdout, stderr, lookupEnv)
	case "rotate-key":
		return runRotateKey(ctx, args[1:], stdout, stderr, lookupEnv)
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr, lookupEnv)
	case "demo":
		return runDemo(ctx, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usageError("unknown command %q (try gateway --help)", args[0])
}
