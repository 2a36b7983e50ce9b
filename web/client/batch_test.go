package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/unify"
	"gateway/web/client"
)

func row(line int, to, from, text string) client.BatchRow {
	return client.BatchRow{Line: line, Req: client.SendRequest{To: to, From: from, Content: unify.Content{Text: text}}}
}

// problems splits the error ReadBatch returns into one string per problem.
func problems(err error) []string {
	if err == nil {
		return nil
	}
	var out []string
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, e.Error())
		}
		return out
	}
	return []string{err.Error()}
}

func TestReadBatch(t *testing.T) {
	t.Parallel()
	withRef := row(2, "+33612345678", "shop", "hi")
	withRef.Req.ConversationID, withRef.Req.ClientRef = "thread-1", "order-1"
	for _, tc := range []struct {
		name string
		in   string
		from string // default sender
		rows []client.BatchRow
		errs []string
	}{
		{
			name: "minimal",
			in:   "to,text\n+33612345678,hello\n+33612345679,bye\n",
			from: "acme",
			rows: []client.BatchRow{row(2, "+33612345678", "acme", "hello"), row(3, "+33612345679", "acme", "bye")},
		},
		{
			name: "columns in any order, case and spaces ignored",
			in:   " Client_Ref ,TEXT,conversation_id, from ,to\norder-1,hi,thread-1,shop,+33612345678\n",
			from: "acme",
			rows: []client.BatchRow{withRef},
		},
		{
			name: "from column empty falls back to the default",
			in:   "to,from,text\n+33612345678,,a\n+33612345679,other,b\n",
			from: "acme",
			rows: []client.BatchRow{row(2, "+33612345678", "acme", "a"), row(3, "+33612345679", "other", "b")},
		},
		{
			name: "quoted commas, quotes and new lines",
			in:   "to,text\n+33612345678,\"Hello, world\"\n+33612345679,\"say \"\"hi\"\"\nto all\"\n+33612345670,last\n",
			from: "acme",
			rows: []client.BatchRow{
				row(2, "+33612345678", "acme", "Hello, world"),
				row(3, "+33612345679", "acme", "say \"hi\"\nto all"),
				row(5, "+33612345670", "acme", "last"),
			},
		},
		{
			name: "unicode, BOM and CRLF",
			in:   "\uFEFFto,text\r\n+33612345678,Café ☕ 你好 👋\r\n",
			from: "acme",
			rows: []client.BatchRow{row(2, "+33612345678", "acme", "Café ☕ 你好 👋")},
		},
		{
			name: "empty and blank lines are skipped",
			in:   "to,text\n\n+33612345678,a\n   \n,\n \t, \n+33612345679,b\n\n",
			from: "acme",
			rows: []client.BatchRow{row(3, "+33612345678", "acme", "a"), row(7, "+33612345679", "acme", "b")},
		},
		{
			name: "header only",
			in:   "to,text\n",
			from: "acme",
		},
		{
			name: "empty file",
			in:   "",
			errs: []string{"client: line 1: the file is empty; want a header row such as to,text"},
		},
		{
			name: "missing column",
			in:   "to\n+33612345678\n",
			from: "acme",
			errs: []string{`client: line 1: missing column "text" (the header must name at least to and text)`},
		},
		{
			name: "missing both and an unknown one",
			in:   "phone,message\n+33612345678,hi\n",
			from: "acme",
			errs: []string{
				`client: line 1: unknown column "phone" (the columns are to, text, from, conversation_id, client_ref)`,
				`client: line 1: unknown column "message" (the columns are to, text, from, conversation_id, client_ref)`,
				`client: line 1: missing column "to" (the header must name at least to and text)`,
				`client: line 1: missing column "text" (the header must name at least to and text)`,
			},
		},
		{
			name: "unknown column",
			in:   "to,text,policy\n+33612345678,hi,default\n",
			from: "acme",
			errs: []string{`client: line 1: unknown column "policy" (the columns are to, text, from, conversation_id, client_ref)`},
		},
		{
			name: "duplicate and unnamed columns",
			in:   "to,text,To,\n",
			from: "acme",
			errs: []string{`client: line 1: column "to" appears twice`, "client: line 1: column 4 has no name"},
		},
		{
			name: "extra and missing fields",
			in:   "to,text\n+33612345678,hi,extra\n+33612345679\n+33612345670,ok\n",
			from: "acme",
			rows: []client.BatchRow{row(4, "+33612345670", "acme", "ok")},
			errs: []string{"client: line 2: has 3 fields, the header has 2", "client: line 3: has 1 fields, the header has 2"},
		},
		{
			name: "every row problem with its line",
			in:   "to,text,from\n,hi,x\n0612345678,hi,x\n+33612345678,,\n+33612345679,fine,\n",
			from: "",
			errs: []string{
				"client: line 2: to: must not be empty",
				"client: line 3: to: must be an E.164 number such as +33612345678",
				"client: line 4: text: must not be empty",
				"client: line 4: from: must not be empty (add a from column or give a default sender)",
				"client: line 5: from: must not be empty (add a from column or give a default sender)",
			},
		},
		{
			name: "text too long",
			in:   "to,text\n+33612345678," + strings.Repeat("é", unify.MaxTextRunes+1) + "\n",
			from: "acme",
			errs: []string{fmt.Sprintf("client: line 2: text: must be at most %d characters", unify.MaxTextRunes)},
		},
		{
			name: "CSV syntax error stops reading",
			in:   "to,text\n+33612345678,ok\n+33612345679,say \"hi\"\n+33612345670,never read\n",
			from: "acme",
			rows: []client.BatchRow{row(2, "+33612345678", "acme", "ok")},
			errs: []string{`client: line 3: column 18: bare " in non-quoted-field`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rows, err := client.ReadBatch(strings.NewReader(tc.in), tc.from)
			require.Equal(t, tc.errs, problems(err))
			for i := range rows {
				require.NotEmpty(t, rows[i].Req.IdempotencyKey)
				rows[i].Req.IdempotencyKey = ""
			}
			require.Equal(t, tc.rows, rows)
			if err != nil {
				var le *client.LineError
				require.ErrorAs(t, err, &le)
				require.Positive(t, le.Line)
			}
		})
	}
}

