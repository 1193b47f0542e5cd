package torture

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// Observation is what one apply left: the requests it made (a range of the
// simulator's request log), everything it told the user, and the state after
// it. The runner records one per apply, the final clean ones included.
type Observation struct {
	Label string
	// Gen is the declared restart the apply's requests belong to: it starts
	// at 1 and grows by one only with a user's act (the first create, a
	// triggers change, a replacement of a finished record, or a record gone
	// from state), never with the pipeline's replacement of a record Terraform
	// tainted after a failed create, which continues the same restart.
	Gen int
	// Failed: the apply exited non-zero (an error, an interrupt). At is when
	// it ended, by the simulator's clock. Gated: the health gate was on for
	// it (rolling, waiting).
	Failed bool
	At     time.Time
	Gated  bool
	// UserTaint: the apply followed the user's terraform taint of a record
	// Terraform had not tainted, whose replacement gets none of the record's
	// private state (see accountedAfter).
	UserTaint bool
	// Killed: the apply was killed outright; nothing of it was saved, and
	// what it sent is unknown to every record (documented: the next apply
	// starts over from the state before it).
	Killed bool
	// FirstRequest and EndRequest bound the apply's requests in the
	// simulator's request log (EndRequest excluded).
	FirstRequest, EndRequest int
	// OneClient: every request from ApplyFirst to EndRequest was made by one
	// client, the apply's provider instance (the plan's requests, before it,
	// are another's), so a job an answer listed to it was known to it from
	// then on (knewOf). False when not known.
	OneClient  bool
	ApplyFirst int
	// Messages are every diagnostic of the plan and the apply, "summary:
	// detail" a line.
	Messages string
	// State is the resource's attributes after the apply (nil: not in state),
	// and Private its private state, as the provider's framework encodes it
	// (Terraform keeps it beside the attributes): the record's bookkeeping.
	State   map[string]any
	Private []byte
	Tainted bool
	// Panic is what the provider panicked with, if it did.
	Panic string
}

// Batch is one element of the state's batches, as the checker reads it.
type Batch struct {
	JobID   string
	Jobs    []string // every job id the batch records (current and earlier)
	Nodes   []string
	Status  string
	Created [2]string // the window of an unknown request, when recorded (from, until)
}

// Batches reads the record's batches: the state's batches attribute, with
// each batch's earlier jobs and window from the bookkeeping in private state
// (or, in a record of a release before it moved there, from the attribute).
// A state without batches (a restart of one batch from before they were
// recorded) is its top-level job.
func Batches(state map[string]any, private []byte) []Batch {
	raw, _ := state["batches"].([]any)
	kept := bookkeeping(private)
	var out []Batch
	for i, x := range raw {
		m, _ := x.(map[string]any)
		if i < len(kept) {
			m = maps.Clone(m)
			maps.Copy(m, kept[i])
		}
		b := Batch{JobID: str(m["job_id"]), Status: str(m["status"]), Nodes: strs(m["node_ids"])}
		for _, k := range []string{"job_ids", "earlier_job_ids"} {
			b.Jobs = append(b.Jobs, strs(m[k])...)
		}
		if b.JobID != "" && !slices.Contains(b.Jobs, b.JobID) {
			b.Jobs = append(b.Jobs, b.JobID)
		}
		b.Created = [2]string{str(m["job_created_after"]), str(m["job_created_before"])}
		out = append(out, b)
	}
	return out
}

// Batches reads the record the apply left.
func (o Observation) Batches() []Batch { return Batches(o.State, o.Private) }

// bookkeeping decodes the batches' bookkeeping from a resource's private
// state: the framework's JSON object of keys, each value JSON in base64.
func bookkeeping(private []byte) []map[string]any {
	var keys map[string][]byte
	var kept []map[string]any
	if json.Unmarshal(private, &keys) != nil || json.Unmarshal(keys["batches"], &kept) != nil {
		return nil
	}
	return kept
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func strs(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, str(x))
	}
	return out
}

