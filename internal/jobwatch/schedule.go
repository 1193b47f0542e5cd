package jobwatch

import "time"

// Schedule paces a waiter's checks. Restart jobs take from seconds to many
// minutes: checking often at first catches quick jobs with little lag, and
// stretching the interval keeps a long wait from burning the API key's hourly
// request quota.
//
// Without an estimate of the job's duration, the waits form a geometric
// sequence: First, then each previous wait times Factor, never more than Max.
// They are expressed in the time elapsed since the waiter joined (see gap), so
// that a check answered early or late does not shift the waiter's schedule.
//
// With an estimate (see plan), the checks before the estimated end are sparse
// (Sparse apart, plus one just after half the estimate), dense (Dense apart or
// closer) across the estimate's window, and back on the geometric sequence if
// the job runs longer.
type Schedule struct {
	First  time.Duration
	Factor float64
	Max    time.Duration
	// Sparse is the longest wait between checks before an estimated end; zero
	// means 30 × First.
	Sparse time.Duration
	// Dense is the shortest wait between checks around an estimated end, and
	// the first wait once the job runs past it; zero means First/2.
	Dense time.Duration
}

// DefaultSchedule checks a job about a second after it starts and then backs off
// by 12% a check, capped at 15 s: the wait between a job finishing and the check
// that sees it stays near a tenth of the time already waited, and a ten-minute
// wait costs under 60 checks. With an estimate, a ten-second job costs two
// checks and a ten-minute one under half as many as without.
var DefaultSchedule = Schedule{First: time.Second, Factor: 1.12, Max: 15 * time.Second, Sparse: 30 * time.Second, Dense: 500 * time.Millisecond}

// gap is the wait after a check made at elapsed time e: First + (Factor-1)*e,
// capped at Max. Checks made at the gaps it gives fall where the geometric
// sequence puts them (after waits First, First*Factor, First*Factor², ...,
// the elapsed time after n waits is First*(Factorⁿ-1)/(Factor-1)).
func (s Schedule) gap(e time.Duration) time.Duration {
	d := s.First + time.Duration((s.Factor-1)*float64(e))
	if s.Factor < 1 {
		d = s.First
	}
	if s.Max > 0 && d > s.Max {
		d = s.Max
	}
	return max(d, time.Millisecond)
}

func (s Schedule) sparse() time.Duration {
	if s.Sparse > 0 {
		return s.Sparse
	}
	return 30 * s.First
}

func (s Schedule) dense() time.Duration {
	if s.Dense > 0 {
		return s.Dense
	}
	return max(s.First/2, time.Millisecond)
}

// guides reports whether est is worth planning by: jobs that reliably take a
// couple of First at least. Shorter ones are what the geometric sequence's
// first checks are for, and a cluster whose restarts end at once (a test
// stand-in) has nothing to save.
func (s Schedule) guides(est Estimate) bool {
	return est.Samples > 0 && est.Lo >= 2*s.First
}

// slot is one planned check of a waiter.
type slot struct {
	at time.Time
	// early is how long before at a tick made for other waiters may answer
	// this check (guided slots only: the geometric sequence's tolerance, half
	// a gap, is worked out at the tick, as it always was).
	early time.Duration
	// late is how long the group may hold a tick past at, so that checks due
	// a moment apart (the restarts of one wave of an apply) share it.
	late time.Duration
	// guided is set when an estimate placed the check. Such a check is where
	// the job is not expected to be done yet, so the burst look (jobs of the
	// cluster finishing) leaves it where it is.
	guided bool
}

// plan is the check after from, for a waiter whose job started at origin:
// from is the check that was due, or when a late one was made. A check made
// early, because a tick for other waiters came within its tolerance, stands
// for the one due: the next is planned after due, not after the early answer.
// Were it counted from the answer, every early answer would pull the waiter's
// later checks forward, and the shared ticks of a group would drift away from
// every waiter's own schedule: for jobs that started apart and last alike, a
// tick could then land just before they all end and leave them unseen for a
// whole gap. A check made late counts from when it was made, so that a slow
// request never causes a volley of checks.
//
// With an estimate that guides (Lo ≥ 2 × First), the checks at elapsed e are:
//
//   - before Lo, every Sparse, and once at Mid/2 + First: a job that ends at
//     half its estimate is seen within First of it (within First/2 to First,
//     with the early tolerance below), and any job that ends before Lo within
//     min(Sparse, Mid/2 + First);
//   - from Lo to Hi, a step of (Hi − Lo)/5, no less than Dense and no more
//     than the geometric gap at Lo, then one at Hi: a job that ends in the
//     window is seen within that step plus Dense/2 (a tick held for others);
//   - past Hi, waits of Dense, then doubling with how far past Hi the check
//     is, but never more than the geometric gap: a job that runs x past Hi is
//     seen within max(Dense, x), and never later than without an estimate
//     once the gaps meet.
func (s Schedule) plan(origin, from time.Time, est Estimate) slot {
	e := from.Sub(origin)
	switch {
	case !s.guides(est):
		return slot{at: from.Add(s.gap(e))}
	case e >= est.Hi:
		return slot{at: from.Add(min(s.gap(e), max(s.dense(), e-est.Hi)))}
	case e >= est.Lo:
		step := max(s.dense(), min(s.gap(est.Lo), (est.Hi-est.Lo)/5))
		return s.window(origin, min(e+step, est.Hi))
	}
	at := est.Lo
	if next := e - e%s.sparse() + s.sparse(); next < at { // the next multiple of Sparse
		at = next
	}
	if h := est.Mid/2 + s.First; h > e && h < at {
		at = h
	}
	if at == est.Lo {
		return s.window(origin, at)
	}
	return slot{at: origin.Add(at), early: s.First / 2, guided: true}
}

// window is a check at elapsed e inside the estimate's window: never answered
// early (the job is expected to end just before it), held a little for others.
func (s Schedule) window(origin time.Time, e time.Duration) slot {
	return slot{at: origin.Add(e), late: s.dense() / 2, guided: true}
}

// after is the check after one due at due that was made at at: plan from
// the later of the two, so that an early answer stands for the check due
// and a late one counts from when it was made (see plan).
func (s Schedule) after(origin, due, at time.Time, est Estimate) slot {
	return s.plan(origin, latest(due, at), est)
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
