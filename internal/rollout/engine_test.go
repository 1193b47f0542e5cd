package rollout

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
	"github.com/qingcloud/terraform-provider-hpc/internal/jobwatch"
	"github.com/qingcloud/terraform-provider-hpc/internal/memnet"
)

// The engine runs here against the simulator on an in-memory network, inside
// a synctest bubble: fake time, so a rollout of minute-long jobs and the
// documented one-minute lease take no real time, with the production defaults
// of the client and the poller.

const cluster = "ehpc-engine01"

var nodes = []string{"cln-e0000001", "cln-e0000002", "cln-e0000003"}

// world is one test's simulator and an engine wired to it, as a provider
// instance has one.
type world struct {
	t   *testing.T
	sim *ehpcsim.Simulator
	net *memnet.Network
}

func newWorld(t *testing.T, opts ehpcsim.Options) *world {
	c := ehpcsim.Cluster{ID: cluster, Zone: ehpcsim.DemoZone}
	for _, id := range nodes {
		c.Nodes = append(c.Nodes, ehpcsim.Node{ID: id, Status: "active"})
	}
	opts.Clusters = []ehpcsim.Cluster{c}
	if opts.JobDuration == 0 {
		opts.JobDuration = time.Minute
	}
	w := &world{t: t, sim: ehpcsim.New(opts), net: memnet.New()}
	srv := &http.Server{Handler: w.sim}
	go func() { _ = srv.Serve(w.net) }()
	t.Cleanup(func() {
		time.Sleep(2 * time.Hour) // let late requests and jobs run out
		w.net.Close()
		_ = srv.Close()
	})
	return w
}

// engine is a new provider instance's engine: a fresh client and poller, as
// each apply has.
func (w *world) engine() *Engine {
	client, err := ehpc.New(ehpc.Config{Endpoint: "http://127.0.0.1:80", AccessKeyID: ehpcsim.DemoAccessKeyID, SecretKey: ehpcsim.DemoSecretKey,
		HTTPClient: w.net.Client(), RequestTimeout: 30 * time.Second})
	if err != nil {
		w.t.Fatal(err)
	}
	return &Engine{Client: client, Poller: jobwatch.New(client, jobwatch.Options{})}
}

// spec is a rollout of the test cluster that waits, as rolling must.
func spec() Spec {
	return Spec{Zone: ehpcsim.DemoZone, ClusterID: cluster, Wait: true, Timeout: 30 * time.Minute}
}

// statuses are the batches' statuses, for compact assertions.
func statuses(bs []Batch) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Status)
	}
	return out
}

// A rolling run: one job per batch, in order, never overlapping, the pause
// held between them.
func TestRunRollsBatchByBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, ehpcsim.Options{})
		s := spec()
		s.Pause = 30 * time.Second
		var sent []int
		r := w.engine().Run(context.Background(), s, Split(nodes, 1, 0), Observer{Sent: func(i int, _ Batch, _ *Note) { sent = append(sent, i) }})
		if r.End != Done || !slices.Equal(statuses(r.Batches), []string{"successful", "successful", "successful"}) || !slices.Equal(sent, []int{0, 1, 2}) {
			t.Fatalf("end %s, statuses %v, sent %v", r.End, statuses(r.Batches), sent)
		}
		jobs := w.sim.Jobs()
		for i, j := range jobs {
			if !slices.Equal(j.NodeIDs, nodes[i:i+1]) || r.Batches[i].JobID != j.ID || r.Batches[i].Request.SentAt.IsZero() {
				t.Errorf("batch %d: %+v, job %+v", i+1, r.Batches[i], j)
			}
			if i > 0 && j.Started.Before(jobs[i-1].Ended.Add(s.Pause)) {
				t.Errorf("batch %d started %s after batch %d ended, before the pause", i+1, j.Started.Sub(jobs[i-1].Ended), i)
			}
		}
	})
}

// The pause is held before the first batch a resume sends too (issue #18,
// defect 6): the batch before it may have ended seconds ago.
func TestRunHoldsThePauseBeforeTheFirstBatchOfAResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, ehpcsim.Options{})
		first := w.engine().Run(context.Background(), spec(), Split(nodes, 1, 0)[:1], Observer{})
		record := append(first.Batches, Split(nodes, 1, 0)[1:]...)
		s := spec()
		s.Pause = 45 * time.Second
		start := time.Now()
		r := w.engine().Run(context.Background(), s, record, Observer{})
		jobs := w.sim.Jobs()
		if r.End != Done || len(jobs) != 3 || jobs[1].Started.Sub(start) < s.Pause {
			t.Fatalf("end %s, %d jobs; batch 2 started %s into the resume, want at least the pause %s", r.End, len(jobs), jobs[1].Started.Sub(start), s.Pause)
		}
	})
}

