package clocktest

import (
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func fired(ch <-chan time.Time) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestAfterFiresWhenTheClockReachesItsDeadline(t *testing.T) {
	c := NewFake(t0)
	ch := c.After(10 * time.Second)
	if d, ok := c.NextDeadline(); !ok || !d.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("NextDeadline = %v, %v; want t0+10s", d, ok)
	}
	c.Advance(9 * time.Second)
	if fired(ch) {
		t.Fatal("fired 1s before its deadline")
	}
	c.Advance(time.Second)
	if !fired(ch) {
		t.Fatal("did not fire at its deadline")
	}
	if _, ok := c.NextDeadline(); ok {
		t.Fatal("a fired After is still pending")
	}
	if got := c.Now(); !got.Equal(t0.Add(10 * time.Second)) {
		t.Fatalf("Now = %v", got)
	}
}

func TestSetMovesEitherWayAndFiresWhatItPasses(t *testing.T) {
	c := NewFake(t0)
	early, late := c.After(time.Minute), c.After(time.Hour)
	c.Set(t0.Add(-time.Hour))
	if fired(early) || fired(late) || !c.Now().Equal(t0.Add(-time.Hour)) {
		t.Fatal("moving back must move Now and fire nothing")
	}
	c.Set(t0.Add(30 * time.Minute))
	if !fired(early) || fired(late) {
		t.Fatal("Set to t0+30m must fire the 1m After only")
	}
	if d, ok := c.NextDeadline(); !ok || !d.Equal(t0.Add(time.Hour)) {
		t.Fatalf("NextDeadline = %v, %v; want t0+1h", d, ok)
	}
}

func TestAfterOfNothingFiresAtOnce(t *testing.T) {
	c := NewFake(t0)
	if !fired(c.After(0)) || !fired(c.After(-time.Second)) {
		t.Fatal("After(<=0) must fire at once, as time.After does")
	}
}
