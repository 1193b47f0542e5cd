package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/rollout"
)

// This file is the Terraform side of the restart that the resource and the
// action share, run by the engine in internal/rollout: the rolling argument,
// what a rollout needs before anything is sent (prepare), and, in one place for
// every surface, how a rollout ended in words (report, below). The resource's
// record in state is the resource's (cluster_node_restart_resource.go).

// maxRollingPause bounds rolling.pause: longer pauses belong between applies.
const maxRollingPause = time.Hour

// rollingModel is the rolling argument of the resource and the action.
type rollingModel struct {
	BatchSize      types.Int64  `tfsdk:"batch_size"`
	FirstBatchSize types.Int64  `tfsdk:"first_batch_size"`
	Pause          types.String `tfsdk:"pause"`
}

// rollingShape is what the rolling argument says: the batch size (0 without
// rolling), the first batch's (0: the batch size) and the pause between
// batches.
type rollingShape struct {
	size, first int
	pause       time.Duration
}

// rolling reads the rolling argument. The validators check it at plan; it is
// checked again here because a value unknown then is known only now, and a
// batch size below 1 must never fall back to one batch of every node.
func rolling(ctx context.Context, v types.Object) (shape rollingShape, diags diag.Diagnostics) {
	if v.IsNull() || v.IsUnknown() {
		return shape, diags
	}
	var m rollingModel
	diags.Append(v.As(ctx, &m, basetypes.ObjectAsOptions{})...)
	if diags.HasError() || m.BatchSize.IsUnknown() || m.Pause.IsUnknown() || m.FirstBatchSize.IsUnknown() {
		return shape, diags
	}
	shape.size, shape.first = int(m.BatchSize.ValueInt64()), int(m.FirstBatchSize.ValueInt64())
	for _, n := range []struct {
		name string
		v    types.Int64
	}{{"batch_size", m.BatchSize}, {"first_batch_size", m.FirstBatchSize}} {
		if problem := checkBatchSize(n.name, n.v.ValueInt64()); problem != "" && !n.v.IsNull() {
			diags.AddAttributeError(rollingErrorPath, invalidBatchSize, problem)
		}
	}
	pause := &shape.pause
	if s := m.Pause.ValueString(); !m.Pause.IsNull() {
		var problem string
		if *pause, problem = checkPause(s); problem != "" {
			diags.AddAttributeError(rollingErrorPath, invalidRollingPause, problem)
		}
	}
	return shape, diags
}

// split cuts node ids (sorted, without duplicates) into the batches this shape
// gives.
func (r rollingShape) split(ids []string) []rollout.Batch {
	return rollout.Split(ehpc.NormalizeIDs(ids), r.size, r.first)
}

// zoneFor is the zone of an operation whose own zone argument is own: that one
// when it is set, else the provider's; "" when there is none. It is the one
// place this fallback is decided (the client requires a zone on every call).
func (d *providerData) zoneFor(own types.String) string {
	if z := strings.TrimSpace(own.ValueString()); z != "" && !own.IsUnknown() {
		return z
	}
	return d.zone
}

// operation returns what an operation that calls the API needs: the client and
// the zone (zoneFor its own). Otherwise it adds one diagnostic per missing piece,
// naming every way to set it, and returns nil. subject and owner word the zone
// error ("this restart", "resource").
func (d *providerData) operation(own types.String, subject, owner string, diags *diag.Diagnostics) (*ehpc.Client, string) {
	if d == nil {
		diags.AddError("Provider Not Configured", "The hpc provider was not configured before "+subject+". This is a bug in the provider; please report it.")
		return nil, ""
	}
	zone := d.zoneFor(own)
	if zone == "" {
		diags.AddAttributeError(path.Root("zone"), "Missing Zone", d.missingZoneDetail(subject, owner))
	}
	if d.client == nil {
		_, err := d.Client()
		diags.AddError("Missing EHPC API Credentials", err.Error())
	}
	if zone == "" || d.client == nil {
		return nil, ""
	}
	return d.client, zone
}

