package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
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
)

// statusUnknown is the status of a restart that the API accepted but whose job
// cannot be read.
const statusUnknown = "unknown"

// defaultCreateTimeout bounds the wait for a restart job when timeouts.create is
// not set.
const defaultCreateTimeout = 30 * time.Minute

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
	Rolling           types.Object `tfsdk:"rolling"` // null: one batch of every node
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
			"Reading and destroying this resource never call the API; updating it does only to resume a rolling restart that stopped before every batch was sent.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The id of the first restart job this resource sent, set when it is created and never changed: the same as `job_id` without `rolling`.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
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
					"batch_size": schema.Int64Attribute{MarkdownDescription: batchSizeDescription, Required: true, Validators: batchSizeValidators},
					"pause":      schema.StringAttribute{MarkdownDescription: pauseDescription, Optional: true, Validators: pauseValidators},
				},
			},
			"batches": schema.ListNestedAttribute{
				MarkdownDescription: "The restart requests, in the order they were sent: one for all `node_ids` without `rolling`, one per batch with it. " +
					"With `rolling`, the plan shows each batch's nodes before anything is sent.",
				Computed: true,
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"job_id": schema.StringAttribute{
							MarkdownDescription: "The batch's restart job; null for a batch never sent.",
							Computed:            true,
						},
						"node_ids": schema.ListAttribute{
							MarkdownDescription: "The batch's nodes, sorted.",
							Computed:            true,
							ElementType:         types.StringType,
						},
						"status": schema.StringAttribute{
							MarkdownDescription: "The batch job's last status seen (as `status`); `not_sent` for a batch the rollout stopped before; " +
								"`unknown` with a null `job_id` for a batch whose request's answer was lost and whose job was not found (the next apply that resumes the rollout looks for it before sending anything).",
							Computed: true,
						},
					},
				},
			},
			"job_id": schema.StringAttribute{
				MarkdownDescription: "Id of the API's restart job, such as `j-he18e4khem2`; look it up in the console's operation log. " +
					"In a rolling restart, the last batch's job that was sent.",
				Computed:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"ret_code": schema.Int64Attribute{
				MarkdownDescription: "The API's `ret_code` for the restart request (`0` when accepted).",
				Computed:            true,
				PlanModifiers:       []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
			"status": schema.StringAttribute{
				MarkdownDescription: "Last job status seen: `successful`, `failed`, `pending` (not waited for, or the wait was interrupted), " +
					"or `unknown` (the API accepted the restart, but its job could not be read from the operation log; see the warning of that apply). " +
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
// for a rolling restart that did not finish, shows that the apply resumes it.
func (r *ClusterNodeRestartResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	// Terraform plans every resource on every plan: read only what is needed,
	// and the whole model only for a rolling restart.
	var rollingV types.Object
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("rolling"), &rollingV)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if req.State.Raw.IsNull() {
		r.planCreate(ctx, req, resp, rollingV)
		return
	}
	var plannedBatches types.List
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("batches"), &plannedBatches)...)
	if rollingV.IsNull() {
		if plannedBatches.IsUnknown() { // the record is kept (null in a state from before batches)
			var recorded types.List
			resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("batches"), &recorded)...)
			resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("batches"), recorded)...)
		}
		return
	}
	var plan, state ClusterNodeRestartResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || replaces(plan, state) {
		return // a replacement is planned again as a create
	}
	r.planUpdate(ctx, resp, plan, state)
}

// replaces reports whether the plan changes an argument that forces
// replacement (RequiresReplace is not visible to ModifyPlan).
func replaces(plan, state ClusterNodeRestartResourceModel) bool {
	return !plan.ClusterID.Equal(state.ClusterID) || !plan.NodeIDs.Equal(state.NodeIDs) ||
		!plan.Zone.Equal(state.Zone) || !plan.Triggers.Equal(state.Triggers)
}

