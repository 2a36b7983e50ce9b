package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"gateway/unify"
	"gateway/web"
)

// fakeEraser erases a number once: the second call finds nothing left.
type fakeEraser struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (f *fakeEraser) EraseSubject(_ context.Context, phone string) (string, map[string]int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, phone)
	if f.err != nil {
		return "", nil, f.err
	}
	n := 0
	if len(f.calls) == 1 {
		n = 2
	}
	return "0123456789abcdef0123456789abcdef", map[string]int{"messages": n, "consents": n / 2, "events": 0}, nil
}

func TestDeleteSubject(t *testing.T) {
	t.Parallel()
	b := setup(t)
	eraser := &fakeEraser{}
	b.srv.MountSubjects(eraser)

	for _, tc := range []struct {
		name   string
		erased bool
		counts map[string]float64
	}{
		{"first call erases", true, map[string]float64{"messages": 2, "consents": 1, "events": 0}},
		{"second call is a no-op", false, map[string]float64{"messages": 0, "consents": 0, "events": 0}},
	} {
		rec := b.do(t, request(http.MethodDelete, "/v1/subjects/"+testPhone, ""))
		require.Equal(t, http.StatusOK, rec.Code, tc.name)
		var out map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
		require.Equal(t, testPhone, out["phone"], tc.name)
		require.Equal(t, "0123456789abcdef0123456789abcdef", out["number_hash"], tc.name)
		require.Equal(t, tc.erased, out["erased"], tc.name)
		counts := map[string]float64{}
		for k, v := range out["counts"].(map[string]any) {
			counts[k] = v.(float64)
		}
		require.Equal(t, tc.counts, counts, tc.name)
	}
	// %2B is a '+' too.
	rec := b.do(t, request(http.MethodDelete, "/v1/subjects/%2B33612345678", ""))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, []string{testPhone, testPhone, testPhone}, eraser.calls)

	for _, bad := range []string{"0612345678", "+0612345678", "+33abc"} {
		p := problem(t, b.do(t, request(http.MethodDelete, "/v1/subjects/"+bad, "")), http.StatusBadRequest, "invalid")
		require.Equal(t, "phone", p.Errors[0].Field, bad)
	}
	require.Len(t, eraser.calls, 3, "an invalid number never reaches the eraser")

	eraser.err = unify.Errorf(unify.CodeUnavailable, "the store cannot take writes right now")
	problem(t, b.do(t, request(http.MethodDelete, "/v1/subjects/"+testPhone, "")), http.StatusServiceUnavailable, "unavailable")

	unauth := request(http.MethodDelete, "/v1/subjects/"+testPhone, "", "Authorization", "")
	problem(t, b.do(t, unauth), http.StatusUnauthorized, "unauthorized")
	require.Len(t, eraser.calls, 4)
	require.NotContains(t, b.logs.String(), "33612345678", "the access log names the route, not the number")
	_ = web.SubjectErasure{}
}
