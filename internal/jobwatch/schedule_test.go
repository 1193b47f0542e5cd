package jobwatch

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestDefaultScheduleShape(t *testing.T) {
	s := DefaultSchedule
	if got := s.gap(0); got != time.Second {
		t.Fatalf("first wait %v, want 1s", got)
	}
	prev := s.gap(0)
	for e := time.Second; e < 30*time.Minute; e += time.Second {
		g := s.gap(e)
		if g < prev {
			t.Fatalf("wait after %v (%v) shorter than the one before (%v)", e, g, prev)
		}
		if g > 15*time.Second {
			t.Fatalf("wait after %v is %v, above the 15s cap", e, g)
		}
		prev = g
	}
	if got := s.gap(20 * time.Minute); got != 15*time.Second {
		t.Fatalf("long waits should reach the cap, got %v", got)
	}
	// Each wait grows by 12%, from 1s: the checks' gaps are the geometric
	// sequence 1s, 1.12s, 1.2544s, ...
	e := time.Duration(0)
	for n, want := range []time.Duration{time.Second, 1120 * time.Millisecond, 1254400 * time.Microsecond} {
		g := s.gap(e)
		if d := g - want; d < -time.Microsecond || d > time.Microsecond {
			t.Fatalf("wait %d is %v, want %v", n, g, want)
		}
		e += g
	}
}

func TestTenMinuteWaitCostsUnderSixtyChecks(t *testing.T) {
	s := DefaultSchedule
	checks := 0
	var e, last time.Duration
	for e < 10*time.Minute {
		last = s.gap(e)
		e += last
		checks++
	}
	if checks >= 60 {
		t.Fatalf("a 10-minute wait took %d checks, want under 60", checks)
	}
	// The check that sees the job done must come soon after it finished: the last
	// wait is at most the cap.
	if last > 15*time.Second {
		t.Fatalf("last wait %v", last)
	}
}

// A check answered early (a tick for other waiters came first) stands for the
// check that was due: the waiter's next check stays on its own schedule. A
// check answered late counts from when it was made.
func TestNextCheckKeepsTheWaitersOwnSchedule(t *testing.T) {
	s := DefaultSchedule
	joined := time.Unix(1_700_000_000, 0)
	at := func(d time.Duration) time.Time { return joined.Add(d) }
	for _, c := range []struct {
		name          string
		due, answered time.Duration
		want          time.Duration
	}{
		{"on time", time.Second, time.Second, time.Second + s.gap(time.Second)},                          // 2.12 s
		{"early, sharing a tick", time.Second, 600 * time.Millisecond, time.Second + s.gap(time.Second)}, // still 2.12 s
		{"late, after a slow request", time.Second, 1300 * time.Millisecond, 1300*time.Millisecond + s.gap(1300*time.Millisecond)},
	} {
		if got := s.after(joined, at(c.due), at(c.answered), Estimate{}).at.Sub(joined); got != c.want {
			t.Errorf("%s: next check at %v after joining, want %v", c.name, got, c.want)
		}
	}
	// Answered early at every tick, the waiter is still checked where a lone
	// waiter is: after 7 checks at 10.09 s, just after a 10 s job ends.
	due := at(time.Second)
	for range 6 {
		due = s.after(joined, due, due.Add(-400*time.Millisecond), Estimate{}).at
	}
	if got := due.Sub(joined).Round(10 * time.Millisecond); got != 10090*time.Millisecond {
		t.Fatalf("7th check at %v after joining, want 10.09s", got)
	}
}

// checksOf is a lone waiter's checks (elapsed since its job started) on s with
// est, up to and including the first at or after end.
func checksOf(s Schedule, est Estimate, end time.Duration) []time.Duration {
	origin := time.Unix(1_700_000_000, 0)
	var at []time.Duration
	sl := slot{at: origin}
	if !s.guides(est) {
		sl = slot{at: origin.Add(s.gap(0))}
	} else {
		sl = s.plan(origin, origin, est)
	}
	for {
		e := sl.at.Sub(origin)
		at = append(at, e)
		if e >= end || len(at) > 10_000 {
			return at
		}
		sl = s.plan(origin, sl.at, est)
	}
}

