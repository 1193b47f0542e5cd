package poll

import (
	"context"
	"errors"
	"testing"
	"time"
)

// fakeClock fires every After at once and records what was asked, so a
// ten-minute schedule runs in microseconds.
type fakeClock struct {
	now   time.Time
	waits []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func TestDefaultScheduleShape(t *testing.T) {
	s := DefaultSchedule
	if got := s.Wait(0); got != time.Second {
		t.Fatalf("first wait %v, want 1s", got)
	}
	for n := 1; n < 200; n++ {
		if s.Wait(n) < s.Wait(n-1) {
			t.Fatalf("wait %d (%v) shorter than wait %d (%v)", n, s.Wait(n), n-1, s.Wait(n-1))
		}
		if s.Wait(n) > 15*time.Second {
			t.Fatalf("wait %d is %v, above the 15s cap", n, s.Wait(n))
		}
	}
	if s.Wait(100) != 15*time.Second {
		t.Fatalf("long waits should reach the cap, got %v", s.Wait(100))
	}
}

func TestTenMinuteWaitCostsUnderSixtyChecks(t *testing.T) {
	clock := &fakeClock{now: time.Unix(0, 0)}
	start := clock.now
	checks := 0
	err := Until(context.Background(), DefaultSchedule, clock, func(context.Context, int) (bool, error) {
		checks++
		return clock.now.Sub(start) >= 10*time.Minute, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checks >= 60 {
		t.Fatalf("a 10-minute wait took %d checks, want under 60", checks)
	}
	// The check that sees the job done must come soon after it finished: the last
	// wait is at most the cap.
	if last := clock.waits[len(clock.waits)-1]; last > 15*time.Second {
		t.Fatalf("last wait %v", last)
	}
}

func TestUntilStopsOnErrorAndContext(t *testing.T) {
	boom := errors.New("boom")
	clock := &fakeClock{}
	calls := 0
	err := Until(context.Background(), DefaultSchedule, clock, func(context.Context, int) (bool, error) {
		calls++
		if calls == 3 {
			return false, boom
		}
		return false, nil
	})
	if !errors.Is(err, boom) || calls != 3 {
		t.Fatalf("err=%v calls=%d", err, calls)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = Until(ctx, Schedule{First: time.Hour, Factor: 2, Max: time.Hour}, RealClock, func(context.Context, int) (bool, error) {
		t.Fatal("check must not run after cancellation")
		return false, nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err=%v, want context.Canceled", err)
	}
}
