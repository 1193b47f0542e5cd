package provider

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Bounds of a restart's wait, one set for both places a user bounds it: the
// resource's timeouts.create and the action's timeout (actions have no
// timeouts block). Both are duration strings, such as "30m", so one restart
// is bounded the same way, in the same words, whichever runs it.
const (
	defaultWaitTimeout = 30 * time.Minute
	// A restart takes longer than this; less is a mistake (seconds for minutes).
	minWaitTimeout = 10 * time.Second
	maxWaitTimeout = 24 * time.Hour
)

// checkWaitTimeout parses the duration s of the argument named name
// ("timeouts.create", "timeout") and returns it, or a sentence that names the
// value, the problem and the fix.
func checkWaitTimeout(name, s string) (time.Duration, string) {
	lo, hi := shortDuration(minWaitTimeout), shortDuration(maxWaitTimeout)
	noWait := "To not wait for the job at all, set wait_for_completion = false instead."
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, fmt.Sprintf("%s = %q is not a duration. Write a number with a unit (s, m or h), from %q to %q, such as \"30m\" or \"1h30m\"; "+
			"or remove it to wait the default %s.", name, s, lo, hi, shortDuration(defaultWaitTimeout))
	case d <= 0:
		return 0, fmt.Sprintf("%s = %q is not a positive duration: the restart would be sent and the wait would fail at once. "+
			"Use a duration from %q to %q, such as \"30m\"; or remove it to wait the default %s. %s", name, s, lo, hi, shortDuration(defaultWaitTimeout), noWait)
	case d < minWaitTimeout:
		return 0, fmt.Sprintf("%s = %q is shorter than the least timeout, %q: a node restart takes longer, so the wait would time out after the restart was sent. "+
			"Use a duration from %q to %q, such as \"30m\"%s. %s", name, s, lo, lo, hi, meantMinutes(s), noWait)
	case d > maxWaitTimeout:
		return 0, fmt.Sprintf("%s = %q is longer than the longest timeout, %q. Use a duration from %q to %q. %s", name, s, hi, lo, hi, noWait)
	}
	return d, ""
}

// meantMinutes suggests minutes for a timeout too short in seconds ("5s"
// was most likely "5m"), when that is within bounds; else nothing.
func meantMinutes(s string) string {
	n, ok := strings.CutSuffix(s, "s")
	if !ok {
		return ""
	}
	if d, err := time.ParseDuration(n + "m"); err == nil && d >= minWaitTimeout && d <= maxWaitTimeout && !strings.ContainsAny(n, "hm") {
		return fmt.Sprintf(" (did you mean %q?)", n+"m")
	}
	return ""
}

// legacySeconds reads an action timeout written as a bare number of seconds,
// as the action took it before it took durations: Terraform hands a number
// to a string attribute as its decimal text ("600").
func legacySeconds(s string) (time.Duration, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > math.MaxInt64/int64(time.Second) {
		return 0, false // not a number, or seconds no Duration holds
	}
	return time.Duration(n) * time.Second, true
}

// actionTimeout resolves the action's timeout: unset is the default; a bare
// number is seconds, with a warning that says how to write it now.
func actionTimeout(v types.String, diags *diag.Diagnostics) time.Duration {
	if v.IsNull() {
		return defaultWaitTimeout
	}
	s := v.ValueString()
	if secs, ok := legacySeconds(s); ok {
		diags.AddAttributeWarning(path.Root("timeout"), "Timeout Without A Unit",
			fmt.Sprintf("timeout = %s is read as %s seconds, as the action took it before it took durations. Write it with a unit, such as timeout = %q "+
				"(or \"30m\", \"2h\"), as timeouts.create and rolling.pause are written; a number without a unit will be refused in a later release.", s, s, shortDuration(secs)))
		s = shortDuration(secs)
	}
	d, problem := checkWaitTimeout("timeout", s)
	if problem != "" {
		diags.AddAttributeError(path.Root("timeout"), invalidActionTimeout, problem)
	}
	return d
}

const invalidActionTimeout = "Invalid Action Timeout"

// waitTimeoutValidator checks a wait's bound at validate time: the resource's
// timeouts.create, or (action) the action's timeout, which also warns of a
// number without a unit. Unknown values (known only after apply) pass; Create
// and Invoke check them again before sending anything.
type waitTimeoutValidator struct{ action bool }

var _ validator.String = waitTimeoutValidator{}

func (waitTimeoutValidator) Description(context.Context) string {
	return fmt.Sprintf("must be a duration from %s to %s, such as 30m", shortDuration(minWaitTimeout), shortDuration(maxWaitTimeout))
}

func (v waitTimeoutValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v waitTimeoutValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	switch {
	case req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown():
	case v.action:
		actionTimeout(req.ConfigValue, &resp.Diagnostics)
	default:
		if _, problem := checkWaitTimeout("timeouts.create", req.ConfigValue.ValueString()); problem != "" {
			resp.Diagnostics.AddAttributeError(req.Path, invalidCreateTimeout, problem)
		}
	}
}
