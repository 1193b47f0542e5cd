// Package torture is the randomized fault test of the provider's promise that
// a restart declared once runs once (our Jepsen): it draws scenarios from a
// seed (a cluster, a restart's configuration, and a sequence of applies with
// the faults, interrupts, clock steps and follow-ups a pipeline meets between
// them), and checks what the simulator actually did against the invariants
// (Check). Running a scenario is the caller's: the provider package runs it
// through the provider's protocol server on fake time, and through the real
// Terraform CLI.
//
// Scenarios only contain what API.md and the provider's documented bounds
// allow: the operation log lags at most Bounds.LogLag, one of the API's
// machines has a clock off by at most Bounds.Skew, and this machine's clock
// steps by at most Bounds.Step (one draw of drawSurvivors leaves the log lag's
// bound on purpose, where the provider's second defence must hold). Everything
// else is fair: answers lost before
// or after the API acted, requests processed long after the client gave up (the
// simulator refuses them once their signed timestamp is too old, as the API
// does), gateways failing, the log down for minutes, listings without their
// list, jobs failing or hanging, interrupts anywhere, applies killed outright
// (nothing saved: Check excuses exactly what the killed apply sent, as
// documented), and the user's untaint, taint, triggers, rolling, batch size
// and health gate changes between applies.
package torture

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Bounds are the assumptions a scenario keeps to: what the provider documents
// it needs from the API and the machine it runs on.
type Bounds struct {
	// LogLag is the most the operation log lags behind a job's creation.
	LogLag time.Duration
	// Skew is how far one of the API's machines' clock may be off.
	Skew time.Duration
	// Step is how far this machine's clock may step during an apply.
	Step time.Duration
	// ClockMargin is how far before a request's send time (by the clocks) a
	// job can be taken for it: the provider documents that a restart of
	// exactly the same nodes that it does not know of, made that little before
	// a request whose answer is lost and that made no job, may be adopted
	// (missed, never doubled). Check allows exactly that.
	ClockMargin time.Duration
	// RequestValidity is how long the API processes a request after its
	// timestamp (60 s): with ClockMargin, it bounds the window in which
	// another tool's restart of exactly a lost request's nodes may be taken
	// for that request's (the documented exception). Only Check reads it,
	// and it is the caller's to scale.
	RequestValidity time.Duration
	// Scale shrinks every duration a scenario draws (job lengths, gaps,
	// delays, and the bounds above), and Cap bounds it, so that scenarios for
	// real time (the CLI) stay short; 1 and 0 (none) for fake time.
	// ClockMargin, which only Check reads, is the caller's to scale.
	Scale float64
	Cap   time.Duration
}

// minCreateTimeout is the least timeouts.create the provider accepts.
const minCreateTimeout = 10 * time.Second

// Production is the bounds the provider documents, at full scale.
var Production = Bounds{LogLag: 6 * time.Second, Skew: 10 * time.Second, Step: 10 * time.Second, ClockMargin: 25 * time.Second,
	RequestValidity: time.Minute, Scale: 1}

// Action is what the user does before an apply.
type Action int

const (
	Apply         Action = iota // terraform apply
	UntaintApply                // terraform untaint, then apply
	TaintApply                  // terraform taint, then apply
	TriggersApply               // change triggers, then apply
	ToggleRolling               // remove rolling if set (add it back if removed), then apply
	// Drawn only by drawEdits, after every other draw.
	EditBatchSize // set rolling.batch_size to Step.BatchSize, then apply
	ToggleGate    // turn the health gate off (health_gate.enabled = false), or back to its default, then apply
)

func (a Action) String() string {
	return [...]string{"apply", "untaint+apply", "taint+apply", "triggers+apply", "toggle-rolling+apply", "batch-size+apply", "toggle-gate+apply"}[a]
}

// FaultKind is one misbehaviour armed for a step.
type FaultKind int

