// Package rollout is the restart engine that the resource and the action
// share. A restart, lone or rolling, is a rollout: a list of batches (one
// batch of every node without rolling), each sent as one restart request once
// the batch before it succeeded, and each carrying the facts a later apply
// needs to go on where this one stopped: every job it ever had, and for a
// request whose answer was lost, when it was sent and where its job may lie.
//
// One function, Next, decides what a batch needs next (skip, settle, send,
// wait or gate) from those facts (stepAt adds the gate a batch owes the one
// after it); running (Engine.Run), planning (Plan) and the words
// the provider finds for an end all ask it. A run ends in one of a flat set of
// End states, with the batches as they stand. The engine knows nothing of
// Terraform: it takes a clock.Clock and reports through an Observer, and the
// provider turns its Result into diagnostics in one place.
package rollout

import (
	"slices"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
)

// Batch statuses besides the operation log's own (pending, successful, failed).
const (
	// NotSent is a batch whose restart was never sent, or whose request the
	// log proved had no effect.
	NotSent = "not_sent"
	// Unknown is a batch whose request's answer was lost and whose job is not
	// found yet (no JobID); or whose job is known but cannot be read (JobID).
	Unknown = "unknown"
)

// Batch is one restart request of a rollout and what became of it.
type Batch struct {
	Nodes []string
	// JobID is the job of its last request; "" when none is known.
	JobID   string
	Status  string
	RetCode int
	// Earlier are the jobs it had before JobID, oldest first: a failed batch
	// sent again keeps its failed job here, and a lost request's settle the
	// other jobs its window held (Note.Others), so no job id is ever dropped.
	Earlier []string
	// Request is its last request: SentAt once sent, and the window its job
	// is looked for in while its outcome is unknown. A batch not sent may
	// hold the request of exactly its nodes that a record this one replaced
	// made and whose outcome was unknown (see Inherited).
	Request ehpc.Request
	// Excluded are, while the batch has no job, jobs of exactly its nodes
	// that a record this one replaced made: its job cannot be one of them, even
	// when one lies in its window, and a later apply must know that too.
	Excluded []string
	// Gate is where the batch stands with the health gate: "" when its job
	// succeeded without one (or has not yet), GateWaiting from its job's
	// success until its nodes are back in service, GatePassed after.
	Gate string
}

// Health gate stands of a batch (Batch.Gate).
const (
	GateWaiting = "waiting"
	GatePassed  = "passed"
)

// Inherited reports whether b, not sent, holds a replaced record's request
// of exactly its nodes whose outcome is unknown: every job that request may
// have made is added to Excluded before b is sent, so that b never takes it
// for its own.
func (b Batch) Inherited() bool {
	return b.JobID == "" && b.Status == NotSent && !b.Request.SentAt.IsZero()
}

// Carries reports whether b, with no job, holds facts of a record its own
// replaced, which a later apply needs as much as a job id.
func (b Batch) Carries() bool {
	return b.JobID == "" && (len(b.Excluded) > 0 || b.Inherited())
}

// inherit gives every batch of a new record that has no job what the records
// it replaced knew of exactly its nodes: their jobs, and the request whose
// outcome was unknown (of several, one standing for all).
func inherit(batches []Batch, replaced []Batch) {
	for i := range batches {
		b := &batches[i]
		if b.JobID != "" || b.Status != NotSent {
			continue
		}
		for _, x := range replaced {
			if !slices.Equal(x.Nodes, b.Nodes) {
				continue
			}
			for _, id := range append(x.Jobs(), x.Excluded...) {
				if !slices.Contains(b.Excluded, id) {
					b.Excluded = append(b.Excluded, id)
				}
			}
			if x.lost() || x.Inherited() {
				b.Request = ehpc.Merge(b.Request, x.Request)
			}
		}
	}
}

// Jobs are every job the batch ever had, oldest first.
func (b Batch) Jobs() []string {
	if b.JobID == "" {
		return slices.Clone(b.Earlier)
	}
	return append(slices.Clone(b.Earlier), b.JobID)
}

// lost reports whether the batch's request may have restarted its nodes
// although no job of it is known.
func (b Batch) lost() bool { return b.JobID == "" && b.Status == Unknown }

// Split cuts sorted, de-duplicated ids into batches of at most size nodes, in
// order, the first of at most first nodes (a canary; 0: size); size 0 means
// one batch of all.
func Split(ids []string, size, first int) []Batch {
	if size <= 0 || size > len(ids) {
		size = len(ids)
	}
	if first <= 0 || first > size {
		first = size
	}
	var out []Batch
	if first < size {
		out = append(out, Batch{Nodes: ids[:first:first], Status: NotSent})
		ids = ids[first:]
	}
	for chunk := range slices.Chunk(ids, max(size, 1)) {
		out = append(out, Batch{Nodes: chunk, Status: NotSent})
	}
	return out
}

