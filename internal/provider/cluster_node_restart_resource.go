package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/rollout"
)

// The optional interfaces, each with what it is for. ImportState is implemented
// only to refuse with a reason: without it the framework's answer says nothing
// about why or what to do instead.
var (
	_ resource.Resource                   = &ClusterNodeRestartResource{}
	_ resource.ResourceWithConfigure      = &ClusterNodeRestartResource{} // the provider's client and poller
	_ resource.ResourceWithModifyPlan     = &ClusterNodeRestartResource{} // zone and batches in the plan; the resume warning
	_ resource.ResourceWithValidateConfig = &ClusterNodeRestartResource{} // rolling without waiting, two arguments
	_ resource.ResourceWithImportState    = &ClusterNodeRestartResource{} // a refusal that says why
)

// ClusterNodeRestartResource restarts a set of nodes once, when it is created.
// Re-running the restart is a replacement (a change of cluster_id, node_ids, zone
// or triggers); reading and destroying never call the API, and updating does
// only to resume a rolling restart that stopped before every batch was sent.
type ClusterNodeRestartResource struct {
	data *providerData
}

// restartArgs are the arguments the resource and the action share: what to
// restart, where, and whether to wait for it.
type restartArgs struct {
	ClusterID         types.String `tfsdk:"cluster_id"`
	NodeIDs           types.Set    `tfsdk:"node_ids"`
	Zone              types.String `tfsdk:"zone"` // null: the provider's zone
	WaitForCompletion types.Bool   `tfsdk:"wait_for_completion"`
	Rolling           types.Object `tfsdk:"rolling"`     // null: one batch of every node
	HealthGate        types.Object `tfsdk:"health_gate"` // null: the defaults
}

// ClusterNodeRestartResourceModel is the resource's state: the restart's
// arguments, what only the resource has, and the record of the restart.
type ClusterNodeRestartResourceModel struct {
	restartArgs
	Triggers types.Map      `tfsdk:"triggers"`
	Timeouts timeouts.Value `tfsdk:"timeouts"`
	ID       types.String   `tfsdk:"id"` // the first job, never changed
	JobID    types.String   `tfsdk:"job_id"`
	RetCode  types.Int64    `tfsdk:"ret_code"`
	Status   types.String   `tfsdk:"status"` // pending while a batch is unsent
	Batches  types.List     `tfsdk:"batches"`
}

// batchAttr is a computed string of a batch in the resource's schema.
func batchAttr(desc string) schema.StringAttribute {
	return schema.StringAttribute{MarkdownDescription: desc, Computed: true}
}

// legacyDescription says what a batches attribute that held bookkeeping
// before it moved into private state (bookkeeping.go) is now.
func legacyDescription(name string) string {
	return fmt.Sprintf("Bookkeeping for finishing an unfinished rollout (the batch's `%s`), kept in the resource's private state, and null here once the rollout finished. "+
		"An unfinished record carries it here too, where its replacement can read it (Terraform hands a tainted record's replacement none of its private state): "+
		"every batch's in a record a failed create left, and a batch's without a job in any record. "+
		"Records written by earlier releases kept it here always; the first refresh moves it into private state once the rollout is finished.", name)
}

const legacyDeprecation = "Bookkeeping, kept in private state: null once the rollout finished."

func legacyAttr(name string) schema.StringAttribute {
	return schema.StringAttribute{MarkdownDescription: legacyDescription(name), Computed: true, DeprecationMessage: legacyDeprecation}
}

func legacyListAttr(name string) schema.ListAttribute {
	return schema.ListAttribute{MarkdownDescription: legacyDescription(name), Computed: true, ElementType: types.StringType, DeprecationMessage: legacyDeprecation}
}

// NewClusterNodeRestartResource is the resource factory.
func NewClusterNodeRestartResource() resource.Resource {
	return &ClusterNodeRestartResource{}
}

func (r *ClusterNodeRestartResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster_node_restart" // the action's name too
}