const (
	LostBefore     FaultKind = iota // a restart request's connection drops before the API acts
	LostAfter                       // ... after the API acted
	LostLate                        // dropped at once, processed Delay later (or refused, if its timestamp is too old by then)
	GatewayBefore                   // HTML 502 from a gateway, the API never saw it
	GatewayAfter                    // HTML 502 after the API acted
	InternalAfter                   // ret_code 5000 after the API acted
	TruncatedAfter                  // the answer cut in half after the API acted
	SlowAfter                       // the answer comes Delay late (past the client's timeout) after the API acted
	Busy                            // ret_code 5100 on a restart request, Count times
	LogOutage                       // the operation log fails (HTML 502) from Delay after the step starts, for Length
	LogNoList                       // Count operation-log answers say ret_code 0 without job_set
	JobFails                        // the Skip+1-th job created from the step's start fails
	JobsSlow                        // every job created in the step runs Length (longer than most timeouts)
	// Drawn only by Generate's later draws (issue #31), never by genFault, so
	// that older seeds replay the same.
	Refused1400 // ret_code 1400 (nodes busy) on a restart request, Count times: refused, nothing done
	Refused2100 // ret_code 2100 (not found) on a restart request: refused, nothing done
	OtherTool   // another tool restarts exactly the nodes of batch Skip (0-based), Delay after the step starts
	// Drawn only by drawEdges, after every other draw.
	OtherToolNear // another tool restarts exactly the nodes of the step's Skip+1-th restart request, Delay after it reached the API
	// Drawn only by drawSurvivors, after every other draw.
	LogLagBeyond  // the operation log lags Length in the step, beyond the documented bound (see drawSurvivors)
	OtherToolNext // another tool restarts exactly the nodes of the batch after the step's Skip+1-th restart request's, Delay after it reached the API
)

var faultNames = [...]string{"lost-before", "lost-after", "lost-late", "gateway-before", "gateway-after", "internal-after",
	"truncated-after", "slow-after", "busy", "log-outage", "log-no-list", "job-fails", "jobs-slow", "refused-1400", "refused-2100", "other-tool", "other-tool-near", "log-lag-beyond", "other-tool-next"}

func (k FaultKind) String() string { return faultNames[k] }

// Fault is one fault armed at the start of a step. Skip is how many requests
// (restart requests, operation-log requests, or jobs, by kind) pass before it
// applies.
type Fault struct {
	Kind   FaultKind
	Skip   int
	Count  int
	Delay  time.Duration
	Length time.Duration
}

func (f Fault) String() string {
	s := f.Kind.String()
	if f.Skip > 0 {
		s += fmt.Sprintf(" skip=%d", f.Skip)
	}
	if f.Count > 1 {
		s += fmt.Sprintf(" count=%d", f.Count)
	}
	if f.Delay > 0 {
		s += " delay=" + f.Delay.String()
	}
	if f.Length > 0 {
		s += " length=" + f.Length.String()
	}
	return s
}

// Step is one apply and what precedes it.
type Step struct {
	// Gap is the time that passes before the step (the pipeline's pause).
	Gap    time.Duration
	Action Action
	Faults []Fault
	// Interrupt, when set, cancels the apply this long after it starts.
	Interrupt time.Duration
	// ClockStep moves this machine's clock by ClockStep, ClockStepAt after the
	// apply starts.
	ClockStep, ClockStepAt time.Duration
	// BatchSize is the new rolling.batch_size of an EditBatchSize step.
	BatchSize int
	// Kill, when set, kills the apply outright this long after it starts
	// (SIGKILL, the CI job's runner gone): the provider's calls end, and
	// Terraform saves nothing of the apply, so the state is what it was
	// before it.
	Kill time.Duration
}

// Scenario is one seed's test: a cluster of Nodes nodes, one restart resource
// of all of them, and its steps. After the steps, the faults are gone and at
// most two clean applies, once every job has ended, must reach an empty plan.
type Scenario struct {
	Seed  uint64
	Nodes int
	// BatchSize is rolling.batch_size; 0 means no rolling.
	BatchSize int
	Pause     time.Duration
	// NoWait sets wait_for_completion = false (never with rolling).
	NoWait bool
	// CreateTimeout is timeouts.create; 0 means the default.
	CreateTimeout time.Duration
	JobDuration   time.Duration
	// The simulator's unkind sides, for the whole scenario.
	LogLag     time.Duration
	PageCap    int
	TotalField string
	QueueIDs   bool
	// Backends are the clock offsets of the API's machines (nil: one machine).
	Backends []time.Duration
	Steps    []Step
	// How restarted nodes come back, for the health gate (on with rolling):
	// BootTime after their job ends, except node NeverBack (1-based; 0: none),
	// which never does until the faults are gone; and NodesFail listNodes
	// requests answered by a failing gateway at the start of every step.
	BootTime  time.Duration
	NeverBack int
	NodesFail int
	// NodeChurn makes the cluster's node list shift under the gate's looks:
	// on every NodeChurn-th listNodes request a node joins at a random place
	// in node_id order and one that joined earlier leaves (0: never).
	NodeChurn int
	// Drawn after those (issue #31): the cluster's health check is off
	// (NoHealthCheck), and BusyLog restarts of other nodes reach the log
	// before the first step, more than any page limit, all newer than
	// nothing the scenario makes (each step's faults may add refusals and
	// another tool's restarts too).
	NoHealthCheck bool
	BusyLog       int
	// batchOverhead is what batchTime adds to each batch for the looks at
	// the log and the nodes (drawn with a tight timeouts.create only).
	batchOverhead time.Duration
	// Legacy, drawn last (drawEdges), starts the scenario from a record an
	// older release left, which kept no window for a lost request; nil: the
	// first step creates the record.
	Legacy *Legacy
}

