package main

import (
	"context"
	"fmt"
	"io"
	"os"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv env) error {
	fs := newFlagSet("serve", stderr)
	path := fs.String("config", "", "configuration file (YAML)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path, stderr, lookupEnv)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, os.Stderr)
	g, err := wire(ctx, cfg, logger)
	if err != nil {
		return err
	}
	return g.serve(ctx, func(addr string) {
		logger.Info("gateway listening", "addr", addr)
		fmt.Fprintf(stdout, "gateway listening on %s\n", addr)
	})
}
