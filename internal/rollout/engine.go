package rollout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/clock"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/jobwatch"
)

// Engine runs rollouts against one API client, sharing its poller.
type Engine struct {
	Client *ehpc.Client
	Poller *jobwatch.Poller
	// Clock is the engine's one time source (the client's too); nil means the
	// wall clock.
	Clock clock.Clock
}

// Spec is where and how a rollout runs.
type Spec struct {
	Zone, ClusterID string
	// Wait is wait_for_completion.
	Wait bool
	// Pause is held before every batch sent but the first.
	Pause time.Duration
	// Timeout bounds the whole run.
	Timeout time.Duration
	// Replaced are the batches of records of this cluster that the run's
	// caller replaced (Terraform destroys a resource just before creating its
	// replacement): their jobs are other restarts', never a lost request's.
	Replaced []Batch
	// Gate holds every batch whose job succeeded until its nodes are back
	// in service; nil: no health gate. It needs Wait.
	Gate *GateSpec
}

// GateSpec is the health gate: every node of a batch active, out of any
// transition and healthy wherever its health check is on
// (ehpc.Node.InService), seen so for MinHealthy (zero: one look) within
// Deadline of the gate's start.
type GateSpec struct {
	MinHealthy, Deadline time.Duration
}

// Mode is the mode the spec runs in.
func (s Spec) Mode() Mode {
	return Mode{Wait: s.Wait, Gate: s.Gate != nil && s.Wait}
}

// Observer hears about a run as it goes; every field may be nil.
type Observer struct {
	// Sent: batch i's request was accepted, or its job found (note says how,
	// when it did not go the plain way).
	Sent func(i int, b Batch, note *Note)
	// Checked: one look at batch i's job while waiting for it.
	Checked func(i int, b Batch, c jobwatch.Check, elapsed time.Duration)
	// Waited: the wait for batch i's job ended.
	Waited func(i int, b Batch, w JobWait)
	// Pausing: batch i waits d (the rollout's pause) before it is sent.
	Pausing func(i int, b Batch, d time.Duration)
	// Settling: batch i's last request's answer was lost, and the operation
	// log is read until it shows whether the request made a job.
	Settling func(i int, b Batch)
	// Gating: one look at batch i's nodes at the health gate.
	Gating func(i int, b Batch, g GateWait)
}

func (e *Engine) clock() clock.Clock {
	if e.Clock == nil {
		return clock.Real()
	}
	return e.Clock
}

// Run brings the batches to success in order, each batch taking the steps
// Next gives it until it needs nothing more: a batch that succeeded is left
// alone; a lost request is settled first; one never sent, or whose job
// failed, is sent (the pause held before every batch but the first); a job
// that may still run is waited for and never sent again. The next batch is
// taken only once the one before succeeded, so a run on a recorded rollout
// goes on exactly where the last one stopped. batches are not modified.
func (e *Engine) Run(ctx context.Context, spec Spec, batches []Batch, obs Observer) Result {
	clk := e.clock()
	r := Result{Batches: cloneBatches(batches), Timeout: spec.Timeout}
	inherit(r.Batches, spec.Replaced)
	deadline := clk.Now().Add(spec.Timeout)
	// lastTook is how long the last batch this run waited for took: the next
	// batch is sent only while at least that much of the timeout is left.
	var lastTook time.Duration
	// doneAt is when this run saw each batch's job succeed: its nodes' boot
	// counts from then.
	doneAt := map[int]time.Time{}
	// gateBefore gates the batch before batch i when GateBefore says so: before
	// batch i is sent, and once its lost request is settled (a look sends
	// nothing, so it comes first; whatever it finds, the apply goes on past
	// the batch before only with its nodes in service).
	gateBefore := func(i int) bool {
		if !GateBefore(r.Batches, i, spec.Mode()) {
			return true
		}
		r.At = i - 1
		took, ok := e.gate(ctx, spec, &r, i-1, deadline, doneAt[i-1], obs)
		if ok {
			lastTook += took
			r.At = i
		}
		return ok
	}
	for i := range r.Batches {
		r.At = i
		for step := stepAt(r.Batches, i, spec.Mode()); step != Skip; step = stepAt(r.Batches, i, spec.Mode()) {
			ok := true
			switch step {
			case Settle:
				ok = e.settle(ctx, spec, &r, i, obs) && gateBefore(i)
			case Send:
				ok = gateBefore(i) && e.beforeSend(ctx, spec, &r, i, deadline, lastTook, obs) && e.exclude(ctx, spec, &r, i, obs) && e.send(ctx, spec, &r, i, deadline, lastTook, obs)
			case Wait:
				var took time.Duration
				took, ok = e.wait(ctx, spec, &r, i, deadline, obs)
				lastTook = took
				doneAt[i] = clk.Now()
			case Gate:
				var took time.Duration
				took, ok = e.gate(ctx, spec, &r, i, deadline, doneAt[i], obs)
				lastTook += took
			}
			if !ok {
				return r
			}
		}
	}
	r.End = Done
	return r
}