// Legacy is a rolling restart an older release left unfinished (the shape of
// internal/provider/testdata/upgrade/unfinished): it sent the batches before
// Lost one after the other, each once the one before succeeded, and lost the
// answer of batch Lost's request (processed by the API or not: Processed),
// recording that batch as unknown with no send time and no window. Its
// nodes were restarted once before, by another tool, Before the release's
// run: a restart the lost request's settle must not take for its own.
type Legacy struct {
	Lost      int
	Processed bool
	Tainted   bool // the release's apply was a create, which Terraform tainted
	Before    time.Duration
	// NoGate: the release predates the health gate, and sent each batch as
	// soon as the job before it succeeded, whether its nodes were back or not
	// (drawn by drawSurvivors).
	NoGate bool
}

// Generate draws the scenario of seed within b.
func Generate(seed uint64, b Bounds) Scenario {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) //nolint:gosec // a reproducible draw, not a secret
	d := func(lo, hi time.Duration) time.Duration {
		return b.scale(lo + time.Duration(r.Int64N(int64(hi-lo)+1)))
	}
	chance := func(p float64) bool { return r.Float64() < p }
	sc := Scenario{Seed: seed, Nodes: 1 + r.IntN(6), JobDuration: d(5*time.Second, 90*time.Second)}
	if chance(0.7) {
		sc.BatchSize = 1 + r.IntN(max(1, sc.Nodes/2))
		if chance(0.4) {
			sc.Pause = d(time.Second, 30*time.Second).Round(time.Second)
		}
	} else if chance(0.15) {
		sc.NoWait = true
	}
	if chance(0.2) {
		// Short, but long enough for every batch when nothing is slowed: a
		// timeout too short for the rollout is a mistake in the configuration,
		// which no fault going away mends.
		batches := int64(1)
		if sc.BatchSize > 0 {
			batches = int64((sc.Nodes + sc.BatchSize - 1) / sc.BatchSize)
		}
		perBatch := sc.JobDuration*3/2 + sc.Pause + b.scale(20*time.Second)
		need := time.Duration(batches*int64(perBatch)) + b.scale(3*time.Minute)
		sc.CreateTimeout = max(d(2*time.Minute, 10*time.Minute), need, minCreateTimeout).Round(time.Second)
	}
	if chance(0.6) {
		sc.LogLag = d(0, b.LogLag)
	}
	if chance(0.3) {
		sc.PageCap = 1 + r.IntN(3)
	}
	sc.TotalField = []string{"", "total_sum", "none"}[r.IntN(3)]
	sc.QueueIDs = chance(0.5)
	if chance(0.5) {
		sc.Backends = make([]time.Duration, 2+r.IntN(2))
		skew := d(time.Second, b.Skew)
		if chance(0.5) {
			skew = -skew
		}
		sc.Backends[r.IntN(len(sc.Backends))] = skew
	}
	steps := 1 + r.IntN(5)
	for i := range steps {
		sc.Steps = append(sc.Steps, genStep(r, d, chance, b, i == 0))
	}
	// Drawn last, so that every earlier draw of a seed is as it was before
	// the health gate: the seeds named in issue #18's note replay the same.
	if chance(0.6) {
		sc.BootTime = d(0, 40*time.Second)
	}
	if chance(0.12) {
		sc.NeverBack = 1 + r.IntN(sc.Nodes)
	}
	if chance(0.25) {
		sc.NodesFail = 1 + r.IntN(4)
	}
	// Drawn after the health gate's draws, for the same reason (issue #30):
	// a node list that shifts between the gate's pages and looks, and a
	// total that is there only every other answer.
	if chance(0.3) {
		sc.NodeChurn = 1 + r.IntN(3)
	}
	if chance(0.15) {
		sc.TotalField = "sometimes"
	}
	sc.drawIssue31(r, d, chance)
	sc.drawEdges(r, d, chance, b)
	if chance(0.1) {
		// Drawn last, for the same reason. A kill replaces the step's
		// interrupt: what Terraform saves is then nothing at all.
		st := &sc.Steps[r.IntN(len(sc.Steps))]
		st.Kill, st.Interrupt = d(time.Second, 3*time.Minute), 0
	}
	sc.drawEdits(r, chance)
	sc.drawSurvivors(r, d, chance)
	return sc
}

