package provider

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/jobwatch"
)

// This file is the restart itself, shared by the resource and the action: a
// rollout of one or more batches (without rolling, one batch of every node,
// which is exactly the single request the resource always sent), sent in order
// by roll, each batch's job followed by waitForJob (at the end of the file).
// Every batch goes through RestartNodesOnce and waitForJob, so each keeps the
// exactly-once guarantees of a lone restart and shares the coalesced poller.

// statusNotSent is the status of a batch whose restart request was never sent:
// the rollout stopped before it.
const statusNotSent = "not_sent"

// maxRollingPause bounds rolling.pause: longer pauses belong between applies.
const maxRollingPause = time.Hour

// rollingModel is the rolling argument of the resource and the action.
type rollingModel struct {
	BatchSize types.Int64  `tfsdk:"batch_size"`
	Pause     types.String `tfsdk:"pause"`
}

// batch is one restart request of a rollout and what became of it.
type batch struct {
	nodeIDs []string
	jobID   string // "" until the request was accepted
	retCode int
	status  string // statusNotSent until sent; then the job's last status seen
}

// done reports whether the batch needs nothing more: its job succeeded.
func (b batch) done() bool { return b.status == ehpc.JobSuccessful }

// splitBatches cuts sorted ids into batches of at most size nodes, in order;
// size 0 means one batch of all.
func splitBatches(ids []string, size int) []batch {
	if size <= 0 || size > len(ids) {
		size = len(ids)
	}
	var out []batch
	for start := 0; start < len(ids); start += size {
		end := min(start+size, len(ids))
		out = append(out, batch{nodeIDs: ids[start:end:end], status: statusNotSent})
	}
	return out
}

// rolling reads the rolling argument: the batch size (0 without rolling) and the
// pause between batches. The validators check both at plan; they are checked
// again here because a value unknown then is known only now, and a batch size
// below 1 must never fall back to one batch of every node.
func rolling(ctx context.Context, v types.Object) (size int, pause time.Duration, diags diag.Diagnostics) {
	if v.IsNull() || v.IsUnknown() {
		return 0, 0, diags
	}
	var m rollingModel
	diags.Append(v.As(ctx, &m, basetypes.ObjectAsOptions{})...)
	if diags.HasError() || m.BatchSize.IsUnknown() || m.Pause.IsUnknown() {
		return 0, 0, diags
	}
	size = int(m.BatchSize.ValueInt64())
	if size < 1 {
		diags.AddAttributeError(path.Root("rolling").AtName("batch_size"), "Invalid Rolling Batch Size",
			fmt.Sprintf("rolling.batch_size = %d: a batch must hold at least 1 node. Use a batch size of 1 or more, or remove rolling to restart every node in one request.", size))
	}
	if s := m.Pause.ValueString(); !m.Pause.IsNull() {
		var problem string
		if pause, problem = checkPause(s); problem != "" {
			diags.AddAttributeError(path.Root("rolling").AtName("pause"), invalidRollingPause, problem)
		}
	}
	return size, pause, diags
}

// rolloutEnd is how a rollout ended.
type rolloutEnd int

const (
	rolloutDone       rolloutEnd = iota // every batch succeeded (or, not waiting, was accepted)
	rolloutSendFailed                   // a batch's restart request failed: see sendErr
	rolloutSendCut                      // cancelled while a lost answer was reconciled; its job was found
	rolloutWaitEnded                    // a batch's wait ended without success: see wait
	rolloutPauseCut                     // cancelled during the pause before a batch
	rolloutOutOfTime                    // too little of the timeout was left to send the next batch
)

// rolloutResult is what a rollout did. at is the batch it stopped at (the
// last batch when it is done).
type rolloutResult struct {
	batches []batch
	at      int
	end     rolloutEnd
	sendErr error
	wait    waitResult
	// took is how long the batch before a batch not sent for lack of time took.
	took time.Duration
	// notes explain batches whose request did not go the plain way (adopted from
	// the operation log, or sent again).
	notes diag.Diagnostics
}

// rolloutHooks let the action report progress; every field may be nil.
type rolloutHooks struct {
	sent   func(i int, b batch, note diag.Diagnostic) // note: restartNoteDiag's, or nil
	check  func(i int, b batch, c jobwatch.Check, elapsed time.Duration)
	waited func(i int, b batch, w waitResult)
}

