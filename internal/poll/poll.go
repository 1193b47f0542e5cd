// Package poll waits for something to finish by checking it on a growing interval.
//
// Restart jobs take from seconds to many minutes. Checking often at first catches
// quick jobs with little lag; stretching the interval keeps a long wait from
// burning the API key's hourly request quota.
package poll

import (
	"context"
	"time"
)

// Schedule is a geometric sequence of waits: First, then each previous wait times
// Factor, never more than Max.
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

// Wait returns the wait before check n (n starts at 0).
func (s Schedule) Wait(n int) time.Duration {
	d := float64(s.First)
	for i := 0; i < n && d < float64(s.Max); i++ {
		d *= s.Factor
	}
	return min(time.Duration(d), s.Max)
}

// Clock is the time source; tests replace it to run long waits instantly.
type Clock interface {
	Now() time.Time
	// After behaves like time.After.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// RealClock is the wall clock.
var RealClock Clock = realClock{}

// Until calls check after each wait of s until it reports done, returns an error,
// or ctx ends (then ctx's error is returned). check receives the number of the
// check, starting at 0.
func Until(ctx context.Context, s Schedule, clock Clock, check func(ctx context.Context, n int) (done bool, err error)) error {
	if clock == nil {
		clock = RealClock
	}
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-clock.After(s.Wait(n)):
		}
		done, err := check(ctx, n)
		if err != nil || done {
			return err
		}
	}
}
