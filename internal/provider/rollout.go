package provider

import (
	"context"
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
	"github.com/qingcloud/terraform-provider-hpc/internal/rollout"
)

// This file is the Terraform side of the restart that the resource and the
// action share, run by the engine in internal/rollout: the rolling argument,
// what a rollout needs before anything is sent (prepare), and its record in
// state. How a rollout ended is worded in outcome.go, in one place for every
// surface.

// maxRollingPause bounds rolling.pause: longer pauses belong between applies.
const maxRollingPause = time.Hour

// rollingModel is the rolling argument of the resource and the action.
type rollingModel struct {
	BatchSize types.Int64  `tfsdk:"batch_size"`
	Pause     types.String `tfsdk:"pause"`
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
	size, pause, more := rolling(ctx, args.Rolling)
	diags.Append(more...)
	spec := rollout.Spec{Zone: zone, ClusterID: args.ClusterID.ValueString(), Wait: args.waits(), Sending: true, Pause: pause, Timeout: timeout}
	// Checked at plan too, but a value unknown then is known only now.
	if d := args.rollingWithoutWait(); d != nil {
		diags.Append(d)
	}
	return spec, rollout.Split(ehpc.NormalizeIDs(nodeIDs), size)
}

// progressLog is the observer of a resource's rollout: a line at INFO for
// each request accepted and each job's end, so TF_LOG_PROVIDER=INFO shows a
// long rollout go.
func progressLog(ctx context.Context, spec rollout.Spec, n int) rollout.Observer {
	return rollout.Observer{
		Sent: func(i int, b rollout.Batch, note *rollout.Note) {
			tflog.Info(ctx, "restart accepted", map[string]any{"cluster_id": spec.ClusterID, "zone": spec.Zone, "node_ids": b.Nodes,
				"batch": i + 1, "batches": n, "job_id": b.JobID, "adopted": note != nil && note.Adopted, "resent": note != nil && !note.Adopted})
		},
		Waited: func(i int, b rollout.Batch, w rollout.JobWait) {
			tflog.Info(ctx, "restart job ended", map[string]any{"cluster_id": spec.ClusterID, "batch": i + 1, "batches": n, "job_id": b.JobID,
				"status": w.Status, "end": w.End.String(), "elapsed": w.Elapsed.String()})
		},
	}
}

// waits is wait_for_completion, true unless set to false.
func (a restartArgs) waits() bool {
	return a.WaitForCompletion.IsNull() || a.WaitForCompletion.ValueBool()
}

// resumption is what an update does with the rollout recorded in state: the
// batches, and whether it may send (the configuration still rolls, or the
// record is one batch; without that, a lost request is only settled). The one
// place the resource decides whether an update resumes: ModifyPlan and Update
// both ask it, and rollout.Resumes decides from the record.
func resumption(ctx context.Context, plan, state ClusterNodeRestartResourceModel) (batches []rollout.Batch, sending, resumes bool, diags diag.Diagnostics) {
	batches, diags = batchesFrom(ctx, state.Batches)
	sending = !plan.Rolling.IsNull() || len(batches) == 1
	return batches, sending, !diags.HasError() && rollout.Resumes(batches, sending), diags
}

// batchAttrTypes is the type of one element of the resource's batches.
var batchAttrTypes = map[string]attr.Type{
	"job_id":             types.StringType,
	"node_ids":           types.ListType{ElemType: types.StringType},
	"status":             types.StringType,
	"earlier_job_ids":    types.ListType{ElemType: types.StringType},
	"sent_at":            types.StringType,
	"job_created_after":  types.StringType,
	"job_created_before": types.StringType,
	"excluded_job_ids":   types.ListType{ElemType: types.StringType},
}

var batchType = types.ObjectType{AttrTypes: batchAttrTypes}