// drawSurvivors aims at the situations in which a mutant of make mutants
// survived a 10-minute torture run (issue #31), after every other draw:
//   - a record from a release before the health gate, whose last successful
//     batch's node never came back (the release did not wait for it) and
//     whose lost request had no effect: the resume sends that request's batch
//     again, and must first see the batch before it back in service, though
//     the record says nothing of a gate (mutant
//     stepat-gate-only-for-gated-records);
//   - the one draw that leaves the documented bounds, on purpose: the first
//     request's answer is lost after the API acted, and the log lags its
//     job past the settle's deadline (LogLagBeyond), which the provider has
//     measured no job of its own to know. The settle finds no job and sends
//     the batch again, and the API refuses the resend, since the lost
//     request's job (slowed to outlast it) still restarts the nodes. That
//     refusal is the provider's second defence: the outcome stays unknown,
//     and a later apply finds the job, never restarting the nodes twice
//     (mutant resend-busy-is-rejection). A job that ended before the resend
//     would be restarted again: the bound is documented for that reason;
//   - another tool's restart of exactly batch 2's nodes while batch 1's job
//     runs, which the wait for that job lists, and batch 2's answer lost
//     before the API acted, sent within the clock margin of that restart:
//     the settle must not take a job its client listed before the send for
//     the request's (mutant settle-keeps-listed-before-send). Short jobs, no
//     boot, and a pause just longer than the restart's head start let the
//     restart end before batch 2 is sent;
//   - a timeouts.create that runs out a fraction of a batch into the last
//     batch, nothing slowed: the apply must stop before that batch (Timed
//     Out Before Next Batch), not send it to time out while its nodes restart
//     (mutant send-without-time-left; Check's "timed right").
func (sc *Scenario) drawSurvivors(r *rand.Rand, d func(lo, hi time.Duration) time.Duration, chance func(float64) bool) {
	if l := sc.Legacy; l != nil && !l.Processed && chance(0.5) {
		l.NoGate = true
		prev := sc.BatchNodes(l.Lost - 1)
		sc.NeverBack = sc.nodeIndex(prev[r.IntN(len(prev))])
	}
	if sc.Legacy == nil && chance(0.08) {
		st := &sc.Steps[0]
		st.Faults = []Fault{{Kind: LostAfter, Count: 1}, {Kind: JobsSlow, Count: 1, Length: d(20*time.Minute, 60*time.Minute)},
			{Kind: LogLagBeyond, Count: 1, Length: d(100*time.Second, 150*time.Second)}}
		st.Interrupt, st.Kill = 0, 0
	} else if sc.Legacy == nil && sc.BatchSize > 0 && sc.Nodes > sc.BatchSize && chance(0.1) {
		sc.JobDuration, sc.BootTime, sc.NeverBack, sc.Backends = d(6*time.Second, 12*time.Second), 0, 0, nil
		sc.LogLag = min(sc.LogLag, d(0, 2*time.Second))
		head := d(time.Second, 3*time.Second)
		sc.Pause = (head + d(2*time.Second, 4*time.Second)).Round(time.Second)
		st := &sc.Steps[0]
		st.Faults = []Fault{{Kind: LostBefore, Skip: 1, Count: 1}, {Kind: OtherToolNext, Count: 1, Delay: head}}
		st.Interrupt, st.Kill = 0, 0
	} else if sc.BatchSize > 0 && sc.Nodes > sc.BatchSize && chance(0.1) {
		sc.JobDuration = d(30*time.Second, 90*time.Second)
		sc.batchOverhead = d(5*time.Second, 5*time.Second)
		per := sc.batchTime()
		part := time.Duration(float64(per) * (0.1 + 0.3*r.Float64()))
		sc.CreateTimeout = max(per*time.Duration(sc.batches()-1)+part, minCreateTimeout).Round(time.Second)
	}
}

// batches is how many batches the scenario's rolling argument cuts.
func (sc Scenario) batches() int {
	if sc.BatchSize <= 0 {
		return 1
	}
	return (sc.Nodes + sc.BatchSize - 1) / sc.BatchSize
}

// batchTime is about how long one batch takes with nothing slowed: its job,
// its nodes' boot, the pause before the next, and the looks in between.
func (sc Scenario) batchTime() time.Duration {
	return sc.JobDuration + sc.BootTime + sc.Pause + sc.batchOverhead
}

// CleanApplies is how many applies, once the faults are gone, must reach an
// empty plan: two (one may find a failed job, or the nodes of a batch not
// back yet, and stop there; the next finishes), and one more when
// timeouts.create is shorter than the whole rollout with nothing slowed,
// which then takes two applies of its own.
func (sc Scenario) CleanApplies() int {
	if sc.CreateTimeout > 0 && sc.CreateTimeout < time.Duration(sc.batches())*sc.batchTime() {
		return 3
	}
	return 2
}

