// Command carriersim runs the simulated carrier of package gateway/carriers/sim
// on its own: an SMPP SMSC and its HTTP control API, for demos and for tests
// written outside Go.
//
// Usage:
//
//	carriersim --smpp 127.0.0.1:2775 --http 127.0.0.1:8090 [--system-id gw --password secret]
//	           [--receipt-delay 50ms] [--id-format dec|hex] [--max-binds N] [--auto-receipts=false]
//
// Exit codes: 0 ok (stopped by SIGINT/SIGTERM), 1 runtime error, 2 bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"gateway/carriers/sim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "carriersim: %v\n", err)
		return 2
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s := sim.New(cfg)
	if err := s.Start(); err != nil {
		fmt.Fprintf(stderr, "carriersim: %v\n", err)
		return 1
	}
	cfg.Logger.Info("carriersim: ready", "smpp", s.SMPPAddr(), "http", s.HTTPURL(), "system_id", cfg.SystemID)
	<-ctx.Done()
	cfg.Logger.Info("carriersim: stopping")
	if err := s.Close(); err != nil {
		fmt.Fprintf(stderr, "carriersim: %v\n", err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (sim.Config, error) {
	fs := flag.NewFlagSet("carriersim", flag.ContinueOnError)
	// Silence the flag package: a usage error is one line on stderr, printed by run.
	fs.SetOutput(io.Discard)
	var cfg sim.Config
	fs.StringVar(&cfg.SMPPAddr, "smpp", "127.0.0.1:2775", "SMPP listen address (host:port)")
	fs.StringVar(&cfg.HTTPAddr, "http", "127.0.0.1:8090", "HTTP control API listen address (empty: none)")
	fs.StringVar(&cfg.SystemID, "system-id", "gw", "system_id accepted by binds")
	fs.StringVar(&cfg.Password, "password", "secret", "password accepted by binds")
	fs.DurationVar(&cfg.ReceiptDelay, "receipt-delay", sim.DefaultReceiptDelay, "delay before automatic DELIVRD receipts")
	fs.StringVar(&cfg.IDFormat, "id-format", "dec", "message id format in submit_sm_resp: dec or hex")
	fs.IntVar(&cfg.MaxBinds, "max-binds", 0, "maximum simultaneous binds (0: unlimited)")
	fs.BoolVar(&cfg.AutoReceipts, "auto-receipts", true, "send DELIVRD receipts automatically")
	fs.DurationVar(&cfg.EnquireLinkTimeout, "inactivity-timeout", 0, "close binds silent for longer than this (0: never)")
	fs.StringVar(&cfg.RBMToken, "rbm-token", sim.DefaultRBMToken, "bearer token the RBM API accepts")
	rcsNumbers := fs.String("rcs-numbers", "", "comma-separated RCS-capable numbers or prefixes ending in * (+3361*)")
	fs.StringVar(&cfg.RBMCallbackURL, "rbm-callback", "", "the gateway's RBM webhook (http://…/webhooks/rbm/CARRIER)")
	fs.StringVar(&cfg.RBMClientToken, "rbm-client-token", "", "secret signing RBM callbacks (the carrier's rbm.webhook_secret)")
	fs.DurationVar(&cfg.RBMAutoDeliver, "rbm-auto-deliver", 0, "report RCS messages delivered after this delay (0: only on command)")
	fs.StringVar(&cfg.MM7CallbackURL, "mm7-callback", "", "the gateway's MM7 webhook (http://…/webhooks/mm7/CARRIER)")
	fs.DurationVar(&cfg.MM7AutoReport, "mm7-auto-report", 0, "report MMS retrieved after this delay (0: only on command)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprintln(stderr, "usage: carriersim [flags]")
			fs.PrintDefaults()
		}
		return cfg, err
	}
	switch {
	case fs.NArg() > 0:
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case cfg.SMPPAddr == "":
		return cfg, errors.New("--smpp: must not be empty")
	case cfg.IDFormat != "dec" && cfg.IDFormat != "hex":
		return cfg, fmt.Errorf("--id-format: %q: want dec or hex", cfg.IDFormat)
	case cfg.MaxBinds < 0:
		return cfg, errors.New("--max-binds: must be >= 0")
	case cfg.ReceiptDelay < 0:
		return cfg, errors.New("--receipt-delay: must be >= 0")
	case cfg.SystemID == "":
		return cfg, errors.New("--system-id: must not be empty")
	}
	if cfg.ReceiptDelay == 0 {
		cfg.ReceiptDelay = -1 // sim.Config: < 0 means at once, 0 means default
	}
	if *rcsNumbers != "" {
		for _, n := range strings.Split(*rcsNumbers, ",") {
			if n = strings.TrimSpace(n); n != "" {
				cfg.RCSNumbers = append(cfg.RCSNumbers, n)
			}
		}
	}
	return cfg, nil
}