// prepare resolves what a rollout of args needs before anything is sent: the
// zone, the wait, the pause and the timeout, and the node ids (sorted, without
// duplicates) cut into batches. owner words the zone error ("resource",
// "action"). It adds a diagnostic for anything missing.
func (d *providerData) prepare(ctx context.Context, args restartArgs, owner string, timeout time.Duration, diags *diag.Diagnostics) (rollout.Spec, []rollout.Batch) {
	_, zone := d.operation(args.Zone, "this restart", owner, diags)
	var nodeIDs []string
	diags.Append(args.NodeIDs.ElementsAs(ctx, &nodeIDs, false)...)
	shape, more := rolling(ctx, args.Rolling)
	diags.Append(more...)
	spec := rollout.Spec{Zone: zone, ClusterID: args.ClusterID.ValueString(), Wait: args.waits(), Pause: shape.pause, Timeout: timeout}
	batches := shape.split(nodeIDs)
	spec.Gate, more = args.gateFor(ctx, batches)
	diags.Append(more...)
	// Checked at plan too, but a value unknown then is known only now.
	for _, d := range []diag.Diagnostic{args.rollingWithoutWait(), args.gateWithoutWait(ctx)} {
		if d != nil {
			diags.Append(d)
		}
	}
	return spec, batches
}

// run runs a rollout on the instance's engine, and adds to diags the one
// warning of its requests' pacing, if they were held back noticeably.
func (d *providerData) run(ctx context.Context, spec rollout.Spec, batches []rollout.Batch, obs rollout.Observer, diags *diag.Diagnostics) rollout.Result {
	ctx, paced := ehpc.WithPacing(ctx)
	res := d.engine.Run(ctx, spec, batches, obs)
	if w := d.pacedWarning(paced, "this restart's"); w != nil {
		diags.Append(w)
	}
	if w := d.logLagWarning(); w != nil {
		diags.Append(w)
	}
	return res
}

// logLagWarning is the one message that the operation log was seen lagging
// longer than the exactly-once settling assumes, given by the first
// operation of the instance to end after it was measured; nil otherwise.
// The client words it (ehpc.LogLag), since it decides what is done about it;
// the same sentence went to the log at WARN when it was measured.
func (d *providerData) logLagWarning() diag.Diagnostic {
	l := d.client.LogLag()
	if !l.Exceeded() || !d.lagWarned.CompareAndSwap(false, true) {
		return nil
	}
	return diag.NewWarningDiagnostic("Operation Log Slower Than Assumed", l.String())
}

// pacedWarnAfter is how long an operation's requests must have been held
// back in all before it ends with a warning.
const pacedWarnAfter = time.Second

// pacedWarning is the one message an operation gives when the rate limit held
// its requests back noticeably; nil otherwise. what names the operation's
// requests ("this restart's", "this node list's").
func (d *providerData) pacedWarning(p *ehpc.Pacing, what string) diag.Diagnostic {
	total, requests := p.Waited()
	if total < pacedWarnAfter {
		return nil
	}
	return diag.NewWarningDiagnostic("API Requests Paced", fmt.Sprintf(
		"The provider held %s API requests back for %s in all (%d requests), to stay within the API key's quota of 2000 requests an hour: "+
			"api_requests_per_hour = %d after a burst of api_request_burst = %d. To go faster, restart many nodes with one resource "+
			"(list them all in node_ids, and add rolling for batches): it costs one request for all of them, where one resource per node costs one each. "+
			"Or, when no other tool uses this key, raise api_requests_per_hour, keeping it plus api_request_burst within 2000. "+
			"The large clusters guide (docs/guides/large-clusters.md) gives each shape's cost.",
		what, total.Round(time.Second), requests, d.pacing.perHour, d.pacing.burst))
}

// waits is wait_for_completion, true unless set to false.
func (a restartArgs) waits() bool {
	return a.WaitForCompletion.IsNull() || a.WaitForCompletion.ValueBool()
}