func (r *ClusterNodeRestartResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Restarts nodes of an EHPC cluster, once, when the resource is created: all at once, or in batches with `rolling`. " +
			"To restart again, change `triggers` (or any other argument that forces replacement). " +
			"Reading and destroying this resource never call the API; updating it does only to finish a restart the record shows unfinished " +
			"(a batch never sent, or a request whose answer was lost).",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The id of the first restart job this resource recorded, never changed once set: the same as `job_id` without `rolling`. " +
					"It is the id Terraform prints in \"Creation complete [id=...]\": in a rolling restart, batch 1's job, while `job_id` is the last batch's. " +
					"Null only while the first batch's request's outcome is unknown.",
				Computed:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"cluster_id": schema.StringAttribute{
				MarkdownDescription: "Id of the EHPC cluster whose nodes restart, such as `ehpc-8jqdq0mz`. Changing it restarts the new cluster's nodes.",
				Required:            true,
				Validators:          clusterIDValidators,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"node_ids": schema.SetAttribute{
				MarkdownDescription: "Ids of the nodes to restart, such as `cln-hzzvbtnh`; at least one. Sent to the API sorted and without duplicates. Changing the set restarts the new set.",
				Required:            true,
				ElementType:         types.StringType,
				Validators:          nodeIDsValidators,
				PlanModifiers:       []planmodifier.Set{setplanmodifier.RequiresReplace()},
			},
			"zone": schema.StringAttribute{
				MarkdownDescription: "Zone of the cluster, such as `jn1a`. Defaults to the provider's `zone` when the resource is created; " +
					"later changes of the provider's zone do not restart existing resources. Changing this argument restarts the nodes.",
				Optional:   true,
				Computed:   true,
				Validators: zoneValidators,
				PlanModifiers: []planmodifier.String{
					stringplanmodifier.UseStateForUnknown(),
					stringplanmodifier.RequiresReplace(),
				},
			},
			"triggers": schema.MapAttribute{
				MarkdownDescription: "Arbitrary strings that, when changed, restart the nodes again (the resource is replaced). Never sent to the API. " +
					"Use a value that changes only when a restart is wanted, such as a kernel or image version: `timestamp()` here restarts on every apply.",
				Optional:      true,
				ElementType:   types.StringType,
				PlanModifiers: []planmodifier.Map{mapplanmodifier.RequiresReplace()},
			},
			"wait_for_completion": schema.BoolAttribute{
				MarkdownDescription: "Wait for the restart job to finish (`true`, the default) and fail if it fails or outlasts `timeouts.create`; " +
					"with `false` the apply returns once the API accepted the restart, with `status = \"pending\"`. Changing it never restarts anything.",
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(true),
			},
			"rolling": schema.SingleNestedAttribute{
				MarkdownDescription: rollingDescription + " Changing `rolling` never restarts anything; it shapes the next restart.",
				Optional:            true,
				Attributes: map[string]schema.Attribute{
					"batch_size":       schema.Int64Attribute{MarkdownDescription: batchSizeDescription, Required: true, Validators: batchSizeValidators},
					"first_batch_size": schema.Int64Attribute{MarkdownDescription: firstBatchSizeDescription, Optional: true, Validators: batchSizeValidators},
					"pause":            schema.StringAttribute{MarkdownDescription: pauseDescription, Optional: true, Validators: pauseValidators},
				},
			},
			"health_gate": schema.SingleNestedAttribute{
				MarkdownDescription: healthGateDescription,
				Optional:            true,
				Validators:          []validator.Object{healthGateValidator{}},
				Attributes: map[string]schema.Attribute{
					"enabled":          schema.BoolAttribute{MarkdownDescription: healthGateEnabledDescription, Optional: true},
					"min_healthy_time": schema.StringAttribute{MarkdownDescription: minHealthyTimeDescription, Optional: true},
					"healthy_deadline": schema.StringAttribute{MarkdownDescription: healthyDeadlineDescription, Optional: true},
				},
			},
			"batches": schema.ListNestedAttribute{
				MarkdownDescription: "The restart requests, in the order they were sent: one for all `node_ids` without `rolling`, one per batch with it. " +
					"With `rolling`, the plan shows each batch's nodes before anything is sent. What a later apply needs to finish a batch beyond these " +
					"(its earlier jobs, when it was sent) is kept with the record in the resource's private state, so no job id is ever lost: " +
					"see [What the next apply does](#what-the-next-apply-does).",
				Computed: true,
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"job_id": batchAttr("The batch's restart job; null for a batch never sent, or whose request's answer was lost and whose job is not found yet."),
						"node_ids": schema.ListAttribute{
							MarkdownDescription: "The batch's nodes, sorted.",
							Computed:            true,
							ElementType:         types.StringType,
						},
						"status": batchAttr("The batch job's last status seen (as `status`); `not_sent` for a batch never sent, or whose request the operation log proved had no effect; " +
							"`unknown` with a null `job_id` for a batch whose request's answer was lost and whose job is not found yet (the next apply looks for it before anything else)."),
						"health_gate": batchAttr("Where the batch stands with the health gate: `waiting` from its job's success until every node of it is back in service, " +
							"`passed` once they were; null when its job succeeded without a gate, or has not succeeded yet. A batch `waiting` is taken up again by the next apply: " +
							"it waits for the nodes, never restarting them again."),
						"earlier_job_ids":    legacyListAttr("earlier_job_ids"),
						"sent_at":            legacyAttr("sent_at"),
						"job_created_after":  legacyAttr("job_created_after"),
						"job_created_before": legacyAttr("job_created_before"),
						"excluded_job_ids":   legacyListAttr("excluded_job_ids"),
					},
				},
			},
			"job_id": schema.StringAttribute{
				MarkdownDescription: "Id of the API's restart job, such as `j-he18e4khem2`; look it up in the console's operation log. " +
					"In a rolling restart, the last batch's job that was sent (each batch's job is in `batches`; `id` is batch 1's).",
				Computed:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"ret_code": schema.Int64Attribute{
				MarkdownDescription: "The API's `ret_code` in the answer that gave `job_id` (`0`: accepted). " +
					"Null when no answer gave it: the answer was lost and the job was adopted from the operation log, the request's outcome is unknown, " +
					"or the job was recorded by the restart this resource replaced.",
				Computed:      true,
				PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
			"status": schema.StringAttribute{
				MarkdownDescription: "Last job status seen: `successful`, `failed`, `pending` (not waited for, or the wait was cut short), " +
					"or `unknown` (the API accepted the restart, but its job could not be read from the operation log, or the answer to its request was lost; see the error of that apply), " +
					"or `not_sent` (nothing was sent: the record is kept only for what the record it replaced left behind, and the next apply sends the restart). " +
					"An apply that exits 0 always leaves `successful` (or, not waiting, `pending`); any other status means the apply failed, and the next plain apply finishes the restart. " +
					"In a rolling restart, the status of the last batch sent, except that it stays `pending` while a later batch was never sent: " +
					"`successful` always means every node.",
				Computed:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeoutsBlock(ctx),
		},
	}
}

