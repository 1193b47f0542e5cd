package provider

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/action/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/jobwatch"
)

// Bounds of the action's timeout argument, in seconds. Actions have no timeouts
// block, so the wait is bounded by this argument instead.
const (
	defaultActionTimeout = 1800  // 30 minutes, as the resource's create timeout
	minActionTimeout     = 10    // a restart takes longer; less is a mistake (seconds vs minutes)
	maxActionTimeout     = 86400 // a day
)

// defaultActionProgressInterval is the least time between two "still waiting"
// progress messages, so a long wait shows life without flooding the output.
const defaultActionProgressInterval = 30 * time.Second

var (
	_ action.Action               = &ClusterNodeRestartAction{}
	_ action.ActionWithConfigure  = &ClusterNodeRestartAction{}
	_ action.ActionWithModifyPlan = &ClusterNodeRestartAction{}
)

// ClusterNodeRestartAction restarts nodes every time it is invoked (Terraform
// 1.14+: `terraform apply -invoke=action.hpc_cluster_node_restart.NAME`, or an
// action_trigger). Unlike the resource it keeps no record: each invocation sends
// exactly one restart request.
type ClusterNodeRestartAction struct {
	data *providerData
}

// ClusterNodeRestartActionModel is the action's configuration: the resource's
// arguments, with a timeout argument for the timeouts block actions lack.
type ClusterNodeRestartActionModel struct {
	restartArgs
	Timeout types.Int64 `tfsdk:"timeout"`
}

// NewClusterNodeRestartAction is the action factory.
func NewClusterNodeRestartAction() action.Action {
	return &ClusterNodeRestartAction{}
}

func (a *ClusterNodeRestartAction) Metadata(_ context.Context, req action.MetadataRequest, resp *action.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster_node_restart"
}