// rolloutSpec is where and how a rollout runs.
type rolloutSpec struct {
	client    *ehpc.Client
	zone      string
	clusterID string
	wait      bool
	pause     time.Duration
	timeout   time.Duration // bounds the whole rollout
}

// roll brings batches to success in order. A batch that succeeded is left
// alone; one with a job that may still run (pending, unknown) is waited for and
// never sent again; one never sent, or whose job failed, is sent. The next
// batch is sent only after the previous one succeeded and the pause passed, so
// a resumed rollout continues exactly where the last one stopped.
func (d *providerData) roll(ctx context.Context, spec rolloutSpec, batches []batch, hooks rolloutHooks) rolloutResult {
	deadline := time.Now().Add(spec.timeout)
	res := rolloutResult{batches: batches}
	// lastTook is how long the last batch waited in this run (0: none did yet).
	// The next batch is held for the pause and sent only when at least that
	// much of the timeout is left.
	var lastTook time.Duration
	for i := range res.batches {
		res.at = i
		b := &res.batches[i]
		if b.done() {
			continue
		}
		if b.jobID == "" && b.status == statusUnknown {
			// Its request's answer was lost in an earlier apply: adopt its job if
			// the log shows one, and send it only if the log shows none.
			if err := d.settle(ctx, spec, &res, i); err != nil {
				res.end, res.sendErr = rolloutSendFailed, err
				return res
			}
		}
		if b.jobID == "" || b.status == ehpc.JobFailed {
			if end, ok := beforeSend(ctx, spec, deadline, lastTook); !ok {
				res.end, res.took = end, lastTook
				return res
			}
			if !d.sendBatch(ctx, spec, &res, i, hooks) {
				return res
			}
		}
		if !spec.wait {
			continue
		}
		took, ok := d.waitBatch(ctx, spec, &res, i, deadline, hooks)
		if !ok {
			return res
		}
		lastTook = took
	}
	res.end = rolloutDone
	return res
}

// sendBatch sends batch i and records its job. It reports false when the
// rollout stops there: the request failed (a request that may have reached the
// API is recorded as unknown, so that no later apply sends it blindly), or the
// apply was cancelled while a lost answer was reconciled.
func (d *providerData) sendBatch(ctx context.Context, spec rolloutSpec, res *rolloutResult, i int, hooks rolloutHooks) bool {
	b := &res.batches[i]
	tflog.Info(ctx, "restarting cluster nodes", map[string]any{"cluster_id": spec.clusterID, "node_ids": b.nodeIDs, "zone": spec.zone,
		"batch": i + 1, "batches": len(res.batches)})
	r, err := spec.client.RestartNodesOnce(ctx, spec.zone, spec.clusterID, b.nodeIDs)
	if err != nil {
		res.end, res.sendErr = rolloutSendFailed, err
		if res.mayHaveSent() {
			b.jobID, b.status = "", statusUnknown
		}
		return false
	}
	tflog.Info(ctx, "restart accepted", map[string]any{"job_id": r.JobID, "path": r.Path, "adopted": r.Adopted, "resent": r.Resent, "interrupted": r.Interrupted})
	b.jobID, b.retCode, b.status = r.JobID, r.RetCode, ehpc.JobPending
	note := restartNoteDiag(r)
	if note != nil {
		res.notes.Append(res.aboutBatch(note))
	}
	if hooks.sent != nil {
		hooks.sent(i, *b, note)
	}
	if r.Interrupted {
		res.end = rolloutSendCut
		return false
	}
	return true
}

