// Package clocktest holds the one fake clock every test uses.
package clocktest

import (
	"sync"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/clock"
)

var _ clock.Clock = (*Fake)(nil)

// Fake is a clock.Clock that moves only when told to (Advance, Set). A channel
// returned by After receives once the clock reaches its deadline. A Fake is safe
// for concurrent use: the code under test reads it from its own goroutines.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []timer
}

type timer struct {
	deadline time.Time
	ch       chan time.Time
}

// NewFake returns a fake clock showing now.
func NewFake(now time.Time) *Fake { return &Fake{now: now} }

// Now returns the clock's time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the clock's time once the clock has been
// moved d or more past the time of the call; at once if d <= 0, as time.After.
func (c *Fake) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.timers = append(c.timers, timer{deadline: c.now.Add(d), ch: ch})
	return ch
}

// Advance moves the clock by d (backwards if d is negative), firing every After
// whose deadline it reaches.
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set(c.now.Add(d))
}

// Set moves the clock to t (which may be in its past), firing every After whose
// deadline it reaches.
func (c *Fake) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set(t)
}

func (c *Fake) set(t time.Time) {
	c.now = t
	pending := c.timers[:0]
	for _, tm := range c.timers {
		if tm.deadline.After(t) {
			pending = append(pending, tm)
			continue
		}
		tm.ch <- t // buffered, sent once: never blocks
	}
	clear(c.timers[len(pending):])
	c.timers = pending
}

// NextDeadline returns the earliest deadline of the Afters not fired yet, and
// false if there is none. A test that drives a loop uses it to move the clock by
// exactly what the loop waits.
func (c *Fake) NextDeadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return time.Time{}, false
	}
	next := c.timers[0].deadline
	for _, tm := range c.timers[1:] {
		if tm.deadline.Before(next) {
			next = tm.deadline
		}
	}
	return next, true
}
