package client

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"

	"gateway/unify"
)

// The columns of a batch file. to and text are required; the header names
// them in any order.
const (
	colTo             = "to"
	colText           = "text"
	colFrom           = "from"
	colConversationID = "conversation_id"
	colClientRef      = "client_ref"
)

var columns = []string{colTo, colText, colFrom, colConversationID, colClientRef}

// BatchRow is one message of a batch file and the line it starts on.
type BatchRow struct {
	Line int
	Req  SendRequest
}

// LineError is a problem with one line of a batch: a syntax or validation
// problem found by ReadBatch, or a send that failed in SendBatch (Err is then
// the *APIError or transport error).
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("client: line %d: %v", e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

func lineErr(line int, format string, args ...any) error {
	return &LineError{Line: line, Err: fmt.Errorf(format, args...)}
}

// ReadBatch reads a CSV batch: a header row naming the columns (to and text,
// optionally from, conversation_id and client_ref, in any order, case and
// surrounding spaces ignored), then one message per row. defaultFrom is the
// sender of rows without a from. Blank rows are skipped; a UTF-8 byte order
// mark (as spreadsheets write) is ignored.
//
// Every problem found is reported, each a *LineError, joined with
// errors.Join; a syntax error in the CSV stops reading there. The rows that
// were fine are returned alongside, so a caller can still choose to send
// them, though refusing the whole file is the safer default.
//
// Each row gets an idempotency key derived from its request and from how many
// identical requests come before it in the file, so sending the same file
// again, or a corrected copy, within the gateway's idempotency window sends
// only what was not accepted before; reordering or inserting rows does not
// change the keys of the others.
func ReadBatch(r io.Reader, defaultFrom string) ([]BatchRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked here, to say which line and how
	header, err := cr.Read()
	if err == io.EOF {
		return nil, lineErr(1, "the file is empty; want a header row such as to,text")
	}
	if err != nil {
		return nil, csvError(err)
	}
	idx, problems := readHeader(header)
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}

	var rows []BatchRow
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			problems = append(problems, csvError(err))
			break
		}
		line, _ := cr.FieldPos(0)
		if blank(rec) {
			continue
		}
		if len(rec) != len(header) {
			problems = append(problems, lineErr(line, "has %d fields, the header has %d", len(rec), len(header)))
			continue
		}
		row, errs := readRow(line, rec, idx, defaultFrom)
		if len(errs) > 0 {
			problems = append(problems, errs...)
			continue
		}
		rows = append(rows, row)
	}
	assignKeys(rows)
	return rows, errors.Join(problems...)
}

// readHeader maps each known column to its index.
func readHeader(header []string) (map[string]int, []error) {
	var problems []error
	idx := make(map[string]int, len(header))
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\uFEFF")
		}
		name := strings.ToLower(strings.TrimSpace(h))
		switch {
		case name == "":
			problems = append(problems, lineErr(1, "column %d has no name", i+1))
		case !slices.Contains(columns, name):
			problems = append(problems, lineErr(1, "unknown column %q (the columns are %s)", strings.TrimSpace(h), strings.Join(columns, ", ")))
		default:
			if _, dup := idx[name]; dup {
				problems = append(problems, lineErr(1, "column %q appears twice", name))
			}
			idx[name] = i
		}
	}
	for _, need := range []string{colTo, colText} {
		if _, ok := idx[need]; !ok {
			problems = append(problems, lineErr(1, "missing column %q (the header must name at least to and text)", need))
		}
	}
	return idx, problems
}

