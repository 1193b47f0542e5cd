package provider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/qingcloud/terraform-provider-hpc/internal/rollout"
)

// The health_gate argument of the resource and the action, and the canary
// (rolling.first_batch_size). The gate itself is the engine's
// (internal/rollout/gate.go); this file reads and checks its settings.

// healthGateModel is the health_gate argument.
type healthGateModel struct {
	Enabled         types.Bool   `tfsdk:"enabled"`
	MinHealthyTime  types.String `tfsdk:"min_healthy_time"`
	HealthyDeadline types.String `tfsdk:"healthy_deadline"`
}

// Defaults and bounds of the gate's durations.
const (
	defaultHealthyDeadline = 10 * time.Minute
	maxHealthyDeadline     = 24 * time.Hour
	maxMinHealthyTime      = time.Hour
)

var healthGatePath = path.Root("health_gate")

// Descriptions of health_gate, the same on the resource and the action.
const (
	healthGateDescription = "Hold each batch, once its restart job is `successful`, until its nodes are back in service, before the next batch is sent " +
		"(and, for the last batch, before the apply ends): every node `active`, with no `transition_status`, and `healthy` wherever its health check is on, " +
		"as `listNodes` reports them. A job's success means the machines were restarted, not that they booted or passed their health check. " +
		"A batch not back within `healthy_deadline` stops the rollout as a failed job does: later batches are not sent, and the message names each node with its " +
		"status, transition and health. On by default with `rolling`; off by default without it. Changing it never restarts anything."
	healthGateEnabledDescription = "Whether the gate holds batches: default `true` with `rolling`, `false` without it " +
		"(set it to `true` so that a lone restart ends only once its nodes are back, for a pipeline step that depends on them). Needs waiting (`wait_for_completion` not `false`)."
	minHealthyTimeDescription = "How long every node of a batch must be seen in service without a break before the batch counts as back, such as `60s`: " +
		"a node whose health flaps starts the count again. From `0s` (the default: one look that sees them all in service) to `1h`."
	healthyDeadlineDescription = "How long a batch's nodes have to come back, from when its job was seen `successful`, such as `10m` (the default), from `1s` to `24h`. " +
		"The timeout of the whole restart still bounds it."
	firstBatchSizeDescription = "The size of the first batch, at least 1 (default `batch_size`): a canary, such as `1`, so that a bad image or kernel stops " +
		"after one node instead of a whole batch. The later batches hold `batch_size` nodes."
)

// healthGate reads the health_gate argument: the gate's settings, or nil when
// it is off. rolling says whether rolling is set (the default turns on with
// it). A value unknown at plan is checked here again, when it is known.
func healthGate(ctx context.Context, v types.Object, rolling bool) (*rollout.GateSpec, diag.Diagnostics) {
	m, diags := gateModel(ctx, v)
	if diags.HasError() || !gateOn(m.Enabled, rolling) {
		return nil, diags
	}
	return m.settings()
}

// gateModel reads health_gate; all null when it is null or unknown.
func gateModel(ctx context.Context, v types.Object) (healthGateModel, diag.Diagnostics) {
	var m healthGateModel
	if v.IsNull() || v.IsUnknown() {
		return m, nil
	}
	return m, v.As(ctx, &m, basetypes.ObjectAsOptions{})
}

// settings are the gate's durations, each checked (an unknown one keeps
// its default, to be checked again once known).
func (m healthGateModel) settings() (*rollout.GateSpec, diag.Diagnostics) {
	var diags diag.Diagnostics
	g := &rollout.GateSpec{Deadline: defaultHealthyDeadline}
	for _, d := range []struct {
		name     string
		v        types.String
		dst      *time.Duration
		min, max time.Duration
	}{
		{"min_healthy_time", m.MinHealthyTime, &g.MinHealthy, 0, maxMinHealthyTime},
		{"healthy_deadline", m.HealthyDeadline, &g.Deadline, time.Second, maxHealthyDeadline},
	} {
		if d.v.IsNull() || d.v.IsUnknown() {
			continue
		}
		parsed, problem := checkGateDuration(d.name, d.v.ValueString(), d.min, d.max)
		if problem != "" {
			diags.AddAttributeError(healthGatePath, invalidHealthGate, problem)
			continue
		}
		*d.dst = parsed
	}
	if g.MinHealthy >= g.Deadline && !diags.HasError() {
		diags.AddAttributeError(healthGatePath, invalidHealthGate, fmt.Sprintf(
			"health_gate.min_healthy_time = %s is not shorter than health_gate.healthy_deadline = %s, so no batch could ever count as back. "+
				"Shorten min_healthy_time or lengthen healthy_deadline.", shortDuration(g.MinHealthy), shortDuration(g.Deadline)))
	}
	return g, diags
}

// gateOn is health_gate.enabled, by default on with rolling.
func gateOn(enabled types.Bool, rolling bool) bool {
	if enabled.IsNull() || enabled.IsUnknown() {
		return rolling
	}
	return enabled.ValueBool()
}

const invalidHealthGate = "Invalid Health Gate"

