package carriers_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"gateway/carriers"
	"gateway/unify"
)

func TestRoute(t *testing.T) {
	t.Parallel()
	r, err := carriers.NewRouter([]carriers.Carrier{
		{Name: "fr", Prefixes: []string{"+33"}, Channels: []unify.ChannelKind{unify.ChannelSMS}},
		{Name: "fr-mobile", Prefixes: []string{"+336", "+337"}, Channels: []unify.ChannelKind{unify.ChannelSMS, unify.ChannelRCS}},
		{Name: "us", Prefixes: []string{"+1"}},
	})
	require.NoError(t, err)
	for _, tc := range []struct {
		number string
		want   string
	}{
		{"+33612345678", "fr-mobile"},
		{"+33712345678", "fr-mobile"},
		{"+33112345678", "fr"},
		{"+12025550123", "us"},
		{"+447700900123", ""},
	} {
		t.Run(tc.number, func(t *testing.T) {
			t.Parallel()
			c, ok := r.Route(tc.number)
			if tc.want == "" {
				require.False(t, ok)
				return
			}
			require.True(t, ok)
			require.Equal(t, tc.want, c.Name)
		})
	}
	c, _ := r.Carrier("fr-mobile")
	require.True(t, c.Offers(unify.ChannelRCS))
	require.False(t, c.Offers(unify.ChannelMMS))
}

func TestRouterRejectsAmbiguousPrefixes(t *testing.T) {
	t.Parallel()
	_, err := carriers.NewRouter([]carriers.Carrier{
		{Name: "a", Prefixes: []string{"+33"}},
		{Name: "b", Prefixes: []string{"+33"}},
	})
	require.ErrorContains(t, err, "claimed by a and b")
	_, err = carriers.NewRouter([]carriers.Carrier{{Name: "a", Prefixes: []string{"33"}}})
	require.Error(t, err)
}