// A failed batch stops the run; sent again by a later run (the user's untaint
// and apply), its failed job is kept among the earlier ones (defect 3).
func TestRunKeepsAFailedJobWhenItsBatchIsSentAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, ehpcsim.Options{})
		w.sim.FailJobsAfter(1, 1)
		r := w.engine().Run(context.Background(), spec(), Split(nodes, 1, 0), Observer{})
		if r.End != Failed || r.At != 1 || !slices.Equal(statuses(r.Batches), []string{"successful", "failed", "not_sent"}) {
			t.Fatalf("end %s at %d, statuses %v", r.End, r.At, statuses(r.Batches))
		}
		failed := r.Batches[1].JobID
		r = w.engine().Run(context.Background(), spec(), r.Batches, Observer{})
		if r.End != Done || r.Batches[1].JobID == failed || !slices.Equal(r.Batches[1].Earlier, []string{failed}) {
			t.Fatalf("end %s, batch 2 %+v; want a new job, the failed %s kept as earlier", r.End, r.Batches[1], failed)
		}
		if n := w.sim.Restarts(nodes[0]); n != 1 {
			t.Errorf("batch 1 restarted %d times, want once", n)
		}
	})
}

// Defect 1: the first batch fails, the user untaints and applies, and the
// resend's answer is lost while the log cannot be read. No panic; the
// resend's request is kept to settle, the failed job too; and the next run,
// once the log is back, adopts the resend's job instead of sending a third
// time.
func TestRunResendLostWhileTheLogIsDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, ehpcsim.Options{})
		w.sim.FailNextJobs(1)
		r := w.engine().Run(context.Background(), spec(), Split(nodes, 1, 0), Observer{})
		failed := r.Batches[0].JobID
		w.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, AfterEffect: true})
		w.sim.LogOutage(w.sim.Now(), w.sim.Now().Add(10*time.Minute))
		r = w.engine().Run(context.Background(), spec(), r.Batches, Observer{})
		b := r.Batches[0]
		var lost *ehpc.UnknownOutcomeError
		if r.End != Lost || !errors.As(r.Err, &lost) || b.Status != Unknown || b.JobID != "" || !slices.Equal(b.Earlier, []string{failed}) ||
			b.Request.SentAt.IsZero() || b.Request.Until.IsZero() {
			t.Fatalf("end %s (%v), batch 1 %+v; want it lost, with its request and the failed job kept", r.End, r.Err, b)
		}
		if _, _, status, sent := Summary(r.Batches); status != Unknown || !sent {
			t.Fatalf("Summary = %s, %v", status, sent)
		}
		time.Sleep(10 * time.Minute)
		r = w.engine().Run(context.Background(), spec(), r.Batches, Observer{})
		if r.End != Done || r.Batches[0].JobID == "" || len(r.Notes) != 1 || !r.Notes[0].Adopted {
			t.Fatalf("end %s, batch 1 %+v, notes %+v; want the resend's job adopted", r.End, r.Batches[0], r.Notes)
		}
		if n := w.sim.Restarts(nodes[0]); n != 2 {
			t.Errorf("batch 1 restarted %d times, want twice (the failed job and the resend)", n)
		}
	})
}

// Defect 2: a resume that comes while the log still lags behind the lost
// request's job waits for the settle deadline instead of trusting one read,
// and adopts the job; with long jobs, it never takes "busy" for "not sent".
func TestRunSettlesOnlyAfterTheLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, ehpcsim.Options{OperationLogLag: 5 * time.Second, JobDuration: 10 * time.Minute})
		w.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, AfterEffect: true, Skip: 1})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(11*time.Minute, cancel) // during batch 2's settling
		first := w.engine().Run(ctx, spec(), Split(nodes, 1, 0), Observer{})
		if first.End != Lost || first.Batches[1].Status != Unknown {
			t.Fatalf("end %s, statuses %v", first.End, statuses(first.Batches))
		}
		start := time.Now()
		r := w.engine().Run(context.Background(), spec(), first.Batches, Observer{})
		if r.End != Done || len(w.sim.Jobs()) != 3 {
			t.Fatalf("end %s (%v), %d jobs, batches %+v; want batch 2's job adopted and batch 3 sent", r.End, r.Err, len(w.sim.Jobs()), r.Batches)
		}
		if w.sim.Restarts(nodes[1]) != 1 {
			t.Fatalf("batch 2 restarted %d times", w.sim.Restarts(nodes[1]))
		}
		if sinceSent := start.Sub(first.Batches[1].Request.SentAt); sinceSent > time.Minute {
			t.Fatalf("the resume came %s after the request; the test wants it inside the lease", sinceSent)
		}
	})
}

