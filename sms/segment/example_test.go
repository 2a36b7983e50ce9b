package segment_test

import (
	"fmt"
	"strings"

	"gateway/sms/segment"
)

func ExampleSplit() {
	plan, err := segment.Split(strings.Repeat("Ping ", 31)+"[end]", 42)
	if err != nil {
		panic(err)
	}
	fmt.Println(plan.Encoding, plan.Units, "septets in", len(plan.Segments), "parts")
	for _, s := range plan.Segments {
		fmt.Printf("% X | %d octets\n", s.UDH, len(s.Payload))
	}
	// Output:
	// gsm7 162 septets in 2 parts
	// 05 00 03 2A 02 01 | 153 octets
	// 05 00 03 2A 02 02 | 9 octets
}