// waitBatch waits for batch i's job within what is left of the rollout's
// timeout and records its status. It reports how long the wait took, and false
// when the job did not succeed (the rollout stops there).
func (d *providerData) waitBatch(ctx context.Context, spec rolloutSpec, res *rolloutResult, i int, deadline time.Time, hooks rolloutHooks) (time.Duration, bool) {
	b := &res.batches[i]
	var onCheck func(jobwatch.Check, time.Duration)
	if hooks.check != nil {
		onCheck = func(c jobwatch.Check, e time.Duration) { hooks.check(i, *b, c, e) }
	}
	w := d.waitForJob(ctx, spec.zone, spec.clusterID, b.jobID, time.Until(deadline), onCheck)
	b.status = w.status
	if w.end == waitUnreadable {
		b.status = statusUnknown
	}
	if hooks.waited != nil {
		hooks.waited(i, *b, w)
	}
	if w.end != waitSucceeded {
		res.end, res.wait = rolloutWaitEnded, w
		return 0, false
	}
	return max(w.elapsed, time.Millisecond), true
}

// settle finds the job of batch i, whose request's outcome was unknown when an
// earlier apply sent it. That batch was sent only after the previous batch's job
// succeeded, so its job is a restart of exactly its nodes created since the
// previous batch's job was: both times are the server's, so no clock bound is
// needed. One such job is adopted; none means the request had no effect and the
// batch is sent; several leave the outcome unknown.
func (d *providerData) settle(ctx context.Context, spec rolloutSpec, res *rolloutResult, i int) error {
	b := &res.batches[i]
	unknown := &ehpc.UnknownOutcomeError{ClusterID: spec.clusterID, NodeIDs: b.nodeIDs, Checked: true}
	if i == 0 || res.batches[i-1].jobID == "" {
		unknown.Err = errors.New("its request's answer was lost, and no earlier batch's job tells since when to look for its job")
		return unknown
	}
	prevID := res.batches[i-1].jobID
	prev, found, err := spec.client.Job(ctx, spec.zone, spec.clusterID, prevID)
	if err == nil && (!found || prev.CreateTime.IsZero()) {
		err = fmt.Errorf("the previous batch's job %s shows no create_time in the operation log", prevID)
	}
	var jobs []ehpc.Job
	if err == nil {
		jobs, err = spec.client.RestartJobsSince(ctx, spec.zone, spec.clusterID, b.nodeIDs, prev.CreateTime.Time)
	}
	switch {
	case err != nil:
		unknown.Checked = false
		unknown.Err = fmt.Errorf("its request's answer was lost in an earlier apply, and the operation log could not be read to find its job: %w", err)
		return unknown
	case len(jobs) > 1:
		unknown.Err = errors.New("its request's answer was lost in an earlier apply, and several restart jobs of exactly these nodes were created since the previous batch's")
		for _, j := range jobs {
			unknown.Candidates = append(unknown.Candidates, j.JobID)
		}
		return unknown
	case len(jobs) == 1:
		b.jobID, b.status = jobs[0].JobID, ehpc.JobPending
		res.notes.Append(res.aboutBatch(diag.NewWarningDiagnostic("Restart Job Adopted From Operation Log",
			fmt.Sprintf("The answer to this batch's restart request was lost in an earlier apply; job %s in the operation log restarts exactly its nodes "+
				"and was created after the previous batch's job %s, so it was adopted rather than sent again.", b.jobID, prevID))))
	default:
		b.status = statusNotSent // the log shows the request had no effect
	}
	return nil
}

// aboutBatch names the batch a note is about, in a rollout of several.
func (r rolloutResult) aboutBatch(d diag.Diagnostic) diag.Diagnostic {
	if len(r.batches) < 2 {
		return d
	}
	prefix := fmt.Sprintf("Batch %d of %d (%s): ", r.at+1, len(r.batches), nodesPhrase(r.batches[r.at].nodeIDs))
	return diag.NewWarningDiagnostic(d.Summary(), prefix+d.Detail())
}

// beforeSend holds a batch back for the pause after the previous one, and
// refuses to send it when the apply was cancelled or less of the timeout is
// left than the previous batch took: a batch sent only to time out would taint
// the resource, and the next apply would restart every node again.
func beforeSend(ctx context.Context, spec rolloutSpec, deadline time.Time, lastTook time.Duration) (rolloutEnd, bool) {
	if lastTook > 0 && spec.pause > 0 {
		t := time.NewTimer(min(spec.pause, max(time.Until(deadline), 0)))
		defer t.Stop()
		select {
		case <-ctx.Done():
			return rolloutPauseCut, false
		case <-t.C:
		}
	}
	if ctx.Err() != nil {
		return rolloutPauseCut, false
	}
	if lastTook > 0 && time.Until(deadline) < lastTook {
		return rolloutOutOfTime, false
	}
	return rolloutDone, true
}

