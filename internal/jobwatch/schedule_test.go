package jobwatch

import (
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
		if got := s.next(joined, at(c.due), at(c.answered)).Sub(joined); got != c.want {
			t.Errorf("%s: next check at %v after joining, want %v", c.name, got, c.want)
		}
	}
	// Answered early at every tick, the waiter is still checked where a lone
	// waiter is: after 7 checks at 10.09 s, just after a 10 s job ends.
	due := at(time.Second)
	for range 6 {
		due = s.next(joined, due, due.Add(-400*time.Millisecond))
	}
	if got := due.Sub(joined).Round(10 * time.Millisecond); got != 10090*time.Millisecond {
		t.Fatalf("7th check at %v after joining, want 10.09s", got)
	}
}