// errOutOfTime stops a send, a resend after a lost answer included, when less
// of the timeout is left than the batch before it took (shortOfTime).
var errOutOfTime = errors.New("less of the timeout is left than the batch before it took")

// shortOfTime reports whether less of the run's timeout is left than the batch
// before took: a batch sent then would most likely time out, its nodes
// restarting while the apply fails. Zero lastTook (nothing waited for yet in
// this run) tells nothing.
func shortOfTime(clk clock.Clock, deadline time.Time, lastTook time.Duration) bool {
	return lastTook > 0 && deadline.Sub(clk.Now()) < lastTook
}

// beforeSend holds batch i back for the pause, and refuses to send it when the
// run was cancelled or it is shortOfTime.
func (e *Engine) beforeSend(ctx context.Context, spec Spec, r *Result, i int, deadline time.Time, lastTook time.Duration, obs Observer) bool {
	clk := e.clock()
	if i > 0 && spec.Pause > 0 {
		d := min(spec.Pause, max(deadline.Sub(clk.Now()), 0))
		if obs.Pausing != nil {
			obs.Pausing(i, r.Batches[i], d)
		}
		select {
		case <-ctx.Done():
		case <-clk.After(d):
		}
	}
	switch {
	case ctx.Err() != nil:
		r.End = Cancelled
	case shortOfTime(clk, deadline, lastTook):
		r.End, r.Took = OutOfTime, lastTook
	default:
		return true
	}
	return false
}

// send sends batch i once (ehpc.RestartOnce settles a lost answer inline, and
// sends again only while the run is not shortOfTime: the settle takes a
// minute and a half) and records what came of it. It reports false when the
// run stops there.
func (e *Engine) send(ctx context.Context, spec Spec, r *Result, i int, deadline time.Time, lastTook time.Duration, obs Observer) bool {
	b := &r.Batches[i]
	if obs.Settling != nil {
		ctx = ehpc.WithSettling(ctx, func() { obs.Settling(i, *b) })
	}
	ctx = ehpc.WithResendCheck(ctx, func() error {
		if shortOfTime(e.clock(), deadline, lastTook) {
			return errOutOfTime
		}
		return nil
	})
	res, err := e.Client.RestartOnce(ctx, spec.Zone, spec.ClusterID, b.Nodes, append(known(r.Batches), known(spec.Replaced)...))
	var lost *ehpc.UnknownOutcomeError
	switch {
	case errors.As(err, &lost):
		// Excluded stays: a later apply settles it without this run's
		// knowledge of what was replaced.
		b.retire()
		b.Status, b.Request = Unknown, lost.Request
		r.End, r.Err = Lost, err
		return false
	case errors.Is(err, errOutOfTime):
		// The log proved the lost answer's request had no effect: the batch
		// stays as it was, as when beforeSend stops it.
		r.End, r.Took, r.Err = OutOfTime, lastTook, err
		return false
	case err != nil && errors.Is(err, context.Canceled):
		// Nothing of it happened (the log proved a lost answer had no
		// effect, or nothing was sent): the batch stays as it was.
		r.End, r.Err = Cancelled, err
		return false
	case err != nil:
		r.End, r.Err = Rejected, err
		return false
	}
	b.retire()
	b.Earlier = append(b.Earlier, res.Alternatives...)
	b.JobID, b.RetCode, b.Status, b.Request, b.Excluded = res.JobID, res.RetCode, ehpc.JobPending, ehpc.Request{SentAt: res.Request.SentAt}, nil
	var note *Note
	if res.Adopted || res.Resent {
		note = &Note{Batch: i, JobID: res.JobID, Adopted: res.Adopted, Reason: res.AdoptedReason, Others: res.Alternatives}
		r.Notes = append(r.Notes, *note)
	}
	if obs.Sent != nil {
		obs.Sent(i, *b, note)
	}
	if res.Interrupted && spec.Wait {
		// Without waiting, an accepted restart is all the run was to do.
		r.End = Interrupted
		return false
	}
	return true
}