// Defect 6: a timeout spent before the wait starts is a timeout, which taints,
// not an unreadable job.
func TestRunTimeoutSpentBeforeTheWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, ehpcsim.Options{})
		w.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, AfterEffect: true})
		s := spec()
		s.Timeout = 30 * time.Second // less than the settle window
		r := w.engine().Run(context.Background(), s, Split(nodes, 0, 0), Observer{})
		if r.End != TimedOut || r.Batches[0].JobID == "" || r.Batches[0].Status != ehpc.JobPending {
			t.Fatalf("end %s, batch %+v; want a timeout with the adopted job pending", r.End, r.Batches[0])
		}
	})
}

// A batch is not sent when less of the timeout is left than the batch before
// it took; a cancel before a batch is sent leaves it not sent.
func TestRunStopsBeforeABatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, ehpcsim.Options{JobDuration: 4 * time.Minute})
		s := spec()
		s.Timeout = 6 * time.Minute
		r := w.engine().Run(context.Background(), s, Split(nodes, 1, 0), Observer{})
		if r.End != OutOfTime || r.At != 1 || r.Took < 4*time.Minute || len(w.sim.Jobs()) != 1 {
			t.Fatalf("end %s at %d, took %s, %d jobs", r.End, r.At, r.Took, len(w.sim.Jobs()))
		}
		ctx, cancel := context.WithCancel(context.Background())
		s = spec()
		s.Pause = time.Minute
		time.AfterFunc(30*time.Second, cancel)
		r = w.engine().Run(ctx, s, r.Batches, Observer{})
		if r.End != Cancelled || r.At != 1 || r.Batches[1].Status != NotSent {
			t.Fatalf("end %s at %d, statuses %v; want cancelled in the pause before batch 2", r.End, r.At, statuses(r.Batches))
		}
	})
}

// Torture seed 2255: batch 2's answer is lost before the API acts, and the
// settle that proves it had no effect takes a minute and a half, after which
// less of the timeout is left than batch 1 took. Batch 2 is not sent again
// to time out while its node restarts: the run stops as before a batch
// (OutOfTime), the batch not sent.
func TestRunStopsBeforeAResendWithoutTimeLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, ehpcsim.Options{JobDuration: time.Minute})
		s := spec()
		s.Timeout = 2*time.Minute + 30*time.Second // batch 1 takes a minute; the settle ends past 2 minutes
		w.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Skip: 1, Drop: true})
		r := w.engine().Run(context.Background(), s, Split(nodes[:2], 1, 0), Observer{})
		if r.End != OutOfTime || r.At != 1 || r.Batches[1].Status != NotSent || r.Batches[1].JobID != "" || len(w.sim.Jobs()) != 1 {
			t.Fatalf("end %s (%v) at batch %d, batch 2 %+v, %d jobs; want the resend held: out of time, batch 2 not sent", r.End, r.Err, r.At+1, r.Batches[1], len(w.sim.Jobs()))
		}
		r = w.engine().Run(context.Background(), spec(), r.Batches, Observer{})
		if r.End != Done || len(w.sim.Jobs()) != 2 || w.sim.Restarts(nodes[1]) != 1 {
			t.Fatalf("end %s (%v), %d jobs; want batch 2 sent by the next run", r.End, r.Err, len(w.sim.Jobs()))
		}
	})
}

// Interrupted while waiting: the job is kept, pending, never sent again.
func TestRunInterruptedWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, ehpcsim.Options{})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(30*time.Second, cancel)
		r := w.engine().Run(ctx, spec(), Split(nodes, 0, 0), Observer{})
		if r.End != Interrupted || r.Wait.End != Interrupted || r.Batches[0].JobID == "" || r.Batches[0].Status != ehpc.JobPending {
			t.Fatalf("end %s, wait %s, batch %+v", r.End, r.Wait.End, r.Batches[0])
		}
	})
}