// BatchOf is the batch (0-based) whose nodes are exactly nodes, as the
// scenario's rolling argument cuts them; -1 when none is.
func (sc Scenario) BatchOf(nodes []string) int {
	for i := 0; i == 0 || sc.BatchSize > 0 && len(sc.BatchNodes(i)) > 0; i++ {
		if slices.Equal(sc.BatchNodes(i), nodes) {
			return i
		}
	}
	return -1
}

// nodeIndex is the 1-based place of node id in NodeIDs (0: none).
func (sc Scenario) nodeIndex(id string) int {
	for i, n := range sc.NodeIDs() {
		if n == id {
			return i + 1
		}
	}
	return 0
}

// drawEdits turns some of the later plain applies into the settings a user
// edits between applies (issue #31), after every other draw: another
// rolling.batch_size (a tainted rollout refuses a cut of its own nodes that
// differs from its record's, and the user sets it back), and the health gate
// turned off or back on.
func (sc *Scenario) drawEdits(r *rand.Rand, chance func(float64) bool) {
	for i := 1; i < len(sc.Steps); i++ {
		st := &sc.Steps[i]
		if st.Action != Apply {
			continue
		}
		switch {
		case sc.BatchSize > 0 && sc.Nodes > 1 && chance(0.15):
			n := 1 + r.IntN(sc.Nodes-1) // 1..Nodes, not the scenario's own
			if n >= sc.BatchSize {
				n++
			}
			st.Action, st.BatchSize = EditBatchSize, n
		case !sc.NoWait && chance(0.1):
			st.Action = ToggleGate
		}
	}
}