// Violation is a broken invariant, with what shows it.
type Violation struct {
	Invariant string
	Detail    string
}

func (v Violation) String() string { return v.Invariant + ": " + v.Detail }

// Check compares what the simulator did (jobs and requests) with what the
// applies recorded and said, and returns every broken invariant:
//   - at most once: in one declared restart, a node's jobs that did not fail
//     number at most one, and one apply never makes two jobs of a node;
//   - accounted: after every apply, every job of the current declared restart
//     is in state (a failed batch's job too, after the batch was sent again), or
//     is the job of a batch recorded as unknown with its nodes; with nothing in
//     state, the apply's messages name it or say its restart may have happened;
//   - settled right: every job a batch records restarted exactly its nodes, for
//     the current declared restart, and no job is recorded by two batches;
//     of a lost request's, none its client listed before sending it;
//   - timed right: an apply that timed out waiting for a batch did not send
//     it with less of the timeout left than the batch before it took;
//   - status true: a record whose status is successful has every batch's
//     job successful;
//   - no panic.
//
// Liveness (an empty plan after at most Scenario.CleanApplies clean applies) is the runner's to
// check: only it can plan. What a pipeline relies on is CheckPipeline's.
func Check(jobs []ehpcsim.Job, reqs []ehpcsim.Request, obs []Observation, bound Bounds) []Violation {
	c := checker{jobs: jobs, reqs: reqs, obs: obs, margin: elder{bound.ClockMargin, bound.RequestValidity, bound.Skew}}
	c.atMostOnce()
	c.out = append(c.out, checkAdoptions(jobs, obs, c.margin, reqs)...)
	for i, o := range obs {
		if o.Panic != "" {
			c.add("no panic", "apply %d (%s) panicked: %s", i+1, o.Label, o.Panic)
		}
		if o.Killed {
			continue // its state is the one before it, checked there
		}
		c.records(i)
		c.accountedAfter(i)
		c.timedRight(i, bound.Step)
		c.statusTrue(i)
	}
	return c.out
}

// statusTrue: a record whose status is "successful" has every batch's job
// successful: the status a user reads means every node restarted.
func (c *checker) statusTrue(i int) {
	o := c.obs[i]
	if o.State["status"] != "successful" {
		return
	}
	for bi, b := range o.Batches() {
		if b.Status != "successful" {
			c.add("status true", "after apply %d (%s), the record's status is successful, but batch %d's is %q (job %q)", i+1, o.Label, bi+1, b.Status, b.JobID)
		}
	}
}

// timedOutWaiting is the summary of an apply that timed out waiting for a job.
const timedOutWaiting = "Timed Out Waiting For Restart Job"

// timedRight: an apply that timed out waiting for a batch's job did not send
// that batch with less of the timeout left than the batch before it took (it
// stops first: Timed Out Before Next Batch). Checked where the provider's
// measure is the simulator's too: both batches sent by the apply with plain
// answers (each waited for from its send), the later job no slower than the
// earlier. Had the apply kept the promise, it lasted until about the later
// job's end: less two steps of this machine's clock (one shortens what the
// earlier batch seemed to take, the same lengthens the time that seemed
// left) and a second.
func (c *checker) timedRight(i int, step time.Duration) {
	o := c.obs[i]
	if !strings.Contains(o.Messages, timedOutWaiting) {
		return
	}
	bs := o.Batches()
	for k := 1; k < len(bs); k++ {
		cur, ok := c.plainJob(o, bs[k].JobID)
		prev, okPrev := c.plainJob(o, bs[k-1].JobID)
		if !ok || !okPrev || cur.Ended.IsZero() || prev.Ended.IsZero() || cur.Ended.Sub(cur.Started) > prev.Ended.Sub(prev.Started)+time.Second {
			continue
		}
		if early := cur.Ended.Sub(o.At); early > 2*step+time.Second {
			c.add("timed right", "apply %d (%s) sent batch %d (job %s) and timed out %s before that job ended, though the job of batch %d took %s and this one no longer: "+
				"it was sent with less of the timeout left than the batch before it took", i+1, o.Label, k+1, cur.ID, early, k, prev.Ended.Sub(prev.Started))
		}
	}
}

