package jobwatch_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/clock/clocktest"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
	"github.com/qingcloud/terraform-provider-hpc/internal/jobwatch"
)

const cluster = "ehpc-watch01"

// fast keeps the tests quick: first check after 50 ms, gaps growing by 20%.
var fast = jobwatch.Schedule{First: 50 * time.Millisecond, Factor: 1.2, Max: 200 * time.Millisecond}

type env struct {
	sim    *ehpcsim.Simulator
	client *ehpc.Client
}

func newEnv(t *testing.T, jobDuration time.Duration, nodes int) *env {
	t.Helper()
	return newEnvWith(t, ehpcsim.Options{JobDuration: jobDuration}, nodes)
}

// newEnvWith is newEnv with the simulator's other options (its clusters are set
// here).
func newEnvWith(t *testing.T, opts ehpcsim.Options, nodes int) *env {
	t.Helper()
	c := ehpcsim.Cluster{ID: cluster, Zone: ehpcsim.DemoZone}
	for i := range nodes {
		c.Nodes = append(c.Nodes, ehpcsim.Node{ID: fmt.Sprintf("cln-n%04d", i), Role: "compute"})
	}
	opts.Clusters = []ehpcsim.Cluster{c, ehpcsim.DemoCluster()}
	sim := ehpcsim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	client, err := ehpc.New(ehpc.Config{
		Endpoint: srv.URL, AccessKeyID: ehpcsim.DemoAccessKeyID, SecretKey: ehpcsim.DemoSecretKey,
		RetryBaseDelay: 5 * time.Millisecond, RetryMaxDelay: 20 * time.Millisecond, RequestTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &env{sim: sim, client: client}
}

func (e *env) restart(t *testing.T, clusterID, node string) string {
	t.Helper()
	res, err := e.client.RestartNodes(context.Background(), ehpcsim.DemoZone, clusterID, []string{node})
	if err != nil {
		t.Fatal(err)
	}
	return res.JobID
}

// waitFor reads checks until the job is done or an error arrives, the way the
// provider's watcher does, and returns the last check and how many arrived.
func waitFor(ctx context.Context, p *jobwatch.Poller, clusterID, jobID string) (jobwatch.Check, int, error) {
	return waitForTarget(ctx, p, clusterID, jobwatch.Target{JobID: jobID, Nodes: 1})
}

func waitForTarget(ctx context.Context, p *jobwatch.Poller, clusterID string, job jobwatch.Target) (jobwatch.Check, int, error) {
	w := p.Watch(ctx, ehpcsim.DemoZone, clusterID, job)
	defer w.Stop()
	n := 0
	for {
		select {
		case <-ctx.Done():
			return jobwatch.Check{}, n, ctx.Err()
		case c := <-w.C:
			n++
			if c.Err != nil {
				return c, n, c.Err
			}
			if c.Found && c.Job.Done() {
				return c, n, nil
			}
		}
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// N waiters on jobs of one cluster cost about as many operation-log requests as
// one waiter alone, and each gets its own job's outcome.
func TestWaitersOfOneClusterShareRequests(t *testing.T) {
	const n = 20
	const jobDur = 300 * time.Millisecond
	e := newEnv(t, jobDur, n+1)
	ctx := ctxFor(t)

	// What one waiter alone costs, on the same schedule and job duration.
	single := jobwatch.New(e.client, jobwatch.Options{Schedule: fast})
	before := e.sim.Requests(ehpc.PathOperations)
	if _, _, err := waitFor(ctx, single, cluster, e.restart(t, cluster, "cln-n0000")); err != nil {
		t.Fatal(err)
	}
	alone := e.sim.Requests(ehpc.PathOperations) - before

	p := jobwatch.New(e.client, jobwatch.Options{Schedule: fast})
	jobs := make([]string, n)
	const failing = 7
	for i := range jobs {
		if i == failing {
			e.sim.FailNextJobs(1)
		}
		jobs[i] = e.restart(t, cluster, fmt.Sprintf("cln-n%04d", i+1))
	}
	before = e.sim.Requests(ehpc.PathOperations)
	var wg sync.WaitGroup
	got := make([]jobwatch.Check, n)
	errs := make([]error, n)
	for i, id := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _, errs[i] = waitFor(ctx, p, cluster, id)
		}()
	}
	wg.Wait()
	together := e.sim.Requests(ehpc.PathOperations) - before

	for i := range jobs {
		if errs[i] != nil {
			t.Fatalf("waiter %d: %v", i, errs[i])
		}
		if got[i].Job.JobID != jobs[i] {
			t.Errorf("waiter %d got job %s, want its own %s", i, got[i].Job.JobID, jobs[i])
		}
		want := ehpc.JobSuccessful
		if i == failing {
			want = ehpc.JobFailed
		}
		if got[i].Job.Status != want {
			t.Errorf("waiter %d (job %s): status %q, want %q", i, jobs[i], got[i].Job.Status, want)
		}
		if got[i].Direct {
			t.Errorf("waiter %d was answered by a direct query; the listing should have answered it", i)
		}
	}
	t.Logf("operation-log requests: one waiter alone %d, %d waiters together %d", alone, n, together)
	if together > alone+3 {
		t.Fatalf("%d waiters made %d operation-log requests; one alone needs %d: they are not sharing", n, together, alone)
	}
	p.Wait() // every waiter left, so the loop must end
	if g := p.Groups(); g != 0 {
		t.Fatalf("%d groups still running", g)
	}
}

// Waiters on different clusters do not share a listing (a listing is per cluster)
// but each still gets its answer.
func TestClustersAreSeparateGroups(t *testing.T) {
	e := newEnv(t, 100*time.Millisecond, 2)
	ctx := ctxFor(t)
	p := jobwatch.New(e.client, jobwatch.Options{Schedule: fast})
	a := e.restart(t, cluster, "cln-n0000")
	b := e.restart(t, ehpcsim.DemoClusterID, "cln-cmp00001")
	var wg sync.WaitGroup
	for _, tc := range []struct{ cluster, job string }{{cluster, a}, {ehpcsim.DemoClusterID, b}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := waitFor(ctx, p, tc.cluster, tc.job)
			if err != nil || c.Job.JobID != tc.job || c.Job.Status != ehpc.JobSuccessful {
				t.Errorf("cluster %s: %+v, %v", tc.cluster, c, err)
			}
		}()
	}
	wg.Wait()
	p.Wait()
}

// hiding is a Source whose cluster listing leaves out one job (always, or once it
// has been listed), as a log that pages it away or filters it oddly would.
type hiding struct {
	*ehpc.Client
	hide       string
	afterFirst bool
	listed     atomic.Bool
	direct     atomic.Int32
}

func (h *hiding) Operations(ctx context.Context, q ehpc.OperationQuery) (*ehpc.OperationList, error) {
	l, err := h.Client.Operations(ctx, q)
	if err != nil || len(q.ResourceIDs) == 0 {
		return l, err
	}
	var keep []ehpc.Job
	for _, j := range l.Jobs {
		if j.JobID == h.hide && (!h.afterFirst || h.listed.Swap(true)) {
			continue
		}
		keep = append(keep, j)
	}
	return &ehpc.OperationList{TotalCount: l.TotalCount, Jobs: keep}, nil
}

func (h *hiding) Job(ctx context.Context, zone, clusterID, jobID string) (ehpc.Job, bool, error) {
	h.direct.Add(1)
	return h.Client.Job(ctx, zone, clusterID, jobID)
}

// A job that drops out of the listing after being seen, or never shows up in it,
// is followed by direct queries, and only that job is.
func TestJobMissingFromListingFallsBackToDirectQuery(t *testing.T) {
	for _, afterFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("seen_first=%v", afterFirst), func(t *testing.T) {
			e := newEnv(t, 400*time.Millisecond, 2)
			ctx := ctxFor(t)
			lost := e.restart(t, cluster, "cln-n0000")
			kept := e.restart(t, cluster, "cln-n0001")
			src := &hiding{Client: e.client, hide: lost, afterFirst: afterFirst}
			p := jobwatch.New(src, jobwatch.Options{Schedule: fast})

			var wg sync.WaitGroup
			var lostCheck, keptCheck jobwatch.Check
			var lostErr, keptErr error
			wg.Add(2)
			go func() { defer wg.Done(); lostCheck, _, lostErr = waitFor(ctx, p, cluster, lost) }()
			go func() { defer wg.Done(); keptCheck, _, keptErr = waitFor(ctx, p, cluster, kept) }()
			wg.Wait()
			if lostErr != nil || keptErr != nil {
				t.Fatal(lostErr, keptErr)
			}
			if lostCheck.Job.JobID != lost || lostCheck.Job.Status != ehpc.JobSuccessful || !lostCheck.Direct {
				t.Fatalf("hidden job's last check %+v, want successful through a direct query", lostCheck)
			}
			if keptCheck.Job.JobID != kept || keptCheck.Job.Status != ehpc.JobSuccessful || keptCheck.Direct {
				t.Fatalf("listed job's last check %+v, want successful from the listing", keptCheck)
			}
			if src.direct.Load() == 0 {
				t.Fatal("no direct query was made")
			}
		})
	}
}