// Status of the rollout as a whole: the last job sent, and "pending" while a
// later batch was never sent, so "successful" always means every node.
func (r rolloutResult) status() string {
	last := r.lastSent()
	if last < 0 {
		return statusNotSent
	}
	s := r.batches[last].status
	if s == ehpc.JobSuccessful && last < len(r.batches)-1 {
		return ehpc.JobPending
	}
	return s
}

// lastSent is the index of the last batch with a job, or -1.
func (r rolloutResult) lastSent() int {
	for i := len(r.batches) - 1; i >= 0; i-- {
		if r.batches[i].jobID != "" {
			return i
		}
	}
	return -1
}

// progress words where a rollout of several batches stands, for every message
// that ends one: which nodes restarted, which batch stopped it and which nodes
// were never restarted. It is "" for a restart of one batch, whose messages
// already name its nodes.
func (r rolloutResult) progress() string {
	if len(r.batches) < 2 {
		return ""
	}
	var done, never []string
	for i, b := range r.batches {
		switch {
		case b.done():
			done = append(done, b.nodeIDs...)
		case b.jobID == "" && (i != r.at || !r.mayHaveSent()):
			never = append(never, b.nodeIDs...)
		}
	}
	var s strings.Builder
	fmt.Fprintf(&s, "Rolling restart stopped at batch %d of %d", r.at+1, len(r.batches))
	if b := r.batches[r.at]; b.jobID != "" {
		fmt.Fprintf(&s, " (job %s, status %q, %s)", b.jobID, b.status, nodesPhrase(b.nodeIDs))
	} else if b.status == statusUnknown {
		fmt.Fprintf(&s, " (its request's outcome is unknown, %s)", nodesPhrase(b.nodeIDs))
	} else {
		fmt.Fprintf(&s, " (not sent, %s)", nodesPhrase(b.nodeIDs))
	}
	fmt.Fprintf(&s, ". Restarted so far: %s. Never restarted: %s.", nodeList(done), nodeList(never))
	return s.String()
}

// mayHaveSent reports whether the batch the rollout stopped at may have been
// restarted although no job of it is known: its request's outcome is unknown.
func (r rolloutResult) mayHaveSent() bool {
	var unknown *ehpc.UnknownOutcomeError
	return r.end == rolloutSendFailed && errors.As(r.sendErr, &unknown)
}

// nodeList names every node: the lists are what an operator acts on.
func nodeList(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}

// batchAttrTypes is the type of one element of the resource's batches.
var batchAttrTypes = map[string]attr.Type{
	"job_id":   types.StringType,
	"node_ids": types.ListType{ElemType: types.StringType},
	"status":   types.StringType,
}

var batchType = types.ObjectType{AttrTypes: batchAttrTypes}

// batchesValue is the record of a rollout's batches, in state or in a plan.
func batchesValue(batches []batch) (types.List, diag.Diagnostics) {
	var diags diag.Diagnostics
	elems := make([]attr.Value, 0, len(batches))
	for _, b := range batches {
		ids, d := types.ListValueFrom(context.Background(), types.StringType, b.nodeIDs)
		diags.Append(d...)
		// An empty status is a batch planned to run: its status, and its job
		// unless it has one already, are known only after apply.
		job, status := types.StringValue(b.jobID), types.StringValue(b.status)
		switch {
		case b.status == "" && b.jobID == "":
			job, status = types.StringUnknown(), types.StringUnknown()
		case b.status == "":
			status = types.StringUnknown()
		case b.jobID == "":
			job = types.StringNull()
		}
		obj, d := types.ObjectValue(batchAttrTypes, map[string]attr.Value{
			"job_id": job, "node_ids": ids, "status": status,
		})
		diags.Append(d...)
		elems = append(elems, obj)
	}
	list, d := types.ListValue(batchType, elems)
	diags.Append(d...)
	return list, diags
}

// batchModel is one element of the resource's batches.
type batchModel struct {
	JobID   types.String `tfsdk:"job_id"`
	NodeIDs []string     `tfsdk:"node_ids"`
	Status  types.String `tfsdk:"status"`
}