// plainJob is the job id when a request of apply o made it and got its plain
// answer (no fault, no late processing).
func (c *checker) plainJob(o Observation, id string) (ehpcsim.Job, bool) {
	j, ok := findJob(c.jobs, id)
	if !ok || id == "" || j.Request < o.FirstRequest || j.Request >= o.EndRequest || j.Request >= len(c.reqs) || c.reqs[j.Request].Note != "" {
		return ehpcsim.Job{}, false
	}
	return j, true
}

// checker holds what Check compares and what it found.
type checker struct {
	jobs   []ehpcsim.Job
	reqs   []ehpcsim.Request
	obs    []Observation
	margin elder
	out    []Violation
}

// foreign reports whether j is another tool's restart: history from before
// the test, or one another API client made during it.
func foreign(j ehpcsim.Job) bool { return j.Past || j.Other }

// elder is how far from a lost request's send a restart of exactly its nodes
// that the applies could not know of may lie and still be taken for its own
// (the documented exception): within margin before it, for a restart of
// another declared restart; and up to validity plus margin after it, too, for
// another tool's (a past job, outside what the scenario sent).
//
// The provider's window is measured on the server's clock as the Date headers
// bound it, so a backend whose clock is off by skew moves its lower end that
// much further back (its job's create_time is stamped by a true clock here).
type elder struct{ margin, validity, skew time.Duration }

func (c *checker) add(inv, format string, args ...any) {
	c.out = append(c.out, Violation{Invariant: inv, Detail: fmt.Sprintf(format, args...)})
}

// genOf is the declared restart and the apply a request belongs to.
func (c *checker) genOf(req int) (gen, apply int) {
	if i := applyOf(c.obs, req); i >= 0 {
		return c.obs[i].Gen, i
	}
	return 0, -1
}

// applyOf is the index of the apply of obs that sent request req; -1 when
// none did (another tool's, or a request between applies).
func applyOf(obs []Observation, req int) int {
	return slices.IndexFunc(obs, func(o Observation) bool { return req >= o.FirstRequest && req < o.EndRequest })
}

// atMostOnce: in one declared restart, a node's jobs that did not fail number
// at most one, and one apply never makes two jobs of a node.
func (c *checker) atMostOnce() {
	type nodeGen struct {
		node string
		gen  int
	}
	type nodeApply struct {
		node  string
		apply int
	}
	kept, failed := map[nodeGen][]string{}, map[nodeGen]int{}
	perApply := map[nodeApply][]string{}
	for _, j := range c.jobs {
		if j.Past || j.Request < 0 {
			continue
		}
		gen, apply := c.genOf(j.Request)
		for _, n := range j.NodeIDs {
			pa := nodeApply{n, apply}
			perApply[pa] = append(perApply[pa], j.ID)
			if c.killed(j) {
				continue // documented: the next apply knows nothing of it
			}
			k := nodeGen{n, gen}
			kept[k] = append(kept[k], j.ID)
			if j.Status == jobFailed {
				failed[k]++
			}
		}
	}
	for k, ids := range kept {
		if len(ids)-failed[k] > 1 {
			c.add("at most once", "node %s restarted %d times in declared restart %d (%d of those jobs failed): %v", k.node, len(ids), k.gen, failed[k], ids)
		}
	}
	for k, ids := range perApply {
		if len(ids) > 1 {
			c.add("at most once", "apply %d (%s) made %d jobs of node %s: %v", k.apply+1, label(c.obs, k.apply), len(ids), k.node, ids)
		}
	}
}

