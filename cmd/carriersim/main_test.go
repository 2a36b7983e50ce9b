package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for the logger and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--nope"}, "flag provided but not defined"},
		{"bad id format", []string{"--id-format", "oct"}, "--id-format"},
		{"negative max binds", []string{"--max-binds", "-1"}, "--max-binds"},
		{"bad duration", []string{"--receipt-delay", "soon"}, "receipt-delay"},
		{"empty smpp", []string{"--smpp", ""}, "--smpp"},
		{"extra argument", []string{"serve"}, "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errb syncBuffer
			code := run(context.Background(), tc.args, &out, &errb)
			require.Equal(t, 2, code)
			msg := errb.String()
			require.Equal(t, 1, strings.Count(msg, "\n"), "one line: %q", msg)
			require.Contains(t, msg, tc.want)
			require.True(t, strings.HasPrefix(msg, "carriersim: "), msg)
		})
	}
}

func TestRunHelp(t *testing.T) {
	t.Parallel()
	var out, errb syncBuffer
	require.Equal(t, 0, run(context.Background(), []string{"-h"}, &out, &errb))
	require.Contains(t, errb.String(), "-smpp")
}

func TestRunBusyAddress(t *testing.T) {
	t.Parallel()
	var out1, errb1 syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- run(ctx, []string{"--smpp", "127.0.0.1:0", "--http", "127.0.0.1:0"}, &out1, &errb1) }()
	addr := waitReady(t, &out1)
	var out, errb syncBuffer
	require.Equal(t, 1, run(context.Background(), []string{"--smpp", addr, "--http", ""}, &out, &errb))
	require.Contains(t, errb.String(), "listen smpp")
	cancel()
	require.Equal(t, 0, <-done)
}

func TestRunStartsAndStops(t *testing.T) {
	t.Parallel()
	var out, errb syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"--smpp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--id-format", "hex", "--max-binds", "2", "--receipt-delay", "0s"}, &out, &errb)
	}()
	waitReady(t, &out)
	require.Contains(t, out.String(), "http=http://127.0.0.1:")
	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code, errb.String())
	case <-time.After(5 * time.Second):
		t.Fatal("carriersim did not stop")
	}
	require.Empty(t, errb.String())
}

// waitReady waits for the ready log line and returns the SMPP address.
func waitReady(tb testing.TB, out *syncBuffer) string {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(out.String(), "\n") {
			if !strings.Contains(line, "carriersim: ready") {
				continue
			}
			for _, f := range strings.Fields(line) {
				if v, ok := strings.CutPrefix(f, "smpp="); ok {
					return v
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	tb.Fatalf("not ready: %s", out.String())
	return ""
}
