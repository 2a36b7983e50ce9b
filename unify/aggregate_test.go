package unify_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"gateway/unify"
)

func TestAggregateParts(t *testing.T) {
	t.Parallel()
	const (
		s = unify.StatusSent
		d = unify.StatusDelivered
		f = unify.StatusFailed
		r = unify.StatusRead
		e = unify.StatusExpired
	)
	for _, tc := range []struct {
		name  string
		parts []unify.Status
		want  unify.Status
	}{
		{"no parts", nil, s},
		{"one sent", []unify.Status{s}, s},
		{"one delivered", []unify.Status{d}, d},
		{"all delivered", []unify.Status{d, d, d}, d},
		{"some delivered", []unify.Status{d, s, d}, unify.StatusPartiallyDelivered},
		{"one failed among delivered", []unify.Status{d, f, d}, f},
		{"one failed first", []unify.Status{f, s, s}, f},
		{"expired counts as failed", []unify.Status{d, e}, f},
		{"read", []unify.Status{r}, r},
		{"read and delivered", []unify.Status{r, d}, d},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parts := make([]unify.Part, len(tc.parts))
			for i, st := range tc.parts {
				parts[i] = unify.Part{Seq: i + 1, Status: st}
			}
			require.Equal(t, tc.want, unify.AggregateParts(parts))
		})
	}
}

func TestStatusAdvances(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		from, to unify.Status
		want     bool
	}{
		{unify.StatusAccepted, unify.StatusSending, true},
		{unify.StatusSending, unify.StatusSent, true},
		{unify.StatusSent, unify.StatusDelivered, true},
		{unify.StatusDelivered, unify.StatusRead, true},
		{unify.StatusDelivered, unify.StatusSent, false},
		{unify.StatusDelivered, unify.StatusFailed, false},
		{unify.StatusFailed, unify.StatusDelivered, false},
		{unify.StatusSent, unify.StatusFailed, true},
		{unify.StatusSent, unify.StatusPartiallyDelivered, true},
		{unify.StatusPartiallyDelivered, unify.StatusDelivered, true},
		{unify.StatusPartiallyDelivered, unify.StatusFailed, true},
		{unify.StatusSwitching, unify.StatusSending, true},
	} {
		require.Equal(t, tc.want, tc.from.Advances(tc.to), "%s -> %s", tc.from, tc.to)
	}
}