// A lost request whose job the log shows failed stops the run as a failed job
// does: only a later apply the user asks for sends the batch again.
func TestRunSettledJobThatFailed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, ehpcsim.Options{JobDuration: time.Second})
		w.sim.FailNextJobs(1)
		w.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, AfterEffect: true})
		w.sim.LogOutage(w.sim.Now(), w.sim.Now().Add(5*time.Minute))
		r := w.engine().Run(context.Background(), spec(), Split(nodes, 1, 0), Observer{})
		if r.End != Lost {
			t.Fatalf("end %s", r.End)
		}
		time.Sleep(5 * time.Minute)
		r = w.engine().Run(context.Background(), spec(), r.Batches, Observer{})
		if r.End != Failed || r.At != 0 || r.Batches[0].Status != ehpc.JobFailed || len(w.sim.Jobs()) != 1 {
			t.Fatalf("end %s at %d, statuses %v, %d jobs", r.End, r.At, statuses(r.Batches), len(w.sim.Jobs()))
		}
	})
}

// A job of the record Terraform replaced is never a lost request's job, also
// for a later apply that settles it.
func TestRunNeverAdoptsAReplacedRecordsJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, ehpcsim.Options{JobDuration: time.Second})
		old := w.engine().Run(context.Background(), spec(), Split(nodes, 0, 0), Observer{})
		time.Sleep(3 * time.Second)
		w.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true}) // not processed
		w.sim.LogOutage(w.sim.Now(), w.sim.Now().Add(5*time.Minute))
		s := spec()
		s.Replaced = old.Batches
		r := w.engine().Run(context.Background(), s, Split(nodes, 0, 0), Observer{})
		if r.End != Lost || !slices.Equal(r.Batches[0].Excluded, []string{old.Batches[0].JobID}) {
			t.Fatalf("end %s, batch %+v; want it lost, the replaced job excluded", r.End, r.Batches[0])
		}
		time.Sleep(5 * time.Minute)
		r = w.engine().Run(context.Background(), spec(), r.Batches, Observer{}) // a later apply: no Replaced
		if r.End != Done || r.Batches[0].JobID == old.Batches[0].JobID || len(w.sim.Jobs()) != 2 {
			t.Fatalf("end %s, batch %+v, %d jobs; want the restart sent anew, not the replaced job adopted", r.End, r.Batches[0], len(w.sim.Jobs()))
		}
	})
}

// A record replaced while its request's outcome was unknown: that request is
// processed late, after the replacement's own request was sent and lost
// before reaching the API. The late job lies in the replacement's window, yet
// it is the replaced restart's: the replacement waits until the old request
// can make no job, excludes what it made, and restarts the nodes itself
// (torture seed 1796475410, where the late job was adopted and the nodes
// restarted once for two declared restarts).
func TestRunNeverAdoptsALateJobOfAReplacedLostRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, ehpcsim.Options{JobDuration: time.Second})
		w.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, LateEffect: 55 * time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(12*time.Second, cancel) // the apply is interrupted while it settles
		old := w.engine().Run(ctx, spec(), Split(nodes, 0, 0), Observer{})
		if old.End != Lost || old.Batches[0].Status != Unknown {
			t.Fatalf("end %s, batch %+v; want the first request lost", old.End, old.Batches[0])
		}
		w.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true}) // the replacement's: never processed
		s := spec()
		s.Replaced = old.Batches
		var settling []bool
		r := w.engine().Run(context.Background(), s, Split(nodes, 0, 0), Observer{Settling: func(_ int, b Batch) { settling = append(settling, b.Inherited()) }})
		jobs := w.sim.Jobs()
		if r.End != Done || len(jobs) != 2 || r.Batches[0].JobID != jobs[1].ID || r.Batches[0].Excluded != nil {
			t.Fatalf("end %s (%v), batch %+v, jobs %+v; want the late job excluded and the restart sent anew", r.End, r.Err, r.Batches[0], jobs)
		}
		if !slices.Equal(settling, []bool{true, false}) {
			t.Errorf("Settling calls (inherited?) = %v; want one for the replaced request, then one for the run's own lost answer", settling)
		}
		if n := w.sim.Restarts(nodes[0]); n != 2 {
			t.Errorf("nodes restarted %d times, want twice: once per declared restart", n)
		}
	})
}

