// Package clock is the time source of waits that tests must run without
// waiting: restart jobs take minutes, and a test of a ten-minute wait should
// take milliseconds. Production code takes a Clock and is given Real;
// tests give it the fake of internal/clock/clocktest.
package clock

import "time"

// Clock tells the time and waits.
type Clock interface {
	Now() time.Time
	// After behaves like time.After: the channel receives the time once d has
	// passed on this clock.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Real returns the wall clock.
func Real() Clock { return realClock{} }

// Offset returns base with its readings moved by d: a machine whose clock is
// wrong by d. Its waits are base's, since a wrong clock still measures
// durations right.
func Offset(base Clock, d time.Duration) Clock { return offsetClock{base, d} }

type offsetClock struct {
	base Clock
	d    time.Duration
}

func (c offsetClock) Now() time.Time                         { return c.base.Now().Add(c.d) }
func (c offsetClock) After(d time.Duration) <-chan time.Time { return c.base.After(d) }