// checkRollingConfig is the ValidateConfig of the resource and the action.
func checkRollingConfig(ctx context.Context, cfg tfsdk.Config) diag.Diagnostics {
	var args restartArgs
	diags := cfg.GetAttribute(ctx, path.Root("rolling"), &args.Rolling)
	diags.Append(cfg.GetAttribute(ctx, path.Root("wait_for_completion"), &args.WaitForCompletion)...)
	diags.Append(cfg.GetAttribute(ctx, path.Root("health_gate"), &args.HealthGate)...)
	for _, d := range []diag.Diagnostic{args.rollingWithoutWait(), args.gateWithoutWait(ctx)} {
		if d != nil {
			diags.Append(d)
		}
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
	batchSizeDescription = "The most nodes restarted at once, at least 1. A `batch_size` of at least the number of nodes makes one batch (after the first, with `first_batch_size`)."
	pauseDescription     = "How long to wait after a batch succeeded before sending the next, such as `30s` or `5m`, from `0s` to `1h` (default none), " +
		"for example to let a scheduler bring the restarted nodes back into service. It is also held before the first batch an apply resumes a rollout with."
)

// How a rollout ended, in words: the one place that does it. For each surface
// (the resource's create, its update that resumes a rollout, the action) the
// summary, the detail, the severity and, on create, whether the resource is
// tainted are decided together here, from the engine's End and the batches.

// surface is where a rollout ran.
type surface int

const (
	onCreate surface = iota // the resource's Create: an error taints
	onResume                // the resource's Update, resuming a recorded rollout: nothing taints
	onAction                // the action: nothing is recorded, so every end but Done is an error
)

// severity is the one decision of how a run's end is reported: nothing
// (diag.SeverityInvalid) when every declared node restarted (and, with the
// gate, is back in service), else an error, on every surface. In a pipeline
// the exit code is the whole interface, so a run that leaves a node not
// restarted or an outcome unknown must not exit 0. On create, Terraform
// taints a record saved beside an error; the next apply replaces it, and the
// replacement continues this rollout (rollout.Continues), so tainting never
// restarts a batch that succeeded.
func severity(res rollout.Result) diag.Severity {
	if res.End == rollout.Done {
		return diag.SeverityInvalid
	}
	return diag.SeverityError
}

// recorded reports whether the run leaves anything to keep in state: a job, or
// a request that may have made one.
func recorded(res rollout.Result) bool {
	return sent(res) || slices.ContainsFunc(res.Batches, rollout.Batch.Carries)
}

// sent reports whether any batch was sent: a job, or a request that may have
// made one. A record with none is kept only for what it carries of the
// records it replaced.
func sent(res rollout.Result) bool {
	_, _, _, sent := rollout.Summary(res.Batches)
	return sent
}

// tainted reports whether Terraform taints the resource after this run.
func tainted(res rollout.Result, s surface) bool {
	return s == onCreate && severity(res) == diag.SeverityError && recorded(res)
}

// ending is a run's result with what wording it needs.
type ending struct {
	res   rollout.Result
	spec  rollout.Spec
	s     surface
	scrub func(string) string
}

// report is every diagnostic a run gives on surface s: a warning per batch
// whose request did not go the plain way, then its end's.
func report(res rollout.Result, spec rollout.Spec, s surface, scrub func(string) string) diag.Diagnostics {
	e := ending{res: res, spec: spec, s: s, scrub: scrub}
	var diags diag.Diagnostics
	for _, n := range res.Notes {
		diags.Append(e.note(n))
	}
	if severity(res) == diag.SeverityInvalid {
		return diags
	}
	diags.AddError(e.words())
	return diags
}

// note explains a batch whose request did not go the plain way.
func (e ending) note(n rollout.Note) diag.Diagnostic {
	if !n.Adopted {
		return diag.NewWarningDiagnostic("Restart Request Sent Again", e.aboutBatch(n.Batch)+fmt.Sprintf(
			"The answer to an earlier restart request was lost, and the operation log then proved it had no effect: no job of it by the time the API could no longer process it. "+
				"So the restart was sent once more, and created job %s.", n.JobID))
	}
	others := ""
	if len(n.Others) > 0 {
		which := "Job " + n.Others[0]
		if len(n.Others) > 1 {
			which = "Jobs " + strings.Join(n.Others, ", ")
		}
		others = " " + which + " restarted exactly these nodes in that time too: a restart this record did not know of (another tool's, or that of a record older than the one it replaced). " +
			"Any of these jobs may be this request's, so the others are kept with the record too (in its private state), and no later apply takes one of them for a restart of its own."
	}
	return diag.NewWarningDiagnostic("Restart Job Adopted From Operation Log", e.aboutBatch(n.Batch)+fmt.Sprintf(
		"The answer to the restart request was lost (%s), so the request was not sent again. Job %s in the operation log restarts exactly these nodes "+
			"and was created when that request could have made it; it was adopted as this restart.%s", e.scrub(n.Reason), n.JobID, others))
}

// aboutBatch names the batch a message is about, in a rollout of several.
func (e ending) aboutBatch(i int) string {
	if len(e.res.Batches) < 2 {
		return ""
	}
	return fmt.Sprintf("Batch %d of %d (%s): ", i+1, len(e.res.Batches), nodesPhrase(e.res.Batches[i].Nodes))
}

// words is the end's summary and detail: what happened, where the rollout
// stands, and what comes next on this surface.
func (e ending) words() (summary, detail string) {
	summary, what := e.what()
	if e.s == onAction && (e.res.End == rollout.Interrupted || e.res.End == rollout.Cancelled) {
		// Terraform was interrupted: what the action did matters less than
		// that it did not finish.
		summary = "Restart Action Cancelled"
	}
	return summary, joinSentences(e.supersedes(), what, e.progress(), e.next())
}

// supersedes is the lead of a resume that stopped short: the apply's output
// holds the plan's warning of what the apply would do (Unfinished Rolling
// Restart Resumes; users saw it printed again right before this message), so
// this message says that it, not the warning, tells what was done and what is
// left. "" otherwise.
func (e ending) supersedes() string {
	if e.s != onResume || len(e.res.Batches) < 2 || e.res.End == rollout.Done {
		return ""
	}
	return "This apply stopped before it did all that the plan's \"Unfinished Rolling Restart Resumes\" warning said; this message says what was done and what is left."
}

// what says what happened to the batch the run stopped at.
func (e ending) what() (summary, detail string) {
	r, b := e.res, e.res.Stopped()
	who := map[surface]string{onCreate: "The apply", onResume: "The apply", onAction: "The action"}[e.s]
	switch r.End {
	case rollout.Failed:
		detail = fmt.Sprintf("Restart job %s for %s finished with status %q", b.JobID, e.target(b), r.Wait.Status)
		if r.Wait.Job.ErrorCodes != "" {
			detail += fmt.Sprintf(" (error_codes: %s)", e.scrub(string(r.Wait.Job.ErrorCodes)))
		}
		return "Restart Job Failed", detail + "."
	case rollout.TimedOut:
		return "Timed Out Waiting For Restart Job", e.timedOut(b)
	case rollout.Unreadable:
		return "Cannot Check Restart Job", fmt.Sprintf("Restart job %s for cluster %s was accepted, but its status cannot be read: %s. "+
			"The restart may have happened: check the job in the cluster's operation log (in the console, or GET /api/operation with jobs=%s).",
			b.JobID, e.spec.ClusterID, e.scrub(errText(r.Err)), b.JobID)
	case rollout.OutOfTime:
		resent := ""
		if r.Err != nil {
			// Stopped before a resend: say why a request went out at all.
			resent = " (the answer to its first request was lost, and the operation log proved that request had no effect, after which too little time was left)"
		}
		return "Timed Out Before Next Batch", fmt.Sprintf("Batch %d of %d was not sent%s: less of %s (%s) was left than batch %d took (%s), so it would most likely have timed out.",
			r.At+1, len(r.Batches), resent, e.timeoutName(), shortDuration(r.Timeout), r.At, roundElapsed(r.Took))
	case rollout.Rejected:
		return e.rejected(b)
	case rollout.Lost:
		return "Restart Outcome Unknown", e.lost(b)
	case rollout.NotBack:
		return "Nodes Not Back In Service", e.notBack(b)
	case rollout.Interrupted:
		if r.Gate.Held {
			return "Wait For Nodes Interrupted", fmt.Sprintf("%s was cancelled after %s while waiting for the nodes of job %s to be back in service (health gate): %s.",
				who, roundElapsed(r.Gate.Elapsed), b.JobID, e.nodesState(b))
		}
		if r.Wait.End != rollout.Interrupted {
			return "Restart Interrupted", fmt.Sprintf("%s was cancelled while the restart request was in flight; its job %s was found in the operation log, "+
				"so the restart was accepted and may still be running.", who, b.JobID)
		}
		return "Wait For Restart Job Interrupted", fmt.Sprintf("%s was cancelled while waiting for restart job %s (cluster %s) after %s; "+
			"the restart had been accepted and may still be running (last status %q).", who, b.JobID, e.spec.ClusterID, r.Wait.Elapsed.Round(time.Second), r.Wait.Status)
	case rollout.Cancelled:
		if !sent(r) {
			return "Restart Cancelled", who + " was cancelled before the restart request was sent: nothing was restarted."
		}
		return "Rolling Restart Interrupted", fmt.Sprintf("%s was cancelled before batch %d of %d was sent.", who, r.At+1, len(r.Batches))
	}
	return "", ""
}

// notBack words a batch whose nodes were not all back in service in time.
func (e ending) notBack(b rollout.Batch) string {
	g := e.res.Gate
	limit := fmt.Sprintf("within %s (health_gate.healthy_deadline)", shortDuration(g.Limit))
	if g.ByTimeout {
		limit = fmt.Sprintf("within the %s left of %s", shortDuration(g.Limit), e.timeoutName())
	}
	detail := fmt.Sprintf("Restart job %s for %s succeeded, but its nodes were not all back in service %s: %s.", b.JobID, e.target(b), limit, e.nodesState(b))
	if g.Err != nil {
		detail = fmt.Sprintf("Restart job %s for %s succeeded, but its nodes cannot be read to tell whether they are back in service: %s.", b.JobID, e.target(b), e.scrub(g.Err.Error()))
	}
	return detail + " Back in service means status active, no transition_status, and health_status healthy wherever the node's health check is on. " +
		"Look at these nodes in the console (or with data.hpc_cluster_nodes, whose in_service says the same) before going on."
}

// nodesState is how the gate last saw the stopped batch's nodes.
func (e ending) nodesState(b rollout.Batch) string { return nodesState(b, e.res.Gate, e.scrub) }

// nodesState says how many nodes of b the gate g saw back in service, and
// each other with its status, transition and health.
func nodesState(b rollout.Batch, g rollout.GateWait, scrub func(string) string) string {
	if !g.Seen {
		state := "no listing of the cluster's nodes could be read"
		if g.LastErr != nil {
			state += " (last error: " + scrub(g.LastErr.Error()) + ")"
		}
		return state
	}
	out := outOfService(b.Nodes, g.Nodes)
	state := fmt.Sprintf("%d of %d back", len(b.Nodes)-len(out), len(b.Nodes))
	if len(out) > 0 {
		state += "; not back: " + strings.Join(out, ", ")
	}
	if len(out) == 0 && g.BackFor > 0 {
		state += fmt.Sprintf(", for %s so far", roundElapsed(g.BackFor))
	}
	return state
}

// outOfService names each node of ids that nodes does not show in service,
// with its state ("not listed" when nodes lacks it).
func outOfService(ids []string, nodes []ehpc.Node) []string {
	var out []string
	for _, id := range ids {
		i := slices.IndexFunc(nodes, func(n ehpc.Node) bool { return n.NodeID == id })
		switch {
		case i < 0:
			out = append(out, id+" (not listed)")
		case !nodes[i].InService():
			out = append(out, id+" ("+nodeState(nodes[i])+")")
		}
	}
	return out
}

// nodeState is a node's status, transition and health, as the API gave them.
// A health check that has not reported since the boot and a node without a
// health check are told apart: one is still coming back, the other never
// will report a health.
func nodeState(n ehpc.Node) string {
	parts := []string{"status " + orNone(string(n.Status))}
	parts = append(parts, "transition "+orNone(string(n.TransitionStatus)))
	switch health := strings.TrimSpace(string(n.HealthStatus)); {
	case !n.HealthReported():
		parts = append(parts, "no health check")
	case health == "":
		parts = append(parts, "health not reported yet")
	default:
		parts = append(parts, "health "+health)
	}
	return strings.Join(parts, ", ")
}

func orNone(s string) string {
	if strings.TrimSpace(s) == "" {
		return "none"
	}
	return s
}

// target names what restarted: the cluster for the resource; the nodes too
// for the action, which keeps no record of them.
func (e ending) target(b rollout.Batch) string {
	if e.s == onAction {
		return nodesPhrase(b.Nodes) + " of cluster " + e.spec.ClusterID
	}
	return "cluster " + e.spec.ClusterID
}

func (e ending) timeoutName() string {
	if e.s == onAction {
		return "the action's timeout"
	}
	return "timeouts.create"
}

func (e ending) timedOut(b rollout.Batch) string {
	w := e.res.Wait
	last := fmt.Sprintf("last status %q", w.Status)
	if !w.Seen {
		last = "not in the operation log yet"
	}
	if w.LastErr != nil {
		last += "; last error reading it: " + e.scrub(w.LastErr.Error())
	}
	within := shortDuration(e.res.Timeout)
	if e.s == onAction {
		within = "the action's timeout of " + within
	}
	return fmt.Sprintf("Restart job %s for cluster %s did not finish within %s (%s). The restart was accepted and job %s may still be running: follow it in the cluster's operation log.",
		b.JobID, e.spec.ClusterID, within, last, b.JobID)
}

// rejected words a request that was refused or never reached the API: nothing
// of it happened.
func (e ending) rejected(b rollout.Batch) (summary, detail string) {
	target := fmt.Sprintf("nodes %s of cluster %s in zone %s", strings.Join(b.Nodes, ", "), e.spec.ClusterID, e.spec.Zone)
	err := e.res.Err
	var redirect *ehpc.RedirectError
	var connect *ehpc.ConnectError
	var apiErr *ehpc.APIError
	var inherited *rollout.InheritedError
	switch {
	case errors.As(err, &inherited):
		return "Restart Not Sent", fmt.Sprintf("The restart of %s was not sent: %s.", target, e.scrub(err.Error()))
	case errors.As(err, &redirect):
		return "Endpoint Redirects", fmt.Sprintf("The restart of %s was not processed: %s. Set endpoint on the provider (or QINGCLOUD_HPC_ENDPOINT) to the API's final https:// URL; nothing was sent twice.",
			target, e.scrub(err.Error()))
	case errors.As(err, &connect):
		return "Cannot Connect To Endpoint", fmt.Sprintf("The restart of %s was not sent: %s. %s", target, e.scrub(err.Error()), connectAdvice(connect))
	case errors.As(err, &apiErr) && refusedStopped(apiErr):
		// Not the 1400 a running job causes: waiting and applying again fail the same way.
		return "Restart Refused: Node Not Active", fmt.Sprintf("The EHPC API refused the restart of %s with ret_code %d: %s. The API restarts only active nodes, and this refusal names a node "+
			"that is not (stopped, or not running): applying again fails the same way until the node is started. Start it (in the console), then apply again; "+
			"or leave it out of node_ids (data.hpc_cluster_nodes with stopped = false selects only nodes that are not stopped), which makes a new restart of the other nodes.",
			target, apiErr.RetCode, e.scrub(apiErr.Message))
	case errors.As(err, &apiErr):
		return "Restart Request Rejected", fmt.Sprintf("The EHPC API rejected the restart of %s: %s%s", target, e.scrub(err.Error()), terraformAdvice(apiErr.RetCode))
	}
	return "Restart Request Failed", fmt.Sprintf("The restart of %s could not be requested: %s. Nothing was restarted; check the endpoint and network, then apply again.",
		target, e.scrub(errText(err)))
}

// notActive is how a 1400 refusal says a node is not active: the simulator's
// "only active nodes can be restarted" and "is stopped", and the API
// reference's "is not running".
var notActive = regexp.MustCompile(`(?i)only active nodes|\bnot running\b|\bis (stopped|suspended|ceased)\b`)

// refusedStopped reports whether err is a 1400 that names a node at rest out
// of service, which no wait cures, unlike a 1400 for a node still restarting.
func refusedStopped(err *ehpc.APIError) bool {
	return err.RetCode == ehpc.CodePermissionDenied && notActive.MatchString(err.Message)
}

// lost words a request whose answer was lost and whose job was not found.
func (e ending) lost(b rollout.Batch) string {
	cluster, zone := e.spec.ClusterID, e.spec.Zone
	detail := fmt.Sprintf("The restart of nodes %s of cluster %s in zone %s may or may not have happened, and it was not sent again: %s.",
		strings.Join(b.Nodes, ", "), cluster, zone, e.scrub(errText(e.res.Err)))
	window := "Its job, if any, is a " + ehpc.JobActionRestart + " job of exactly these nodes"
	switch from, until, sent := b.Request.From, b.Request.Until, b.Request.SentAt; {
	case !from.IsZero() && !until.IsZero():
		window += fmt.Sprintf(" created between %s and %s by the API's clock", from.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339))
	case !until.IsZero():
		// No answer has shown the server's clock yet.
		window += fmt.Sprintf(" created by %s by the API's clock, after the request was sent at %s by this machine's clock", until.UTC().Format(time.RFC3339), sent.UTC().Format(time.RFC3339))
	}
	return detail + " " + window + fmt.Sprintf(", in the operation log of cluster %s (in the console, or GET /api/operation with resource_ids=%s).", cluster, cluster)
}

