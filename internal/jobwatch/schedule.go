package jobwatch

import "time"

// Schedule paces a waiter's checks. Restart jobs take from seconds to many
// minutes: checking often at first catches quick jobs with little lag, and
// stretching the interval keeps a long wait from burning the API key's hourly
// request quota.
//
// The waits form a geometric sequence: First, then each previous wait times
// Factor, never more than Max. They are expressed in the time elapsed since the
// waiter joined (see gap), so that a check answered early or late does not shift
// the waiter's schedule.
type Schedule struct {
	First  time.Duration
	Factor float64
	Max    time.Duration
}

// DefaultSchedule checks a job about a second after it starts and then backs off
// by 12% a check, capped at 15 s: the wait between a job finishing and the check
// that sees it stays near a tenth of the time already waited, and a ten-minute
// wait costs under 60 checks.
var DefaultSchedule = Schedule{First: time.Second, Factor: 1.12, Max: 15 * time.Second}

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

// next is when a waiter that joined at joined and was due at due is checked
// again, after a check made at at. A check made early, because a tick for
// other waiters came within half a gap of due, stands for the one due: the
// next comes a gap after due, not after at. Were it counted from at, every
// early answer would pull the waiter's later checks forward, and the shared
// ticks of a group would drift away from every waiter's own schedule: for jobs
// that started apart and last alike, a tick could then land just before they
// all end and leave them unseen for a whole gap. A check made late counts from
// when it was made, so that a slow request never causes a volley of checks.
func (s Schedule) next(joined, due, at time.Time) time.Time {
	from := at
	if due.After(at) {
		from = due
	}
	return from.Add(s.gap(from.Sub(joined)))
}