// drawEdges biases the draws toward the edges where a user gets hurt (issue
// #31), after every older draw, so that each seed's earlier draws stay as
// they were: several candidate jobs of the same nodes in one lost request's
// window (another tool restarting exactly those nodes just after the
// request's own job), a request processed at the very end of its lease by a
// backend whose clock is slow, a lost request carried over by a replacement
// that itself sent nothing and is replaced again (the records' requests
// merged), a start from a record an older release left (Legacy), and a
// replacement while the replaced record's lost request may still be processed. make
// torture's coverage gate fails a run whose seeds never reach the branches
// these lead to.
func (sc *Scenario) drawEdges(r *rand.Rand, d func(lo, hi time.Duration) time.Duration, chance func(float64) bool, b Bounds) {
	batches := 1
	if sc.BatchSize > 0 {
		batches = (sc.Nodes + sc.BatchSize - 1) / sc.BatchSize
	}
	// The first step sends for certain; a later one only when something is
	// left to do.
	someStep := func() int {
		if chance(0.6) {
			return 0
		}
		return r.IntN(len(sc.Steps))
	}
	first := func(st *Step, fs ...Fault) { st.Faults = append(fs, st.Faults...) }
	if chance(0.3) {
		// A lost answer, and another tool's restart of exactly the request's
		// nodes soon after its own job would have ended (refused while one
		// still runs), inside the window: two candidates, or one not its own.
		// The request is the step's first or, with several batches, second.
		lost := Fault{Kind: []FaultKind{LostAfter, LostAfter, LostAfter, LostBefore, LostLate}[r.IntN(5)], Skip: r.IntN(min(batches, 2)), Count: 1}
		if lost.Kind == LostLate {
			lost.Delay = d(500*time.Millisecond, 30*time.Second)
		}
		near := Fault{Kind: OtherToolNear, Skip: lost.Skip, Count: 1, Delay: lost.Delay + sc.JobDuration + d(time.Second, 20*time.Second)}
		first(&sc.Steps[someStep()], lost, near)
	}
	if chance(0.15) {
		// The lease's end on the slow backend: a request dropped and processed
		// 50 to 70 s later, which a backend whose clock is behind still
		// accepts (the simulator refuses what its clock finds too old).
		if sc.Backends == nil {
			sc.Backends = []time.Duration{0, -d(b.Skew/2, b.Skew)}
		}
		first(&sc.Steps[someStep()], Fault{Kind: LostLate, Skip: r.IntN(2), Count: 1, Delay: d(50*time.Second, 70*time.Second)})
	}
	if chance(0.15) {
		// A replaced lost request, replaced again: the first apply loses an
		// answer and is interrupted while it settles; new triggers replace
		// the record while the log is down, so the replacement sends nothing
		// and keeps the lost request (tainted); the next plain apply replaces
		// that record too, and carries both records' requests as one.
		st := &sc.Steps[0]
		first(st, Fault{Kind: []FaultKind{LostAfter, LostBefore}[r.IntN(2)], Count: 1})
		st.Interrupt = d(2*time.Second, 60*time.Second)
		retrigger := Step{Gap: d(0, 30*time.Second), Action: TriggersApply,
			Faults: []Fault{{Kind: LogOutage, Count: 1, Delay: d(time.Second, 3*time.Second), Length: d(3*time.Minute, 5*time.Minute)}}}
		again := Step{Gap: d(0, 2*time.Minute), Action: Apply}
		sc.Steps = append(sc.Steps[:1], append([]Step{retrigger, again}, sc.Steps[1:]...)...)
	}
	if batches > 1 && chance(0.12) {
		sc.Legacy = &Legacy{Lost: 1 + r.IntN(batches-1), Processed: chance(0.5), Tainted: chance(0.4), Before: d(10*time.Minute, 2*time.Hour)}
		// The release sent each batch once the one before was back (its
		// requests are checked by the gate like any): no node that never
		// comes back.
		sc.NeverBack = 0
	}
	if chance(0.1) {
		// A lost request still live when new triggers replace its record: the
		// first apply's request is processed 20 to 55 s late, and the apply is
		// interrupted before; the replacement's own answer is lost before the
		// API acts, so its settle would take the old request's job for its
		// own, had the replacement not waited for that request to end first.
		st := &sc.Steps[0]
		first(st, Fault{Kind: LostLate, Count: 1, Delay: d(20*time.Second, 55*time.Second)})
		st.Interrupt = d(2*time.Second, 15*time.Second)
		retrigger := Step{Gap: d(0, 5*time.Second), Action: TriggersApply, Faults: []Fault{{Kind: LostBefore, Count: 1}}}
		sc.Steps = append(sc.Steps[:1], append([]Step{retrigger}, sc.Steps[1:]...)...)
	}
	if sc.BatchSize == 0 && !sc.NoWait && chance(0.15) {
		// A replaced record's job in a lost request's window, which only the
		// record's excluded jobs keep out: a short restart, new triggers at
		// once, the replacement's answer lost before the API acts and the
		// apply interrupted while it settles; the next apply settles it from
		// the record in state (no health gate here, which would hold the
		// replacement past the window).
		sc.JobDuration = d(5*time.Second, 15*time.Second)
		retrigger := Step{Gap: d(0, 3*time.Second), Action: TriggersApply, Faults: []Fault{{Kind: LostBefore, Count: 1}},
			Interrupt: d(2*time.Second, 30*time.Second)}
		again := Step{Gap: d(0, 2*time.Minute), Action: Apply}
		sc.Steps = append(sc.Steps[:1], append([]Step{retrigger, again}, sc.Steps[1:]...)...)
	}
}

// drawIssue31 draws what issue #31 widened the world by, after every older
// draw: a cluster without a health check, a log busier than any page limit,
// and in each step refusals and another tool's restart of exactly one batch's
// nodes (which a lost request's settle may take for its own: the documented
// exception, a restart missed, never doubled).
func (sc *Scenario) drawIssue31(r *rand.Rand, d func(lo, hi time.Duration) time.Duration, chance func(float64) bool) {
	sc.NoHealthCheck = chance(0.2)
	if chance(0.15) {
		sc.BusyLog = 100 + r.IntN(2500)
	}
	batches := 1
	if sc.BatchSize > 0 {
		batches = (sc.Nodes + sc.BatchSize - 1) / sc.BatchSize
	}
	for i := range sc.Steps {
		st := &sc.Steps[i]
		if chance(0.12) {
			st.Faults = append(st.Faults, Fault{Kind: Refused1400, Skip: r.IntN(3), Count: 1 + r.IntN(2)})
		}
		if chance(0.04) {
			st.Faults = append(st.Faults, Fault{Kind: Refused2100, Skip: r.IntN(3), Count: 1})
		}
		if chance(0.12) {
			st.Faults = append(st.Faults, Fault{Kind: OtherTool, Skip: r.IntN(batches), Count: 1, Delay: d(0, 3*time.Minute)})
		}
	}
}

// BatchNodes are the nodes of batch i (0-based) as the scenario's rolling
// argument cuts them (without a canary); every node without rolling.
func (sc Scenario) BatchNodes(i int) []string {
	ids := sc.NodeIDs()
	if sc.BatchSize <= 0 {
		return ids
	}
	lo := min(i*sc.BatchSize, len(ids))
	return ids[lo:min(lo+sc.BatchSize, len(ids))]
}