// exclude readies an Inherited batch i for sending: the request the record
// it replaced made of exactly its nodes may have made a job, or may still make
// one, which a lost answer of its own could be taken for. So it waits until
// that request can make no job, and adds every job the log then shows in its
// window to the batch's Excluded. When the log cannot be read, nothing is sent
// and the batch keeps the request for the next apply.
func (e *Engine) exclude(ctx context.Context, spec Spec, r *Result, i int, obs Observer) bool {
	b := &r.Batches[i]
	if !b.Inherited() {
		return true
	}
	if obs.Settling != nil {
		obs.Settling(i, *b)
	}
	jobs, err := e.Client.Candidates(ctx, spec.Zone, spec.ClusterID, b.Nodes, b.Request, append(known(r.Batches), known(spec.Replaced)...))
	switch {
	case err != nil && ctx.Err() != nil:
		r.End, r.Err = Cancelled, err
		return false
	case err != nil:
		r.End, r.Err = Rejected, &InheritedError{SentAt: b.Request.SentAt, Err: err}
		return false
	}
	for _, j := range jobs {
		b.Excluded = append(b.Excluded, j.JobID)
	}
	b.Request = ehpc.Request{}
	return true
}

// InheritedError is why an Inherited batch was not sent.
type InheritedError struct {
	SentAt time.Time
	Err    error
}

func (e *InheritedError) Error() string {
	return fmt.Sprintf("the record this resource replaced requested a restart of exactly these nodes at %s (this machine's clock) whose outcome is unknown, "+
		"and every job that request may have made must be known first, so that this restart never takes one of them for its own: %v",
		e.SentAt.UTC().Format(time.RFC3339), e.Err)
}

func (e *InheritedError) Unwrap() error { return e.Err }

// finished records the status a batch's job was seen with; a success in a
// gated run holds the batch at the gate, in the same step, so that no record
// shows the job succeeded without the gate still to come.
func (b *Batch) finished(status string, spec Spec) {
	b.Status = status
	if status == ehpc.JobSuccessful && spec.Mode().Gate {
		b.Gate = GateWaiting
	}
}

// retire moves a job that is about to be replaced (a failed one sent again)
// among the earlier ones: no job id is ever dropped.
func (b *Batch) retire() {
	if b.JobID != "" {
		b.Earlier = append(b.Earlier, b.JobID)
		b.JobID = ""
	}
}

// settle finds the job of batch i's lost request in the operation log
// (ehpc.Client.Settle, which waits out the request's settle window when this
// run comes sooner). A job found is adopted; a log that proves the request had
// no effect leaves the batch not sent; anything else stops the run with the
// batch still lost.
func (e *Engine) settle(ctx context.Context, spec Spec, r *Result, i int, obs Observer) bool {
	b := &r.Batches[i]
	req := b.Request
	if req.SentAt.IsZero() && req.From.IsZero() {
		from, err := e.legacyFrom(ctx, spec, r.Batches, i)
		if err != nil {
			// Without its bound the window would reach back to any older
			// restart of these nodes, which could be adopted as this batch's:
			// the outcome stays unknown until the log can be read.
			r.End, r.Err = Lost, &ehpc.UnknownOutcomeError{ClusterID: spec.ClusterID, NodeIDs: b.Nodes, Request: req,
				Err: fmt.Errorf("the operation log could not be read to find the job of batch %d, which bounds when this request was sent: %w", i, err)}
			return false
		}
		req.From = from
	}
	if obs.Settling != nil {
		obs.Settling(i, *b)
	}
	job, err := e.Client.Settle(ctx, spec.Zone, spec.ClusterID, b.Nodes, req, append(known(r.Batches), known(spec.Replaced)...))
	var lost *ehpc.UnknownOutcomeError
	switch {
	case errors.As(err, &lost):
		b.Request = lost.Request
		r.End, r.Err = Lost, err
		return false
	case err != nil:
		r.End, r.Err = Lost, err
		return false
	case job == nil:
		// Excluded stays until the batch has a job: it is sent next, and its
		// answer may be lost again.
		b.Status, b.Request = NotSent, ehpc.Request{}
		return true
	}
	b.Earlier = append(b.Earlier, job.Alternatives...)
	b.JobID, b.Status, b.Request, b.Excluded = job.JobID, ehpc.JobPending, ehpc.Request{SentAt: req.SentAt}, nil
	if job.Done() {
		b.finished(job.Status, spec)
	}
	note := &Note{Batch: i, JobID: job.JobID, Adopted: true, Reason: "its answer was lost in an earlier apply", Others: job.Alternatives}
	r.Notes = append(r.Notes, *note)
	if obs.Sent != nil {
		obs.Sent(i, *b, note)
	}
	if job.Status == ehpc.JobFailed {
		// A failure stops the rollout, found by a wait or here: only a later
		// apply the user asks for sends the batch again.
		r.End, r.Wait = Failed, JobWait{End: Failed, Job: *job, Seen: true, Status: job.Status}
		return false
	}
	return true
}

