package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"gateway/unify/seal"
	"gateway/unify/sqlstore"
)

// oldKeyEnv names the environment variable that may hold --old-key, so the
// key need not appear in a process list or a shell history.
const oldKeyEnv = "GATEWAY_OLD_CONTENT_KEY"

// runRotateKey re-seals every sealed row under the config's current
// privacy.encryption_key: rows under the old key (--old-key, the
// environment, or privacy.old_encryption_keys) and rows stored in clear
// before encryption was on. It works in batches, one transaction each, and
// both keys open content throughout, so a gateway running with the new key
// and the old one in old_encryption_keys reads every row at every moment.
func runRotateKey(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv env) error {
	fs := newFlagSet("rotate-key", stderr)
	path := fs.String("config", "", "configuration file (YAML); its privacy.encryption_key is the new key")
	oldFlag := fs.String("old-key", "", "standard base64 of the key being rotated out (default $"+oldKeyEnv+")")
	batch := fs.Int("batch", 500, "rows re-sealed per transaction")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *batch <= 0 {
		return usageError("rotate-key: --batch must be > 0")
	}
	cfg, err := loadConfig(*path, stderr, lookupEnv)
	if err != nil {
		return err
	}
	if !cfg.Privacy.Encrypted() {
		return usageError("rotate-key: privacy.encryption is off: there is no key to seal with")
	}
	current := cfg.Privacy.Key()
	olds := cfg.Privacy.OldKeys()
	oldText := *oldFlag
	if oldText == "" {
		oldText, _ = lookupEnv(oldKeyEnv)
	}
	if oldText != "" {
		// The key is a secret: errors never quote it.
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(oldText))
		if err != nil || len(k) != 32 {
			return usageError("rotate-key: the old key must be the standard base64 of 32 bytes")
		}
		if slices.Equal(k, current) {
			return usageError("rotate-key: the old key is the current privacy.encryption_key; put the new key in the config first")
		}
		olds = append(olds, k)
	}
	sealer, err := seal.New(current, olds...)
	if err != nil {
		return err
	}
	st, err := sqlstore.Open(ctx, cfg.Database, sqlstore.Options{Sealer: sealer})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	counts, err := st.Reseal(ctx, *batch, nil)
	if err != nil {
		if errors.Is(err, seal.ErrUnknownKey) {
			return fmt.Errorf("rotate-key: %w (pass the key it was sealed with as --old-key)", err)
		}
		return fmt.Errorf("rotate-key: %w", err)
	}
	left, err := st.Unsealed(ctx)
	if err != nil {
		return err
	}
	total, remaining := 0, 0
	var parts []string
	for _, t := range []string{"messages", "inbound", "events", "mo_fragments"} {
		total += counts[t]
		remaining += left[t]
		parts = append(parts, fmt.Sprintf("%s %d", t, counts[t]))
	}
	fmt.Fprintf(stdout, "re-sealed %d rows under key %s (%s)\n", total, sealer.PrimaryID(), strings.Join(parts, ", "))
	if remaining > 0 {
		return fmt.Errorf("rotate-key: %d rows are still not under key %s (written meanwhile by a gateway sealing with another key?): run rotate-key again", remaining, sealer.PrimaryID())
	}
	return nil
}