func (r *ClusterNodeRestartResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig refuses rolling without waiting: a batch is sent only once the
// previous batch's job succeeded, which only a wait can tell.
func (r *ClusterNodeRestartResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	resp.Diagnostics.Append(checkRollingConfig(ctx, req.Config)...)
}

// ModifyPlan makes the plan show what the apply will do. On create it fills zone
// from the provider when the configuration leaves it unset (and refuses a plan
// with no zone from anywhere, before anything is sent), and lists the batches
// the nodes will restart in. On update it keeps the record of the restart, or,
// for a restart the record shows unfinished, shows what the apply does to
// finish it.
func (r *ClusterNodeRestartResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	if req.State.Raw.IsNull() {
		r.planCreate(ctx, req, resp)
		return
	}
	var plan, state ClusterNodeRestartResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || replaces(plan, state) {
		return // a replacement is planned again as a create
	}
	r.planUpdate(ctx, req, resp, plan, state)
}

// replaces reports whether the plan changes an argument that forces
// replacement (RequiresReplace is not visible to ModifyPlan).
func replaces(plan, state ClusterNodeRestartResourceModel) bool {
	return !plan.ClusterID.Equal(state.ClusterID) || !plan.NodeIDs.Equal(state.NodeIDs) ||
		!plan.Zone.Equal(state.Zone) || !plan.Triggers.Equal(state.Triggers)
}

func (r *ClusterNodeRestartResource) planCreate(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	// With rolling, the plan lists the batches (without, the one batch is
	// node_ids itself); unknown until node_ids and batch_size are known.
	var rollingV types.Object
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("rolling"), &rollingV)...)
	if !rollingV.IsNull() && !resp.Diagnostics.HasError() {
		var nodeIDs types.Set
		resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("node_ids"), &nodeIDs)...)
		shape, diags := rolling(ctx, rollingV)
		resp.Diagnostics.Append(diags...)
		if ids, known := knownStrings(ctx, nodeIDs); known && !resp.Diagnostics.HasError() && !rollingV.IsUnknown() && !rollingSizeUnknown(rollingV) {
			batches, diags := batchesValue(shape.split(ids), func(int) bool { return true }, false)
			resp.Diagnostics.Append(diags...)
			resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("batches"), batches)...)
		}
	}

	if r.data == nil {
		return // provider not configured yet
	}
	var configZone types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("zone"), &configZone)...)
	if resp.Diagnostics.HasError() || !configZone.IsNull() {
		return
	}
	zone := types.StringValue(r.data.zoneFor(configZone))
	if zone.ValueString() == "" {
		resp.Diagnostics.AddAttributeError(path.Root("zone"), "Missing Zone",
			r.data.missingZoneDetail("this restart", "resource"))
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("zone"), zone)...)
}