// progress says where a rollout of several batches stands: which nodes
// restarted, which batch stopped it, which nodes were never restarted. It is
// "" for a restart of one batch, whose messages already name its nodes.
func (e ending) progress() string {
	r := e.res
	if len(r.Batches) < 2 {
		return ""
	}
	var done, never []string
	for _, b := range r.Batches {
		switch {
		case b.Status == ehpc.JobSuccessful:
			done = append(done, b.Nodes...)
		case b.JobID == "" && b.Status == rollout.NotSent:
			never = append(never, b.Nodes...)
		}
	}
	b := r.Stopped()
	var at string
	switch {
	case b.JobID != "":
		at = fmt.Sprintf("job %s, status %q, %s", b.JobID, b.Status, nodesPhrase(b.Nodes))
	case b.Status == rollout.Unknown:
		at = "its request's outcome is unknown, " + nodesPhrase(b.Nodes)
	default:
		at = "not sent, " + nodesPhrase(b.Nodes)
	}
	return fmt.Sprintf("Rolling restart stopped at batch %d of %d (%s). Restarted so far: %s. Never restarted: %s.",
		r.At+1, len(r.Batches), at, nodeList(done), nodeList(never))
}

// next says what follows: on the resource, what the next plain apply of the
// same configuration does with what this one saved (it finishes the rollout,
// tainted or not); on the action, which keeps no record, what to invoke.
func (e ending) next() string {
	if e.s == onAction {
		return e.actionNext()
	}
	r := e.res
	if !recorded(r) {
		return "Nothing is saved in state: the next apply starts the restart again" + map[bool]string{true: " from batch 1.", false: "."}[len(r.Batches) > 1]
	}
	resume := resumeText(r.Batches, e.spec.Mode())
	if resume == "" {
		// Every End but Done leaves a step (rollout.Resumes); kept for safety.
		resume = "finds nothing left to do in the record."
	}
	const fresh = " To restart every node from the start instead, change triggers."
	switch {
	case tainted(r, e.s) && !sent(r):
		return "Nothing was sent, yet the record is saved in state, because it holds what the restart it replaced left behind (its jobs, or a request whose outcome is unknown). " +
			"Terraform marks it tainted, as after any failed create; the next apply replaces it, and the replacement " + resume + fresh
	case tainted(r, e.s):
		return "The record is saved in state. Terraform marks it tainted, as after any failed create; the next plain apply replaces it, " +
			"and the replacement continues this rollout instead of restarting every node: it " + resume + fresh
	case e.s == onResume:
		return "This apply resumed a recorded restart, so the record is saved in state untainted, and the next plain apply " + resume + fresh
	}
	return "The record is saved in state, and the next plain apply " + resume + fresh
}