// batchesFrom reads the state's batches back; nil for a state written before
// batches were recorded.
func batchesFrom(ctx context.Context, v types.List) ([]batch, diag.Diagnostics) {
	var diags diag.Diagnostics
	if v.IsNull() || v.IsUnknown() {
		return nil, diags
	}
	var ms []batchModel
	diags.Append(v.ElementsAs(ctx, &ms, false)...)
	out := make([]batch, 0, len(ms))
	for _, m := range ms {
		out = append(out, batch{nodeIDs: m.NodeIDs, jobID: m.JobID.ValueString(), status: m.Status.ValueString()})
	}
	return out, diags
}

// unfinished reports whether a recorded rollout stopped before every batch had
// a job: only then does the next apply resume it. A record whose batches were
// all sent is final, as a lone restart's is: a pending or unknown last job is
// not waited for again, and a failed one is restarted only by a replacement.
func unfinished(batches []batch) bool {
	for _, b := range batches {
		if b.jobID == "" { // never sent, or sent with an outcome still unknown
			return true
		}
	}
	return false
}

// prepare resolves what a rollout of args needs before anything is sent: the
// client and zone, the wait, the pause and the timeout, and the node ids (sorted,
// without duplicates) cut into batches. owner words the zone error ("resource",
// "action"). It adds a diagnostic for anything missing.
func (d *providerData) prepare(ctx context.Context, args restartArgs, owner string, timeout time.Duration, diags *diag.Diagnostics) (rolloutSpec, []batch) {
	client, zone := d.operation(args.Zone, "this restart", owner, diags)
	var nodeIDs []string
	diags.Append(args.NodeIDs.ElementsAs(ctx, &nodeIDs, false)...)
	size, pause, more := rolling(ctx, args.Rolling)
	diags.Append(more...)
	spec := rolloutSpec{client: client, zone: zone, clusterID: args.ClusterID.ValueString(),
		wait: args.WaitForCompletion.IsNull() || args.WaitForCompletion.ValueBool(), pause: pause, timeout: timeout}
	// Checked at plan too, but a value unknown then is known only now.
	if d := args.rollingWithoutWait(); d != nil {
		diags.Append(d)
	}
	return spec, splitBatches(ehpc.NormalizeIDs(nodeIDs), size)
}

// stopped words how a rollout stopped other than at the end of a wait (see
// waitResult.describe for those): a summary and a detail that the resource and
// the action share; each adds the sentence that differs. who is "The apply" or
// "The action"; timeoutName names the timeout ("timeouts.create", "the
// action's timeout").
func (r rolloutResult) stopped(spec rolloutSpec, who, timeoutName string) (summary, detail string) {
	b := r.batches[r.at]
	switch r.end {
	case rolloutSendFailed:
		d := restartErrorDiag(spec.clusterID, b.nodeIDs, spec.zone, r.sendErr)
		return d.Summary(), d.Detail()
	case rolloutSendCut:
		return "Restart Interrupted", fmt.Sprintf("%s was cancelled while the restart request was in flight; its job %s was found in the operation log, "+
			"so the restart was accepted and may still be running.", who, b.jobID)
	case rolloutPauseCut:
		if r.lastSent() < 0 {
			return "Restart Cancelled", fmt.Sprintf("%s was cancelled before the restart request was sent: nothing was restarted.", who)
		}
		return "Rolling Restart Interrupted", fmt.Sprintf("%s was cancelled before batch %d of %d was sent.", who, r.at+1, len(r.batches))
	case rolloutOutOfTime:
		return "Timed Out Before Next Batch", fmt.Sprintf("Batch %d of %d was not sent: less of %s (%s) was left than batch %d took (%s), so it would most likely have timed out.",
			r.at+1, len(r.batches), timeoutName, spec.timeout, r.at, roundElapsed(r.took))
	}
	return "", ""
}

// checkRollingConfig is the ValidateConfig of the resource and the action.
func checkRollingConfig(ctx context.Context, cfg tfsdk.Config) diag.Diagnostics {
	var args restartArgs
	diags := cfg.GetAttribute(ctx, path.Root("rolling"), &args.Rolling)
	diags.Append(cfg.GetAttribute(ctx, path.Root("wait_for_completion"), &args.WaitForCompletion)...)
	if d := args.rollingWithoutWait(); d != nil {
		diags.Append(d)
	}
	return diags
}