func genStep(r *rand.Rand, d func(lo, hi time.Duration) time.Duration, chance func(float64) bool, b Bounds, first bool) Step {
	var st Step
	switch x := r.Float64(); {
	case first:
	case x < 0.4:
		st.Action = Apply
	case x < 0.7:
		st.Action = UntaintApply
	case x < 0.8:
		st.Action = TaintApply
	case x < 0.92:
		st.Action = TriggersApply
	default:
		st.Action = ToggleRolling
	}
	switch x := r.Float64(); {
	case first:
	case x < 0.5:
		st.Gap = d(0, 5*time.Second)
	case x < 0.8:
		st.Gap = d(5*time.Second, 2*time.Minute)
	default:
		st.Gap = d(10*time.Minute, time.Hour)
	}
	for range r.IntN(4) {
		st.Faults = append(st.Faults, genFault(r, d, chance))
	}
	if chance(0.25) {
		st.Interrupt = d(100*time.Millisecond, 4*time.Minute)
	}
	if chance(0.2) {
		st.ClockStep = d(time.Second, b.Step)
		if chance(0.5) {
			st.ClockStep = -st.ClockStep
		}
		st.ClockStepAt = d(0, 3*time.Minute)
	}
	return st
}

// faultWeights make lost answers, the log going down and failed jobs, whose
// combinations the resumes must survive, the most frequent draws.
var faultWeights = [...]int{
	LostBefore: 3, LostAfter: 3, LostLate: 2, GatewayBefore: 1, GatewayAfter: 2, InternalAfter: 1, TruncatedAfter: 1,
	SlowAfter: 1, Busy: 1, LogOutage: 4, LogNoList: 1, JobFails: 3, JobsSlow: 1,
}

func genFault(r *rand.Rand, d func(lo, hi time.Duration) time.Duration, chance func(float64) bool) Fault {
	total := 0
	for _, w := range faultWeights {
		total += w
	}
	kind, x := FaultKind(0), r.IntN(total)
	for x >= faultWeights[kind] {
		x -= faultWeights[kind]
		kind++
	}
	f := Fault{Kind: kind, Skip: r.IntN(3), Count: 1}
	switch f.Kind {
	case LostLate:
		f.Delay = d(500*time.Millisecond, 90*time.Second)
	case SlowAfter:
		f.Delay = d(31*time.Second, 45*time.Second)
	case Busy:
		f.Count = 1 + r.IntN(3)
	case LogOutage:
		f.Delay = d(0, 2*time.Minute)
		if chance(0.5) {
			f.Delay = d(0, 5*time.Second)
		}
		f.Length = d(5*time.Second, 4*time.Minute)
	case LogNoList:
		f.Skip = r.IntN(8)
		f.Count = 1 + r.IntN(3)
	case JobsSlow:
		f.Length = d(20*time.Minute, 90*time.Minute)
		if chance(0.5) { // rarer than a failure: a slow job costs a whole timeout
			f.Kind, f.Length = JobFails, 0
		}
	}
	return f
}

// scale shrinks a drawn duration for real-time runs.
func (b Bounds) scale(v time.Duration) time.Duration {
	if b.Scale > 0 && b.Scale != 1 {
		v = time.Duration(float64(v) * b.Scale)
	}
	if b.Cap > 0 {
		v = min(v, b.Cap)
	}
	return v
}

// NodeIDs are the scenario cluster's nodes, sorted.
func (sc Scenario) NodeIDs() []string {
	ids := make([]string, sc.Nodes)
	for i := range ids {
		ids[i] = fmt.Sprintf("cln-t%07d", i+1)
	}
	return ids
}

// ClusterID is the scenario's cluster.
const ClusterID = "ehpc-torture1"