func (a *ClusterNodeRestartAction) Schema(_ context.Context, _ action.SchemaRequest, resp *action.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Restarts nodes of an EHPC cluster each time the action is invoked (Terraform 1.14 and later). " +
			"Sends one restart request per invocation and, by default, waits for the job, reporting progress while it runs.",
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
			"timeout": schema.Int64Attribute{
				MarkdownDescription: fmt.Sprintf("How long to wait for the restart job, in seconds, from %d to %d (default %d, 30 minutes). "+
					"Actions have no `timeouts` block, so this takes its place.", minActionTimeout, maxActionTimeout, defaultActionTimeout),
				Optional:   true,
				Validators: []validator.Int64{int64validator.Between(minActionTimeout, maxActionTimeout)},
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

func (a *ClusterNodeRestartAction) Invoke(ctx context.Context, req action.InvokeRequest, resp *action.InvokeResponse) {
	var cfg ClusterNodeRestartActionModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	client, zone := a.data.operation(cfg.Zone, "this restart", "action", &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	var nodeIDs []string
	resp.Diagnostics.Append(cfg.NodeIDs.ElementsAs(ctx, &nodeIDs, false)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ids := ehpc.NormalizeIDs(nodeIDs)
	clusterID := cfg.ClusterID.ValueString()
	timeout := time.Duration(defaultActionTimeout) * time.Second
	if !cfg.Timeout.IsNull() {
		timeout = time.Duration(cfg.Timeout.ValueInt64()) * time.Second
	}
	wait := cfg.WaitForCompletion.IsNull() || cfg.WaitForCompletion.ValueBool()
	progress := newProgressSender(ctx, resp.SendProgress)
	defer progress.close()

	tflog.Info(ctx, "restarting cluster nodes (action)", map[string]any{"cluster_id": clusterID, "node_ids": ids, "zone": zone})
	res, err := client.RestartNodesOnce(ctx, zone, clusterID, ids)
	if err != nil {
		resp.Diagnostics.Append(restartErrorDiag(clusterID, ids, zone, err))
		return
	}
	jobID := res.JobID
	progress.send(fmt.Sprintf("Restart of %s of cluster %s (zone %s) requested: job %s.", nodesPhrase(ids), clusterID, zone, jobID))
	if d := restartNoteDiag(res); d != nil {
		// Same exactly-once reconciliation as the resource; say so where it showed.
		progress.send(d.Summary() + ": " + d.Detail())
		resp.Diagnostics.Append(d)
	}
	if res.Interrupted {
		resp.Diagnostics.AddError("Restart Action Cancelled",
			fmt.Sprintf("The action was cancelled while the restart request was in flight; its job %s was found in the operation log, so the restart was accepted and may still be running. "+
				"Check the job in the cluster's operation log before invoking the action again: each invocation restarts the nodes.", jobID))
		return
	}
	if !wait {
		progress.send(fmt.Sprintf("Not waiting for job %s (wait_for_completion = false); follow it in the cluster's operation log.", jobID))
		return
	}

	a.wait(ctx, resp, progress, client, zone, clusterID, ids, jobID, timeout)
}

// wait follows the job, reports progress at most every ActionProgressInterval,
// and turns every outcome but success into an error naming the job: an action
// keeps no record, so the error is where the job must be found.
func (a *ClusterNodeRestartAction) wait(ctx context.Context, resp *action.InvokeResponse, progress *progressSender, client *ehpc.Client, zone, clusterID string, ids []string, jobID string, timeout time.Duration) {
	interval := a.data.opts.ActionProgressInterval
	if interval <= 0 {
		interval = defaultActionProgressInterval
	}
	var lastReport time.Duration
	w := a.data.waitForJob(ctx, zone, clusterID, jobID, timeout, func(c jobwatch.Check, elapsed time.Duration) {
		if c.Found && c.Job.Done() || elapsed-lastReport < interval {
			return // the outcome is reported once the wait ends
		}
		lastReport = elapsed
		status := "not in the operation log yet"
		if c.Found {
			status = "status " + c.Job.Status
		}
		msg := fmt.Sprintf("Waiting for restart job %s: %s, %s elapsed.", jobID, status, roundElapsed(elapsed))
		if c.Err != nil {
			msg += " The last check failed and will be retried: " + c.Err.Error()
		}
		progress.send(msg)
	})
	elapsed := roundElapsed(w.elapsed)
	summary, detail := w.describe(jobID, clusterID, nodesPhrase(ids)+" of cluster "+clusterID, "the action's timeout of "+timeout.String(), client.Scrub)

	switch w.end {
	case waitSucceeded:
		progress.send(fmt.Sprintf("Restart job %s finished: %s after %s.", jobID, w.status, elapsed))
	case waitFailed:
		progress.send(fmt.Sprintf("Restart job %s finished: %s after %s.", jobID, w.status, elapsed))
		resp.Diagnostics.AddError(summary, detail+" See the job in the cluster's operation log and fix the cause before invoking the action again.")
	case waitInterrupted:
		// Terraform was interrupted: no progress can be sent any more.
		resp.Diagnostics.AddError("Restart Action Cancelled", "The action was cancelled while waiting for "+detail+". "+
			"Check the job in the cluster's operation log before invoking the action again: each invocation restarts the nodes.")
	case waitUnreadable:
		progress.send(fmt.Sprintf("Cannot read the status of restart job %s after %s.", jobID, elapsed))
		resp.Diagnostics.AddError(summary, detail+" Do that before invoking the action again: each invocation restarts the nodes.")
	case waitTimedOut:
		progress.send(fmt.Sprintf("Stopped waiting for restart job %s after %s: timeout reached, last status %s.", jobID, elapsed, w.status))
		resp.Diagnostics.AddError(summary, detail+" Do not invoke the action again to wait for it: every invocation sends a new restart, so the nodes would restart a second time. "+
			fmt.Sprintf("For the next invocation, raise timeout (in seconds, up to %d).", maxActionTimeout))
	}
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
