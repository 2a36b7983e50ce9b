package segment_test

import (
	"strings"
	"testing"

	"gateway/sms/segment"
)

func BenchmarkSplit(b *testing.B) {
	for _, bc := range []struct {
		name string
		text string
	}{
		{"gsm7/single", "Your code is 483920. It expires in 10 minutes. Do not share it with anyone."},
		{"gsm7/400", string([]rune(strings.Repeat("Prix: 10€ [promo] valable à Paris. ", 12))[:400])},
		{"ucs2/single", "Rendez-vous confirmé ✅ demain à 10h"},
		{"ucs2/400", string([]rune(strings.Repeat("Привет 😀 как дела? ", 25))[:400])},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.text)))
			for b.Loop() {
				if _, err := segment.Split(bc.text, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCount(b *testing.B) {
	text := string([]rune(strings.Repeat("Prix: 10€ [promo] valable à Paris. ", 12))[:400])
	b.ReportAllocs()
	for b.Loop() {
		segment.Count(text)
	}
}
