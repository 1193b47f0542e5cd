package ehpc

import (
	"net/http"
	"sync"
	"time"
)

// offsetBound keeps a lower bound on the server's clock minus ours, measured from
// the Date headers of the answers.
//
// Reconciling a lost restart needs the earliest create_time (server clock) the
// request's job can carry. Subtracting the send time from a Date would overstate
// the server's lead by the whole latency of that answer (a slow listNodes moves the
// window past our own job), so each answer gives only what it proves: the server
// wrote Date (whole seconds, rounded down) before the headers arrived here, so
// server − ours ≥ Date − arrival. Latency and Date's resolution can only make this
// bound lower, which widens the window on the safe side; the largest bound seen is
// the tightest true one.
type offsetBound struct {
	mu    sync.Mutex
	lower time.Duration
	known bool
}

// observe folds in the Date header of an answer whose headers arrived at arrived
// (our clock). Answers without a readable Date prove nothing.
func (o *offsetBound) observe(date string, arrived time.Time) {
	t, err := http.ParseTime(date)
	if err != nil {
		return
	}
	lower := t.Sub(arrived)
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.known || lower > o.lower {
		o.lower, o.known = lower, true
	}
}

// get returns the bound and whether any answer has given one.
func (o *offsetBound) get() (time.Duration, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lower, o.known
}