// A replacement whose request is refused still keeps the replaced record's
// job: the record is saved for it, and the replacement after it, whose answer
// is lost, adopts its own job, not the old one that lies in its window too
// (torture seed 1796475161, stuck on "several jobs" for ever).
func TestRunKeepsReplacedJobsWhenNothingIsSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, ehpcsim.Options{JobDuration: 20 * time.Second})
		first := w.engine().Run(context.Background(), Spec{Zone: ehpcsim.DemoZone, ClusterID: cluster, Timeout: time.Minute}, Split(nodes, 0, 0), Observer{})
		s := spec()
		s.Replaced = first.Batches
		r := w.engine().Run(context.Background(), s, Split(nodes, 0, 0), Observer{}) // the nodes are busy restarting: 1400
		b := r.Batches[0]
		if r.End != Rejected || b.Status != NotSent || !b.Carries() || !slices.Equal(b.Excluded, []string{first.Batches[0].JobID}) {
			t.Fatalf("end %s (%v), batch %+v; want it refused, carrying the replaced job", r.End, r.Err, b)
		}
		time.Sleep(5 * time.Second)
		w.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, LateEffect: 20 * time.Second})
		s.Replaced = r.Batches // the refused record, tainted, replaced in turn
		r = w.engine().Run(context.Background(), s, Split(nodes, 0, 0), Observer{})
		jobs := w.sim.Jobs()
		if r.End != Done || len(jobs) != 2 || r.Batches[0].JobID != jobs[1].ID {
			t.Fatalf("end %s (%v), batch %+v, jobs %+v; want the late job adopted", r.End, r.Err, r.Batches[0], jobs)
		}
	})
}

// A replaced request of unknown outcome that the log cannot settle: nothing is
// sent, and the batch keeps the request for the next apply.
func TestRunSendsNothingWhileAReplacedRequestIsUnsettled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, ehpcsim.Options{JobDuration: time.Second})
		w.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true})
		w.sim.LogOutage(w.sim.Now(), w.sim.Now().Add(time.Hour))
		old := w.engine().Run(context.Background(), spec(), Split(nodes, 0, 0), Observer{})
		s := spec()
		s.Replaced = old.Batches
		r := w.engine().Run(context.Background(), s, Split(nodes, 0, 0), Observer{})
		var inherited *InheritedError
		b := r.Batches[0]
		if r.End != Rejected || !errors.As(r.Err, &inherited) || !b.Inherited() || !b.Request.SentAt.Equal(old.Batches[0].Request.SentAt) || len(w.sim.Jobs()) != 0 {
			t.Fatalf("end %s (%v), batch %+v, %d jobs; want nothing sent, the replaced request kept", r.End, r.Err, b, len(w.sim.Jobs()))
		}
		time.Sleep(time.Hour)
		r = w.engine().Run(context.Background(), spec(), r.Batches, Observer{}) // a later apply, with the log back
		if r.End != Done || len(w.sim.Jobs()) != 1 || r.Batches[0].JobID != w.sim.Jobs()[0].ID {
			t.Fatalf("end %s (%v), batch %+v; want the restart sent once the old request is proved to have made nothing", r.End, r.Err, r.Batches[0])
		}
	})
}

// gated is a rolling spec with the health gate.
func gated(minHealthy, deadline time.Duration) Spec {
	s := spec()
	s.Gate = &GateSpec{MinHealthy: minHealthy, Deadline: deadline}
	return s
}

// With the gate, a batch is sent only once every node of the batch before it
// is back in service, not when its job succeeded; the last batch is held too.
func TestRunGateHoldsEachBatchUntilItsNodesAreBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const boot = 30 * time.Second
		w := newWorld(t, ehpcsim.Options{BootTime: boot})
		var looks int
		r := w.engine().Run(context.Background(), gated(0, 10*time.Minute), Split(nodes, 1, 0), Observer{Gating: func(int, Batch, GateWait) { looks++ }})
		jobs := w.sim.Jobs()
		if r.End != Done || len(jobs) != 3 {
			t.Fatalf("end %s (%v), %d jobs", r.End, r.Err, len(jobs))
		}
		for i, b := range r.Batches {
			if b.Gate != GatePassed {
				t.Errorf("batch %d gate %q, want passed", i+1, b.Gate)
			}
			if i > 0 && jobs[i].Started.Before(jobs[i-1].Ended.Add(boot)) {
				t.Errorf("batch %d sent %s after batch %d's job ended, before its nodes were back (boot %s)", i+1, jobs[i].Started.Sub(jobs[i-1].Ended), i, boot)
			}
		}
		if end := time.Since(jobs[2].Ended); end < boot {
			t.Errorf("the run ended %s after the last job, before its nodes were back", end)
		}
		if looks == 0 {
			t.Error("the observer heard of no look at the gate")
		}
	})
}