// records: after apply i, every job a batch records restarted exactly its
// nodes, for the current declared restart, and no job is recorded twice.
func (c *checker) records(i int) {
	o := c.obs[i]
	recordedBy := map[string]int{}
	for bi, b := range o.Batches() {
		for _, id := range b.Jobs {
			if prev, dup := recordedBy[id]; dup && prev != bi {
				c.add("settled right", "after apply %d (%s), job %s is recorded by batches %d and %d", i+1, o.Label, id, prev+1, bi+1)
			}
			recordedBy[id] = bi
			j, ok := findJob(c.jobs, id)
			if !ok {
				c.add("settled right", "after apply %d (%s), batch %d records job %s, which the API never created", i+1, o.Label, bi+1, id)
				continue
			}
			if g, _ := c.genOf(j.Request); (g != o.Gen || foreign(j) || c.killed(j)) && !unknownElder(j, b.Nodes, c.obs[:i+1], c.reqs, c.margin) {
				c.add("settled right", "after apply %d (%s), batch %d records job %s of declared restart %d (past: %v), not of the current one (%d)",
					i+1, o.Label, bi+1, id, g, j.Past, o.Gen)
			}
			if !slices.Equal(j.NodeIDs, b.Nodes) {
				c.add("settled right", "after apply %d (%s), batch %d (%v) records job %s, which restarted %v", i+1, o.Label, bi+1, b.Nodes, id, j.NodeIDs)
			}
		}
	}
}

// accountedAfter: every job of the current declared restart that a request
// of apply i or before made is accounted for after it.
func (c *checker) accountedAfter(i int) {
	o := c.obs[i]
	batches := o.Batches()
	for _, j := range c.jobs {
		if j.Past || j.Request < 0 || j.Request >= o.EndRequest {
			continue
		}
		if g, _ := c.genOf(j.Request); g != o.Gen || c.killed(j) {
			continue
		}
		// The documented exception: the user's taint of a record a failed
		// resume left (in this declared restart, by apply i) hands its
		// replacement only the attributes, which do
		// not hold the earlier jobs of a batch that has a job since; each
		// was named to the user when it was sent again.
		excused := c.userTaintBy(i, o.Gen) && c.namedBefore(i, j.ID)
		if !accounted(j, o, batches) && !excused {
			c.add("accounted", "after apply %d (%s), job %s (%v, %s) is neither in state nor named to the user; state: %v; messages:\n%s",
				i+1, o.Label, j.ID, j.NodeIDs, j.Status, o.State, indent(o.Messages))
		}
	}
}

// userTaintBy reports whether the user tainted a record Terraform had not,
// in declared restart gen, by apply i.
func (c *checker) userTaintBy(i, gen int) bool {
	return slices.ContainsFunc(c.obs[:i+1], func(o Observation) bool { return o.UserTaint && o.Gen == gen })
}

// namedBefore reports whether job id was named to the user by an apply before
// apply i.
func (c *checker) namedBefore(i int, id string) bool {
	return slices.ContainsFunc(c.obs[:i], func(o Observation) bool { return strings.Contains(o.Messages, id) })
}

// accounted reports whether job j is in o's state, or stands there as a batch
// of its nodes whose request's outcome is unknown, or (with nothing in state)
// is named in o's messages.
func accounted(j ehpcsim.Job, o Observation, batches []Batch) bool {
	for _, b := range batches {
		if slices.Contains(b.Jobs, j.ID) {
			return true
		}
		if b.JobID == "" && b.Status == "unknown" && slices.Equal(b.Nodes, j.NodeIDs) {
			return true
		}
	}
	if o.State == nil || len(batches) == 0 {
		if strings.Contains(o.Messages, j.ID) {
			return true
		}
		if o.State == nil && strings.Contains(o.Messages, "may or may not have happened") && mentionsAll(o.Messages, j.NodeIDs) {
			return true
		}
		if o.State != nil && str(o.State["job_id"]) == j.ID {
			return true
		}
	}
	return false
}

func mentionsAll(text string, ids []string) bool {
	for _, id := range ids {
		if !strings.Contains(text, id) {
			return false
		}
	}
	return true
}

