package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/jobwatch"
)

// jobWatcher follows restart jobs in the operation log. It is the one place the
// provider reads job status, shared by the resource and the action.
type jobWatcher struct {
	client *ehpc.Client
	opts   Options
	// poller is the provider instance's shared poller (providerData.poller); nil
	// gives this watch a poller of its own.
	poller *jobwatch.Poller
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
	// Seen reports that the log listed the job at least once.
	Seen bool
	// Err is nil when the job reached a final status; ctx's error when the wait was
	// cancelled or timed out; a *jobMissingError; or a permanent error reading the
	// log.
	Err error
}

// defaultJobMissingAfter is how long a job that the API accepted may stay absent
// from the operation log, asked for by listing and by id, before the wait gives up
// on reading it. It is far beyond any lag the log is known to have.
const defaultJobMissingAfter = 2 * time.Minute

// jobMissingError ends a wait whose job the operation log never showed.
type jobMissingError struct{ after time.Duration }

func (e *jobMissingError) Error() string {
	return fmt.Sprintf("the job did not appear in the operation log within %s, neither in the cluster's listing nor when asked for by its id", e.after.Round(time.Second))
}

// unreadable reports whether a wait ended because the job cannot be read, for a
// reason that asking again will not fix (as opposed to a final status, a timeout
// or an interruption).
func (r watchResult) unreadable() bool {
	if r.Err == nil {
		return false
	}
	var missing *jobMissingError
	return errors.As(r.Err, &missing) || permanent(r.Err)
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
//
// The checks come from the provider instance's coalesced poller: every waiter on
// the same zone and cluster shares one operation-log request per tick (see
// internal/jobwatch).
func (w jobWatcher) watch(ctx context.Context, zone, clusterID, jobID string, onCheck func(jobCheck)) watchResult {
	res := watchResult{Status: ehpc.JobPending}
	started := time.Now()
	missingAfter := w.opts.JobMissingAfter
	if missingAfter <= 0 {
		missingAfter = defaultJobMissingAfter
	}
	sub := w.sharedPoller().Watch(ctx, zone, clusterID, jobID)
	defer sub.Stop()
	for n := 0; ; n++ {
		var c jobwatch.Check
		select {
		case <-ctx.Done():
			res.Err = ctx.Err()
			return res
		case c = <-sub.C:
		}
		check := jobCheck{Job: c.Job, Found: c.Found, Elapsed: time.Since(started)}
		done, err := w.record(ctx, &res, &check, c, jobID, n)
		if onCheck != nil {
			onCheck(check)
		}
		if err != nil || done {
			res.Err = err
			return res
		}
		if !res.Seen && c.Direct && !c.Found && c.Err == nil && check.Elapsed >= missingAfter {
			res.Err = &jobMissingError{after: check.Elapsed}
			return res
		}
	}
}

// record folds one check into res. It returns done when the job reached a final
// status, or a permanent error.
func (w jobWatcher) record(ctx context.Context, res *watchResult, check *jobCheck, c jobwatch.Check, jobID string, n int) (bool, error) {
	if c.Err != nil {
		if permanent(c.Err) {
			return false, c.Err
		}
		// A flaky operation log must not fail a restart that is under way;
		// keep the error for the final message and try again next tick.
		check.Err, res.LastErr = c.Err, c.Err
		tflog.Warn(ctx, "could not read restart job status; will retry", map[string]any{"job_id": jobID, "error": c.Err.Error()})
		return false, nil
	}
	res.LastErr = nil
	if !c.Found {
		tflog.Debug(ctx, "restart job not in the operation log yet", map[string]any{"job_id": jobID, "check": n})
		return false, nil
	}
	res.Job, res.Status, res.Seen = c.Job, c.Job.Status, true
	tflog.Debug(ctx, "restart job status", map[string]any{"job_id": jobID, "status": c.Job.Status, "check": n, "direct": c.Direct})
	return c.Job.Done(), nil
}

// newPoller returns the coalescing poller of a provider instance, on the
// provider's schedule. Configure calls it once per instance and hands it to every
// resource and action through providerData.
func newPoller(client *ehpc.Client, opts Options) *jobwatch.Poller {
	return jobwatch.New(client, jobwatch.Options{Schedule: opts.PollSchedule, Clock: opts.Clock})
}

// sharedPoller is w.poller, or a poller for this watch alone (correct, but it
// shares nothing) when the watcher was built without one.
func (w jobWatcher) sharedPoller() *jobwatch.Poller {
	if w.poller != nil {
		return w.poller
	}
	return newPoller(w.client, w.opts)
}