// planUpdate keeps the recorded batches (null in a state from before they were
// recorded), unless the record is unfinished and the apply resumes it
// (resumption decides): then the batches the apply takes a step on, and the
// top-level job, are known only after it, and a warning says what it does.
func (r *ClusterNodeRestartResource) planUpdate(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse, plan, state ClusterNodeRestartResourceModel) {
	batches, resumes, diags := resumption(ctx, plan, state, req.Private)
	resp.Diagnostics.Append(diags...)
	if !resumes || resp.Diagnostics.HasError() {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("batches"), state.Batches)...)
		return
	}
	steps := rollout.Plan(batches, plan.mode(ctx, len(batches)))
	planned, diags := batchesValue(batches, func(i int) bool { return steps[i] != rollout.Skip }, false)
	resp.Diagnostics.Append(diags...)
	// A record not refreshed since it was written by an earlier release
	// (plan -refresh=false) still holds its bookkeeping in batches: the
	// planned record keeps it where Update reads it.
	resp.Diagnostics.Append(keepBookkeeping(ctx, batches, resp.Private)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("batches"), planned)...)
	for _, p := range []path.Path{path.Root("job_id"), path.Root("status")} {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, p, types.StringUnknown())...)
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("ret_code"), types.Int64Unknown())...)
	if state.ID.IsNull() {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("id"), types.StringUnknown())...)
	}
	summary, what := "Unfinished Rolling Restart Resumes", "rolling restart"
	if len(batches) < 2 {
		summary, what = "Unfinished Restart Resumes", "restart"
	}
	stands := fmt.Sprintf("did not finish (status %q)", state.Status.ValueString())
	if state.Status.ValueString() == ehpc.JobSuccessful {
		stands = "sent every batch, but the nodes of one were not yet seen back in service (health_gate)"
	}
	detail := fmt.Sprintf("The %s recorded in state %s, so this apply takes it up with the batches recorded in state. %s Batches that succeeded are not restarted again. "+
		"To restart every node from the start instead, change triggers.",
		what, stands, strings.Join(resumeSentences(batches, steps), " "))
	resp.Diagnostics.AddWarning(summary, detail)
}

// knownStrings reads a set of strings when it and every element are known.
func knownStrings(ctx context.Context, v types.Set) ([]string, bool) {
	if v.IsNull() || v.IsUnknown() {
		return nil, false
	}
	for _, e := range v.Elements() {
		if e.IsUnknown() {
			return nil, false
		}
	}
	var out []string
	if diags := v.ElementsAs(ctx, &out, false); diags.HasError() {
		return nil, false
	}
	return out, true
}

// rollingSizeUnknown reports whether rolling is set with a batch size known only
// after apply, so the batches cannot be planned yet.
func rollingSizeUnknown(v types.Object) bool {
	if v.IsNull() || v.IsUnknown() {
		return false
	}
	size, ok := v.Attributes()["batch_size"]
	first := v.Attributes()["first_batch_size"]
	return !ok || size.IsUnknown() || first != nil && first.IsUnknown()
}

