package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/poll"
)

// waiter follows one restart job in the operation log until it ends.
type waiter struct {
	client *ehpc.Client
	opts   Options
}

// permanent reports whether a failure to read the operation log will not go away by
// asking again within this apply (wrong key, unknown ids, quota, clock).
func permanent(err error) bool {
	switch ehpc.RetCode(err) {
	case ehpc.CodeBadParameter, ehpc.CodeNoSuchAction, ehpc.CodeAuthFailed, ehpc.CodeRequestExpired,
		ehpc.CodeNotFound, ehpc.CodeQuotaExceeded:
		return true
	}
	return false
}

// wait returns the last status seen and diagnostics for any outcome but success.
// A cancelled apply (Ctrl-C) is a warning, not an error: the restart was accepted,
// so the resource must stay in state untainted, or the next apply would restart
// the nodes a second time.
func (w waiter) wait(ctx context.Context, zone, clusterID, jobID string, timeout time.Duration) (string, diag.Diagnostics) {
	var diags diag.Diagnostics
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	status := ehpc.JobPending
	var job ehpc.Job
	var lastErr error
	started := time.Now()
	err := poll.Until(wctx, w.opts.PollSchedule, w.opts.Clock, func(ctx context.Context, n int) (bool, error) {
		j, found, err := w.client.Job(ctx, zone, clusterID, jobID)
		if err != nil {
			if permanent(err) {
				return false, err
			}
			// A flaky operation log must not fail a restart that is under way;
			// keep the error for the timeout message and try again next tick.
			lastErr = err
			tflog.Warn(ctx, "could not read restart job status; will retry", map[string]any{"job_id": jobID, "error": err.Error()})
			return false, nil
		}
		if !found {
			tflog.Debug(ctx, "restart job not in the operation log yet", map[string]any{"job_id": jobID, "check": n})
			return false, nil
		}
		job, lastErr = j, nil
		status = j.Status
		tflog.Debug(ctx, "restart job status", map[string]any{"job_id": jobID, "status": j.Status, "check": n})
		return j.Done(), nil
	})

	switch {
	case err == nil && status == ehpc.JobSuccessful:
		return status, nil
	case err == nil && status == ehpc.JobFailed:
		detail := fmt.Sprintf("Restart job %s for cluster %s finished with status %q", jobID, clusterID, status)
		if job.ErrorCodes != "" {
			detail += fmt.Sprintf(" (error_codes: %s)", w.client.Scrub(string(job.ErrorCodes)))
		}
		diags.AddError("Restart Job Failed", detail+". The job id is saved in state and the resource is marked tainted, "+
			"so the next apply restarts the nodes again: fix the cause first (see the job in the cluster's operation log).")
	case ctx.Err() != nil:
		diags.AddWarning("Wait For Restart Job Interrupted",
			fmt.Sprintf("The apply was cancelled while waiting for restart job %s (cluster %s) after %s; the restart had been accepted and may still be running. "+
				"The job id is saved in state with status %q and the nodes will not be restarted again by the next apply. "+
				"Check the job in the cluster's operation log; to restart again, change triggers.", jobID, clusterID, time.Since(started).Round(time.Second), ehpc.JobPending))
	case errors.Is(err, context.DeadlineExceeded):
		detail := fmt.Sprintf("Restart job %s for cluster %s did not finish within %s (last status %q", jobID, clusterID, timeout, status)
		if lastErr != nil {
			detail += "; last error reading it: " + lastErr.Error()
		}
		diags.AddError("Timed Out Waiting For Restart Job", detail+"). The job id is saved in state and the resource is marked tainted, so the next apply restarts the nodes again. "+
			"To wait longer, raise timeouts.create; if the job did finish, run terraform untaint on this resource to keep it.")
	default:
		diags.AddError("Cannot Check Restart Job",
			fmt.Sprintf("Restart job %s for cluster %s was accepted, but its status cannot be read: %s. "+
				"The job id is saved in state and the resource is marked tainted, so the next apply restarts the nodes again; "+
				"if the job finished, run terraform untaint on this resource to keep it.", jobID, clusterID, err.Error()))
	}
	return status, diags
}