// rollingWithoutWait refuses rolling with wait_for_completion = false: a batch
// is sent only once the previous batch's job succeeded, which only a wait can
// tell. Unknown values pass; they cannot combine the two by accident.
func (a restartArgs) rollingWithoutWait() diag.Diagnostic {
	if a.Rolling.IsNull() || a.Rolling.IsUnknown() || a.WaitForCompletion.IsNull() || a.WaitForCompletion.IsUnknown() || a.WaitForCompletion.ValueBool() {
		return nil
	}
	return diag.NewAttributeErrorDiagnostic(path.Root("wait_for_completion"), "Rolling Restart Needs Waiting",
		"wait_for_completion = false cannot be combined with rolling: each batch is sent only after the previous batch's job succeeded, "+
			"which the provider knows only by waiting for it. Remove wait_for_completion = false to restart in batches, "+
			"or remove rolling to restart every node in one request without waiting.")
}

// Descriptions of the rolling argument, the same on the resource and the action.
const (
	rollingDescription = "Restart the nodes in batches, one restart request per batch, so the cluster keeps serving jobs: " +
		"the nodes are sorted by id and cut into batches of `batch_size`; a batch is sent only once the previous batch's job is `successful` " +
		"(and `pause` has passed). A failed batch stops the rollout: later batches are not sent. " +
		"The timeout bounds the whole rollout. Requires waiting (`wait_for_completion` cannot be `false`). Without `rolling`, every node restarts in one request."
	batchSizeDescription = "The most nodes restarted at once, at least 1. A `batch_size` of at least the number of nodes makes one batch."
	pauseDescription     = "How long to wait after a batch succeeded before sending the next, such as `30s` or `5m`, from `0s` to `1h` (default none), " +
		"for example to let a scheduler bring the restarted nodes back into service."
)

// Waiting for one batch's job: one call into the provider instance's shared
// poller, which returns how the wait ended, and the words the resource and the
// action share for it (waitResult.describe).

// defaultJobMissingAfter is how long a job that the API accepted may stay absent
// from the operation log, asked for by listing and by id, before the wait gives up
// on reading it. It is far beyond any lag the log is known to have.
const defaultJobMissingAfter = 2 * time.Minute

// waitEnd is how waiting for a restart job ended.
type waitEnd int

const (
	waitSucceeded   waitEnd = iota
	waitFailed              // the job failed
	waitInterrupted         // the apply or invocation was cancelled
	waitTimedOut            // the job was seen, but did not finish in time
	waitUnreadable          // the job cannot be read: the log refuses, or never lists it
)

// waitResult is what a wait saw.
type waitResult struct {
	end waitEnd
	// job is the last entry seen; seen says whether there was one.
	job  ehpc.Job
	seen bool
	// status is the last status seen: "pending" until the log says otherwise.
	status string
	// lastErr is the last transient error reading the log; err is what made the
	// job unreadable.
	lastErr, err error
	elapsed      time.Duration
}