func (r *ClusterNodeRestartResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan ClusterNodeRestartResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// A timeout the wait cannot use fails here, with nothing sent: after the
	// restart it would fail the wait at once and taint the resource.
	timeout, diags := createTimeout(plan.Timeouts)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec, batches := r.data.prepare(ctx, plan.restartArgs, "resource", timeout, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	spec.Replaced = r.data.replacedIn(spec.Zone, spec.ClusterID)
	if prior := r.data.continuation(restartKeyOf(ctx, spec.Zone, spec.ClusterID, slices.Concat(batchNodes(batches)...), plan.Triggers), func(n int) rollout.Mode { return plan.mode(ctx, n) }); prior != nil {
		spec.Gate, diags = plan.gateFor(ctx, prior)
		resp.Diagnostics.Append(diags...)
		if !r.continues(ctx, &plan, spec, prior, resp) {
			return
		}
		batches = prior
	}
	r.data.warnOutOfService(ctx, spec, batches, &resp.Diagnostics)
	res := r.data.run(ctx, spec, batches, r.data.progressWords(spec, len(batches), infoLine(ctx, spec)), &resp.Diagnostics)
	resp.Diagnostics.Append(report(res, spec, onCreate, r.data.client.Scrub)...)
	if !recorded(res) {
		return // nothing was accepted or may have been, so there is nothing to record
	}
	plan.Zone = types.StringValue(spec.Zone)
	resp.Diagnostics.Append(plan.record(ctx, res, batches, nil, resp.Private, taintedAfterCreate(resp.Diagnostics))...)
	// State is saved even when the rollout failed: no job id may ever be lost.
	// An error beside it makes Terraform taint the resource, and the next
	// apply's replacement continues the rollout from it (continuation).
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// continues readies a create that continues the rollout of the record it
// replaces (prior, its batches): the run takes up those batches, so the plan's
// batches, when it showed them, must be cut the same way, or the result would
// not be what was planned. Otherwise nothing is sent, and the replaced record
// is saved again, tainted by the error, for the next apply to continue. It
// reports whether the create goes on.
func (r *ClusterNodeRestartResource) continues(ctx context.Context, plan *ClusterNodeRestartResourceModel, spec rollout.Spec, prior []rollout.Batch, resp *resource.CreateResponse) bool {
	steps := resumeSentences(prior, rollout.Plan(prior, spec.Mode()))
	if planned, known := plannedNodes(ctx, plan.Batches); known && !sameCut(planned, prior) {
		resp.Diagnostics.AddAttributeError(path.Root("rolling"), "Rollout Cut Differently",
			fmt.Sprintf("This resource replaces a record of the same restart that did not finish, and continues its rollout rather than restarting every node: "+
				"that rollout was cut into the batches %s, but the configuration now cuts the nodes into %s. Nothing was sent. "+
				"Set rolling back to how it was to finish that rollout (the next apply then %s), or change triggers to restart every node from the start, in the new batches.",
				cutWords(batchNodes(prior)), cutWords(planned), resumeText(prior, spec.Mode())))
		plan.Zone = types.StringValue(spec.Zone)
		resp.Diagnostics.Append(plan.record(ctx, rollout.Result{Batches: prior}, prior, nil, resp.Private, taintedAfterCreate(resp.Diagnostics))...)
		resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
		return false
	}
	detail := "This resource replaces a record of the same restart (same cluster, nodes and triggers) that did not finish: Terraform tainted it after a failed apply, " +
		"or it was replaced on purpose. So this apply continued its rollout instead of restarting every node: " + strings.Join(steps, " ") +
		" Batches that succeeded were not restarted again. To restart every node from the start instead, change triggers."
	resp.Diagnostics.AddWarning("Unfinished Restart Continued", detail)
	infoLine(ctx, spec)("Continuing the unfinished restart of the record this one replaces: " + strings.Join(steps, " "))
	return true
}

// plannedNodes reads the nodes of each batch a create's plan shows; known is
// false when the plan leaves the batches unknown (no rolling, or values
// known only at apply).
func plannedNodes(ctx context.Context, v types.List) (cut [][]string, known bool) {
	if v.IsNull() || v.IsUnknown() {
		return nil, false
	}
	for _, e := range v.Elements() {
		obj, ok := e.(types.Object)
		if !ok || obj.IsUnknown() {
			return nil, false
		}
		ids, ok := obj.Attributes()["node_ids"].(types.List)
		if !ok || ids.IsUnknown() {
			return nil, false
		}
		var nodes []string
		if ids.ElementsAs(ctx, &nodes, false).HasError() {
			return nil, false
		}
		cut = append(cut, nodes)
	}
	return cut, true
}

// batchNodes are the nodes of each batch.
func batchNodes(batches []rollout.Batch) [][]string {
	out := make([][]string, len(batches))
	for i, b := range batches {
		out[i] = b.Nodes
	}
	return out
}

// sameCut reports whether batches hold the nodes of cut, batch by batch.
func sameCut(cut [][]string, batches []rollout.Batch) bool {
	return slices.EqualFunc(cut, batchNodes(batches), slices.Equal)
}

// cutWords writes batches' nodes as "[a b], [c d]".
func cutWords(cut [][]string) string {
	parts := make([]string, len(cut))
	for i, nodes := range cut {
		parts[i] = "[" + strings.Join(nodes, " ") + "]"
	}
	return strings.Join(parts, ", ")
}

// record writes a rollout's outcome: every batch (their bookkeeping into
// private, and into batches too when tainted: taintedAfterCreate); job_id,
// ret_code and status of the last batch sent (status "pending" while a later
// batch was never sent); and id, the first job recorded, once there is one.
// prior are the batches the run started from, and was the state it resumed
// (nil on a create): they tell which job's answer was received when.
func (m *ClusterNodeRestartResourceModel) record(ctx context.Context, res rollout.Result, prior []rollout.Batch, was *ClusterNodeRestartResourceModel, private privateSetter, tainted bool) diag.Diagnostics {
	jobID, retCode, status, _ := rollout.Summary(res.Batches)
	m.JobID, m.RetCode, m.Status = optionalString(jobID), answeredCode(res, jobID, retCode, prior, was), types.StringValue(status)
	if m.ID.IsNull() || m.ID.IsUnknown() {
		m.ID = optionalString(rollout.FirstJob(res.Batches))
	}
	var diags diag.Diagnostics
	m.Batches, diags = batchesValue(res.Batches, nil, tainted)
	diags.Append(keepBookkeeping(ctx, res.Batches, private)...)
	return diags
}

// answeredCode is the ret_code of the answer that gave job jobID, null when
// none was received: the job was adopted from the operation log after its
// answer was lost, the outcome is unknown (no job), or the job came from an
// earlier record that holds no code for it. A job of prior keeps the code
// the resumed state holds for it; any other job was answered in this run.
func answeredCode(res rollout.Result, jobID string, code int, prior []rollout.Batch, was *ClusterNodeRestartResourceModel) types.Int64 {
	if jobID == "" {
		return types.Int64Null()
	}
	for _, n := range res.Notes {
		if n.Adopted && n.JobID == jobID {
			return types.Int64Null()
		}
	}
	for _, b := range prior {
		if slices.Contains(b.Jobs(), jobID) {
			if was != nil && was.JobID.ValueString() == jobID && !was.RetCode.IsUnknown() {
				return was.RetCode
			}
			return types.Int64Null()
		}
	}
	return types.Int64Value(int64(code))
}

// Read makes no API call: the restart happened once and its record is the state.
// Refreshing must never look like drift, or a plain plan could restart nodes.
// Its one change is to a record written by an earlier release: the batches'
// bookkeeping moves into private state, every value kept (bookkeeping.go).
func (r *ClusterNodeRestartResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var v types.List
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("batches"), &v)...)
	if resp.Diagnostics.HasError() {
		return
	}
	batches, legacy, diags := recordFrom(ctx, v, req.Private)
	resp.Diagnostics.Append(diags...)
	if !legacy || resp.Diagnostics.HasError() {
		return
	}
	var m ClusterNodeRestartResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || rollout.Continues(batches, m.mode(ctx, len(batches))) {
		// Unfinished: it may be tainted (Read cannot tell), and then only its
		// attributes reach its replacement, which continues it. The next
		// apply writes it anew.
		return
	}
	moved, diags := batchesValue(batches, nil, false)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(keepBookkeeping(ctx, batches, resp.Private)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("batches"), moved)...)
	tflog.Info(ctx, "moved the restart record's bookkeeping from batches into private state", map[string]any{"batches": len(batches)})
}

