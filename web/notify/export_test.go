package notify

// HandoffLimitPerPOST is how many events one POST slot's share of the
// hand-over limit holds (prefetch × handoffShare), for the black-box tests.
const HandoffLimitPerPOST = prefetch * handoffShare
