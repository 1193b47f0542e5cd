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

var (
	_ resource.Resource               = &ClusterNodeRestartResource{}
	_ resource.ResourceWithConfigure  = &ClusterNodeRestartResource{}
	_ resource.ResourceWithModifyPlan = &ClusterNodeRestartResource{}
	// ImportState is implemented only to refuse with a reason: without it the
	// framework's answer says nothing about why or what to do instead.
	_ resource.ResourceWithImportState = &ClusterNodeRestartResource{}
)

// ClusterNodeRestartResource restarts a set of nodes once, when it is created.
// Re-running the restart is a replacement (a change of cluster_id, node_ids, zone
// or triggers); reading, updating and destroying never call the API.
type ClusterNodeRestartResource struct {
	data *providerData
}

// restartArgs are the arguments the resource and the action share: what to
// restart, where, and whether to wait for it.
type restartArgs struct {
	ClusterID         types.String `tfsdk:"cluster_id"`
	NodeIDs           types.Set    `tfsdk:"node_ids"`
	Zone              types.String `tfsdk:"zone"`
	WaitForCompletion types.Bool   `tfsdk:"wait_for_completion"`
}

// ClusterNodeRestartResourceModel is the resource's state: the restart's
// arguments, what only the resource has, and the record of the restart.
type ClusterNodeRestartResourceModel struct {
	restartArgs
	Triggers types.Map      `tfsdk:"triggers"`
	Timeouts timeouts.Value `tfsdk:"timeouts"`
	ID       types.String   `tfsdk:"id"`
	JobID    types.String   `tfsdk:"job_id"`
	RetCode  types.Int64    `tfsdk:"ret_code"`
	Status   types.String   `tfsdk:"status"`
}

// NewClusterNodeRestartResource is the resource factory.
func NewClusterNodeRestartResource() resource.Resource {
	return &ClusterNodeRestartResource{}
}

func (r *ClusterNodeRestartResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster_node_restart"
}