// Update records new settings without calling the API, except for a restart
// the record shows unfinished: ModifyPlan planned its resumption, and Update
// runs it from the batches in state (never sending a batch whose job may still
// run). An error here does not taint the resource: the next apply resumes again.
func (r *ClusterNodeRestartResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state ClusterNodeRestartResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	batches, resumes, diags := resumption(ctx, plan, state, req.Private)
	resp.Diagnostics.Append(diags...)
	if !resumes || resp.Diagnostics.HasError() {
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		return
	}
	// The batches are the recorded ones; the configuration gives the rest. Its
	// cluster, nodes and zone are the state's (a change would be a replacement).
	timeout, diags := createTimeout(plan.Timeouts)
	resp.Diagnostics.Append(diags...)
	spec, _ := r.data.prepare(ctx, plan.restartArgs, "resource", timeout, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	spec.Gate, diags = plan.gateFor(ctx, batches)
	resp.Diagnostics.Append(diags...)
	plan.ID = state.ID
	res := r.data.run(ctx, spec, batches, r.data.progressWords(spec, len(batches), infoLine(ctx, spec)), &resp.Diagnostics)
	resp.Diagnostics.Append(report(res, spec, onResume, r.data.client.Scrub)...)
	resp.Diagnostics.Append(plan.record(ctx, res, batches, &state, resp.Private, false)...) // Terraform never taints after an update
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// ImportState refuses every import. A restart is an event, not an object: the API
// has nothing that stands for it and could be read back, and a job id alone does
// not say which nodes it restarted, nor whether they should count as restarted
// now. Pretending otherwise would either fail later or record a fiction.
func (r *ClusterNodeRestartResource) ImportState(_ context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resp.Diagnostics.AddError("Restart Cannot Be Imported",
		fmt.Sprintf("hpc_cluster_node_restart records a restart, an event that happened once, not an object that exists in the API, so there is nothing to import as %q and nothing was sent to the API. "+
			"Remove the import block (or do not run terraform import) and declare the resource instead: creating it restarts its node_ids once. "+
			"A restart that already happened cannot be recorded without restarting again: if the nodes need no restart now, "+
			"add the resource only when the next restart is due; past restart jobs are listed in the cluster's operation log.", req.ID))
}

// Delete makes no API call: a restart cannot be undone, and destroying the record
// of one must not restart or stop anything. When Terraform replaces the
// resource (triggers changed, or tainted), it creates the replacement right
// after, in this provider instance: the record is kept there (replaced.go), so
// that the create never takes one of its jobs for its own lost request's job,
// and continues its rollout when it is the same restart with work left.
func (r *ClusterNodeRestartResource) Delete(ctx context.Context, req resource.DeleteRequest, _ *resource.DeleteResponse) {
	tflog.Debug(ctx, "removing restart record from state; no API call is made")
	var m ClusterNodeRestartResourceModel
	if req.State.Get(ctx, &m).HasError() || r.data == nil {
		return
	}
	var nodeIDs []string
	if batches, _, diags := recordFrom(ctx, m.Batches, req.Private); !diags.HasError() && !m.NodeIDs.ElementsAs(ctx, &nodeIDs, false).HasError() {
		r.data.replaced(restartKeyOf(ctx, m.Zone.ValueString(), m.ClusterID.ValueString(), nodeIDs, m.Triggers), batches)
	}
}

// createTimeoutPath is where a bad timeouts.create is reported.
var createTimeoutPath = path.Root("timeouts").AtName("create")

const invalidCreateTimeout = "Invalid Create Timeout"

// timeoutsBlock is the framework-timeouts block with its duration validator
// replaced by waitTimeoutValidator, which also checks the bounds: a timeout
// that cannot be waited with must fail the plan, not time out after the restart
// was sent (which taints the resource, so the next apply restarts again).
// The block's type, and so the state, is the library's.
func timeoutsBlock(ctx context.Context) schema.Block {
	block := timeouts.Block(ctx, timeouts.Opts{
		Create: true,
		CreateDescription: fmt.Sprintf("How long to wait for the restart job to finish, from `%s` to `%s` (default `30m`), such as `45m` or `1h30m`. "+
			"Changing it never restarts anything.", shortDuration(minWaitTimeout), shortDuration(maxWaitTimeout)),
	})
	b, ok := block.(schema.SingleNestedBlock)
	if !ok {
		return block // Create still checks the timeout before sending anything
	}
	create, ok := b.Attributes["create"].(schema.StringAttribute)
	if !ok {
		return block
	}
	create.Validators = []validator.String{waitTimeoutValidator{}}
	b.Attributes["create"] = create
	return b
}

// shortDuration writes 24h rather than Go's 24h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// createTimeout resolves timeouts.create for Create, before anything is sent: the
// plan-time check cannot see a value that was unknown then. Unset means the
// default.
func createTimeout(v timeouts.Value) (time.Duration, diag.Diagnostics) {
	var diags diag.Diagnostics
	if v.IsNull() {
		return defaultWaitTimeout, diags
	}
	raw, ok := v.Attributes()["create"]
	if !v.IsUnknown() && (!ok || raw.IsNull()) {
		return defaultWaitTimeout, diags
	}
	s, ok := raw.(types.String)
	if !ok || s.IsUnknown() {
		diags.AddAttributeError(createTimeoutPath, invalidCreateTimeout,
			"timeouts.create is still unknown when the restart is about to be sent, so the wait cannot be bounded. Nothing was sent. "+
				"Use a value known before apply, such as \"30m\".")
		return 0, diags
	}
	d, problem := checkWaitTimeout("timeouts.create", s.ValueString())
	if problem != "" {
		diags.AddAttributeError(createTimeoutPath, invalidCreateTimeout, problem+" Nothing was sent: the nodes were not restarted.")
		return 0, diags
	}
	return d, diags
}

// resumption is what an update does with the rollout recorded in state: the
// batches, and whether it takes them up. The one place the resource decides
// whether an update resumes: ModifyPlan and Update both ask it, and
// rollout.Resumes decides from the record.
func resumption(ctx context.Context, plan, state ClusterNodeRestartResourceModel, private privateGetter) (batches []rollout.Batch, resumes bool, diags diag.Diagnostics) {
	batches, _, diags = recordFrom(ctx, state.Batches, private)
	return batches, !diags.HasError() && rollout.Resumes(batches, plan.mode(ctx, len(batches))), diags
}

// mode is how a run of these arguments treats a recorded rollout of n
// batches.
func (a restartArgs) mode(ctx context.Context, n int) rollout.Mode {
	return rollout.Mode{Wait: a.waits(), Gate: a.gated(ctx, n)}
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
	"health_gate":        types.StringType,
}

var batchType = types.ObjectType{AttrTypes: batchAttrTypes}

// batchesValue is the readable half of the record of a rollout's batches, in
// state or in a plan (the bookkeeping is kept in private state:
// keepBookkeeping), and the bookkeeping too of the batches that carry it
// (carried; tainted: the record a failed create saves). planned says which batches an apply will change (nil:
// none): their job, status and gate are known only after it.
func batchesValue(batches []rollout.Batch, planned func(i int) bool, tainted bool) (types.List, diag.Diagnostics) {
	var ds diag.Diagnostics
	elems := make([]attr.Value, 0, len(batches))
	for i, b := range batches {
		ids, d := types.ListValueFrom(context.Background(), types.StringType, b.Nodes)
		ds.Append(d...)
		vals := map[string]attr.Value{"node_ids": ids}
		stepped := planned != nil && planned(i) // after a successful apply, it has a job
		for name, v := range bookkeepingValues(b, !stepped && carried(b, tainted), &ds) {
			vals[name] = v
		}
		if stepped {
			vals["job_id"], vals["status"], vals["health_gate"] = types.StringUnknown(), types.StringUnknown(), types.StringUnknown()
		} else {
			vals["job_id"], vals["status"], vals["health_gate"] = optionalString(b.JobID), types.StringValue(b.Status), optionalString(b.Gate)
		}
		obj, d := types.ObjectValue(batchAttrTypes, vals)
		ds.Append(d...)
		elems = append(elems, obj)
	}
	list, d := types.ListValue(batchType, elems)
	ds.Append(d...)
	return list, ds
}

func nullOf(t attr.Type) attr.Value {
	if t.Equal(types.StringType) {
		return types.StringNull()
	}
	return types.ListNull(types.StringType)
}

func optionalString(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
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
	HealthGate       types.String `tfsdk:"health_gate"`
}
