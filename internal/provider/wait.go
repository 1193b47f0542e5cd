package provider

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/poll"
)

// jobWatcher follows restart jobs in the operation log. It is the one place the
// provider reads job status, shared by the resource and the action.
type jobWatcher struct {
	client *ehpc.Client
	opts   Options
}

// jobCheck is what one look at the operation log found.
type jobCheck struct {
	Job     ehpc.Job // valid when Found
	Found   bool
	Err     error // a transient error reading the log (will be retried)
	Elapsed time.Duration
}

// watchResult is how a wait ended.
type watchResult struct {
	// Job is the last entry seen (zero if the log never listed the job).
	Job ehpc.Job
	// Status is the last status seen; "pending" until the log says otherwise.
	Status string
	// LastErr is the last transient error reading the log, if the last check failed.
	LastErr error
	// Err is nil when the job reached a final status; ctx's error when the wait was
	// cancelled or timed out; or a permanent error reading the log.
	Err error
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

// watch checks jobID on the provider's schedule until it is successful or failed,
// a permanent error occurs, or ctx ends. onCheck, if set, sees every check (the
// action reports progress from it).
func (w jobWatcher) watch(ctx context.Context, zone, clusterID, jobID string, onCheck func(jobCheck)) watchResult {
	res := watchResult{Status: ehpc.JobPending}
	started := time.Now()
	err := poll.Until(ctx, w.opts.PollSchedule, w.opts.Clock, func(ctx context.Context, n int) (bool, error) {
		j, found, err := w.client.Job(ctx, zone, clusterID, jobID)
		check := jobCheck{Job: j, Found: found, Elapsed: time.Since(started)}
		defer func() {
			if onCheck != nil {
				onCheck(check)
			}
		}()
		if err != nil {
			if permanent(err) {
				return false, err
			}
			// A flaky operation log must not fail a restart that is under way;
			// keep the error for the final message and try again next tick.
			check.Err, res.LastErr = err, err
			tflog.Warn(ctx, "could not read restart job status; will retry", map[string]any{"job_id": jobID, "error": err.Error()})
			return false, nil
		}
		res.LastErr = nil
		if !found {
			tflog.Debug(ctx, "restart job not in the operation log yet", map[string]any{"job_id": jobID, "check": n})
			return false, nil
		}
		res.Job, res.Status = j, j.Status
		tflog.Debug(ctx, "restart job status", map[string]any{"job_id": jobID, "status": j.Status, "check": n})
		return j.Done(), nil
	})
	res.Err = err
	return res
}
