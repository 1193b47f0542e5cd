package provider

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/action/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/qingcloud/terraform-provider-hpc/internal/rollout"
)

// defaultProgressInterval is the least time between two "still waiting"
// progress lines, so a long wait shows life without flooding the output.
const defaultProgressInterval = 30 * time.Second

// The optional interfaces, each with what it is for.
var (
	_ action.Action                   = &ClusterNodeRestartAction{}
	_ action.ActionWithConfigure      = &ClusterNodeRestartAction{} // the provider's client and poller
	_ action.ActionWithModifyPlan     = &ClusterNodeRestartAction{} // no zone or credentials: refused before it runs
	_ action.ActionWithValidateConfig = &ClusterNodeRestartAction{} // rolling without waiting, two arguments
)

// ClusterNodeRestartAction restarts nodes every time it is invoked (Terraform
// 1.14+: `terraform apply -invoke=action.hpc_cluster_node_restart.NAME`, or an
// action_trigger). Unlike the resource it keeps no record: each invocation sends
// exactly one restart request (one per batch with rolling).
type ClusterNodeRestartAction struct {
	data *providerData
}

// ClusterNodeRestartActionModel is the action's configuration: the resource's
// arguments, with a timeout argument for the timeouts block actions lack.
type ClusterNodeRestartActionModel struct {
	restartArgs
	Timeout types.String `tfsdk:"timeout"`
}

// NewClusterNodeRestartAction is the action factory.
func NewClusterNodeRestartAction() action.Action {
	return &ClusterNodeRestartAction{}
}

func (a *ClusterNodeRestartAction) Metadata(_ context.Context, req action.MetadataRequest, resp *action.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster_node_restart" // the resource's name too: Terraform tells them apart by block type
}

func (a *ClusterNodeRestartAction) Schema(_ context.Context, _ action.SchemaRequest, resp *action.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Restarts nodes of an EHPC cluster each time the action is invoked (Terraform 1.14 and later). " +
			"Sends one restart request per invocation (one per batch with `rolling`) and, by default, waits for the job, reporting progress while it runs.",
		Attributes: map[string]schema.Attribute{
			"cluster_id": schema.StringAttribute{
				MarkdownDescription: "Id of the EHPC cluster whose nodes restart, such as `ehpc-8jqdq0mz`.",
				Required:            true,
				Validators:          clusterIDValidators,
			},
			"node_ids": schema.SetAttribute{
				MarkdownDescription: "Ids of the nodes to restart, such as `cln-hzzvbtnh`; at least one. Sent to the API sorted and without duplicates.",
				Required:            true,
				ElementType:         types.StringType,
				Validators:          nodeIDsValidators,
			},
			"zone": schema.StringAttribute{
				MarkdownDescription: "Zone of the cluster, such as `jn1a`. Defaults to the provider's `zone`.",
				Optional:            true,
				Validators:          zoneValidators,
			},
			"wait_for_completion": schema.BoolAttribute{
				MarkdownDescription: "Wait for the restart job to finish (`true`, the default) and fail if it fails or outlasts `timeout`; " +
					"with `false` the action ends once the API accepted the restart.",
				Optional: true,
			},
			"rolling": schema.SingleNestedAttribute{
				MarkdownDescription: rollingDescription + " Progress is reported per batch.",
				Optional:            true, // null: every node in one request
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
			"timeout": schema.StringAttribute{
				MarkdownDescription: fmt.Sprintf("How long to wait for the restart job (with `rolling`, for the whole rollout): a duration from `%s` to `%s` (default `%s`), such as `45m` or `2h`, "+
					"written as the resource's `timeouts.create` is. Actions have no `timeouts` block, so this takes its place. "+
					"A number without a unit is still read as seconds, with a warning: the action took seconds before it took durations.",
					shortDuration(minWaitTimeout), shortDuration(maxWaitTimeout), shortDuration(defaultWaitTimeout)),
				Optional:   true,
				Validators: []validator.String{waitTimeoutValidator{action: true}},
			},
		},
	}
}

func (a *ClusterNodeRestartAction) Configure(_ context.Context, req action.ConfigureRequest, resp *action.ConfigureResponse) {
	a.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan refuses, before anything is sent, a restart that has no zone or no
// credentials from anywhere: planning an action means it is about to run.
func (a *ClusterNodeRestartAction) ModifyPlan(ctx context.Context, req action.ModifyPlanRequest, resp *action.ModifyPlanResponse) {
	if a.data == nil || req.Config.Raw.IsNull() {
		return
	}
	var zone types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("zone"), &zone)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !zone.IsUnknown() && a.data.zoneFor(zone) == "" {
		resp.Diagnostics.AddAttributeError(path.Root("zone"), "Missing Zone", a.data.missingZoneDetail("this restart", "action"))
	}
	if _, err := a.data.Client(); err != nil {
		resp.Diagnostics.AddError("Missing EHPC API Credentials", err.Error())
	}
}

// ValidateConfig refuses rolling without waiting, as the resource does.
func (a *ClusterNodeRestartAction) ValidateConfig(ctx context.Context, req action.ValidateConfigRequest, resp *action.ValidateConfigResponse) {
	resp.Diagnostics.Append(checkRollingConfig(ctx, req.Config)...)
}

func (a *ClusterNodeRestartAction) Invoke(ctx context.Context, req action.InvokeRequest, resp *action.InvokeResponse) {
	var cfg ClusterNodeRestartActionModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// The warning of a number without a unit came at validate; only an error counts here.
	var timeoutDiags diag.Diagnostics
	timeout := actionTimeout(cfg.Timeout, &timeoutDiags)
	resp.Diagnostics.Append(timeoutDiags.Errors()...)
	spec, batches := a.data.prepare(ctx, cfg.restartArgs, "action", timeout, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	a.data.warnOutOfService(ctx, spec, batches, &resp.Diagnostics)
	progress := newProgressSender(ctx, resp.SendProgress)
	defer progress.close()
	res := a.data.run(ctx, spec, batches, a.data.progressWords(spec, len(batches), progress.send), &resp.Diagnostics)
	if res.End == rollout.Done && !spec.Wait {
		progress.send(fmt.Sprintf("Not waiting for job %s (wait_for_completion = false); follow it in the cluster's operation log.", res.Batches[0].JobID))
	}
	resp.Diagnostics.Append(report(res, spec, onAction, a.data.client.Scrub)...)
}

// progressSender wraps the framework's SendProgress, which blocks until Terraform
// takes the event and never returns if Terraform stopped reading (an interrupted
// run): a send is skipped, or abandoned, once ctx is done, and sends made after
// Invoke returned are dropped. Sends are serialised, so events keep their order.
type progressSender struct {
	ctx    context.Context
	fn     func(action.InvokeProgressEvent)
	mu     sync.Mutex
	closed bool
}

func newProgressSender(ctx context.Context, fn func(action.InvokeProgressEvent)) *progressSender {
	return &progressSender{ctx: ctx, fn: fn}
}

func (p *progressSender) send(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tflog.Info(p.ctx, "restart action progress", map[string]any{"message": msg})
	if p.closed || p.fn == nil || p.ctx.Err() != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.fn(action.InvokeProgressEvent{Message: msg})
	}()
	select {
	case <-done:
	case <-p.ctx.Done():
	}
}

func (p *progressSender) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
}
