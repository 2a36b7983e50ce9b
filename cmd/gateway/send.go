package main

import (
	"context"
	"io"
)

func runSend(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv env) error {
	return usageError("send: not available yet")
}