// With an estimate of 10 s for jobs that last exactly that, a wait costs two
// checks: one just after half the estimate, one at it.
func TestEstimatedWaitChecksAtHalfAndAtTheEnd(t *testing.T) {
	est := Estimate{Lo: 10 * time.Second, Mid: 10 * time.Second, Hi: 10 * time.Second, Samples: 20}
	got := checksOf(DefaultSchedule, est, 10*time.Second)
	want := []time.Duration{6 * time.Second, 10 * time.Second}
	if !slices.Equal(got, want) {
		t.Fatalf("checks at %v, want %v", got, want)
	}
	// A job that runs long is checked 0.5 s after, then at doubling distances,
	// until the geometric sequence's gap (2.3 s at 11 s) is the shorter.
	got = checksOf(DefaultSchedule, est, 20*time.Second)
	want = []time.Duration{6 * time.Second, 10 * time.Second, 10500 * time.Millisecond, 11 * time.Second, 12 * time.Second, 14 * time.Second}
	if !slices.Equal(got[:len(want)], want) {
		t.Fatalf("checks at %v, want them to start %v", got, want)
	}
	if d := got[len(want)] - got[len(want)-1]; d != DefaultSchedule.gap(14*time.Second) {
		t.Fatalf("after 14 s the wait is %v, want the geometric gap %v", d, DefaultSchedule.gap(14*time.Second))
	}
	// A ten-minute job with a ten-minute estimate: about a dozen checks, where
	// the geometric sequence alone takes over fifty.
	long := Estimate{Lo: 9 * time.Minute, Mid: 10 * time.Minute, Hi: 11 * time.Minute, Samples: 20}
	n := len(checksOf(DefaultSchedule, long, 10*time.Minute))
	if n > 25 {
		t.Fatalf("a ten-minute job with its estimate took %d checks", n)
	}
	t.Logf("ten-minute job, estimate 9–11 min: %d checks", n)
}

// An estimate too short to save anything (under 2 × First), or none, leaves
// the geometric sequence exactly as it was.
func TestShortOrNoEstimateIsTheGeometricSequence(t *testing.T) {
	none := checksOf(DefaultSchedule, Estimate{}, time.Minute)
	short := checksOf(DefaultSchedule, Estimate{Lo: time.Second, Mid: 2 * time.Second, Hi: 3 * time.Second, Samples: 5}, time.Minute)
	if !slices.Equal(none, short) {
		t.Fatalf("with a 1 s estimate checks at %v, want %v", short, none)
	}
	e := time.Duration(0)
	for i, c := range none {
		e += DefaultSchedule.gap(e)
		if c != e {
			t.Fatalf("check %d at %v, want %v", i, c, e)
		}
	}
}

// The bounds the package states, over generated estimates and job ends: how
// long after a job ends the lone waiter's next check comes.
func TestEstimatedScheduleKeepsItsLagBounds(t *testing.T) {
	s := DefaultSchedule
	r := rand.New(rand.NewPCG(1, 2))
	for range 20_000 {
		lo := time.Duration(r.Int64N(int64(20*time.Minute))) + 2*time.Second
		mid := lo + time.Duration(r.Int64N(int64(lo/2+1)))
		hi := mid + time.Duration(r.Int64N(int64(mid/2+1)))
		est := Estimate{Lo: lo, Mid: mid, Hi: hi, Samples: 20}
		end := time.Duration(r.Int64N(int64(2*hi + time.Minute)))
		switch r.IntN(4) { // the edges the bounds speak of
		case 0:
			end = mid / 2
		case 1:
			end = lo + time.Duration(r.Int64N(int64(hi-lo+1)))
		}
		checks := checksOf(s, est, end)
		lag := checks[len(checks)-1] - end
		var bound time.Duration
		switch {
		case end == mid/2:
			bound = s.First
		case end < lo:
			bound = min(s.Sparse, mid/2+s.First)
		case end < hi:
			bound = max(s.Dense, min(s.gap(lo), (hi-lo)/5))
		default:
			bound = min(max(s.Dense, end-hi), s.Max)
		}
		if lag > bound {
			t.Fatalf("estimate %v–%v–%v, job ending at %v: seen at %v, %v late; the bound is %v (checks %v)", lo, mid, hi, end, checks[len(checks)-1], lag, bound, checks)
		}
	}
}
