package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"gateway/cmd/gateway/config"
	"gateway/unify/sqlstore"
)

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("gateway "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return &exitError{code: 0, err: err}
		}
		return usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return usageError("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// loadConfig reads and validates the file; every problem is printed with its
// YAML path and the error is an exit-2 usage error.
func loadConfig(path string, stderr io.Writer, lookupEnv env) (*config.File, error) {
	if path == "" {
		return nil, usageError("--config FILE is required")
	}
	f, err := config.Load(path, lookupEnv)
	if err != nil {
		var ps *config.Problems
		if errors.As(err, &ps) {
			for _, p := range *ps {
				if p.Line > 0 && p.Path != "" {
					fmt.Fprintf(stderr, "%s:%d: %s\n", path, p.Line, p.String())
				} else {
					fmt.Fprintf(stderr, "%s: %s\n", path, p.String())
				}
			}
			return nil, &exitError{code: 2, err: fmt.Errorf("%s: %d problem(s) in the configuration", path, len(*ps))}
		}
		return nil, &exitError{code: 2, err: err}
	}
	return f, nil
}

func runCheckConfig(args []string, stdout, stderr io.Writer, lookupEnv env) error {
	fs := newFlagSet("check-config", stderr)
	path := fs.String("config", "", "configuration file (YAML)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if _, err := loadConfig(*path, stderr, lookupEnv); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok\n", *path)
	return nil
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv env) error {
	fs := newFlagSet("migrate", stderr)
	path := fs.String("config", "", "configuration file (YAML)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	f, err := loadConfig(*path, stderr, lookupEnv)
	if err != nil {
		return err
	}
	st, err := sqlstore.Open(ctx, f.Database, sqlstore.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}