func (r *ClusterNodeRestartResource) planCreate(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse, rollingV types.Object) {
	// With rolling, the plan lists the batches (without, the one batch is
	// node_ids itself); unknown until node_ids and batch_size are known.
	if !rollingV.IsNull() {
		var nodeIDs types.Set
		resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("node_ids"), &nodeIDs)...)
		size, _, diags := rolling(ctx, rollingV)
		resp.Diagnostics.Append(diags...)
		if ids, known := knownStrings(ctx, nodeIDs); known && !resp.Diagnostics.HasError() && !rollingV.IsUnknown() && !rollingSizeUnknown(rollingV) {
			planned := splitBatches(ehpc.NormalizeIDs(ids), size)
			for i := range planned {
				planned[i].status = "" // known after apply
			}
			batches, diags := batchesValue(planned)
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
// recorded), unless rolling is set and the recorded rollout did not finish:
// then the apply resumes it, and the plan says which batches it waits for and
// which it sends.
func (r *ClusterNodeRestartResource) planUpdate(ctx context.Context, resp *resource.ModifyPlanResponse, plan, state ClusterNodeRestartResourceModel) {
	batches, diags := batchesFrom(ctx, state.Batches)
	resp.Diagnostics.Append(diags...)
	if plan.Rolling.IsNull() || !unfinished(batches) || resp.Diagnostics.HasError() {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("batches"), state.Batches)...)
		return
	}
	var waits, settles, sends []string
	for i := range batches {
		b := &batches[i]
		switch {
		case b.done():
			continue
		case b.jobID == "" && b.status == statusUnknown:
			settles = append(settles, fmt.Sprintf("%d", i+1))
		case b.jobID == "" || b.status == ehpc.JobFailed:
			sends = append(sends, fmt.Sprintf("%d", i+1))
			b.jobID = ""
		default:
			waits = append(waits, fmt.Sprintf("%d (job %s)", i+1, b.jobID))
		}
		b.status = "" // known after apply
	}
	planned, diags := batchesValue(batches)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("batches"), planned)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("job_id"), types.StringUnknown())...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("ret_code"), types.Int64Unknown())...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("status"), types.StringUnknown())...)
	detail := fmt.Sprintf("The rolling restart recorded in state did not finish (status %q), so this apply resumes it with the batches recorded in state. ", state.Status.ValueString())
	if len(waits) > 0 {
		detail += "It waits for batch " + strings.Join(waits, ", ") + " without sending it again. "
	}
	if len(settles) > 0 {
		detail += "The answer to the request of batch " + strings.Join(settles, ", ") + " was lost: it looks for that batch's job in the operation log, " +
			"adopts it if there is one, and sends the batch only if there is none. "
	}
	if len(sends) > 0 {
		detail += "It sends batch " + strings.Join(sends, ", ") + ", one after the other. "
	}
	resp.Diagnostics.AddWarning("Unfinished Rolling Restart Resumes", detail+
		"Batches that succeeded are not restarted again. To leave the rollout unfinished instead, remove rolling from the configuration; to restart every node from the start, change triggers.")
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
	return !ok || size.IsUnknown()
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
	res := r.data.roll(ctx, spec, batches, rolloutHooks{})
	resp.Diagnostics.Append(r.outcome(res, spec, true)...)
	if res.lastSent() < 0 {
		return // nothing was accepted, so there is nothing to record
	}
	plan.Zone = types.StringValue(spec.zone)
	plan.ID = types.StringValue(res.batches[0].jobID)
	resp.Diagnostics.Append(plan.record(res)...)
	// State is saved even when the rollout failed: no job id may ever be lost,
	// and an error beside it makes Terraform taint the resource so the next
	// apply restarts again.
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// record writes a rollout's outcome: every batch, and job_id, ret_code and
// status of the last batch sent (status "pending" while a later batch was
// never sent).
func (m *ClusterNodeRestartResourceModel) record(res rolloutResult) diag.Diagnostics {
	last := res.batches[res.lastSent()]
	m.JobID = types.StringValue(last.jobID)
	m.RetCode = types.Int64Value(int64(last.retCode))
	m.Status = types.StringValue(res.status())
	var diags diag.Diagnostics
	m.Batches, diags = batchesValue(res.batches)
	return diags
}

// Read makes no API call: the restart happened once and its record is the state.
// Refreshing must never look like drift, or a plain plan could restart nodes.
func (r *ClusterNodeRestartResource) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {
}