// A node that never comes back stops the rollout at the gate's deadline,
// later batches unsent, the batch held at the gate for a later apply; one
// that comes back healthy later lets that apply go on without sending the
// batch again.
func TestRunGateStopsAtANodeThatIsNotBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, ehpcsim.Options{BootTime: 5 * time.Second})
		w.sim.SetNodeFate(cluster, nodes[0], ehpcsim.FateUnhealthy)
		r := w.engine().Run(context.Background(), gated(0, 2*time.Minute), Split(nodes, 1, 0), Observer{})
		if r.End != NotBack || r.At != 0 || !r.Gate.Held || r.Gate.Back != 0 || len(r.Gate.Nodes) != 1 || r.Gate.Nodes[0].HealthStatus != "unhealthy" {
			t.Fatalf("end %s at %d, gate %+v", r.End, r.At, r.Gate)
		}
		if !slices.Equal(statuses(r.Batches), []string{"successful", "not_sent", "not_sent"}) || r.Batches[0].Gate != GateWaiting || len(w.sim.Jobs()) != 1 {
			t.Fatalf("statuses %v, gate %q, %d jobs", statuses(r.Batches), r.Batches[0].Gate, len(w.sim.Jobs()))
		}
		if r.Gate.Elapsed < 2*time.Minute {
			t.Errorf("gave up after %s, before the deadline", r.Gate.Elapsed)
		}
		// The node is fixed by hand: a restart by another tool brings it back.
		w.sim.SetNodeFate(cluster, nodes[0], ehpcsim.FateBack)
		if _, err := w.engine().Client.RestartNodes(context.Background(), ehpcsim.DemoZone, cluster, nodes[:1]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Minute)
		r = w.engine().Run(context.Background(), gated(0, 2*time.Minute), r.Batches, Observer{})
		if r.End != Done || w.sim.Restarts(nodes[0]) != 2 || len(w.sim.Jobs()) != 4 {
			t.Fatalf("end %s (%v); %d restarts of the first node, %d jobs: want the gate passed and batches 2 and 3 sent", r.End, r.Err, w.sim.Restarts(nodes[0]), len(w.sim.Jobs()))
		}
	})
}

// A node whose health flaps is back only once it stayed healthy for the
// minimum healthy time; the interrupted gate is resumed, never sending the
// batch again.
func TestRunGateMinHealthyTimeAndResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, ehpcsim.Options{BootTime: 5 * time.Second, FlapPeriod: 20 * time.Second})
		w.sim.SetNodeFate(cluster, nodes[0], ehpcsim.FateFlapping)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(90*time.Second, cancel) // the job takes a minute, then the gate
		r := w.engine().Run(ctx, gated(30*time.Second, 10*time.Minute), Split(nodes, 1, 0), Observer{})
		if r.End != Interrupted || !r.Gate.Held || r.Batches[0].Gate != GateWaiting || len(w.sim.Jobs()) != 1 {
			t.Fatalf("end %s, gate %+v, batch %+v, %d jobs", r.End, r.Gate, r.Batches[0], len(w.sim.Jobs()))
		}
		// Healthy 20 s, unhealthy 20 s, for ever: 30 s unbroken never comes.
		r = w.engine().Run(context.Background(), gated(30*time.Second, 3*time.Minute), r.Batches, Observer{})
		if r.End != NotBack || len(w.sim.Jobs()) != 1 {
			t.Fatalf("end %s, %d jobs; want the flapping node never back for 30 s", r.End, len(w.sim.Jobs()))
		}
		// 15 s unbroken does come, within one healthy spell; then batches 2
		// and 3 go, the first one never sent again.
		r = w.engine().Run(context.Background(), gated(15*time.Second, 3*time.Minute), r.Batches, Observer{})
		if r.End != Done || len(w.sim.Jobs()) != 3 || w.sim.Restarts(nodes[0]) != 1 {
			t.Fatalf("end %s (%v), %d jobs, %d restarts of the flapping node", r.End, r.Err, len(w.sim.Jobs()), w.sim.Restarts(nodes[0]))
		}
	})
}