// Mode is how a run treats a rollout besides its batches' facts: whether it
// waits for jobs (wait_for_completion), and holds each batch at the health
// gate until its nodes are back in service.
type Mode struct {
	Wait, Gate bool
}

// Step is what a batch needs next.
type Step int

const (
	// Skip: nothing; its job succeeded, or (not waiting) was accepted.
	Skip Step = iota
	// Settle: its request's answer was lost; find its job in the operation
	// log, which may prove the request had no effect (then Send).
	Settle
	// Send: it was never sent, or its job failed and it is sent again.
	Send
	// Wait: its job may still run; wait for it, never sending it again.
	Wait
	// Gate: its job succeeded; wait until its nodes are back in service.
	Gate
)

func (s Step) String() string { return [...]string{"skip", "settle", "send", "wait", "gate"}[s] }

// Next decides batch b's next step in mode m: the one place that does.
func Next(b Batch, m Mode) Step {
	switch {
	case b.Status == ehpc.JobSuccessful && b.Gate == GateWaiting && m.Gate:
		return Gate
	case b.Status == ehpc.JobSuccessful:
		return Skip
	case b.lost():
		return Settle
	case b.JobID == "" || b.Status == ehpc.JobFailed:
		return Send
	case !m.Wait:
		return Skip
	}
	return Wait
}

// Unfinished reports whether a record has a batch without a job: never sent,
// or sent with its outcome unknown.
func Unfinished(batches []Batch) bool {
	return slices.ContainsFunc(batches, func(b Batch) bool { return b.JobID == "" })
}

// stepAt is the step batch i of batches takes next in mode m: Next's, except
// that a batch GateBefore the next one's send is gated first.
func stepAt(batches []Batch, i int, m Mode) Step {
	if gatedAhead(batches, i, m, Send) {
		return Gate
	}
	return Next(batches[i], m)
}

// gatedAhead reports whether batch i is gated because the next batch takes
// one of the steps later, and GateBefore holds for it.
func gatedAhead(batches []Batch, i int, m Mode, later ...Step) bool {
	return i+1 < len(batches) && slices.Contains(later, Next(batches[i+1], m)) && GateBefore(batches, i+1, m)
}

// GateBefore reports whether, with the gate on, batch i-1 of batches is to be
// seen back in service before batch i is sent: its job succeeded, but no gate
// saw its nodes back (its rollout was resumed without the gate, after rolling
// was removed, or written before the gate existed). The promise is about the
// nodes, not the record's history: before a gated batch is sent, the batch
// before it is in service. A lost request is settled first, and the batch
// before gated after it, whatever it found: a look at the log sends nothing,
// and an older release's request, which kept no window, is bounded only by
// when it is settled, so it is settled as soon as an apply meets it.
func GateBefore(batches []Batch, i int, m Mode) bool {
	if i == 0 || i >= len(batches) || !m.Gate {
		return false
	}
	p := batches[i-1]
	return Next(p, m) == Skip && p.Status == ehpc.JobSuccessful && p.Gate != GatePassed
}

// Resumes reports whether an apply in mode m has work on a recorded rollout:
// a batch that stepAt gives a step. Green means done: a record is finished
// only once every batch needs nothing more, so a job whose wait was cut short
// is waited for again, a failed batch is sent again, and a batch held at the
// gate is gated again, by the next apply of the same configuration, whether
// it resumes the record (an update) or continues it in the replacement of a
// tainted one (Continues). Restarting a finished rollout again is the user's
// act: new triggers, or a replacement of the finished record.
func Resumes(batches []Batch, m Mode) bool {
	return slices.ContainsFunc(Plan(batches, m), func(s Step) bool { return s != Skip })
}

// Plan is the step each batch of a recorded rollout takes next when an apply
// in mode m resumes it, as far as the record tells: a batch that settles may
// turn out not processed and be sent too.
func Plan(batches []Batch, m Mode) []Step {
	steps := make([]Step, len(batches))
	for i := range batches {
		steps[i] = stepAt(batches, i, m)
		if gatedAhead(batches, i, m, Settle) {
			steps[i] = Gate // gated once the settle is done (Run settles first)
		}
	}
	return steps
}

