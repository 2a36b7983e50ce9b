package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	"gateway/unify"
	"gateway/web/client"
)

func runSend(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv env) error {
	fs := newFlagSet("send", stderr)
	url := fs.String("url", "", "gateway base URL (default $GATEWAY_URL or http://127.0.0.1:8080)")
	key := fs.String("key", "", "API key (default $GATEWAY_API_KEY)")
	to := fs.String("to", "", "recipient, E.164 (+33612345678)")
	from := fs.String("from", "", "sender name")
	text := fs.String("text", "", "message text")
	policy := fs.String("policy", "", "fallback policy (default: the sender's)")
	conv := fs.String("conversation-id", "", "conversation id replies are routed to")
	ref := fs.String("client-ref", "", "your reference, echoed in status events")
	file := fs.String("file", "", "CSV file to send many: header to,text[,from,conversation_id,client_ref]")
	concurrency := fs.Int("concurrency", 16, "requests in flight with --file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *url == "" {
		*url, _ = lookupEnv("GATEWAY_URL")
		if *url == "" {
			*url = "http://127.0.0.1:8080"
		}
	}
	if *key == "" {
		*key, _ = lookupEnv("GATEWAY_API_KEY")
		if *key == "" {
			return usageError("send: an API key is needed (--key or GATEWAY_API_KEY)")
		}
	}
	c := client.New(*url, *key)
	if *file != "" {
		if *to != "" || *text != "" {
			return usageError("send: --file replaces --to and --text")
		}
		return sendFile(ctx, c, *file, *from, *concurrency, stdout, stderr)
	}
	if *to == "" || *from == "" || *text == "" {
		return usageError("send: --to, --from and --text are required (or --file)")
	}
	resp, err := c.Send(ctx, client.SendRequest{To: *to, From: *from, Policy: *policy, ConversationID: *conv,
		ClientRef: *ref, Content: unify.Content{Text: *text}})
	if err != nil {
		return sendError(err)
	}
	fmt.Fprintln(stdout, resp.ID)
	return nil
}

// sendError makes a refusal of the request (4xx) a usage error: the input
// was wrong, not the gateway.
func sendError(err error) error {
	var api *client.APIError
	if errors.As(err, &api) && api.Status >= 400 && api.Status < 500 {
		return &exitError{code: 2, err: err}
	}
	return err
}

func sendFile(ctx context.Context, c *client.Client, path, from string, concurrency int, stdout, stderr io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return usageError("send: %v", err)
	}
	defer f.Close()
	rows, err := client.ReadBatch(f, from)
	if err != nil {
		return usageError("send: %s: %v", path, err)
	}
	var progress func(int)
	if out, ok := stderr.(*os.File); ok && isatty.IsTerminal(out.Fd()) {
		bar := progressbar.NewOptions(len(rows), progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("sending"),
			progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
		progress = func(done int) { _ = bar.Set(done) }
	}
	res := c.SendBatch(ctx, rows, concurrency, progress)
	for _, e := range res.Errors {
		fmt.Fprintln(stderr, e)
	}
	fmt.Fprintf(stdout, "sent %d, failed %d\n", res.Sent, res.Failed)
	if res.Failed > 0 {
		return fmt.Errorf("send: %d of %d messages failed", res.Failed, len(rows))
	}
	return nil
}