func findJob(jobs []ehpcsim.Job, id string) (ehpcsim.Job, bool) {
	for _, j := range jobs {
		if j.ID == id {
			return j, true
		}
	}
	return ehpcsim.Job{}, false
}

func label(obs []Observation, i int) string {
	if i < 0 || i >= len(obs) {
		return "no apply"
	}
	return obs[i].Label
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n    ")
}

// jobFailed is the operation log's status of a failed job (API.md).
const jobFailed = "failed"

// checkAdoptions: a batch recorded as lost (its answer lost, no job) that
// later records a job must have found its own: a job no earlier apply of the
// declared restart recorded, made by a request no older than the apply that
// lost the answer.
func checkAdoptions(jobs []ehpcsim.Job, obs []Observation, margin elder, reqs []ehpcsim.Request) []Violation {
	var out []Violation
	recorded := map[string]bool{}
	lostSince := map[string]int{} // batch nodes -> FirstRequest of the apply that lost it
	for i, o := range obs {
		if o.Killed {
			continue // nothing of it was saved
		}
		if i > 0 && obs[i-1].Gen != o.Gen {
			clear(recorded)
			clear(lostSince)
		}
		batches := o.Batches()
		for bi, b := range batches {
			key := strings.Join(b.Nodes, " ")
			from, wasLost := lostSince[key]
			switch {
			case b.JobID == "" && b.Status == "unknown":
				if !wasLost {
					lostSince[key] = o.FirstRequest
				}
				continue
			case !wasLost:
				continue
			}
			delete(lostSince, key)
			if b.JobID == "" {
				continue
			}
			j, ok := findJob(jobs, b.JobID)
			switch {
			case recorded[b.JobID]:
				out = append(out, Violation{"settled right", fmt.Sprintf("after apply %d (%s), batch %d's lost request was settled by job %s, which an earlier apply had recorded already", i+1, o.Label, bi+1, b.JobID)})
			case ok && j.Request < from && !unknownElder(j, b.Nodes, obs[:i+1], reqs, margin):
				out = append(out, Violation{"settled right", fmt.Sprintf("after apply %d (%s), batch %d's lost request was settled by job %s, made by an older request (#%d, before #%d)", i+1, o.Label, bi+1, b.JobID, j.Request, from)})
			}
		}
		for _, b := range batches {
			for _, id := range b.Jobs {
				recorded[id] = true
			}
		}
	}
	return out
}

// unknownElder reports whether job j, recorded by a batch of nodes after the
// applies obs (the last is the one that recorded it), is the documented
// exception: a restart of exactly these nodes that the applies of the current
// declared restart could not know of (made for an earlier one they did not
// replace themselves, or before the test), made less than margin before one of
// their requests of the batch: the record keeps it beside its own job.
func unknownElder(j ehpcsim.Job, nodes []string, obs []Observation, reqs []ehpcsim.Request, margin elder) bool {
	last := obs[len(obs)-1]
	for k := len(obs) - 1; k >= 0 && obs[k].Gen == last.Gen; k-- {
		// The client that sent a request and settled it in the same apply
		// knew every job it listed before the send: none of those is the
		// request's, and the documented exception does not cover them.
		sameClient := k == len(obs)-1
		// The apply that sent the request knew j if the state it started
		// from recorded it (it then replaced that record itself).
		if k > 0 && recordsJob(obs[k-1], j.ID) {
			continue
		}
		for i := obs[k].FirstRequest; i < obs[k].EndRequest && i < len(reqs); i++ {
			r := reqs[i]
			// A restart the applies could not know of (another tool's, or that
			// of a record destroyed in an earlier apply) in a lost request's
			// window may be taken for it even when the request made a job too:
			// the record keeps both (of several candidates, one is adopted and
			// the others kept beside it, since any may be the request's).
			if r.Method != "POST" || !sameNodes(r.Body, nodes) || sameClient && knewOf(obs[k], j, i) {
				continue
			}
			latest := r.Time
			if foreign(j) || killedIn(obs, j) {
				// The window ends validity and margin after the send by the
				// provider's own clock, which the request signed (its start
				// is set from the server's clock): a clock that stepped ahead
				// moves the end later.
				latest = r.Time.Add(max(signedOffset(r), 0) + margin.validity + margin.margin + time.Second) // the wire's second here too
			}
			// The provider's window is in the wire's whole seconds: a second more.
			if !j.Started.After(latest) && !j.Started.Before(r.Time.Add(-margin.margin-margin.skew-time.Second)) {
				return true
			}
		}
	}
	return false
}