// A waiter that leaves (its apply was cancelled) does not disturb the others,
// and the loop ends when the last one leaves.
func TestOneWaiterLeavingDoesNotAffectOthers(t *testing.T) {
	e := newEnv(t, 400*time.Millisecond, 3)
	ctx := ctxFor(t)
	p := jobwatch.New(e.client, jobwatch.Options{Schedule: fast})
	jobs := []string{e.restart(t, cluster, "cln-n0000"), e.restart(t, cluster, "cln-n0001"), e.restart(t, cluster, "cln-n0002")}

	leaving, cancel := context.WithTimeout(ctx, 120*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	results := make([]error, len(jobs))
	statuses := make([]string, len(jobs))
	for i, id := range jobs {
		c := ctx
		if i == 1 {
			c = leaving
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			chk, _, err := waitFor(c, p, cluster, id)
			results[i], statuses[i] = err, chk.Job.Status
		}()
	}
	wg.Wait()
	if results[1] != context.DeadlineExceeded {
		t.Fatalf("the leaving waiter ended with %v, want its deadline", results[1])
	}
	for _, i := range []int{0, 2} {
		if results[i] != nil || statuses[i] != ehpc.JobSuccessful {
			t.Fatalf("waiter %d: %v %q", i, results[i], statuses[i])
		}
	}
	p.Wait()
	if g := p.Groups(); g != 0 {
		t.Fatalf("%d groups still running after every waiter left", g)
	}

	// A watch stopped before its first check leaves no loop behind either.
	w := p.Watch(ctx, ehpcsim.DemoZone, cluster, jobwatch.Target{JobID: jobs[0], Nodes: 1})
	w.Stop()
	w.Stop()
	p.Wait()
}

// An error reading the log reaches every due waiter; the waiter decides.
func TestListingErrorReachesWaiters(t *testing.T) {
	e := newEnv(t, time.Hour, 2)
	ctx := ctxFor(t)
	p := jobwatch.New(e.client, jobwatch.Options{Schedule: fast})
	a, b := e.restart(t, cluster, "cln-n0000"), e.restart(t, cluster, "cln-n0001")
	e.sim.InjectFault(ehpc.PathOperations, ehpcsim.Fault{RetCode: ehpc.CodeAuthFailed, Count: 100})
	var wg sync.WaitGroup
	for _, id := range []string{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := waitFor(ctx, p, cluster, id)
			if ehpc.RetCode(err) != ehpc.CodeAuthFailed {
				t.Errorf("job %s: %v, want the 1200 error", id, err)
			}
		}()
	}
	wg.Wait()
	p.Wait()
	if got := e.sim.Requests(ehpc.PathOperations); got > 2 {
		t.Fatalf("%d listings for two waiters due together, want 1 (2 if they were not yet in step)", got)
	}
}