func (r *ClusterNodeRestartResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Restarts nodes of an EHPC cluster, once, when the resource is created. " +
			"To restart again, change `triggers` (or any other argument that forces replacement). " +
			"Reading, updating and destroying this resource never call the API.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The restart job's id (same as `job_id`).",
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
			"job_id": schema.StringAttribute{
				MarkdownDescription: "Id of the API's restart job, such as `j-he18e4khem2`; look it up in the console's operation log.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"ret_code": schema.Int64Attribute{
				MarkdownDescription: "The API's `ret_code` for the restart request (`0` when accepted).",
				Computed:            true,
				PlanModifiers:       []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
			"status": schema.StringAttribute{
				MarkdownDescription: "Last job status seen: `successful`, `failed`, `pending` (not waited for, or the wait was interrupted), " +
					"or `unknown` (the API accepted the restart, but its job could not be read from the operation log; see the warning of that apply).",
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

// ModifyPlan fills zone from the provider when the configuration leaves it unset,
// so the plan shows where the restart will go, and refuses a plan that has no zone
// from anywhere, before anything is sent.
func (r *ClusterNodeRestartResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || !req.State.Raw.IsNull() || r.data == nil {
		return // destroy, update (zone kept by UseStateForUnknown), or provider not configured yet
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
	client, zone := r.data.operation(plan.Zone, "this restart", "resource", &resp.Diagnostics)
	var nodeIDs []string
	resp.Diagnostics.Append(plan.NodeIDs.ElementsAs(ctx, &nodeIDs, false)...)
	if resp.Diagnostics.HasError() {
		return
	}
	clusterID := plan.ClusterID.ValueString()
	ids := ehpc.NormalizeIDs(nodeIDs)

	tflog.Info(ctx, "restarting cluster nodes", map[string]any{"cluster_id": clusterID, "node_ids": ids, "zone": zone})
	res, err := client.RestartNodesOnce(ctx, zone, clusterID, ids)
	if err != nil {
		resp.Diagnostics.Append(restartErrorDiag(clusterID, ids, zone, err))
		return
	}
	tflog.Info(ctx, "restart accepted", map[string]any{"job_id": res.JobID, "path": res.Path, "adopted": res.Adopted, "resent": res.Resent, "interrupted": res.Interrupted})
	if d := restartNoteDiag(res); d != nil {
		resp.Diagnostics.Append(d)
	}

	plan.Zone = types.StringValue(zone)
	plan.ID = types.StringValue(res.JobID)
	plan.JobID = types.StringValue(res.JobID)
	plan.RetCode = types.Int64Value(int64(res.RetCode))
	plan.Status = types.StringValue(ehpc.JobPending)

	if res.Interrupted {
		// The apply was interrupted while the lost answer was reconciled, and the
		// job was found: keep it like an interrupted wait, untainted.
		resp.Diagnostics.AddWarning("Restart Interrupted",
			fmt.Sprintf("The apply was cancelled while the restart request was in flight; its job %s was found in the operation log and is saved in state with status %q, "+
				"so the next apply does not restart the nodes again. Check the job in the cluster's operation log; to restart again, change triggers.", res.JobID, ehpc.JobPending))
	} else if plan.WaitForCompletion.ValueBool() {
		status, diags := r.wait(ctx, client, zone, clusterID, res.JobID, timeout)
		plan.Status = types.StringValue(status)
		resp.Diagnostics.Append(diags...)
	}

	// State is saved even when the wait failed: the job id must never be lost, and
	// an error beside it makes Terraform taint the resource so the next apply
	// restarts again.
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// Read makes no API call: the restart happened once and its record is the state.
// Refreshing must never look like drift, or a plain plan could restart nodes.
func (r *ClusterNodeRestartResource) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {
}

// Update only ever sees wait_for_completion or timeouts change; everything else
// forces replacement. It records the new settings without calling the API.
func (r *ClusterNodeRestartResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan ClusterNodeRestartResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
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

// wait follows the job and turns every outcome but success into a diagnostic.
// Only a failed job and a timeout are errors, which taint the resource so the
// next apply restarts again. A cancelled apply (Ctrl-C) and a job that cannot be
// read are warnings: the restart was accepted, so the resource must stay in state
// untainted, or the next apply would restart the nodes a second time.
func (r *ClusterNodeRestartResource) wait(ctx context.Context, client *ehpc.Client, zone, clusterID, jobID string, timeout time.Duration) (string, diag.Diagnostics) {
	var diags diag.Diagnostics
	res := r.data.waitForJob(ctx, zone, clusterID, jobID, timeout, nil)
	summary, detail := res.describe(jobID, clusterID, "cluster "+clusterID, timeout.String(), client.Scrub)
	switch res.end {
	case waitSucceeded:
	case waitFailed:
		diags.AddError(summary, detail+" The job id is saved in state and the resource is marked tainted, "+
			"so the next apply restarts the nodes again: fix the cause first (see the job in the cluster's operation log).")
	case waitInterrupted:
		diags.AddWarning("Wait For Restart Job Interrupted", "The apply was cancelled while waiting for "+detail+". "+
			fmt.Sprintf("The job id is saved in state with status %q and the nodes will not be restarted again by the next apply. ", ehpc.JobPending)+
			"Check the job in the cluster's operation log; to restart again, change triggers.")
		return ehpc.JobPending, diags
	case waitUnreadable:
		diags.AddWarning(summary, detail+
			fmt.Sprintf(" The job id is saved in state with status %q and the resource is not tainted, so the next apply does not restart the nodes again. "+
				"If the job failed and you want to restart again, change triggers (or run terraform taint on this resource) and apply.", statusUnknown))
		return statusUnknown, diags
	case waitTimedOut:
		diags.AddError(summary, detail+" The job id is saved in state and the resource is marked tainted. Choose one:\n"+
			"- To keep this restart: run terraform untaint with this resource's address (shown above after \"with\", such as hpc_cluster_node_restart.NAME), "+
			"then raise timeouts.create for the next restart. Raising it alone keeps nothing: the resource stays tainted and the next apply restarts the nodes a second time.\n"+
			"- To restart the nodes again: apply again; the tainted resource is replaced by a new restart.")
	}
	return res.status, diags
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