// knewOf reports whether the client of apply o had job j listed to it before
// the request at index i of the request log.
func knewOf(o Observation, j ehpcsim.Job, i int) bool {
	return o.OneClient && j.FirstListed >= o.ApplyFirst && j.FirstListed < i
}

// killedIn reports whether job j was made by a request of an apply of obs
// that was killed: like another tool's, a restart no record knows of.
func killedIn(obs []Observation, j ehpcsim.Job) bool {
	i := applyOf(obs, j.Request)
	return i >= 0 && obs[i].Killed
}

func (c *checker) killed(j ehpcsim.Job) bool { return killedIn(c.obs, j) }

// signedOffset is how far the requester's clock was from the simulator's
// when it signed r: the signed timestamp (whole seconds, so within a second)
// less the arrival. Zero when r carries no readable timestamp.
func signedOffset(r ehpcsim.Request) time.Duration {
	ts, err := time.Parse(ehpcsim.TimestampLayout, r.Query.Get("timestamp"))
	if err != nil {
		return 0
	}
	return ts.Sub(r.Time.Truncate(time.Second))
}

func recordsJob(o Observation, id string) bool {
	for _, b := range o.Batches() {
		if slices.Contains(b.Jobs, id) {
			return true
		}
	}
	return false
}

// sameNodes reports whether a restart request's body names exactly nodes.
func sameNodes(body []byte, nodes []string) bool {
	var b struct {
		NodeIDs []string `json:"node_ids"`
	}
	return json.Unmarshal(body, &b) == nil && slices.Equal(b.NodeIDs, nodes)
}

// NodesModel is the checker's own account of when the scenario's nodes were
// in service, from the jobs alone: a node is out of service while a restart
// job of it runs and for BootTime after it ends; NeverBack, once restarted,
// until Fixed (when the faults went away).
type NodesModel struct {
	BootTime  time.Duration
	NeverBack string
	Fixed     time.Time
}

// inService reports whether node was in service at t. The simulator dates a
// job's end from its create_time, whole seconds, so a node may be back up to a
// second before Ended + BootTime: that second is allowed.
func (m NodesModel) inService(jobs []ehpcsim.Job, node string, t time.Time) bool {
	var last time.Time
	for _, j := range jobs {
		if foreign(j) || !slices.Contains(j.NodeIDs, node) || j.Started.After(t) {
			// History touches no node, and another tool's restart is not the
			// provider's to hold a batch for: the gate may wait for it, but
			// what it promises is about the restarts it sent.
			continue
		}
		if j.Ended.IsZero() || j.Ended.After(t) {
			return false // restarting at t
		}
		if j.Ended.After(last) {
			last = j.Ended
		}
	}
	switch {
	case last.IsZero():
		return true
	case node == m.NeverBack && t.Before(m.Fixed):
		return false
	}
	return !t.Before(last.Add(m.BootTime - time.Second))
}