// String is the scenario as a replay: every draw, one line a step.
func (sc Scenario) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %d nodes", sc.Seed, sc.Nodes)
	if sc.BatchSize > 0 {
		fmt.Fprintf(&b, ", rolling batch_size=%d pause=%s", sc.BatchSize, sc.Pause)
	}
	if sc.NoWait {
		b.WriteString(", wait_for_completion=false")
	}
	if sc.CreateTimeout > 0 {
		fmt.Fprintf(&b, ", timeouts.create=%s", sc.CreateTimeout)
	}
	fmt.Fprintf(&b, ", jobs %s, log lag %s, page cap %d, total %q, queue ids %v, backends %v, boot %s",
		sc.JobDuration, sc.LogLag, sc.PageCap, sc.TotalField, sc.QueueIDs, sc.Backends, sc.BootTime)
	if sc.NeverBack > 0 {
		fmt.Fprintf(&b, ", %s never back", sc.NodeIDs()[sc.NeverBack-1])
	}
	if sc.NodesFail > 0 {
		fmt.Fprintf(&b, ", %d listNodes failures a step", sc.NodesFail)
	}
	if sc.NodeChurn > 0 {
		fmt.Fprintf(&b, ", a node joins and one leaves every %d listNodes requests", sc.NodeChurn)
	}
	if sc.NoHealthCheck {
		b.WriteString(", no health check")
	}
	if sc.BusyLog > 0 {
		fmt.Fprintf(&b, ", %d other restarts in the log", sc.BusyLog)
	}
	if l := sc.Legacy; l != nil {
		fmt.Fprintf(&b, ", from a record an older release left: batch %d's answer lost (processed %v), tainted %v, its nodes restarted by another tool %s before",
			l.Lost+1, l.Processed, l.Tainted, l.Before)
		if l.NoGate {
			b.WriteString(", the release had no health gate")
		}
	}
	b.WriteString("\n")
	for i, st := range sc.Steps {
		fmt.Fprintf(&b, "  step %d: after %s, %s", i+1, st.Gap, st.Action)
		if st.Action == EditBatchSize {
			fmt.Fprintf(&b, " (batch_size=%d)", st.BatchSize)
		}
		for _, f := range st.Faults {
			fmt.Fprintf(&b, "; %s", f)
		}
		if st.Interrupt > 0 {
			fmt.Fprintf(&b, "; interrupt at %s", st.Interrupt)
		}
		if st.ClockStep != 0 {
			fmt.Fprintf(&b, "; clock steps %s at %s", st.ClockStep, st.ClockStepAt)
		}
		if st.Kill > 0 {
			fmt.Fprintf(&b, "; killed at %s", st.Kill)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "  then: faults gone, every job ended, at most %d applies to an empty plan\n", sc.CleanApplies())
	return b.String()
}

// Shrink returns the scenarios one simplification smaller than sc (a step
// fewer, a fault fewer, no interrupt, no clock step, no kill, one backend), for finding
// a minimal replay of a failure.
func (sc Scenario) Shrink() []Scenario {
	var out []Scenario
	for i := range sc.Steps {
		if i == 0 && len(sc.Steps) == 1 {
			break
		}
		s := sc.clone()
		s.Steps = append(s.Steps[:i], s.Steps[i+1:]...)
		if i == 0 {
			s.Steps[0].Action, s.Steps[0].Gap = Apply, 0
		}
		out = append(out, s)
	}
	for i, st := range sc.Steps {
		for j := range st.Faults {
			s := sc.clone()
			s.Steps[i].Faults = append(s.Steps[i].Faults[:j], s.Steps[i].Faults[j+1:]...)
			out = append(out, s)
		}
		if st.Interrupt > 0 {
			s := sc.clone()
			s.Steps[i].Interrupt = 0
			out = append(out, s)
		}
		if st.ClockStep != 0 {
			s := sc.clone()
			s.Steps[i].ClockStep, s.Steps[i].ClockStepAt = 0, 0
			out = append(out, s)
		}
		if st.Kill > 0 {
			s := sc.clone()
			s.Steps[i].Kill = 0
			out = append(out, s)
		}
	}
	if len(sc.Backends) > 0 {
		s := sc.clone()
		s.Backends = nil
		out = append(out, s)
	}
	for _, drop := range []func(*Scenario) bool{
		func(s *Scenario) bool { ok := s.NeverBack > 0; s.NeverBack = 0; return ok },
		func(s *Scenario) bool { ok := s.NodesFail > 0; s.NodesFail = 0; return ok },
		func(s *Scenario) bool { ok := s.BootTime > 0; s.BootTime = 0; return ok },
		func(s *Scenario) bool { ok := s.NodeChurn > 0; s.NodeChurn = 0; return ok },
		func(s *Scenario) bool { ok := s.NoHealthCheck; s.NoHealthCheck = false; return ok },
		func(s *Scenario) bool { ok := s.BusyLog > 0; s.BusyLog = 0; return ok },
		func(s *Scenario) bool { ok := s.Legacy != nil; s.Legacy = nil; return ok },
	} {
		if s := sc.clone(); drop(&s) {
			out = append(out, s)
		}
	}
	return out
}

func (sc Scenario) clone() Scenario {
	s := sc
	s.Backends = append([]time.Duration(nil), sc.Backends...)
	if sc.Legacy != nil {
		l := *sc.Legacy
		s.Legacy = &l
	}
	s.Steps = make([]Step, len(sc.Steps))
	for i, st := range sc.Steps {
		st.Faults = append([]Fault(nil), st.Faults...)
		s.Steps[i] = st
	}
	return s
}