// Issue #31, defect 2: a batch settled or resumed without the gate (rolling
// was removed for a while, or the record is older than the gate), whose node
// is down for good. When the gate is on again, the batch after it is not sent:
// the gate first looks at the nodes of the batch before, and stops there.
func TestRunGatesAnUngatedSuccessBeforeSendingTheNext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, ehpcsim.Options{BootTime: 5 * time.Second})
		w.sim.SetNodeFate(cluster, nodes[0], ehpcsim.FateNeverBack)
		r := w.engine().Run(context.Background(), spec(), Split(nodes[:1], 1, 0), Observer{}) // ungated: no gate spec
		if r.End != Done || r.Batches[0].Gate != "" {
			t.Fatalf("end %s, batch %+v; want batch 1 done without a gate", r.End, r.Batches[0])
		}
		batches := append(r.Batches, Split(nodes[1:2], 1, 0)...)
		r = w.engine().Run(context.Background(), gated(0, 2*time.Minute), batches, Observer{})
		if r.End != NotBack || r.At != 0 || len(w.sim.Jobs()) != 1 {
			t.Fatalf("end %s at batch %d, %d jobs; want batch 2 not sent while batch 1's node is out of service", r.End, r.At+1, len(w.sim.Jobs()))
		}
		w.sim.SetNodeFate(cluster, nodes[0], ehpcsim.FateBack)
		r = w.engine().Run(context.Background(), gated(0, 2*time.Minute), r.Batches, Observer{})
		if r.End != Done || r.Batches[0].Gate != GatePassed || len(w.sim.Jobs()) != 2 || w.sim.Restarts(nodes[0]) != 1 {
			t.Fatalf("end %s, batch 1 %+v, %d jobs: want batch 1 seen back, then batch 2 sent", r.End, r.Batches[0], len(w.sim.Jobs()))
		}
	})
}

// A lost request recorded by an older release, which kept no window: its job
// was created after the batch before it succeeded, but the machine that
// stamped its create_time may have a clock behind the one that stamped the
// previous batch's job (API.md: several machines behind one endpoint). The
// window bounded by the previous job reaches back the clock margin, so the
// job is adopted, never restarted again (torture seed 1796626994: a backend
// 8.75 s slow, the resume sent batch 2 again).
func TestRunLegacyLostRequestStampedBySlowerMachine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, ehpcsim.Options{JobDuration: time.Second})
		now := w.sim.Now()
		prev := w.sim.AddPastJob(cluster, nodes[:1], now.Add(-10*time.Minute), "successful")
		// Sent 8 s later, stamped by a machine 9 s slow.
		lost := w.sim.AddPastJob(cluster, nodes[1:2], now.Add(-10*time.Minute-time.Second), "successful")
		batches := Split(nodes[:2], 1, 0)
		batches[0].JobID, batches[0].Status = prev, ehpc.JobSuccessful
		batches[1].Status = Unknown // no request: an older release kept none
		r := w.engine().Run(context.Background(), spec(), batches, Observer{})
		if r.End != Done || r.Batches[1].JobID != lost || len(w.sim.Jobs()) != 2 {
			t.Fatalf("end %s, batch 2 %+v, %d jobs; want job %s adopted and no restart sent", r.End, r.Batches[1], len(w.sim.Jobs()), lost)
		}
	})
}

// Torture seed 1799003115: a lost request an older release recorded, whose
// previous batch's job cannot be read while the operation log is down. Read
// without that bound, the window reaches back to any older restart of the
// batch's nodes, and one of another tool's from hours before was adopted as
// the batch's job, so its node would never be restarted. The outcome stays
// unknown instead; once the log reads again, the bound shows the request had
// no effect and the batch is sent.
func TestRunLegacyLostRequestUnboundedWhileLogDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, ehpcsim.Options{JobDuration: time.Second})
		now := w.sim.Now()
		w.sim.AddPastJob(cluster, nodes[1:2], now.Add(-2*time.Hour), "successful") // another tool's
		prev := w.sim.AddPastJob(cluster, nodes[:1], now.Add(-10*time.Minute), "successful")
		batches := Split(nodes[:2], 1, 0)
		batches[0].JobID, batches[0].Status = prev, ehpc.JobSuccessful
		batches[1].Status = Unknown // no request: an older release kept none
		// Every attempt of the previous job's lookup fails; the log reads after.
		w.sim.InjectFault(ehpc.PathOperations, ehpcsim.Fault{Count: 5, HTTPStatus: http.StatusBadGateway})
		r := w.engine().Run(context.Background(), spec(), batches, Observer{})
		var lost *ehpc.UnknownOutcomeError
		if r.End != Lost || !errors.As(r.Err, &lost) || r.Batches[1].JobID != "" || len(w.sim.Jobs()) != 2 {
			t.Fatalf("end %s (%v), batch 2 %+v, %d jobs; want the outcome left unknown, nothing adopted or sent", r.End, r.Err, r.Batches[1], len(w.sim.Jobs()))
		}
		if want := "which bounds when this request was sent"; !strings.Contains(r.Err.Error(), want) {
			t.Errorf("error %q does not say %q", r.Err, want)
		}
		w.sim.ClearFaults()
		r = w.engine().Run(context.Background(), spec(), r.Batches, Observer{})
		if r.End != Done || len(w.sim.Jobs()) != 3 || w.sim.Restarts(nodes[1]) != 1 {
			t.Fatalf("end %s (%v), batch 2 %+v, %d jobs, %d restarts of batch 2's node; want batch 2 sent once", r.End, r.Err, r.Batches[1], len(w.sim.Jobs()), w.sim.Restarts(nodes[1]))
		}
	})
}

