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
