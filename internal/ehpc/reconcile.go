package ehpc

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Defaults for reconciling a restart whose outcome is unknown.
const (
	// defaultSettleWindow is how long the operation log is watched for a job that
	// an ambiguous request may have created, before the request is sent again. It
	// is what absorbs the log's lag and a request processed late.
	defaultSettleWindow = 6 * time.Second
	// unknownSkewMargin is how far before the send time a job may be stamped when
	// no answer has carried a Date header, so the server's clock is not bounded.
	unknownSkewMargin = 60 * time.Second
	// reconcileGrace is what a reconciliation may take beyond its settle window
	// (slow or retried reads of the log) when it runs after the caller gave up.
	reconcileGrace = 10 * time.Second
	// maxReconcilePages bounds how far back one look at the log reads (100 jobs a
	// page at most, often fewer).
	maxReconcilePages = 20
)

// nodeIDPrefix is how the API's node ids start ("cln-hzzvbtnh"). In an operation
// log entry it tells a node from the other resources a job lists (the cluster
// "ehpc-", a queue "ehpcq-").
const nodeIDPrefix = "cln-"

// reconcile watches the operation log for the job an ambiguous request may have
// created. It returns (result, nil) when exactly one job matches, (nil, nil) when
// none appeared within the settle window, and an error when it cannot tell.
func (c *Client) reconcile(ctx context.Context, zone, clusterID string, ids []string, u *UnknownOutcomeError) (*RestartResult, error) {
	deadline := time.Now().Add(c.settleWindow())
	wait := c.settleWindow() / 12
	for {
		matches, err := c.findRestartJobs(ctx, zone, clusterID, ids, func() time.Time {
			u.WindowStart = c.windowStart(u.SentAt)
			return u.WindowStart
		})
		switch {
		case err != nil:
			u.Checked = false
			u.Err = fmt.Errorf("%v; the operation log could not be read to find out: %w", u.Err, err)
			return nil, u
		case len(matches) == 1:
			j := matches[0]
			return &RestartResult{JobID: j.JobID, Action: j.JobAction, Path: PathOperations, SentAt: u.SentAt, Adopted: true, AdoptedReason: u.Err.Error()}, nil
		case len(matches) > 1:
			u.Checked = true
			u.Candidates = jobIDs(matches)
			return nil, u
		}
		if time.Now().Add(wait).After(deadline) {
			return nil, nil
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			u.Err = fmt.Errorf("%v; gave up checking the operation log: %w", u.Err, ctx.Err())
			return nil, u
		case <-timer.C:
		}
		wait = min(wait*2, c.settleWindow()/3)
	}
}

func (c *Client) settleWindow() time.Duration {
	if c.cfg.SettleWindow > 0 {
		return c.cfg.SettleWindow
	}
	return defaultSettleWindow
}

// windowStart is the earliest create_time (server clock, whole seconds) a job of
// a request sent at sentAt (our clock) can carry. It rests on the lower bound of
// the server's lead measured from Date headers, so it can only be early, never
// late: our own job is never excluded, and an older job is excluded once it is
// older than the bound's slack (Date's second plus the best answer's latency).
func (c *Client) windowStart(sentAt time.Time) time.Time {
	lower, ok := c.clock.get()
	if !ok {
		return sentAt.Add(-unknownSkewMargin).Truncate(time.Second)
	}
	return sentAt.Add(lower).Truncate(time.Second)
}

// RestartJobsSince lists the restart jobs of exactly ids in clusterID whose
// create_time is at or after since, a time of the server's own clock (such as
// another job's create_time), newest first. It settles, long after the fact, a
// request whose outcome was unknown.
func (c *Client) RestartJobsSince(ctx context.Context, zone, clusterID string, ids []string, since time.Time) ([]Job, error) {
	return c.findRestartJobs(ctx, zone, clusterID, ids, func() time.Time { return since })
}

// findRestartJobs lists restart jobs of exactly ids in clusterID created since
// the start of the window that windowStart gives (server clock), newest first.
// For an ambiguous request the window is computed after the first page has
// arrived, so that page's own Date bounds the server's clock even when no
// earlier answer did; the log is filtered here rather than with start_time,
// which a server whose clock is behind ours would apply against us.
func (c *Client) findRestartJobs(ctx context.Context, zone, clusterID string, ids []string, windowStart func() time.Time) ([]Job, error) {
	var out []Job
	offset := 0
	for page := 0; page < maxReconcilePages; page++ {
		list, err := c.Operations(ctx, OperationQuery{Zone: zone, ResourceIDs: []string{clusterID}, Reverse: true, Limit: 100, Offset: offset})
		if err != nil {
			return nil, err
		}
		since := windowStart()
		older := false
		for _, j := range list.Jobs {
			// A job whose time cannot be read is kept: missing a restart that did
			// happen would lead to sending it twice.
			if !j.CreateTime.IsZero() && j.CreateTime.Before(since) {
				older = true
				continue
			}
			if isRestartAction(j.JobAction) && restartsExactly(j.ResourceIDs, ids) && !listed(out, j.JobID) {
				out = append(out, j)
			}
		}
		offset += len(list.Jobs)
		// Newest first: once a page reaches back past the window, no later page
		// can hold a job inside it.
		if older || len(list.Jobs) == 0 || (list.TotalKnown && offset >= list.TotalCount) {
			return out, nil
		}
	}
	return nil, fmt.Errorf("the operation log of cluster %s holds more than %d entries newer than %s; cannot look further back",
		clusterID, offset, windowStart().UTC().Format(timestampLayout))
}

// isRestartAction accepts the documented job_action and, since API.md infers that
// name rather than stating it, any action that names a node restart.
func isRestartAction(action string) bool {
	a := strings.ToLower(action)
	return action == JobActionRestart || (strings.Contains(a, "restart") && strings.Contains(a, "node"))
}

// restartsExactly reports whether a job's resource_ids name exactly the nodes ids.
// The log lists every resource a job touched, not only what was sent: the cluster,
// and in QingCloud's own example a queue ("ehpc-czkekzfz ehpcq-rg0vaycm
// cln-w1xufnk9"). So an id counts as a node when it is one of ids or carries the
// API's node prefix; any other id is tolerated. A job that restarted one node more
// or one fewer is another restart.
func restartsExactly(resourceIDs IDList, ids []string) bool {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = false
	}
	for _, r := range resourceIDs {
		if _, ours := want[r]; ours {
			want[r] = true
			continue
		}
		if strings.HasPrefix(r, nodeIDPrefix) {
			return false
		}
	}
	for _, seen := range want {
		if !seen {
			return false
		}
	}
	return len(want) > 0
}

// listed reports whether jobs holds id: a page that shifted under us may repeat
// a job.
func listed(jobs []Job, id string) bool {
	_, ok := findJob(jobs, id)
	return ok
}

func jobIDs(jobs []Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.JobID
	}
	return out
}
