package unify

import (
	"regexp"
	"testing"
	"time"
)

func TestIDsAreTimeOrderedAndWellFormed(t *testing.T) {
	uuid7 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	tests := []struct {
		name   string
		new    func() string
		format *regexp.Regexp
	}{
		{"message", func() string { return string(NewMessageID()) }, regexp.MustCompile(`^msg_[0-9a-f]{26}$`)},
		{"event", NewEventID, regexp.MustCompile(`^evt_[0-9a-f]{26}$`)},
		{"attempt", func() string { return string(NewAttemptID()) }, uuid7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			first := tc.new()
			time.Sleep(2 * time.Millisecond)
			second := tc.new()
			for _, id := range []string{first, second} {
				if !tc.format.MatchString(id) {
					t.Fatalf("%q is not of the form %s", id, tc.format)
				}
			}
			if first >= second {
				t.Errorf("ids made 2 ms apart sort the wrong way: %q then %q", first, second)
			}
			seen := map[string]bool{}
			for range 10000 {
				id := tc.new()
				if seen[id] {
					t.Fatalf("%q made twice", id)
				}
				seen[id] = true
			}
		})
	}
}