// resumeText is what an apply does with a recorded rollout, "takes up ..." to
// complete a sentence; "" when it does nothing with it. rollout.Plan decides.
func resumeText(batches []rollout.Batch, m rollout.Mode) string {
	sentences := resumeSentences(batches, rollout.Plan(batches, m))
	if len(sentences) == 0 {
		return ""
	}
	noun := "rolling restart"
	if len(batches) < 2 {
		noun = "restart"
	}
	return "takes up the " + noun + " where it stopped: " + strings.Join(sentences, " ") + " Batches that succeeded are not restarted again."
}

// resumeSentences word the steps a resume takes, one sentence each (the plan's
// warning says the same), in the order they are taken.
func resumeSentences(batches []rollout.Batch, steps []rollout.Step) []string {
	var out, sends []string
	flush := func() {
		switch len(sends) {
		case 0:
			return
		case 1:
			out = append(out, "It sends batch "+sends[0]+".")
		default:
			out = append(out, "It sends batch "+strings.Join(sends, ", ")+", one after the other.")
		}
		sends = nil
	}
	for i, step := range steps {
		b := batches[i]
		switch {
		case step == rollout.Settle && len(batches) == 1:
			out = append(out, "The answer to the restart request was lost: it looks for its job in the operation log, adopts it if there is one, "+
				"and sends the restart only once the log proves the request had no effect.")
		case step == rollout.Settle && i > 0 && steps[i-1] == rollout.Gate:
			// The gate sentence before this one goes after the settle's: Run
			// looks first, then gates batch i.
			out[len(out)-1] = fmt.Sprintf("The answer to the request of batch %d was lost: it looks for that batch's job in the operation log and adopts it if there is one; "+
				"then it waits for the nodes of batch %d (job %s, successful) to be back in service (health_gate), without restarting them again, "+
				"and sends batch %d only if the log proved the request had no effect.", i+1, i, batches[i-1].JobID, i+1)
		case step == rollout.Settle:
			flush()
			out = append(out, fmt.Sprintf("The answer to the request of batch %d was lost: it looks for that batch's job in the operation log, adopts it if there is one, "+
				"and sends the batch only once the log proves the request had no effect.", i+1))
		case step == rollout.Wait:
			flush()
			out = append(out, fmt.Sprintf("It waits for batch %d (job %s) without sending it again.", i+1, b.JobID))
		case step == rollout.Gate:
			flush()
			out = append(out, fmt.Sprintf("It waits for the nodes of batch %d (job %s, successful) to be back in service (health_gate), without restarting them again.", i+1, b.JobID))
		case step == rollout.Send && b.JobID != "":
			flush()
			out = append(out, fmt.Sprintf("It sends batch %d again (its job %s failed).", i+1, b.JobID))
		case step == rollout.Send:
			sends = append(sends, fmt.Sprint(i+1))
		}
	}
	flush()
	return out
}