// A cluster listing the API refuses as a bad parameter falls back to asking for
// each job by id.
func TestRefusedListingFallsBackToDirectQueries(t *testing.T) {
	e := newEnv(t, 100*time.Millisecond, 1)
	ctx := ctxFor(t)
	p := jobwatch.New(refusing{e.client}, jobwatch.Options{Schedule: fast})
	id := e.restart(t, cluster, "cln-n0000")
	c, _, err := waitFor(ctx, p, cluster, id)
	if err != nil || !c.Direct || c.Job.Status != ehpc.JobSuccessful {
		t.Fatalf("%+v %v", c, err)
	}
	p.Wait()
}

type refusing struct{ *ehpc.Client }

func (r refusing) Operations(ctx context.Context, q ehpc.OperationQuery) (*ehpc.OperationList, error) {
	if len(q.ResourceIDs) > 0 {
		return nil, &ehpc.APIError{RetCode: ehpc.CodeBadParameter, Message: "resource_ids not supported"}
	}
	return r.Client.Operations(ctx, q)
}

// runClock moves c to the deadline of each After as soon as one is waiting,
// until the test ends: time moves forward by exactly what the loop waits, so a
// ten-minute wait runs in milliseconds.
func runClock(t *testing.T, c *clocktest.Fake) {
	stop, stopped := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(stop); <-stopped })
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if d, ok := c.NextDeadline(); ok {
				c.Set(d)
				continue
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()
}

// slowJob is a Source whose one job finishes after a fixed time on the clock.
// It records how many listings it answered up to the first that showed the job
// done, and when that was: the loop may run on after that, on its instant clock,
// until the waiter leaves.
type slowJob struct {
	clock    *clocktest.Fake
	finishAt time.Time
	mu       sync.Mutex
	listings int
	seenAt   time.Time
}