func TestReadBatchKeys(t *testing.T) {
	t.Parallel()
	keys := func(in string) []string {
		rows, err := client.ReadBatch(strings.NewReader(in), "acme")
		require.NoError(t, err)
		var ks []string
		for _, r := range rows {
			require.LessOrEqual(t, len(r.Req.IdempotencyKey), 255)
			require.Regexp(t, `^[\x21-\x7e]+$`, r.Req.IdempotencyKey)
			ks = append(ks, r.Req.IdempotencyKey)
		}
		return ks
	}
	orig := keys("to,text\n+33612345678,hi\n+33612345678,hi\n+33612345679,bye\n")
	require.Len(t, orig, 3)
	require.NotEqual(t, orig[0], orig[1], "two identical rows are two messages")
	require.Equal(t, orig, keys("to,text\n+33612345678,hi\n+33612345678,hi\n+33612345679,bye\n"), "same file, same keys")

	moved := keys("to,text\n+33612345670,new\n+33612345679,bye\n+33612345678,hi\n+33612345678,hi\n")
	require.Equal(t, []string{orig[2], orig[0], orig[1]}, moved[1:], "inserting and reordering rows keeps the others' keys")
	require.NotContains(t, orig, moved[0])

	other := keys("to,text\n+33612345678,hi\n+33612345678,hi\n+33612345679,bye!\n")
	require.Equal(t, orig[:2], other[:2])
	require.NotEqual(t, orig[2], other[2], "a changed row is a new message")

	otherFrom, err := client.ReadBatch(strings.NewReader("to,text\n+33612345678,hi\n"), "other")
	require.NoError(t, err)
	require.NotEqual(t, orig[0], otherFrom[0].Req.IdempotencyKey, "the default sender is part of the request")
}

// batchServer accepts messages except to numbers ending in 9 (a validation
// problem) and 8 (a proxy's 502), and records idempotency keys and how many
// requests were in flight at most.
type batchServer struct {
	mu      sync.Mutex
	keys    map[string]string // idempotency key -> to
	cur     int
	maxCur  int
	release chan struct{}
}

func (s *batchServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		To string `json:"to"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	s.mu.Lock()
	s.keys[r.Header.Get("Idempotency-Key")] = req.To
	s.cur++
	s.maxCur = max(s.maxCur, s.cur)
	s.mu.Unlock()
	if s.release != nil {
		select {
		case <-s.release:
		case <-r.Context().Done():
		}
	}
	s.mu.Lock()
	s.cur--
	s.mu.Unlock()

	switch {
	case strings.HasSuffix(req.To, "9"):
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"type":"https://gateway.invalid/problems/invalid","title":"Invalid","status":400,"errors":[{"field":"to","message":"is not a possible number"}]}`)
	case strings.HasSuffix(req.To, "8"):
		w.WriteHeader(http.StatusBadGateway)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = fmt.Fprintf(w, `{"id":"msg_%s","status":"accepted"}`, strings.TrimPrefix(req.To, "+"))
	}
}

