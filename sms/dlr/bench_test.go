package dlr_test

import (
	"testing"

	"gateway/sms/dlr"
)

func BenchmarkParse(b *testing.B) {
	text := "id:1234567890 sub:001 dlvrd:001 submit date:2611251200 done date:2611251201 stat:DELIVRD err:000 text:Hello world"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dlr.Parse(text, dlr.TLVs{MessageState: -1}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		dlr.Match("6699", "1A2B")
	}
}