// legacyFrom bounds the job of a lost request recorded by a release that kept
// no window: that release sent a batch only after the batch before it
// succeeded, so its job was created after the previous batch's job, less the
// clock margin: the two create_times may be stamped by different machines
// behind the endpoint, one of whose clocks may be off. Zero (no bound) when
// there is no previous job, or the log no longer shows it; an error when the
// log could not be read.
func (e *Engine) legacyFrom(ctx context.Context, spec Spec, batches []Batch, i int) (time.Time, error) {
	if i == 0 || batches[i-1].JobID == "" {
		return time.Time{}, nil
	}
	prev, found, err := e.Client.Job(ctx, spec.Zone, spec.ClusterID, batches[i-1].JobID)
	if err != nil || !found || prev.CreateTime.IsZero() {
		return time.Time{}, err
	}
	// torture gate: legacy-window: a lost request an older release recorded without a window is bounded by the batch before it
	return prev.CreateTime.Add(-e.Client.ClockMargin()), nil
}

// wait waits for batch i's job until the run's deadline and records its
// status. It reports how long the wait took, and false when the job did not
// succeed (the run stops there).
func (e *Engine) wait(ctx context.Context, spec Spec, r *Result, i int, deadline time.Time, obs Observer) (time.Duration, bool) {
	b := &r.Batches[i]
	var onCheck func(jobwatch.Check, time.Duration)
	if obs.Checked != nil {
		onCheck = func(c jobwatch.Check, elapsed time.Duration) { obs.Checked(i, *b, c, elapsed) }
	}
	w := e.waitForJob(ctx, spec.Zone, spec.ClusterID, jobwatch.Target{JobID: b.JobID, Nodes: len(b.Nodes), Sent: b.Request.SentAt}, deadline, onCheck)
	b.finished(w.Status, spec)
	if w.End == Unreadable {
		b.Status = Unknown
	}
	if obs.Waited != nil {
		obs.Waited(i, *b, w)
	}
	if w.End != Done {
		r.End, r.Wait, r.Err = w.End, w, w.Err
		return 0, false
	}
	return max(w.Elapsed, time.Millisecond), true
}

// JobWait is what waiting for one job saw.
type JobWait struct {
	// End is Done when the job succeeded, else Failed, TimedOut, Unreadable
	// or Interrupted.
	End End
	// Job is the last entry seen; Seen says whether there was one.
	Job  ehpc.Job
	Seen bool
	// Status is the last status seen: "pending" until the log says otherwise.
	Status string
	// LastErr is the last transient error reading the log; Err is what made
	// the job unreadable.
	LastErr, Err error
	Elapsed      time.Duration
}

// waitForJob follows job until it is successful or failed, it cannot be read,
// the deadline passes or ctx ends. Its checks come from the shared poller, which
// makes one operation-log request per tick for every job waited on in the
// cluster (internal/jobwatch). A job the API accepted but the log does not show
// yet is looked for until the deadline, however long the log lags: no fixed
// give-up shorter than the timeout, which would leave a restart that runs
// unaccounted (the deadline is a timeout like any other, a timeout already
// spent when the wait starts included).
func (e *Engine) waitForJob(ctx context.Context, zone, clusterID string, job jobwatch.Target, deadline time.Time, onCheck func(jobwatch.Check, time.Duration)) JobWait {
	clk := e.clock()
	started := clk.Now()
	w := JobWait{Status: ehpc.JobPending}
	left := deadline.Sub(started)
	if left <= 0 {
		w.End = TimedOut
		return w
	}
	timeout := clk.After(left)
	sub := e.Poller.Watch(ctx, zone, clusterID, job)
	defer sub.Stop()
	for {
		var c jobwatch.Check
		select {
		case <-ctx.Done():
			w.End, w.Elapsed = Interrupted, clk.Now().Sub(started)
			return w
		case <-timeout:
			w.End, w.Elapsed = TimedOut, clk.Now().Sub(started)
			return w
		case c = <-sub.C:
		}
		w.Elapsed = clk.Now().Sub(started)
		if onCheck != nil {
			onCheck(c, w.Elapsed)
		}
		switch {
		case c.Err != nil && ehpc.Permanent(c.Err):
			w.End, w.Err = Unreadable, c.Err
			return w
		case c.Err != nil:
			// A flaky operation log must not fail a restart that is under way;
			// keep the error for the final message and look again next tick.
			w.LastErr = c.Err
		case c.Found:
			w.LastErr = nil
			w.Job, w.Status, w.Seen = c.Job, c.Job.Status, true
			if c.Job.Done() {
				w.End = Done
				if c.Job.Status == ehpc.JobFailed {
					w.End = Failed
				}
				return w
			}
		default:
			w.LastErr = nil
		}
	}
}

func cloneBatches(in []Batch) []Batch {
	out := slices.Clone(in)
	for i := range out {
		out[i].Nodes = slices.Clone(out[i].Nodes)
		out[i].Earlier = slices.Clone(out[i].Earlier)
		out[i].Excluded = slices.Clone(out[i].Excluded)
	}
	return out
}