// Continues reports whether a new record of the same restart as a record it
// replaces (same cluster, nodes and triggers) continues that record's rollout
// rather than starting one of its own: whenever the replaced record has work
// left (Resumes). Terraform replaces a record whose create failed (it taints
// it) in the next apply, and that apply must finish the rollout, never
// restart a batch that succeeded; a finished record replaced on purpose
// (-replace, taint) restarts every node once more.
func Continues(replaced []Batch, m Mode) bool {
	return len(replaced) > 0 && Resumes(replaced, m)
}

// Summary is the rollout as a whole, for the resource's top-level attributes:
// the job, ret_code and status of the last batch sent, with status "pending"
// while a later batch was never sent, so "successful" always means every node;
// sent is false when no batch was sent.
func Summary(batches []Batch) (jobID string, retCode int, status string, sent bool) {
	last := -1
	for i, b := range batches {
		if b.JobID != "" || b.lost() {
			last = i
		}
	}
	if last < 0 {
		return "", 0, NotSent, false
	}
	b := batches[last]
	status = b.Status
	if status == ehpc.JobSuccessful && last < len(batches)-1 {
		status = ehpc.JobPending
	}
	return b.JobID, b.RetCode, status, true
}

// FirstJob is the first job the rollout recorded, "" while none is.
func FirstJob(batches []Batch) string {
	for _, b := range batches {
		if jobs := b.Jobs(); len(jobs) > 0 {
			return jobs[0]
		}
	}
	return ""
}

// known are every job the batches recorded, or excluded: none of them can be
// another request's lost job.
func known(batches []Batch) []string {
	var ids []string
	for _, b := range batches {
		ids = append(append(ids, b.Jobs()...), b.Excluded...)
	}
	return ids
}

// End is how a run of a rollout ended: one flat set for every surface.
type End int

const (
	// Done: every batch succeeded (or, not waiting, was accepted), and with
	// the health gate its nodes are back in service. Every other End leaves a
	// declared node not restarted, or an outcome unknown, so every other End
	// is an error on every surface.
	Done End = iota
	// Failed: a batch's job failed.
	Failed
	// TimedOut: a batch's job did not finish within the timeout.
	TimedOut
	// OutOfTime: a batch was not sent, since less of the timeout was left
	// than the batch before it took.
	OutOfTime
	// Rejected: a batch's request was refused or never reached the API;
	// nothing of it happened.
	Rejected
	// Lost: a batch's request's answer was lost and its job was not found (the
	// log could not be read, several jobs match, or the run was cancelled
	// first): it may have restarted its nodes. It is recorded as Unknown, and
	// the next run settles it before anything else.
	Lost
	// Unreadable: a batch's job is known but cannot be read.
	Unreadable
	// Interrupted: cancelled while a batch's job may run.
	Interrupted
	// Cancelled: cancelled before a batch was sent; nothing of it is in
	// flight.
	Cancelled
	// NotBack: a batch's job succeeded, but its nodes were not all back in
	// service within the health gate's deadline (or the run's timeout). The
	// rollout stops there as at a failed job.
	NotBack
)

func (e End) String() string {
	return [...]string{"done", "failed", "timed out", "out of time", "rejected", "lost", "unreadable", "interrupted", "cancelled", "not back"}[e]
}

// Ends are every End, for tables that must cover them all.
var Ends = []End{Done, Failed, TimedOut, OutOfTime, Rejected, Lost, Unreadable, Interrupted, Cancelled, NotBack}

// Note is a batch whose request did not go the plain way.
type Note struct {
	Batch int
	JobID string
	// Adopted: its answer was lost and its job was found in the operation
	// log (Reason says what was lost); otherwise an earlier request provably
	// had no effect and it was sent again.
	Adopted bool
	Reason  string
	// Others are the other jobs of exactly its nodes in the lost request's
	// window, kept in Earlier: the request's own may be one of them.
	Others []string
}

// Result is what a run did: the batches as they stand, the batch it stopped
// at (the last when Done), and how it ended.
type Result struct {
	Batches []Batch
	At      int
	End     End
	// Err says why, for Rejected (the request's error), Lost (an
	// *ehpc.UnknownOutcomeError) and Unreadable.
	Err error
	// Wait is the last wait, for the ends a wait gives.
	Wait JobWait
	// Gate is the last health gate, for NotBack and for an Interrupted run
	// that stopped at the gate (Gate.Held).
	Gate GateWait
	// Took is how long the batch before At took, for OutOfTime.
	Took time.Duration
	// Timeout is the run's whole timeout.
	Timeout time.Duration
	Notes   []Note
}

// Stopped is the batch the run stopped at.
func (r Result) Stopped() Batch { return r.Batches[r.At] }