// CheckGate checks the health gate's invariant against what the simulator
// did: no batch of a rollout was sent while a node of the batch before it
// was out of service (so a node that never comes back stops the rollout).
// Sent is when the request reached the API, not when its job started: a
// request processed late was still sent when it was. The batches are those
// the applies recorded; an apply with the gate turned off (Gated false) is
// not held to it.
func CheckGate(jobs []ehpcsim.Job, reqs []ehpcsim.Request, obs []Observation, m NodesModel) []Violation {
	var out []Violation
	for _, j := range jobs {
		if j.Past || j.Request < 0 || j.Request >= len(reqs) {
			continue
		}
		if !sentGated(obs, j.Request) {
			continue // the user turned the gate off for that apply
		}
		sent, prev := reqs[j.Request].Time, batchBefore(obs, j.NodeIDs)
		for _, n := range prev {
			if !m.inService(jobs, n, sent) {
				out = append(out, Violation{"gate", fmt.Sprintf("job %s (%v) was sent at %s, while node %s of the batch before it (%v) was out of service",
					j.ID, j.NodeIDs, sent.Format(time.RFC3339Nano), n, prev)})
				break
			}
		}
	}
	return out
}

// sentGated reports whether request req was sent by an apply with the health
// gate on (or by none of obs: another tool's, which the check then holds to
// the gate as before).
func sentGated(obs []Observation, req int) bool {
	i := applyOf(obs, req)
	return i < 0 || obs[i].Gated
}

// batchBefore is the nodes of the batch recorded just before the batch of
// exactly nodes, in any apply's state; nil when that batch is a first one.
func batchBefore(obs []Observation, nodes []string) []string {
	for _, o := range obs {
		batches := o.Batches()
		for i := 1; i < len(batches); i++ {
			if slices.Equal(batches[i].Nodes, nodes) {
				return batches[i-1].Nodes
			}
		}
	}
	return nil
}

// Finished reports whether a record in state has nothing left to do, as a
// pipeline sees it: every batch's job successful (and with the gate on, not
// held at it), or, not waiting, every batch accepted and not seen failed. Replacing a finished
// record is the user's act and a new declared restart; replacing an
// unfinished one (Terraform's replacement of a record it tainted, or the
// user's) continues the same restart.
func Finished(state map[string]any, gated, noWait bool) bool {
	batches := Batches(state, nil) // what a person reads is enough here
	if len(batches) == 0 {
		return false
	}
	for i, b := range batches {
		raw, _ := state["batches"].([]any)
		m, _ := raw[i].(map[string]any)
		switch {
		case noWait && (b.JobID == "" || b.Status == "failed"):
			return false // not sent, unknown, or seen failed (a settle may see it): sent again
		case noWait:
		case b.Status != "successful", gated && str(m["health_gate"]) == "waiting":
			return false
		}
	}
	return true
}

// CheckWeathered checks that a flaky operation log costs a pipeline nothing:
// the first apply of sc, whose only faults are log outages that end well
// within its timeout (nothing interrupted, killed or slowed, no node that
// never comes back, no record from before), exits 0. Its waits read through
// a log that fails for a while, as API.md's transient errors ask.
func CheckWeathered(sc Scenario, obs []Observation) []Violation {
	if sc.Legacy != nil || sc.NeverBack > 0 || len(sc.Steps) == 0 || len(obs) == 0 {
		return nil
	}
	st := sc.Steps[0]
	if len(st.Faults) == 0 || st.Interrupt > 0 || st.Kill > 0 || st.ClockStep != 0 {
		return nil
	}
	var outageEnd time.Duration
	for _, f := range st.Faults {
		if f.Kind != LogOutage {
			return nil
		}
		outageEnd = max(outageEnd, f.Delay+f.Length)
	}
	timeout := sc.CreateTimeout
	if timeout == 0 {
		timeout = 30 * time.Minute // the provider's default
	}
	if timeout < time.Duration(sc.batches())*(sc.batchTime()+20*time.Second)+outageEnd+2*time.Minute || !obs[0].Failed {
		return nil
	}
	return []Violation{{"weathered", fmt.Sprintf("apply 1 (%s), whose only faults were log outages ending %s after it started, well within its timeout of %s, failed:\n%s",
		obs[0].Label, outageEnd, timeout, obs[0].Messages)}}
}

