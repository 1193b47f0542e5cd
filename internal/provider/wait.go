package provider

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/jobwatch"
)

// defaultJobMissingAfter is how long a job that the API accepted may stay absent
// from the operation log, asked for by listing and by id, before the wait gives up
// on reading it. It is far beyond any lag the log is known to have.
const defaultJobMissingAfter = 2 * time.Minute

// waitEnd is how waiting for a restart job ended.
type waitEnd int

const (
	waitSucceeded   waitEnd = iota
	waitFailed              // the job failed
	waitInterrupted         // the apply or invocation was cancelled
	waitTimedOut            // the job was seen, but did not finish in time
	waitUnreadable          // the job cannot be read: the log refuses, or never lists it
)

// waitResult is what a wait saw.
type waitResult struct {
	end waitEnd
	// job is the last entry seen; seen says whether there was one.
	job  ehpc.Job
	seen bool
	// status is the last status seen: "pending" until the log says otherwise.
	status string
	// lastErr is the last transient error reading the log; err is what made the
	// job unreadable.
	lastErr, err error
	elapsed      time.Duration
}

// waitForJob follows jobID until it is successful or failed, it cannot be read,
// the timeout passes or ctx ends. Its checks come from the provider instance's
// shared poller, which makes one operation-log request per tick for every job
// waited on in the cluster (internal/jobwatch). onCheck, if set, sees every check
// with the time elapsed (the action reports progress from it).
func (d *providerData) waitForJob(ctx context.Context, zone, clusterID, jobID string, timeout time.Duration, onCheck func(jobwatch.Check, time.Duration)) waitResult {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	missingAfter := cmp.Or(d.opts.JobMissingAfter, defaultJobMissingAfter)
	started := time.Now()
	res := waitResult{status: ehpc.JobPending}
	sub := d.poller.Watch(ctx, zone, clusterID, jobID)
	defer sub.Stop()
	for {
		var c jobwatch.Check
		select {
		case <-wctx.Done():
			res.elapsed = time.Since(started)
			switch {
			case ctx.Err() != nil:
				res.end = waitInterrupted
			case !res.seen:
				// Never listed in the whole wait: that is a job the log does not
				// show, not a job that is slow.
				res.end, res.err = waitUnreadable, &jobMissingError{after: timeout}
			default:
				res.end = waitTimedOut
			}
			return res
		case c = <-sub.C:
		}
		res.elapsed = time.Since(started)
		if onCheck != nil {
			onCheck(c, res.elapsed)
		}
		switch {
		case c.Err != nil && permanent(c.Err):
			res.end, res.err = waitUnreadable, c.Err
			return res
		case c.Err != nil:
			// A flaky operation log must not fail a restart that is under way;
			// keep the error for the final message and look again next tick.
			res.lastErr = c.Err
			tflog.Warn(ctx, "could not read restart job status; will retry", map[string]any{"job_id": jobID, "error": c.Err.Error()})
		case c.Found:
			res.lastErr = nil
			res.job, res.status, res.seen = c.Job, c.Job.Status, true
			tflog.Debug(ctx, "restart job status", map[string]any{"job_id": jobID, "status": c.Job.Status, "direct": c.Direct})
			if c.Job.Done() {
				res.end = waitSucceeded
				if c.Job.Status == ehpc.JobFailed {
					res.end = waitFailed
				}
				return res
			}
		case !res.seen && c.Direct && res.elapsed >= missingAfter:
			res.end, res.err = waitUnreadable, &jobMissingError{after: res.elapsed}
			return res
		default:
			res.lastErr = nil
			tflog.Debug(ctx, "restart job not in the operation log yet", map[string]any{"job_id": jobID})
		}
	}
}

// describe words how the wait ended, in what the resource and the action share:
// a summary and a detail that say what happened to which job. Each adds the
// sentence that differs (state and taint, or no record at all).
//
// target names what restarted for a failed job ("cluster X", or the action's
// "node cln-a of cluster X"); within names the timeout ("30m0s", or the action's
// "the action's timeout of 30m0s").
func (r waitResult) describe(jobID, clusterID, target, within string, scrub func(string) string) (summary, detail string) {
	switch r.end {
	case waitFailed:
		detail = fmt.Sprintf("Restart job %s for %s finished with status %q", jobID, target, r.status)
		if r.job.ErrorCodes != "" {
			detail += fmt.Sprintf(" (error_codes: %s)", scrub(string(r.job.ErrorCodes)))
		}
		return "Restart Job Failed", detail + "."
	case waitTimedOut:
		detail = fmt.Sprintf("Restart job %s for cluster %s did not finish within %s (last status %q", jobID, clusterID, within, r.status)
		if r.lastErr != nil {
			detail += "; last error reading it: " + r.lastErr.Error()
		}
		return "Timed Out Waiting For Restart Job", detail + "). The restart was accepted and job " + jobID + " may still be running: follow it in the cluster's operation log."
	case waitUnreadable:
		return "Cannot Check Restart Job", fmt.Sprintf("Restart job %s for cluster %s was accepted, but its status cannot be read: %s. "+
			"The restart may have happened: check the job in the cluster's operation log (in the console, or GET /api/operation with jobs=%s).",
			jobID, clusterID, r.err.Error(), jobID)
	case waitInterrupted:
		return "", fmt.Sprintf("restart job %s (cluster %s) after %s; the restart had been accepted and may still be running (last status %q)",
			jobID, clusterID, r.elapsed.Round(time.Second), r.status)
	}
	return "", ""
}

// jobMissingError ends a wait whose job the operation log never showed.
type jobMissingError struct{ after time.Duration }

func (e *jobMissingError) Error() string {
	return fmt.Sprintf("the job did not appear in the operation log within %s, neither in the cluster's listing nor when asked for by its id", e.after.Round(time.Second))
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
