package web_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzPostMessage feeds arbitrary bodies to the send endpoint: the server
// never panics, answers 202 or a 4xx problem, and nothing invalid reaches
// the core.
func FuzzPostMessage(f *testing.F) {
	for _, seed := range []string{
		`{"to":"+33612345678","from":"acme","content":{"text":"hi"}}`,
		`{"to":"+33612345678","from":"acme","content":{"card":{"title":"t","suggestions":[{"type":"reply","text":"a"}]}}}`,
		`{"to":"+33612345678","from":"acme","content":{"carousel":{"cards":[{"title":"a"},{"title":"b"}]}}}`,
		`{"to":"+33612345678","from":"acme","content":{"location":{"lat":1e400,"lng":2}}}`,
		`{"to":null}`, `[]`, `{"content":{"suggestions":[{"type":"calendar","start":"x"}]}}`, "\xff", `{"a":` + strings.Repeat("[", 100),
	} {
		f.Add(seed)
	}
	b := setup(f)
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/v1/messages", strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+testKey)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		before := len(b.fake.acceptCalls())
		b.srv.ServeHTTP(w, r)
		switch {
		case w.Code == http.StatusAccepted:
		case w.Code >= 400 && w.Code < 500:
			if len(b.fake.acceptCalls()) != before {
				t.Fatalf("an invalid request (%d) reached the core", w.Code)
			}
		default:
			t.Fatalf("unexpected status %d for %q", w.Code, body)
		}
	})
}