// CheckPipeline checks what a pipeline relies on, from what the simulator did:
//   - green means done: after an apply that exited 0, every declared node is
//     in a batch of state whose job restarted it (by the apply's end,
//     successfully; without waiting, accepted), and, when the gate was on for
//     every apply of the declared restart, it was in service then;
//   - a red run is finished, not redone: an apply after a failed one, in the
//     same declared restart, never restarts a node whose restart in that
//     declared restart had already succeeded.
func CheckPipeline(jobs []ehpcsim.Job, reqs []ehpcsim.Request, obs []Observation, nodes []string, noWait bool, m NodesModel) []Violation {
	c := checker{jobs: jobs, reqs: reqs, obs: obs}
	// The declared restarts an apply of which failed. Keyed by restart, not
	// reset at a change: after a killed apply of a new one, the next apply
	// takes up the one in state again.
	red := map[int]bool{}
	for i, o := range obs {
		if !o.Failed {
			c.complete(i, nodes, noWait, m)
		}
		if red[o.Gen] {
			c.notRedone(i)
		}
		red[o.Gen] = red[o.Gen] || o.Failed
	}
	return c.out
}

// complete: apply i exited 0, so every declared node restarted.
func (c *checker) complete(i int, nodes []string, noWait bool, m NodesModel) {
	o := c.obs[i]
	gated := true
	for k := i; k >= 0 && c.obs[k].Gen == o.Gen; k-- {
		gated = gated && c.obs[k].Gated
	}
	batches := o.Batches()
	// A killed apply's restart is, like another tool's, in no record: the
	// gate's promise is about the restarts a record can hold.
	recordable := slices.DeleteFunc(slices.Clone(c.jobs), c.killed)
	for _, n := range nodes {
		var job ehpcsim.Job
		found := false
		for _, b := range batches {
			if slices.Contains(b.Nodes, n) && b.JobID != "" {
				job, found = findJob(c.jobs, b.JobID)
			}
		}
		switch {
		case !found:
			c.add("green means done", "apply %d (%s) exited 0, but no job in state restarted node %s; state: %v", i+1, o.Label, n, o.State)
		case noWait, job.Past && job.Status == "successful":
			// Another tool's restart taken for a lost request's: the documented
			// exception (a restart missed, never doubled), allowed by "settled
			// right" only inside the request's window.
		case job.Ended.IsZero() || job.Ended.After(o.At.Add(time.Second)) || job.Status != "successful":
			// The simulator ends a job from its create_time, whole seconds: up
			// to a second before Ended.
			c.add("green means done", "apply %d (%s) exited 0, but node %s's job %s had not succeeded by then (status %s, ended %v)", i+1, o.Label, n, job.ID, job.Status, job.Ended)
		case gated && !m.inService(recordable, n, o.At):
			c.add("green means done", "apply %d (%s) exited 0 with the health gate on, but node %s was not back in service then", i+1, o.Label, n)
		}
	}
}

// notRedone: apply i, after a red one of the same declared restart, restarts
// no node whose restart in that declared restart had succeeded before it.
func (c *checker) notRedone(i int) {
	o := c.obs[i]
	start := c.obs[i-1].At
	for _, j := range c.jobs {
		if j.Past || j.Request < o.FirstRequest || j.Request >= o.EndRequest {
			continue
		}
		for _, n := range j.NodeIDs {
			for _, prev := range c.jobs {
				if prev.Past || c.killed(prev) || prev.ID == j.ID || prev.Status != "successful" || !slices.Contains(prev.NodeIDs, n) || prev.Ended.IsZero() || prev.Ended.After(start) {
					continue
				}
				if g, _ := c.genOf(prev.Request); g == o.Gen {
					c.add("red run finished, not redone", "apply %d (%s), after a red apply of the same declared restart, restarted node %s again (job %s), whose job %s had already succeeded in it",
						i+1, o.Label, n, j.ID, prev.ID)
				}
			}
		}
	}
}
