package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/pprof"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv env) error {
	fs := newFlagSet("serve", stderr)
	path := fs.String("config", "", "configuration file (YAML)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (for benchmarks)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path, stderr, lookupEnv)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, os.Stderr)
	if _, set := lookupEnv("GOGC"); !set {
		// The live heap is small (tens of MB) and short-lived garbage is
		// most of what a message makes: collecting at 4× the live heap
		// instead of 2× halves the collector's CPU for a few tens of MB.
		debug.SetGCPercent(400)
		if _, set := lookupEnv("GOMEMLIMIT"); !set {
			// ...while a soft limit brings the 2× pace back before the
			// heap grows large.
			debug.SetMemoryLimit(256 << 20)
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	g, err := wire(ctx, cfg, logger)
	if err != nil {
		return err
	}
	return g.serve(ctx, func(addr string) {
		logger.Info("gateway listening", "addr", addr)
		fmt.Fprintf(stdout, "gateway listening on %s\n", addr)
	})
}