// batchesValue is the record of a rollout's batches, in state or in a plan.
// planned says which batches an apply will change (nil: none): all of their
// values but their nodes are known only after it.
func batchesValue(batches []rollout.Batch, planned func(i int) bool) (types.List, diag.Diagnostics) {
	var ds diag.Diagnostics
	elems := make([]attr.Value, 0, len(batches))
	for i, b := range batches {
		ids, d := types.ListValueFrom(context.Background(), types.StringType, b.Nodes)
		ds.Append(d...)
		vals := map[string]attr.Value{"node_ids": ids}
		if planned != nil && planned(i) {
			for name, typ := range batchAttrTypes {
				if name != "node_ids" {
					vals[name] = unknownOf(typ)
				}
			}
		} else {
			vals["job_id"], vals["status"] = optionalString(b.JobID), types.StringValue(b.Status)
			vals["earlier_job_ids"], vals["excluded_job_ids"] = optionalList(b.Earlier, &ds), optionalList(b.Excluded, &ds)
			vals["sent_at"] = timeValue(b.Request.SentAt)
			// The window matters only while the batch's outcome is unknown.
			vals["job_created_after"], vals["job_created_before"] = types.StringNull(), types.StringNull()
			if b.JobID == "" && b.Status == rollout.Unknown {
				vals["job_created_after"], vals["job_created_before"] = timeValue(b.Request.From), timeValue(b.Request.Until)
			}
		}
		obj, d := types.ObjectValue(batchAttrTypes, vals)
		ds.Append(d...)
		elems = append(elems, obj)
	}
	list, d := types.ListValue(batchType, elems)
	ds.Append(d...)
	return list, ds
}

// optionalList is a list of ids in state, null when empty.
func optionalList(ids []string, diags *diag.Diagnostics) types.List {
	if len(ids) == 0 {
		return types.ListNull(types.StringType)
	}
	l, d := types.ListValueFrom(context.Background(), types.StringType, ids)
	diags.Append(d...)
	return l
}

func unknownOf(t attr.Type) attr.Value {
	if t.Equal(types.StringType) {
		return types.StringUnknown()
	}
	return types.ListUnknown(types.StringType)
}

func optionalString(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

// timeValue writes a time in state as RFC 3339 (UTC, whole seconds); null when
// zero.
func timeValue(t time.Time) types.String {
	if t.IsZero() {
		return types.StringNull()
	}
	return types.StringValue(t.UTC().Format(time.RFC3339))
}

// batchModel is one element of the resource's batches.
type batchModel struct {
	JobID            types.String `tfsdk:"job_id"`
	NodeIDs          []string     `tfsdk:"node_ids"`
	Status           types.String `tfsdk:"status"`
	EarlierJobIDs    []string     `tfsdk:"earlier_job_ids"`
	SentAt           types.String `tfsdk:"sent_at"`
	JobCreatedAfter  types.String `tfsdk:"job_created_after"`
	JobCreatedBefore types.String `tfsdk:"job_created_before"`
	ExcludedJobIDs   []string     `tfsdk:"excluded_job_ids"`
}

// batchesFrom reads the state's batches back; nil for a state written before
// batches were recorded. A state written before requests were recorded has no
// times: rollout.Engine settles such a lost request from the batch before it.
func batchesFrom(ctx context.Context, v types.List) ([]rollout.Batch, diag.Diagnostics) {
	var diags diag.Diagnostics
	if v.IsNull() || v.IsUnknown() {
		return nil, diags
	}
	var ms []batchModel
	diags.Append(v.ElementsAs(ctx, &ms, false)...)
	out := make([]rollout.Batch, 0, len(ms))
	for i, m := range ms {
		b := rollout.Batch{Nodes: m.NodeIDs, JobID: m.JobID.ValueString(), Status: m.Status.ValueString(), Earlier: m.EarlierJobIDs, Excluded: m.ExcludedJobIDs}
		for _, t := range []struct {
			name string
			v    types.String
			dst  *time.Time
		}{{"sent_at", m.SentAt, &b.Request.SentAt}, {"job_created_after", m.JobCreatedAfter, &b.Request.From}, {"job_created_before", m.JobCreatedBefore, &b.Request.Until}} {
			if t.v.IsNull() || t.v.IsUnknown() {
				continue
			}
			parsed, err := time.Parse(time.RFC3339, t.v.ValueString())
			if err != nil {
				diags.AddAttributeError(path.Root("batches").AtListIndex(i).AtName(t.name), "Unreadable Restart Record",
					fmt.Sprintf("batches[%d].%s = %q in state is not an RFC 3339 time (%v). The state was edited by hand or written by an unknown version; "+
						"restore it from a backup, or remove the resource from state (terraform state rm) to forget this restart.", i, t.name, t.v.ValueString(), err))
				continue
			}
			*t.dst = parsed
		}
		out = append(out, b)
	}
	return out, diags
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
		"for example to let a scheduler bring the restarted nodes back into service. It is also held before the first batch an apply resumes a rollout with."
)
