package ehpcsim

import (
	"testing"
	"time"
)

// A past restart added with its duration is listed with status_time that long
// after create_time; jobs created with a spread last different times, within
// it.
func TestPastRestartsAndSpreadDurations(t *testing.T) {
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	s := New(Options{Now: func() time.Time { return now }})
	id := s.AddPastRestart(DemoClusterID, []string{"cln-cmp00001"}, now.Add(-time.Hour), 42*time.Second)
	j, ok := s.Job(id)
	if !ok || j.Status != statusSuccessful || j.Ended.Sub(j.Created) != 42*time.Second {
		t.Fatalf("past restart %+v", j)
	}
	s.SetJobDuration(10 * time.Second)
	s.SetJobDurationSpread(0.3)
	seen := map[time.Duration]bool{}
	for range 50 {
		s.mu.Lock()
		d := s.jobDurationLocked()
		s.mu.Unlock()
		if d < 7*time.Second || d > 13*time.Second {
			t.Fatalf("a job of 10 s ± 30%% lasts %v", d)
		}
		seen[d] = true
	}
	if len(seen) < 40 {
		t.Fatalf("50 jobs lasted only %d different times", len(seen))
	}
}
