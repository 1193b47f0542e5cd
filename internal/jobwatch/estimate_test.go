package jobwatch_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
	"github.com/qingcloud/terraform-provider-hpc/internal/jobwatch"
)

// logModel is an operation log: each job is pending until its duration has
// passed, then successful. It notes when each listing came. The tests run it
// in a synctest bubble, where time moves only when every goroutine waits, so
// the waits are exact and take no time.
type logModel struct {
	mu       sync.Mutex
	jobs     []modelJob // oldest first
	listings []time.Time
	// doneAt is when a listing first showed each job done.
	doneAt map[string]time.Time
}

type modelJob struct {
	id      string
	created time.Time
	took    time.Duration
}

func (m *logModel) add(id string, created time.Time, took time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.jobs = append(m.jobs, modelJob{id, created, took})
}

// history adds five restarts that took 10 s, a minute apart, the newest a
// minute ago.
func (m *logModel) history() {
	const n = 5
	for i := range n {
		m.add(fmt.Sprintf("j-past%d", i), time.Now().Add(-time.Duration(n-i)*time.Minute), 10*time.Second)
	}
}

func (m *logModel) Operations(_ context.Context, q ehpc.OperationQuery) (*ehpc.OperationList, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	m.listings = append(m.listings, now)
	l := &ehpc.OperationList{TotalCount: len(m.jobs), TotalKnown: true}
	for _, j := range slices.Backward(m.jobs) {
		e := ehpc.Job{JobID: j.id, JobAction: ehpc.JobActionRestart, Status: ehpc.JobPending, ResourceIDs: ehpc.IDList{cluster, "cln-n0001"},
			CreateTime: ehpc.Time{Time: j.created}, StatusTime: ehpc.Time{Time: j.created}}
		if end := j.created.Add(j.took); !now.Before(end) {
			e.Status, e.StatusTime = ehpc.JobSuccessful, ehpc.Time{Time: end}
			if _, ok := m.doneAt[j.id]; !ok {
				m.doneAt[j.id] = now
			}
		}
		l.Jobs = append(l.Jobs, e)
	}
	return l, nil
}

func (m *logModel) Job(context.Context, string, string, string) (ehpc.Job, bool, error) {
	panic("the listing shows every job: no direct query expected")
}

func (m *logModel) LookupNodes(context.Context, string, ehpc.NodeFilter, []string, *ehpc.NodeIndex) ([]ehpc.Node, error) {
	panic("only jobs are watched here")
}

// checks is when the listings after start up to the one that first showed id
// done came, as time since start. (The fake clock runs on while the waiter
// takes its answer and leaves, so later ones are not its checks.)
func (m *logModel) checks(start time.Time, id string) []time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []time.Duration
	for _, l := range m.listings {
		if l.After(start) && !l.After(m.doneAt[id]) {
			out = append(out, l.Sub(start))
		}
	}
	return out
}

func newModel() (*logModel, *jobwatch.Poller) {
	m := &logModel{doneAt: map[string]time.Time{}}
	return m, jobwatch.New(m, jobwatch.Options{})
}

// waitDone follows job until it is done and returns when a listing first
// showed it done.
func waitDone(t *testing.T, m *logModel, p *jobwatch.Poller, job jobwatch.Target) time.Time {
	t.Helper()
	c, _, err := waitForTarget(t.Context(), p, cluster, job)
	if err != nil || c.Job.Status != ehpc.JobSuccessful {
		t.Fatalf("%+v %v", c, err)
	}
	p.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.doneAt[job.JobID]
}

