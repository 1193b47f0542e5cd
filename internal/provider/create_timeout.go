package provider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

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

// createTimeoutValidator checks timeouts.create at plan time. Unknown values
// (known only after apply) pass; Create checks them before sending anything.
type createTimeoutValidator struct{}

var _ validator.String = createTimeoutValidator{}

func (createTimeoutValidator) Description(context.Context) string {
	return fmt.Sprintf("must be a duration from %s to %s, such as 30m", shortDuration(minCreateTimeout), shortDuration(maxCreateTimeout))
}

func (v createTimeoutValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (createTimeoutValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, problem := checkCreateTimeout(req.ConfigValue.ValueString()); problem != "" {
		resp.Diagnostics.AddAttributeError(req.Path, invalidCreateTimeout, problem)
	}
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