func (s *slowJob) Operations(_ context.Context, q ehpc.OperationQuery) (*ehpc.OperationList, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	st := ehpc.JobPending
	if !now.Before(s.finishAt) {
		st = ehpc.JobSuccessful
	}
	if s.seenAt.IsZero() {
		s.listings++
		if st == ehpc.JobSuccessful {
			s.seenAt = now
		}
	}
	return &ehpc.OperationList{TotalCount: 1, Jobs: []ehpc.Job{{JobID: "j-long", Status: st}}}, nil
}

func (s *slowJob) Job(context.Context, string, string, string) (ehpc.Job, bool, error) {
	panic("the listing shows the job: no direct query expected")
}

func (s *slowJob) LookupNodes(context.Context, string, ehpc.NodeFilter, []string, *ehpc.NodeIndex) ([]ehpc.Node, error) {
	panic("only a job is watched here")
}

// On the production schedule a single ten-minute wait costs under 60 requests,
// and the check that sees the job done comes within the 15 s cap.
func TestTenMinuteWaitCostsUnderSixtyRequests(t *testing.T) {
	clock := clocktest.NewFake(time.Unix(1_700_000_000, 0))
	src := &slowJob{clock: clock, finishAt: clock.Now().Add(10 * time.Minute)}
	p := jobwatch.New(src, jobwatch.Options{Clock: clock})
	runClock(t, clock)
	c, _, err := waitFor(ctxFor(t), p, cluster, "j-long")
	if err != nil || c.Job.Status != ehpc.JobSuccessful {
		t.Fatalf("%+v %v", c, err)
	}
	src.mu.Lock()
	n, late := src.listings, src.seenAt.Sub(src.finishAt)
	src.mu.Unlock()
	t.Logf("ten-minute wait: %d requests, job seen done %v after it finished", n, late)
	if n >= 60 {
		t.Fatalf("a ten-minute wait made %d requests, want under 60", n)
	}
	if late > 15*time.Second {
		t.Fatalf("job seen done %v after it finished", late)
	}
	p.Wait()
}

// A job beyond the first page of a busy cluster's log is found on a later page;
// pages stop once every waited job is found.
func TestListingPagesOnlyAsNeeded(t *testing.T) {
	e := newEnv(t, 50*time.Millisecond, 6)
	ctx := ctxFor(t)
	old := e.restart(t, cluster, "cln-n0000")
	for i := 1; i < 6; i++ {
		e.restart(t, cluster, fmt.Sprintf("cln-n%04d", i))
	}
	p := jobwatch.New(e.client, jobwatch.Options{Schedule: fast, PageLimit: 2})
	before := e.sim.Requests(ehpc.PathOperations)
	c, checks, err := waitFor(ctx, p, cluster, old)
	if err != nil || c.Direct || c.Job.Status != ehpc.JobSuccessful {
		t.Fatalf("%+v %v", c, err)
	}
	// Six jobs, two a page, the waited one the oldest: three pages a check.
	if got := e.sim.Requests(ehpc.PathOperations) - before; got != 3*checks {
		t.Fatalf("%d requests for %d checks, want 3 pages a check", got, checks)
	}
	p.Wait()
}

// A server that serves fewer entries than asked, and no total, still has its
// later pages read: a short page is not the end of the log.
func TestListingFollowsPagesShorterThanAsked(t *testing.T) {
	e := newEnvWith(t, ehpcsim.Options{JobDuration: 50 * time.Millisecond, PageCap: 2, TotalField: ehpcsim.TotalNone}, 6)
	ctx := ctxFor(t)
	old := e.restart(t, cluster, "cln-n0000")
	for i := 1; i < 6; i++ {
		e.restart(t, cluster, fmt.Sprintf("cln-n%04d", i))
	}
	p := jobwatch.New(e.client, jobwatch.Options{Schedule: fast})
	c, _, err := waitFor(ctx, p, cluster, old)
	if err != nil || c.Direct || c.Job.Status != ehpc.JobSuccessful {
		t.Fatalf("check %+v, err %v: want the job found in the listing's third page", c, err)
	}
	var offsets []string
	for _, r := range e.sim.RequestLog() {
		if r.Path == ehpc.PathOperations {
			offsets = append(offsets, r.Query.Get("offset"))
		}
	}
	if len(offsets) < 3 || offsets[0] != "" || offsets[1] != "2" || offsets[2] != "4" {
		t.Fatalf("offsets asked = %q, want pages advanced by the 2 entries each brought", offsets)
	}
	p.Wait()
}