// On a cluster whose log holds earlier restarts, a lone 10 s restart costs
// three checks: the quick look (which reads the history), one just after half
// the estimate, and one when the job ends. The next restart in the same
// provider instance knows the estimate from the start and skips the quick look.
func TestHistoryMakesAWaitCheap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, p := newModel()
		m.history()

		start := time.Now()
		m.add("j-1", start, 10*time.Second)
		seen := waitDone(t, m, p, jobwatch.Target{JobID: "j-1", Nodes: 1})
		if got, want := m.checks(start, "j-1"), []time.Duration{20 * time.Millisecond, 6 * time.Second, 10 * time.Second}; !slices.Equal(got, want) {
			t.Fatalf("first restart: listings at %v, want %v", got, want)
		}
		if seen.Sub(start) != 10*time.Second {
			t.Fatalf("job seen done at %v, want when it ended, at 10s", seen.Sub(start))
		}
		if est := p.Estimate(ehpcsim.DemoZone, cluster, 1); est.Mid != 10*time.Second {
			t.Fatalf("estimate %+v", est)
		}

		start = time.Now()
		m.add("j-2", start, 10*time.Second)
		waitDone(t, m, p, jobwatch.Target{JobID: "j-2", Nodes: 1})
		if got, want := m.checks(start, "j-2"), []time.Duration{6 * time.Second, 10 * time.Second}; !slices.Equal(got, want) {
			t.Fatalf("second restart: listings at %v, want %v", got, want)
		}
	})
}

// A job that ends at half its estimate is seen within First (1 s) of ending:
// no later than the geometric sequence alone sees it, plus a second.
func TestJobEndingAtHalfItsEstimate(t *testing.T) {
	lag := func(history bool) (d time.Duration) {
		synctest.Test(t, func(t *testing.T) {
			m, p := newModel()
			if history {
				m.history()
			}
			start := time.Now()
			m.add("j-half", start, 5*time.Second)
			d = waitDone(t, m, p, jobwatch.Target{JobID: "j-half", Nodes: 1}).Sub(start) - 5*time.Second
		})
		return d
	}
	today, estimated := lag(false), lag(true)
	t.Logf("a 5 s job: seen %v after it ended without history, %v with a 10 s estimate", today, estimated)
	if estimated > time.Second || estimated > today+time.Second {
		t.Fatalf("seen %v after it ended with a 10 s estimate; want within 1 s, and within 1 s of %v", estimated, today)
	}
}

// Restarts sent a few milliseconds apart (a wave of Terraform's parallel
// applies) share their checks: the tick at the estimated end is held for the
// waiters due just after it, rather than made once per waiter.
func TestAWaveSharesItsEstimatedChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, p := newModel()
		m.history()
		// The instance has read the history before the wave, as after an earlier wave.
		m.add("j-0", time.Now(), 0)
		waitDone(t, m, p, jobwatch.Target{JobID: "j-0", Nodes: 1})

		start := time.Now()
		var wg sync.WaitGroup
		for i := range 10 {
			id := fmt.Sprintf("j-w%d", i)
			m.add(id, time.Now(), 10*time.Second)
			wg.Go(func() { waitDone(t, m, p, jobwatch.Target{JobID: id, Nodes: 1}) })
			time.Sleep(5 * time.Millisecond)
		}
		wg.Wait()
		got := m.checks(start, "j-w9")
		want := []time.Duration{6 * time.Second, 10*time.Second + 45*time.Millisecond}
		if !slices.Equal(got, want) {
			t.Fatalf("ten waiters joined 5 ms apart: listings at %v, want %v: one just after half the estimate for all, one when the last job ended", got, want)
		}
	})
}

// A job sent long before its wait starts (a rollout resumed by a later apply)
// may be done already: it gets the quick look whatever the estimate says.
func TestResumedJobGetsTheQuickLook(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, p := newModel()
		m.history()
		m.add("j-warm", time.Now(), 0)
		waitDone(t, m, p, jobwatch.Target{JobID: "j-warm", Nodes: 1})

		start := time.Now()
		m.add("j-old", start.Add(-time.Hour), 10*time.Second)
		waitDone(t, m, p, jobwatch.Target{JobID: "j-old", Nodes: 1, Sent: start.Add(-time.Hour)})
		if got := m.checks(start, "j-old"); !slices.Equal(got, []time.Duration{20 * time.Millisecond}) {
			t.Fatalf("listings at %v, want the quick look alone", got)
		}
	})
}