// waitForJob follows jobID until it is successful or failed, it cannot be read,
// the timeout passes or ctx ends. Its checks come from the provider instance's
// shared poller, which makes one operation-log request per tick for every job
// waited on in the cluster (internal/jobwatch). onCheck, if set, sees every check
// with the time elapsed (the action reports progress from it).
func (d *providerData) waitForJob(ctx context.Context, zone, clusterID, jobID string, timeout time.Duration, onCheck func(jobwatch.Check, time.Duration)) waitResult {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	missingAfter := cmp.Or(d.opts.JobMissingAfter, defaultJobMissingAfter)
	started := time.Now()
	res := waitResult{status: ehpc.JobPending}
	sub := d.poller.Watch(ctx, zone, clusterID, jobID)
	defer sub.Stop()
	for {
		var c jobwatch.Check
		select {
		case <-wctx.Done():
			res.elapsed = time.Since(started)
			switch {
			case ctx.Err() != nil:
				res.end = waitInterrupted
			case !res.seen:
				// Never listed in the whole wait: that is a job the log does not
				// show, not a job that is slow.
				res.end, res.err = waitUnreadable, &jobMissingError{after: timeout}
			default:
				res.end = waitTimedOut
			}
			return res
		case c = <-sub.C:
		}
		res.elapsed = time.Since(started)
		if onCheck != nil {
			onCheck(c, res.elapsed)
		}
		switch {
		case c.Err != nil && permanent(c.Err):
			res.end, res.err = waitUnreadable, c.Err
			return res
		case c.Err != nil:
			// A flaky operation log must not fail a restart that is under way;
			// keep the error for the final message and look again next tick.
			res.lastErr = c.Err
			tflog.Warn(ctx, "could not read restart job status; will retry", map[string]any{"job_id": jobID, "error": c.Err.Error()})
		case c.Found:
			res.lastErr = nil
			res.job, res.status, res.seen = c.Job, c.Job.Status, true
			tflog.Debug(ctx, "restart job status", map[string]any{"job_id": jobID, "status": c.Job.Status, "direct": c.Direct})
			if c.Job.Done() {
				res.end = waitSucceeded
				if c.Job.Status == ehpc.JobFailed {
					res.end = waitFailed
				}
				return res
			}
		case !res.seen && c.Direct && res.elapsed >= missingAfter:
			res.end, res.err = waitUnreadable, &jobMissingError{after: res.elapsed}
			return res
		default:
			res.lastErr = nil
			tflog.Debug(ctx, "restart job not in the operation log yet", map[string]any{"job_id": jobID})
		}
	}
}

// describe words how the wait ended, in what the resource and the action share:
// a summary and a detail that say what happened to which job. Each adds the
// sentence that differs (state and taint, or no record at all).
//
// target names what restarted for a failed job ("cluster X", or the action's
// "node cln-a of cluster X"); within names the timeout ("30m0s", or the action's
// "the action's timeout of 30m0s").
func (r waitResult) describe(jobID, clusterID, target, within string, scrub func(string) string) (summary, detail string) {
	switch r.end {
	case waitFailed:
		detail = fmt.Sprintf("Restart job %s for %s finished with status %q", jobID, target, r.status)
		if r.job.ErrorCodes != "" {
			detail += fmt.Sprintf(" (error_codes: %s)", scrub(string(r.job.ErrorCodes)))
		}
		return "Restart Job Failed", detail + "."
	case waitTimedOut:
		detail = fmt.Sprintf("Restart job %s for cluster %s did not finish within %s (last status %q", jobID, clusterID, within, r.status)
		if r.lastErr != nil {
			detail += "; last error reading it: " + r.lastErr.Error()
		}
		return "Timed Out Waiting For Restart Job", detail + "). The restart was accepted and job " + jobID + " may still be running: follow it in the cluster's operation log."
	case waitUnreadable:
		return "Cannot Check Restart Job", fmt.Sprintf("Restart job %s for cluster %s was accepted, but its status cannot be read: %s. "+
			"The restart may have happened: check the job in the cluster's operation log (in the console, or GET /api/operation with jobs=%s).",
			jobID, clusterID, r.err.Error(), jobID)
	case waitInterrupted:
		return "", fmt.Sprintf("restart job %s (cluster %s) after %s; the restart had been accepted and may still be running (last status %q)",
			jobID, clusterID, r.elapsed.Round(time.Second), r.status)
	}
	return "", ""
}

// jobMissingError ends a wait whose job the operation log never showed.
type jobMissingError struct{ after time.Duration }

func (e *jobMissingError) Error() string {
	return fmt.Sprintf("the job did not appear in the operation log within %s, neither in the cluster's listing nor when asked for by its id", e.after.Round(time.Second))
}

// permanent reports whether a failure to read the operation log will not go away by
// asking again within this apply (wrong key, unknown ids, quota, clock).
func permanent(err error) bool {
	switch ehpc.RetCode(err) {
	case ehpc.CodeBadParameter, ehpc.CodeNoSuchAction, ehpc.CodeAuthFailed, ehpc.CodeRequestExpired,
		ehpc.CodeNotFound, ehpc.CodeQuotaExceeded:
		return true
	}
	return false
}
