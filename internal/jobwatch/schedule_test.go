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
