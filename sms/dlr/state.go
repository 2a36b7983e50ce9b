package dlr

import "strconv"

// State is an SMPP message_state (spec §10.2, SMPP 3.4 §5.2.28). The zero
// value means no state could be read.
type State uint8

// The message states of SMPP 3.4.
const (
	Enroute       State = 1
	Delivered     State = 2
	Expired       State = 3
	Deleted       State = 4
	Undeliverable State = 5
	// Accepted: the SMSC accepted the message on the subscriber's behalf
	// (e.g. read by customer care); not final.
	Accepted State = 6
	// Unknown: the SMSC does not know the outcome; not final, a later
	// receipt or a timeout decides.
	Unknown  State = 7
	Rejected State = 8
)

// stateNames are the seven-letter stat: values of a receipt text.
var stateNames = [...]string{
	Enroute:       "ENROUTE",
	Delivered:     "DELIVRD",
	Expired:       "EXPIRED",
	Deleted:       "DELETED",
	Undeliverable: "UNDELIV",
	Accepted:      "ACCEPTD",
	Unknown:       "UNKNOWN",
	Rejected:      "REJECTD",
}

// String returns the stat: text of s ("DELIVRD", "UNDELIV", …), or
// "State(n)" for a value outside 1 to 8.
func (s State) String() string {
	if s.valid() {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

func (s State) valid() bool { return s >= Enroute && s <= Rejected }

// Final reports whether s ends the message's life at the SMSC: Delivered,
// Expired, Deleted, Undeliverable and Rejected are final; Enroute, Accepted
// and Unknown are not (a later receipt may follow).
func (s State) Final() bool {
	switch s {
	case Delivered, Expired, Deleted, Undeliverable, Rejected:
		return true
	}
	return false
}

// Delivered reports whether s is Delivered.
func (s State) Delivered() bool { return s == Delivered }

// statAliases are stat: values seen besides the seven-letter ones: some SMSCs
// spell the states out.
var statAliases = [...]struct {
	name  string
	state State
}{
	{"DELIVERED", Delivered},
	{"UNDELIVERABLE", Undeliverable},
	{"UNDELIVERED", Undeliverable},
	{"ACCEPTED", Accepted},
	{"REJECTED", Rejected},
}

// parseStat reads a stat: value, ignoring case; 0 when it is not a state.
func parseStat(v string) State {
	for s := Enroute; s <= Rejected; s++ {
		if equalFoldASCII(v, stateNames[s]) {
			return s
		}
	}
	for _, a := range statAliases {
		if equalFoldASCII(v, a.name) {
			return a.state
		}
	}
	return 0
}