// actionNext tells the action's user what to do: every invocation restarts
// its nodes, so a job that may still run or may have happened must be looked
// at first, and a rollout is finished by invoking the action for the nodes
// not restarted yet.
func (e ending) actionNext() string {
	r, b := e.res, e.res.Stopped()
	var advice string
	switch r.End {
	case rollout.Failed:
		advice = "See the job in the cluster's operation log and fix the cause before invoking the action again."
	case rollout.TimedOut:
		advice = "Do not invoke the action again to wait for it: every invocation sends a new restart, so the nodes would restart a second time. " +
			"For the next invocation, raise timeout (up to \"" + shortDuration(maxWaitTimeout) + "\")."
	case rollout.OutOfTime:
		advice = "For the next invocation, raise timeout (up to \"" + shortDuration(maxWaitTimeout) + "\")."
	case rollout.Unreadable, rollout.Lost, rollout.Interrupted:
		advice = "The action keeps no record: check the cluster's operation log before invoking the action again, since each invocation restarts the nodes."
	case rollout.NotBack:
		advice = "Bring those nodes back (or find why they do not come back) before invoking the action again: it would restart them once more."
	}
	if len(r.Batches) < 2 {
		return advice
	}
	// The nodes to invoke again: every batch never sent, and the stopped batch
	// when its job failed or it was never sent; one that may still run or may
	// have happened is left to the operator, who must look first.
	mayRun := b.Status != ehpc.JobFailed && (b.JobID != "" || b.Status == rollout.Unknown)
	var rest []string
	for i, x := range r.Batches {
		if i > r.At || i == r.At && !mayRun {
			rest = append(rest, x.Nodes...)
		}
	}
	finish := "Invoking the action again restarts every node again; to finish the rollout without restarting the nodes that succeeded, " +
		"invoke it with node_ids set to the nodes not restarted yet (" + nodeList(rest) + ")"
	switch {
	case r.End == rollout.NotBack:
		finish += fmt.Sprintf("; the nodes of batch %d (%s) did restart, so leave them out", r.At+1, nodeList(b.Nodes))
	case mayRun:
		finish += fmt.Sprintf(", adding the nodes of batch %d (%s) only once the operation log shows they did not restart successfully", r.At+1, nodeList(b.Nodes))
	}
	return joinSentences(advice, finish+".")
}

// joinSentences joins the non-empty sentences with spaces.
func joinSentences(parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, " ")
}

func errText(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}

// nodeList names every node: the lists are what an operator acts on.
func nodeList(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}

// nodesPhrase says "node cln-a" or "2 nodes (cln-a, cln-b)", cut short for long
// lists so a progress line stays a line.
func nodesPhrase(ids []string) string {
	if len(ids) == 1 {
		return "node " + ids[0]
	}
	const show = 5
	if len(ids) <= show {
		return fmt.Sprintf("%d nodes (%s)", len(ids), strings.Join(ids, ", "))
	}
	return fmt.Sprintf("%d nodes (%s, and %d more)", len(ids), strings.Join(ids[:show], ", "), len(ids)-show)
}

func roundElapsed(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}