// Update records new settings without calling the API, except for a rolling
// restart that did not finish: ModifyPlan planned its resumption, and Update
// runs it from the batches in state (never sending a batch whose job may still
// run). An error here does not taint the resource: the next apply resumes again.
func (r *ClusterNodeRestartResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state ClusterNodeRestartResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	batches, diags := batchesFrom(ctx, state.Batches)
	resp.Diagnostics.Append(diags...)
	if plan.Rolling.IsNull() || !unfinished(batches) || resp.Diagnostics.HasError() {
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		return
	}
	// The batches are the recorded ones; the configuration gives the rest. Its
	// cluster, nodes and zone are the state's (a change would be a replacement),
	// and rolling implies waiting (ValidateConfig).
	timeout, diags := createTimeout(plan.Timeouts)
	resp.Diagnostics.Append(diags...)
	spec, _ := r.data.prepare(ctx, plan.restartArgs, "resource", timeout, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	res := r.data.roll(ctx, spec, batches, rolloutHooks{})
	resp.Diagnostics.Append(r.outcome(res, spec, false)...)
	resp.Diagnostics.Append(plan.record(res)...)
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
// of one must not restart or stop anything.
func (r *ClusterNodeRestartResource) Delete(ctx context.Context, _ resource.DeleteRequest, _ *resource.DeleteResponse) {
	tflog.Debug(ctx, "removing restart record from state; no API call is made")
}

// restartErrorDiag turns a failed restart request into a diagnostic that says what
// happened and what to do.
func restartErrorDiag(clusterID string, ids []string, zone string, err error) diag.Diagnostic {
	target := fmt.Sprintf("nodes %s of cluster %s in zone %s", strings.Join(ids, ", "), clusterID, zone)
	var unknown *ehpc.UnknownOutcomeError
	if errors.As(err, &unknown) {
		from := unknown.WindowStart
		if from.IsZero() {
			from = unknown.SentAt.Add(-time.Minute)
		}
		return diag.NewErrorDiagnostic("Restart Outcome Unknown",
			fmt.Sprintf("The restart of %s may or may not have happened, and it was not sent again blindly: %s. "+
				"Check the operation log of cluster %s (zone %s) for a %s job of these nodes created since %s (for example in the console, or GET /api/operation with resource_ids=%s). "+
				"If the restart happened and you want to keep it, do not apply again: the next apply sends a new restart.",
				target, err.Error(), clusterID, zone, ehpc.JobActionRestart, from.UTC().Format(time.RFC3339), clusterID))
	}
	var redirect *ehpc.RedirectError
	if errors.As(err, &redirect) {
		return diag.NewErrorDiagnostic("Endpoint Redirects",
			fmt.Sprintf("The restart of %s was not processed: %s. Set endpoint on the provider (or QINGCLOUD_HPC_ENDPOINT) to the API's final https:// URL; nothing was sent twice.", target, err.Error()))
	}
	var connect *ehpc.ConnectError
	if errors.As(err, &connect) {
		return diag.NewErrorDiagnostic("Cannot Connect To Endpoint",
			fmt.Sprintf("The restart of %s was not sent: %s. %s", target, err.Error(), connectAdvice(connect)))
	}
	var apiErr *ehpc.APIError
	if errors.As(err, &apiErr) {
		return diag.NewErrorDiagnostic("Restart Request Rejected",
			fmt.Sprintf("The EHPC API rejected the restart of %s: %s%s", target, err.Error(), terraformAdvice(apiErr.RetCode)))
	}
	return diag.NewErrorDiagnostic("Restart Request Failed",
		fmt.Sprintf("The restart of %s could not be requested: %s. Nothing was restarted; check the endpoint and network, then apply again.", target, err.Error()))
}

// restartNoteDiag explains a restart that did not go the plain way: its answer was
// lost and the job was found in the operation log, or a first request provably
// had no effect and was sent again.
func restartNoteDiag(res *ehpc.RestartResult) diag.Diagnostic {
	switch {
	case res.Adopted:
		return diag.NewWarningDiagnostic("Restart Job Adopted From Operation Log",
			fmt.Sprintf("The answer to the restart request was lost (%s), so the request was not sent again. "+
				"Job %s in the operation log restarts exactly these nodes and was created after the request was sent; it was adopted as this restart.",
				res.AdoptedReason, res.JobID))
	case res.Resent:
		return diag.NewWarningDiagnostic("Restart Request Sent Again",
			fmt.Sprintf("The first restart request failed in a way that could not tell whether it was processed; no job for it appeared in the operation log, "+
				"so it was sent once more and created job %s. If the first request was processed after all, the nodes restarted twice.", res.JobID))
	}
	return nil
}

// outcome turns how a restart ended into diagnostics. In Create only a failed
// job, a timeout and a failed request are errors, which taint the resource so
// the next apply restarts again. A cancelled apply (Ctrl-C) and a job that
// cannot be read are warnings: the restart was accepted, so the resource must
// stay in state untainted, or the next apply would restart the nodes a second
// time. created is false when the apply resumed a rolling restart (Update),
// where no error taints.
func (r *ClusterNodeRestartResource) outcome(res rolloutResult, spec rolloutSpec, created bool) diag.Diagnostics {
	diags := res.notes
	if res.end == rolloutDone {
		return diags
	}
	summary, detail := res.stopped(spec, "The apply", "timeouts.create")
	var d diag.Diagnostic
	switch res.end {
	case rolloutWaitEnded:
		// A rollout of several batches says what the next apply does in next().
		d = r.waitDiag(res.wait, res.batches[res.at].jobID, spec, created && len(res.batches) == 1)
	case rolloutSendCut:
		// Found while the lost answer was reconciled: kept like an interrupted
		// wait, untainted.
		d = diag.NewWarningDiagnostic(summary, detail+fmt.Sprintf(" It is saved in state with status %q, so the next apply does not restart the nodes again. "+
			"Check the job in the cluster's operation log; to restart again, change triggers.", ehpc.JobPending))
	case rolloutPauseCut:
		d = diag.NewWarningDiagnostic(summary, detail+" Every job sent is saved in state.")
		if res.lastSent() < 0 {
			d = diag.NewErrorDiagnostic(summary, detail) // nothing to keep: no resource is created
		}
	case rolloutOutOfTime:
		d = diag.NewErrorDiagnostic(summary, detail+" Raise timeouts.create to cover every batch.")
	default: // rolloutSendFailed
		d = diag.NewErrorDiagnostic(summary, detail)
	}
	if next := res.next(created); next != "" || len(res.batches) > 1 {
		d = withDetail(d, res.progress(), next)
	}
	diags.Append(d)
	return diags
}

// waitDiag words a wait that ended without success. single adds what the next
// apply does after a restart of one batch that Create ran; a rollout says it
// in next() instead.
func (r *ClusterNodeRestartResource) waitDiag(w waitResult, jobID string, spec rolloutSpec, single bool) diag.Diagnostic {
	summary, detail := w.describe(jobID, spec.clusterID, "cluster "+spec.clusterID, spec.timeout.String(), spec.client.Scrub)
	switch w.end {
	case waitFailed:
		if single {
			detail += " The job id is saved in state and the resource is marked tainted, " +
				"so the next apply restarts the nodes again: fix the cause first (see the job in the cluster's operation log)."
		}
		return diag.NewErrorDiagnostic(summary, detail)
	case waitInterrupted:
		detail = "The apply was cancelled while waiting for " + detail + "."
		if single {
			detail += fmt.Sprintf(" The job id is saved in state with status %q and the nodes will not be restarted again by the next apply. ", ehpc.JobPending) +
				"Check the job in the cluster's operation log; to restart again, change triggers."
		}
		return diag.NewWarningDiagnostic("Wait For Restart Job Interrupted", detail)
	case waitUnreadable:
		if single {
			detail += fmt.Sprintf(" The job id is saved in state with status %q and the resource is not tainted, so the next apply does not restart the nodes again. "+
				"If the job failed and you want to restart again, change triggers (or run terraform taint on this resource) and apply.", statusUnknown)
		}
		return diag.NewWarningDiagnostic(summary, detail)
	default: // waitTimedOut
		if single {
			detail += " The job id is saved in state and the resource is marked tainted. Choose one:\n" +
				"- To keep this restart: run terraform untaint with this resource's address (shown above after \"with\", such as hpc_cluster_node_restart.NAME), " +
				"then raise timeouts.create for the next restart. Raising it alone keeps nothing: the resource stays tainted and the next apply restarts the nodes a second time.\n" +
				"- To restart the nodes again: apply again; the tainted resource is replaced by a new restart."
		}
		return diag.NewErrorDiagnostic(summary, detail)
	}
}

// next says what the next apply does after a rolling restart stopped, and how
// to finish it without restarting the batches that succeeded; "" for a restart
// of one batch that Create ran, whose messages already say it. The next apply
// resumes only a rollout with a batch never sent (unfinished); one whose
// batches were all sent is final, as a lone restart is.
func (r rolloutResult) next(created bool) string {
	b := r.batches[r.at]
	if created && len(r.batches) < 2 {
		return ""
	}
	if r.lastSent() < 0 {
		return "No job of this rollout is known, so nothing is saved in state: the next apply starts the rollout again from batch 1."
	}
	var caution string
	if r.mayHaveSent() {
		caution = fmt.Sprintf(" Batch %d may have restarted all the same (see above): it is recorded with status %q, and an apply that resumes the rollout "+
			"looks for its job in the operation log first and sends it only if there is none.", r.at+1, statusUnknown)
	}
	tainted := created && (r.end == rolloutSendFailed || r.end == rolloutOutOfTime ||
		r.end == rolloutWaitEnded && (r.wait.end == waitFailed || r.wait.end == waitTimedOut))
	const replaced = "The jobs sent are saved in state and the resource is marked tainted, so the next apply restarts every node again, batch by batch. "
	const untaint = "run terraform untaint with this resource's address (shown above after \"with\", such as hpc_cluster_node_restart.NAME)"
	if !unfinished(r.batches) {
		// Every batch was sent: the record is final, as a lone restart's is.
		if tainted {
			return replaced + "To keep this record instead, " + untaint + "."
		}
		return "Every batch was sent, so the record is final, as a lone restart's is: the next apply restarts no node again. To restart again, change triggers."
	}
	resume := fmt.Sprintf("resumes the rollout at batch %d", r.at+1)
	switch {
	case b.jobID != "" && b.status != ehpc.JobFailed:
		resume += fmt.Sprintf(" by waiting for job %s (it is not sent again)", b.jobID)
	case b.jobID != "":
		resume += " by sending it again (its job failed)"
	case b.status == statusUnknown:
		resume += " by looking for its job in the operation log (it is sent only if there is none)"
	}
	resume += ", then sends the batches never sent; batches that succeeded are not restarted again."
	switch {
	case tainted && r.end == rolloutWaitEnded && r.wait.end == waitTimedOut:
		return replaced + "To keep this rollout instead: " + untaint + " and raise timeouts.create; the next apply then " + resume
	case tainted:
		return replaced + "To finish the rollout instead, without restarting the batches that succeeded: fix the cause, " + untaint + ", and apply; that apply " + resume + caution
	case !created:
		return "This apply resumed a rolling restart, so the resource is not tainted: the next apply " + resume + " To stop the rollout instead, remove rolling from the configuration." + caution
	default:
		return "The resource is not tainted: the next apply " + resume + " To stop the rollout instead, remove rolling from the configuration."
	}
}

// withDetail adds sentences to a diagnostic's detail, keeping its severity,
// summary and attribute path.
func withDetail(d diag.Diagnostic, sentences ...string) diag.Diagnostic {
	detail := d.Detail()
	for _, s := range sentences {
		if s != "" {
			detail += " " + s
		}
	}
	if p, ok := d.(diag.DiagnosticWithPath); ok {
		if d.Severity() == diag.SeverityError {
			return diag.NewAttributeErrorDiagnostic(p.Path(), d.Summary(), detail)
		}
		return diag.NewAttributeWarningDiagnostic(p.Path(), d.Summary(), detail)
	}
	if d.Severity() == diag.SeverityError {
		return diag.NewErrorDiagnostic(d.Summary(), detail)
	}
	return diag.NewWarningDiagnostic(d.Summary(), detail)
}

// Bounds of the resource's timeouts.create: the same as the action's timeout
// argument, so one restart is bounded the same way whichever runs it.
const (
	minCreateTimeout = minActionTimeout * time.Second
	maxCreateTimeout = maxActionTimeout * time.Second
)

// createTimeoutPath is where a bad timeouts.create is reported.
var createTimeoutPath = path.Root("timeouts").AtName("create")

const invalidCreateTimeout = "Invalid Create Timeout"

// timeoutsBlock is the framework-timeouts block with its duration validator
// replaced by createTimeoutValidator, which also checks the bounds: a timeout
// that cannot be waited with must fail the plan, not time out after the restart
// was sent (which taints the resource, so the next apply restarts again).
// The block's type, and so the state, is the library's.
func timeoutsBlock(ctx context.Context) schema.Block {
	block := timeouts.Block(ctx, timeouts.Opts{
		Create: true,
		CreateDescription: fmt.Sprintf("How long to wait for the restart job to finish, from `%s` to `%s` (default `30m`), such as `45m` or `1h30m`. "+
			"Changing it never restarts anything.", shortDuration(minCreateTimeout), shortDuration(maxCreateTimeout)),
	})
	b, ok := block.(schema.SingleNestedBlock)
	if !ok {
		return block // Create still checks the timeout before sending anything
	}
	create, ok := b.Attributes["create"].(schema.StringAttribute)
	if !ok {
		return block
	}
	create.Validators = []validator.String{createTimeoutValidator{}}
	b.Attributes["create"] = create
	return b
}

// checkCreateTimeout parses a timeouts.create value and returns it, or a sentence
// that names the value, the problem and the fix.
func checkCreateTimeout(s string) (time.Duration, string) {
	lo, hi := shortDuration(minCreateTimeout), shortDuration(maxCreateTimeout)
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, fmt.Sprintf("timeouts.create = %q is not a duration. Write a number with a unit (s, m or h), from %q to %q, such as \"30m\" or \"1h30m\"; "+
			"or remove it to wait the default 30m.", s, lo, hi)
	case d <= 0:
		return 0, fmt.Sprintf("timeouts.create = %q is not a positive duration: the restart would be sent and the wait would fail at once. "+
			"Use a duration from %q to %q, such as \"30m\"; or remove it to wait the default 30m. "+
			"To not wait for the job at all, set wait_for_completion = false instead.", s, lo, hi)
	case d < minCreateTimeout:
		return 0, fmt.Sprintf("timeouts.create = %q is shorter than the least timeout, %q: a node restart takes longer, so the wait would time out after the restart was sent. "+
			"Use a duration from %q to %q, such as \"30m\" (is %q meant in minutes?); "+
			"to not wait for the job at all, set wait_for_completion = false instead.", s, lo, lo, hi, s)
	case d > maxCreateTimeout:
		return 0, fmt.Sprintf("timeouts.create = %q is longer than the longest timeout, %q. Use a duration from %q to %q; "+
			"to not wait for the job at all, set wait_for_completion = false instead.", s, hi, lo, hi)
	}
	return d, ""
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
		return defaultCreateTimeout, diags
	}
	raw, ok := v.Attributes()["create"]
	if !v.IsUnknown() && (!ok || raw.IsNull()) {
		return defaultCreateTimeout, diags
	}
	s, ok := raw.(types.String)
	if !ok || s.IsUnknown() {
		diags.AddAttributeError(createTimeoutPath, invalidCreateTimeout,
			"timeouts.create is still unknown when the restart is about to be sent, so the wait cannot be bounded. Nothing was sent. "+
				"Use a value known before apply, such as \"30m\".")
		return 0, diags
	}
	d, problem := checkCreateTimeout(s.ValueString())
	if problem != "" {
		diags.AddAttributeError(createTimeoutPath, invalidCreateTimeout, problem+" Nothing was sent: the nodes were not restarted.")
		return 0, diags
	}
	return d, diags
}
