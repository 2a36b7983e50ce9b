package web

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/require"

	"gateway/unify"
)

// The quick reading of an E.164 number must give the verdict of the general
// parser on every input: numbers of many plans, leading zeros kept in the
// national number (Italy, Côte d'Ivoire), a national prefix written after
// the country code, unassigned country codes, and random digit strings.
func TestCheckE164AgreesWithTheParser(t *testing.T) {
	t.Parallel()
	cases := []string{
		"+33612345678", "+330612345678", "+447911123456", "+12025550123", "+4915112345678",
		"+390612345678", "+39061234567", "+3900612345678", "+2250712345678", "+78001234567",
		"+88612345678", "+8613812345678", "+61412345678", "+5511912345678", "+97150123456",
		"+999123456789", "+80012345678", "+8821612345678", "+3531234567", "+35312345678",
		"+11234567890", "+1000000000", "+2000000000", "+33000000000", "+390000000000",
		"+123", "+33612345678901234",
	}
	rng := rand.New(rand.NewPCG(7, 11))
	for range 20_000 {
		n := 7 + rng.IntN(9)
		b := []byte{'+', byte('1' + rng.IntN(9))}
		for range n - 1 {
			b = append(b, byte('0'+rng.IntN(10)))
		}
		cases = append(cases, string(b))
	}
	// Random strings are rarely valid: also the valid example number of
	// every region, as written in E.164, and with each of its digits changed.
	for region := range phonenumbers.GetSupportedRegions() {
		ex := phonenumbers.GetExampleNumber(region)
		if ex == nil {
			continue
		}
		s := phonenumbers.Format(ex, phonenumbers.E164)
		cases = append(cases, s)
		for i := 2; i < len(s); i++ {
			cases = append(cases, s[:i]+strconv.Itoa(int(s[i]-'0'+1)%10)+s[i+1:])
		}
	}
	valid := 0
	for _, c := range cases {
		got := checkE164(c)
		if got == "" {
			valid++
			// Every valid number takes the quick way, leading zeros included.
			num, ok := e164Number(c)
			require.True(t, ok, c)
			require.Equal(t, c, phonenumbers.Format(num, phonenumbers.E164))
		}
		want := "must be an E.164 number such as +33612345678"
		if unify.LooksE164(c) {
			want = parsedE164Problem(c)
		}
		require.Equal(t, want, got, c)
	}
	require.Greater(t, valid, 1000, "the cases include many valid numbers")
}

func BenchmarkCheckE164(b *testing.B) {
	for b.Loop() {
		if msg := checkE164("+33612345678"); msg != "" {
			b.Fatal(msg)
		}
	}
}