// checkGateDuration parses one of the gate's durations, or returns a sentence
// naming the value, the problem and the fix.
func checkGateDuration(name, s string, lo, hi time.Duration) (time.Duration, string) {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, fmt.Sprintf("health_gate.%s = %q is not a duration. Write a number with a unit (s, m or h), such as \"60s\" or \"10m\".", name, s)
	case d < lo || d > hi:
		return 0, fmt.Sprintf("health_gate.%s = %q is out of range: give a duration from %s to %s.", name, s, shortDuration(lo), shortDuration(hi))
	}
	return d, ""
}

// healthGateValidator checks health_gate at plan time, in the words the
// rollout uses for a value known only at apply.
type healthGateValidator struct{}

var _ validator.Object = healthGateValidator{}

func (healthGateValidator) Description(context.Context) string {
	return "min_healthy_time from 0s to 1h, healthy_deadline from 1s to 24h, the first shorter than the second"
}

func (v healthGateValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (healthGateValidator) ValidateObject(ctx context.Context, req validator.ObjectRequest, resp *validator.ObjectResponse) {
	// Checked whether the gate is on or not: settings that could never pass
	// are wrong even while it is off.
	m, diags := gateModel(ctx, req.ConfigValue)
	resp.Diagnostics.Append(diags...)
	if !diags.HasError() {
		_, diags = m.settings()
		resp.Diagnostics.Append(diags...)
	}
}

// gated reports whether the health gate is on for these arguments, for a
// rollout of n batches.
func (a restartArgs) gated(ctx context.Context, n int) bool {
	m, diags := gateModel(ctx, a.HealthGate)
	return !diags.HasError() && a.waits() && gateOn(m.Enabled, a.rolls(n))
}

// rolls reports whether a restart of n batches is a rolling one, for the
// gate's default: rolling is set, or the rollout (a recorded one, taken up)
// has several batches. The promise is about the nodes, not the
// configuration's history: a rollout taken up after rolling was removed
// still sends a batch only once the one before it is back in service.
func (a restartArgs) rolls(n int) bool { return !a.Rolling.IsNull() || n > 1 }

// gateFor is the health gate of a run of these arguments over batches; nil
// when it is off (always without waiting).
func (a restartArgs) gateFor(ctx context.Context, batches []rollout.Batch) (*rollout.GateSpec, diag.Diagnostics) {
	if !a.waits() {
		return nil, nil
	}
	return healthGate(ctx, a.HealthGate, a.rolls(len(batches)))
}

// gateWithoutWait refuses a health gate turned on explicitly with
// wait_for_completion = false: the gate starts when the job is seen
// successful, which only a wait sees. (With rolling, rollingWithoutWait
// refuses the combination already.)
func (a restartArgs) gateWithoutWait(ctx context.Context) diag.Diagnostic {
	if a.waits() || a.WaitForCompletion.IsUnknown() {
		return nil
	}
	if m, diags := gateModel(ctx, a.HealthGate); diags.HasError() || m.Enabled.IsNull() || m.Enabled.IsUnknown() || !m.Enabled.ValueBool() {
		return nil
	}
	return diag.NewAttributeErrorDiagnostic(path.Root("wait_for_completion"), "Health Gate Needs Waiting",
		"wait_for_completion = false cannot be combined with health_gate.enabled = true: the gate starts once the restart job is successful, "+
			"which the provider knows only by waiting for it. Remove wait_for_completion = false to wait for the nodes to be back, "+
			"or remove health_gate to end once the API accepted the restart.")
}

// warnOutOfService warns, before a gated rollout sends anything, of the nodes
// already out of service: restarting a sick node is a normal reason to
// restart, so this never blocks, but the gate waits for such a node like the
// others and stops the rollout if it does not come back. One look through
// the poller (the windows of the cluster's list that hold the nodes, not the
// whole list), which shows the gate where they are; a look that fails is
// only logged, since the gate reads the nodes again.
func (d *providerData) warnOutOfService(ctx context.Context, spec rollout.Spec, batches []rollout.Batch, diags *diag.Diagnostics) {
	if spec.Gate == nil {
		return
	}
	var ids []string
	for _, b := range batches {
		ids = append(ids, b.Nodes...)
	}
	nodes, err := d.engine.Poller.LookupNodes(ctx, spec.Zone, spec.ClusterID, ids)
	if err != nil {
		tflog.Debug(ctx, "could not list the nodes before the restart", map[string]any{"error": d.client.Scrub(err.Error())})
		return
	}
	out := outOfService(ids, nodes)
	if len(out) == 0 {
		return
	}
	these := "these nodes were"
	if len(out) == 1 {
		these = "this node was"
	}
	diags.AddWarning("Nodes Already Out Of Service", fmt.Sprintf(
		"Before the restart, %s out of service: %s. They are restarted like the others, and the health gate waits for them "+
			"to be back in service as for any node; if one does not come back within health_gate.healthy_deadline, the rollout stops at its batch.",
		these, strings.Join(out, ", ")))
}