func readRow(line int, rec []string, idx map[string]int, defaultFrom string) (BatchRow, []error) {
	get := func(col string) string {
		if i, ok := idx[col]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	req := SendRequest{
		To:             get(colTo),
		From:           get(colFrom),
		ConversationID: get(colConversationID),
		ClientRef:      get(colClientRef),
		Content:        unify.Content{Text: get(colText)},
	}
	if req.From == "" {
		req.From = strings.TrimSpace(defaultFrom)
	}
	var errs []error
	switch {
	case req.To == "":
		errs = append(errs, lineErr(line, "to: must not be empty"))
	case !unify.LooksE164(req.To):
		errs = append(errs, lineErr(line, "to: must be an E.164 number such as +33612345678"))
	}
	if req.Content.Text == "" {
		errs = append(errs, lineErr(line, "text: must not be empty"))
	} else {
		// Length and UTF-8 rules are unify's, so they cannot drift from
		// what the API enforces.
		for _, fe := range req.Content.Validate("") {
			errs = append(errs, lineErr(line, "%s: %s", fe.Field, fe.Message))
		}
	}
	if req.From == "" {
		errs = append(errs, lineErr(line, "from: must not be empty (add a from column or give a default sender)"))
	}
	return BatchRow{Line: line, Req: req}, errs
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return lineErr(pe.Line, "column %d: %w", pe.Column, pe.Err)
	}
	return fmt.Errorf("client: read batch: %w", err)
}

// assignKeys gives each row a key from the SHA-256 of its request and its
// occurrence number among identical requests: two identical rows are two
// messages, yet each keeps its key however the other rows move.
func assignKeys(rows []BatchRow) {
	seen := map[string]int{}
	for i := range rows {
		b, _ := json.Marshal(rows[i].Req)
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:16])
		seen[h]++
		rows[i].Req.IdempotencyKey = "csv-" + h + "-" + strconv.Itoa(seen[h])
	}
}

// BatchResult counts what SendBatch did. Errors holds one *LineError per
// failed row, in line order, and, when ctx ended before every row was
// tried, one more error counting the rows never sent.
type BatchResult struct {
	Sent   int
	Failed int
	Errors []error
}

// SendBatch sends rows with up to concurrency requests at a time and calls
// progress (if not nil) after each row with the number of rows done so far;
// calls to progress never overlap. A row without an idempotency key gets one
// from a batch id drawn for this call and its line, so that the transport's
// own retries cannot duplicate it. Failed rows are not retried: run the
// batch again, and rows already accepted are answered from the gateway's
// idempotency record instead of being sent twice.
func (c *Client) SendBatch(ctx context.Context, rows []BatchRow, concurrency int, progress func(done int)) BatchResult {
	concurrency = max(concurrency, 1)
	var idb [8]byte
	_, _ = rand.Read(idb[:])
	batchID := hex.EncodeToString(idb[:])

	errs := make([]error, len(rows))
	tried := make([]bool, len(rows))
	jobs := make(chan int)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done int
	)
	for range min(concurrency, max(len(rows), 1)) {
		wg.Go(func() {
			for i := range jobs {
				req := rows[i].Req
				if req.IdempotencyKey == "" {
					req.IdempotencyKey = "batch-" + batchID + "-" + strconv.Itoa(rows[i].Line)
				}
				if _, err := c.Send(ctx, req); err != nil {
					errs[i] = &LineError{Line: rows[i].Line, Err: err}
				}
				mu.Lock()
				tried[i] = true
				done++
				if progress != nil {
					progress(done)
				}
				mu.Unlock()
			}
		})
	}
feed:
	for i := range rows {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()

	var res BatchResult
	untried := 0
	for i := range rows {
		switch {
		case !tried[i]:
			untried++
		case errs[i] != nil:
			res.Failed++
			res.Errors = append(res.Errors, errs[i])
		default:
			res.Sent++
		}
	}
	slices.SortStableFunc(res.Errors, func(a, b error) int {
		return a.(*LineError).Line - b.(*LineError).Line
	})
	if untried > 0 {
		res.Failed += untried
		res.Errors = append(res.Errors, fmt.Errorf("client: batch stopped, %d rows not sent: %w", untried, context.Cause(ctx)))
	}
	return res
}
