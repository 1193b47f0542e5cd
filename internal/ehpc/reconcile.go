package ehpc

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Defaults for reconciling a restart whose outcome is unknown.
const (
	// DefaultSettleWindow is how long the operation log is watched for a job that
	// an ambiguous request may have created, before the request is sent again.
	DefaultSettleWindow = 6 * time.Second
	// unknownSkewMargin is how far before the send time a job may be stamped when
	// the server's clock offset is unknown: the API accepts timestamps up to 60 s
	// old, so clocks may differ by that much.
	unknownSkewMargin = 60 * time.Second
	// knownSkewMargin absorbs the one-second resolution of the Date header and the
	// request's own latency once the offset has been measured.
	knownSkewMargin = 5 * time.Second
)

// RestartNodesOnce restarts the nodes exactly once or reports clearly that it
// could not tell. It calls RestartNodes; when that ends in an
// *UnknownOutcomeError it looks in the operation log for a restart job of
// exactly these nodes created since the request was sent:
//   - one such job: it is adopted (RestartResult.Adopted) and nothing is resent;
//   - none within the settle window: the restart is sent once more
//     (RestartResult.Resent);
//   - several, or the log cannot be read, or the second request is ambiguous too
//     and still leaves no trace: an *UnknownOutcomeError that says how to check.
//
// Unambiguous rejections (1100, 1200, 1300, 1400, 2100, 2500, ...) are returned as
// they are and never retried.
func (c *Client) RestartNodesOnce(ctx context.Context, zone, clusterID string, nodeIDs []string) (*RestartResult, error) {
	if zone == "" {
		zone = c.cfg.Zone
	}
	ids := NormalizeIDs(nodeIDs)
	res, err := c.RestartNodes(ctx, zone, clusterID, ids)
	var first *UnknownOutcomeError
	if err == nil || !errors.As(err, &first) {
		return res, err
	}

	job, err := c.reconcile(ctx, zone, clusterID, ids, first)
	if err != nil || job != nil {
		return job, err
	}

	// The log shows no trace of the first request after the settle window: it was
	// not processed, so one more request cannot make a second restart.
	res, err = c.RestartNodes(ctx, zone, clusterID, ids)
	if err == nil {
		res.Resent = true
		return res, nil
	}
	var second *UnknownOutcomeError
	if !errors.As(err, &second) && RetCode(err) != CodePermissionDenied {
		return nil, err
	}
	// Ambiguous again, or 1400 "already restarting", which means the first request
	// did take effect after all: look once more before giving up.
	job, rerr := c.reconcile(ctx, zone, clusterID, ids, first)
	if rerr != nil || job != nil {
		return job, rerr
	}
	first.Err = fmt.Errorf("%v; sent again after %s with no job in the operation log: %w", first.Err, c.settleWindow(), err)
	first.Checked = true
	return nil, first
}

// reconcile watches the operation log for the job an ambiguous request may have
// created. It returns (result, nil) when exactly one job matches, (nil, nil) when
// none appeared within the settle window, and an error when it cannot tell.
func (c *Client) reconcile(ctx context.Context, zone, clusterID string, ids []string, u *UnknownOutcomeError) (*RestartResult, error) {
	since := u.SentAt.Add(-unknownSkewMargin)
	if off, ok := c.serverOffset(); ok {
		since = u.SentAt.Add(off - knownSkewMargin)
	}
	u.WindowStart = since

	deadline := time.Now().Add(c.settleWindow())
	wait := c.settleWindow() / 12
	for {
		matches, err := c.findRestartJobs(ctx, zone, clusterID, ids, since)
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
			u.Err = fmt.Errorf("%v; cancelled while checking the operation log: %w", u.Err, ctx.Err())
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
	return DefaultSettleWindow
}

// findRestartJobs lists restart jobs of exactly ids in clusterID created at or
// after since, newest first.
func (c *Client) findRestartJobs(ctx context.Context, zone, clusterID string, ids []string, since time.Time) ([]Job, error) {
	list, err := c.Operations(ctx, OperationQuery{Zone: zone, ResourceIDs: []string{clusterID}, StartTime: since, Reverse: true, Limit: 100})
	if err != nil {
		return nil, err
	}
	var out []Job
	for _, j := range list.Jobs {
		if !isRestartAction(j.JobAction) || !sameNodes(j.ResourceIDs, clusterID, ids) {
			continue
		}
		// A job whose time cannot be read is kept: missing a restart that did
		// happen would lead to sending it twice.
		if !j.CreateTime.IsZero() && j.CreateTime.Before(since) {
			continue
		}
		out = append(out, j)
	}
	return out, nil
}

// isRestartAction accepts the documented job_action and, since API.md infers that
// name rather than stating it, any action that names a node restart.
func isRestartAction(action string) bool {
	a := strings.ToLower(action)
	return action == JobActionRestart || (strings.Contains(a, "restart") && strings.Contains(a, "node"))
}

// sameNodes reports whether a job's resource ids are the cluster plus exactly ids.
func sameNodes(resourceIDs IDList, clusterID string, ids []string) bool {
	var nodes []string
	hasCluster := false
	for _, r := range resourceIDs {
		if r == clusterID {
			hasCluster = true
			continue
		}
		nodes = append(nodes, r)
	}
	nodes = NormalizeIDs(nodes)
	if !hasCluster || len(nodes) != len(ids) {
		return false
	}
	sorted := append([]string(nil), ids...)
	sort.Strings(sorted)
	for i := range nodes {
		if nodes[i] != sorted[i] {
			return false
		}
	}
	return true
}

func jobIDs(jobs []Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.JobID
	}
	return out
}