func TestSendBatch(t *testing.T) {
	t.Parallel()
	bs := &batchServer{keys: map[string]string{}}
	srv := httptest.NewServer(bs)
	t.Cleanup(srv.Close)

	var in strings.Builder
	in.WriteString("to,text\n")
	for i := range 20 {
		fmt.Fprintf(&in, "+3361234560%d,message %d\n", i%10, i)
	}
	rows, err := client.ReadBatch(strings.NewReader(in.String()), "acme")
	require.NoError(t, err)
	require.Len(t, rows, 20)

	var progress []int
	res := client.New(srv.URL, "k").SendBatch(context.Background(), rows, 4, func(done int) {
		progress = append(progress, done) // calls never overlap: no lock
	})

	require.Equal(t, 16, res.Sent)
	require.Equal(t, 4, res.Failed)
	require.Len(t, res.Errors, 4)
	wantLines := []int{10, 11, 20, 21} // numbers ending in 8 and 9, header on line 1
	for i, e := range res.Errors {
		var le *client.LineError
		require.ErrorAs(t, e, &le)
		require.Equal(t, wantLines[i], le.Line)
		var ae *client.APIError
		require.ErrorAs(t, e, &ae)
	}
	require.Equal(t, "client: line 11: 400 invalid: to: is not a possible number", res.Errors[1].Error())
	require.Equal(t, "client: line 10: 502 bad_gateway: Bad Gateway", res.Errors[0].Error())

	want := make([]int, 20)
	for i := range want {
		want[i] = i + 1
	}
	require.Equal(t, want, progress)
	bs.mu.Lock()
	defer bs.mu.Unlock()
	require.Len(t, bs.keys, 20, "one idempotency key per row")
	require.LessOrEqual(t, bs.maxCur, 4)
	for _, r := range rows {
		require.Equal(t, r.Req.To, bs.keys[r.Req.IdempotencyKey])
	}
}

func TestSendBatchConcurrencyAndKeysForHandMadeRows(t *testing.T) {
	t.Parallel()
	bs := &batchServer{keys: map[string]string{}, release: make(chan struct{})}
	srv := httptest.NewServer(bs)
	t.Cleanup(srv.Close)
	var once sync.Once
	open := func() { once.Do(func() { close(bs.release) }) }
	t.Cleanup(open) // runs before srv.Close: lets blocked handlers finish
	var rows []client.BatchRow
	for i := range 9 {
		rows = append(rows, row(i+1, fmt.Sprintf("+3361234561%d", i), "acme", "hi"))
	}
	done := make(chan client.BatchResult, 1)
	go func() { done <- client.New(srv.URL, "k").SendBatch(context.Background(), rows, 3, nil) }()
	require.Eventually(t, func() bool {
		bs.mu.Lock()
		defer bs.mu.Unlock()
		return bs.cur == 3
	}, 5*time.Second, time.Millisecond)
	open()
	res := <-done
	require.Equal(t, client.BatchResult{Sent: 8, Failed: 1, Errors: res.Errors}, res)
	bs.mu.Lock()
	defer bs.mu.Unlock()
	require.Equal(t, 3, bs.maxCur)
	require.Len(t, bs.keys, 9)
	for k := range bs.keys {
		require.Regexp(t, `^batch-[0-9a-f]{16}-[1-9]$`, k)
	}
}

func TestSendBatchCancelled(t *testing.T) {
	t.Parallel()
	bs := &batchServer{keys: map[string]string{}}
	srv := httptest.NewServer(bs)
	t.Cleanup(srv.Close)
	rows := []client.BatchRow{row(2, "+33612345678", "acme", "a"), row(3, "+33612345677", "acme", "b")}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := client.New(srv.URL, "k").SendBatch(ctx, rows, 2, nil)
	require.Zero(t, res.Sent)
	require.Equal(t, 2, res.Failed)
	require.NotEmpty(t, res.Errors)
	for _, e := range res.Errors {
		require.True(t, errors.Is(e, context.Canceled), e.Error())
	}
}