// preGateRecord is an older release's record, from before the gate, of
// nodes[:2] in batches of one: batch 1's node never came back, and batch 2's
// answer was lost (that release kept no request), the request processed by
// the API or not. It returns the batches and batch 2's job ("" when not
// processed).
func preGateRecord(t *testing.T, w *world, processed bool) ([]Batch, string) {
	t.Helper()
	w.sim.SetNodeFate(cluster, nodes[0], ehpcsim.FateNeverBack)
	sent := nodes[:1]
	if processed {
		sent = nodes[:2]
	}
	r := w.engine().Run(context.Background(), spec(), Split(sent, 1, 0), Observer{}) // the release: no gate
	if r.End != Done {
		t.Fatalf("the release's batches: end %s (%v)", r.End, r.Err)
	}
	batches := append(r.Batches, Split(nodes[len(sent):2], 1, 0)...)
	lost := batches[1].JobID
	batches[1].JobID, batches[1].Status = "", Unknown
	time.Sleep(time.Minute)
	return batches, lost
}

// Torture seed 951: an older release's record, from before the gate, whose
// batch 1 node never came back and whose batch 2 request was lost without
// effect. The resume settles batch 2 before it gates batch 1 (a look sends
// nothing): had it waited at the gate first, the request, which kept no
// window, would stay open to any later restart of batch 2's nodes, and
// another tool's restart while batch 1 was down was adopted as its job. Batch
// 2 is sent only once batch 1 is back.
func TestRunSettlesALegacyRequestBeforeTheGateHoldsIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, ehpcsim.Options{JobDuration: time.Second})
		batches, _ := preGateRecord(t, w, false)
		r := w.engine().Run(context.Background(), gated(0, 2*time.Minute), batches, Observer{})
		if r.End != NotBack || r.At != 0 || r.Batches[1].Status != NotSent || len(w.sim.Jobs()) != 1 {
			t.Fatalf("end %s at batch %d, batch 2 %+v, %d jobs; want batch 2 settled (no job), then held at batch 1's gate", r.End, r.At+1, r.Batches[1], len(w.sim.Jobs()))
		}
		other := w.sim.RestartByAnotherTool(cluster, nodes[1:2])
		time.Sleep(time.Minute)
		w.sim.SetNodeFate(cluster, nodes[0], ehpcsim.FateBack)
		w.sim.RestartByAnotherTool(cluster, nodes[:1]) // brings it back under its new fate
		time.Sleep(time.Minute)
		r = w.engine().Run(context.Background(), gated(0, 2*time.Minute), r.Batches, Observer{})
		if r.End != Done || r.Batches[1].JobID == other || w.sim.Restarts(nodes[1]) != 1 {
			t.Fatalf("end %s (%v), batch 2 %+v, %d restarts of its node by requests; want batch 2 sent, not another tool's job %s adopted", r.End, r.Err, r.Batches[1], w.sim.Restarts(nodes[1]), other)
		}
	})
}

// The same record whose batch 2 request did make a job: the settle adopts
// it, and the run still gates batch 1 before it goes on, so it does not end
// green while batch 1's node is down.
func TestRunGatesTheBatchBeforeAnAdoptedJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, ehpcsim.Options{JobDuration: time.Second})
		batches, lost := preGateRecord(t, w, true)
		r := w.engine().Run(context.Background(), gated(0, 2*time.Minute), batches, Observer{})
		if r.End != NotBack || r.At != 0 || r.Batches[1].JobID != lost || len(w.sim.Jobs()) != 2 {
			t.Fatalf("end %s at batch %d, batch 2 %+v, %d jobs; want job %s adopted, then the run held at batch 1's gate", r.End, r.At+1, r.Batches[1], len(w.sim.Jobs()), lost)
		}
	})
}
