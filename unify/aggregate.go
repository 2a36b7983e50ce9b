package unify

// AggregateParts is the status of an attempt from the statuses of its parts:
// failed as soon as one part failed (the text is incomplete on the phone),
// delivered when every part is, partially delivered in between, and sent
// while no part has a final receipt. Jasmin and Kannel report per part and
// leave the caller to add them up; we answer per message.
func AggregateParts(parts []Part) Status {
	if len(parts) == 0 {
		return StatusSent
	}
	delivered, read := 0, 0
	for _, p := range parts {
		switch p.Status {
		case StatusFailed, StatusExpired, StatusRevoked:
			return StatusFailed
		case StatusDelivered:
			delivered++
		case StatusRead:
			read++
		}
	}
	switch {
	case read == len(parts):
		return StatusRead
	case delivered+read == len(parts):
		return StatusDelivered
	case delivered+read > 0:
		return StatusPartiallyDelivered
	}
	return StatusSent
}
