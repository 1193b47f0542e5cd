package ehpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Restart paths. The seed page spells the action "resatrtNodes"; the current
// reference spells it "restartNodes". Either may be what a given deployment serves.
const (
	PathRestartNodes      = "/api/cluster/restartNodes"
	PathRestartNodesAlias = "/api/cluster/resatrtNodes"
)

// JobActionRestart is the operation log's job_action for a node restart (inferred
// from the response action name; API.md notes it is not stated in the reference).
const JobActionRestart = "HpcClusterRestartClusterNodes"

// RestartResult is the API's answer to a restart request.
type RestartResult struct {
	JobID   string
	RetCode int
	Action  string
	// Path is the path that accepted the request (one of the two spellings).
	Path string
	// SentAt is when the accepted request was signed and sent, for finding the job in
	// the operation log.
	SentAt time.Time
	// Adopted reports that the request's answer was lost and the job was found in
	// the operation log instead (RestartNodesOnce); AdoptedReason says what was lost.
	Adopted       bool
	AdoptedReason string
	// Resent reports that a first request provably had no effect and was sent again.
	Resent bool
	// Interrupted reports that the caller's context ended while a lost answer was
	// being reconciled, and the job was found all the same: the caller should
	// record it and not wait for it.
	Interrupted bool
}

type restartBody struct {
	ClusterID string   `json:"cluster_id"`
	NodeIDs   []string `json:"node_ids"`
	Zone      string   `json:"zone"`
}

type restartResponse struct {
	Action  string     `json:"action"`
	JobID   FlexString `json:"job_id"`
	RetCode flexInt    `json:"ret_code"`
}

// NormalizeIDs returns ids trimmed, without blanks and duplicates, sorted: the exact
// list a restart sends, so the same set of nodes always makes the same request.
func NormalizeIDs(ids []string) []string {
	seen := make(map[string]struct{}, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if _, dup := seen[id]; dup {
			continue
		}
		seen[id] = struct{}{}
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// RestartNodes asks the API to restart nodeIDs of clusterID in zone, all three
// required. The ids are sent as given: callers pass them through NormalizeIDs so
// the same set of nodes always makes the same request. It sends at most one request that could be processed: a
// request is repeated only when the API provably did not act on it (connection
// refused, ret_code 5100 or 5300), and the alias path is tried once only when the
// first path does not exist (HTTP 404 or ret_code 1101). When the outcome cannot be
// known the error is an *UnknownOutcomeError.
func (c *Client) RestartNodes(ctx context.Context, zone, clusterID string, ids []string) (*RestartResult, error) {
	clusterID = strings.TrimSpace(clusterID)
	if clusterID == "" {
		return nil, errors.New("restart: cluster id is empty")
	}
	if len(ids) == 0 {
		return nil, errors.New("restart: no node ids given")
	}
	if zone == "" {
		return nil, errors.New("restart: the zone parameter is required")
	}
	body, err := json.Marshal(restartBody{ClusterID: clusterID, NodeIDs: ids, Zone: zone})
	if err != nil {
		return nil, fmt.Errorf("restart: encoding request: %w", err)
	}

	res, err := c.restartAt(ctx, PathRestartNodes, zone, clusterID, ids, body)
	if err != nil && isMissingAction(err) {
		// Neither spelling acts on a request it does not know, so trying the other
		// cannot restart anything twice.
		res, err = c.restartAt(ctx, PathRestartNodesAlias, zone, clusterID, ids, body)
		if err != nil && isMissingAction(err) {
			return nil, fmt.Errorf("restart: neither %s nor %s exists at %s: %w", PathRestartNodes, PathRestartNodesAlias, c.Endpoint(), err)
		}
	}
	return res, err
}

// RestartNodesOnce restarts the nodes exactly once or reports clearly that it
// could not tell. It calls RestartNodes; when that ends in an
// *UnknownOutcomeError it looks in the operation log for a restart job of
// exactly these nodes created since the request was sent:
//   - one such job: it is adopted (RestartResult.Adopted) and nothing is resent;
//   - none within the settle window: the restart is sent once more
//     (RestartResult.Resent), unless ctx was cancelled meanwhile;
//   - several, or the log cannot be read, or the second request is ambiguous too
//     and still leaves no trace: an *UnknownOutcomeError that says how to check.
//
// The look at the log runs to its end even when ctx is cancelled (bounded by the
// settle window plus a few seconds): a request that may have created a job must
// not end with the job unaccounted for. A job found that way is returned with
// Interrupted set.
//
// Unambiguous rejections (1100, 1200, 1300, 1400, 2100, 2500, ...) are returned as
// they are and never retried. Its arguments are RestartNodes's.
func (c *Client) RestartNodesOnce(ctx context.Context, zone, clusterID string, ids []string) (*RestartResult, error) {
	res, err := c.RestartNodes(ctx, zone, clusterID, ids)
	var first *UnknownOutcomeError
	if err == nil || !errors.As(err, &first) {
		return res, err
	}

	job, err := c.reconcileDetached(ctx, zone, clusterID, ids, first)
	if err != nil || job != nil {
		return job, err
	}
	if ctx.Err() != nil {
		// The caller gave up: sending a restart now would act against that,
		// and the log shows no job, so nothing is lost by not sending.
		first.Checked = true
		first.Err = fmt.Errorf("%v; the caller cancelled the call, no job of these nodes appeared in the operation log within %s, and the restart was not sent again", first.Err, c.settleWindow())
		return nil, first
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
	job, rerr := c.reconcileDetached(ctx, zone, clusterID, ids, first)
	if rerr != nil || job != nil {
		return job, rerr
	}
	first.Err = fmt.Errorf("%v; sent again after %s with no job in the operation log: %w", first.Err, c.settleWindow(), err)
	first.Checked = true
	return nil, first
}

// reconcileDetached runs reconcile on a context that ctx's cancellation does not
// end, bounded so a cancelled call still ends within seconds.
func (c *Client) reconcileDetached(ctx context.Context, zone, clusterID string, ids []string, u *UnknownOutcomeError) (*RestartResult, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.settleWindow()+reconcileGrace)
	defer cancel()
	job, err := c.reconcile(rctx, zone, clusterID, ids, u)
	if job != nil && ctx.Err() != nil {
		job.Interrupted = true
	}
	return job, err
}

func (c *Client) restartAt(ctx context.Context, path, zone, clusterID string, ids []string, body []byte) (*RestartResult, error) {
	sentAt := c.cfg.Now()
	var out restartResponse
	err := c.do(ctx, request{method: http.MethodPost, path: path, zone: zone, body: body}, &out)
	if err != nil {
		if outcomeUnknown(err) {
			return nil, &UnknownOutcomeError{ClusterID: clusterID, NodeIDs: ids, SentAt: sentAt, Err: err}
		}
		return nil, err
	}
	jobID := strings.TrimSpace(string(out.JobID))
	if jobID == "" {
		// The API said yes without naming the job: the restart probably happened, but
		// there is nothing to track. That is an unknown outcome, not a success.
		return nil, &UnknownOutcomeError{ClusterID: clusterID, NodeIDs: ids, SentAt: sentAt,
			Err: &ResponseError{Path: path, HTTPStatus: http.StatusOK, Reason: "ret_code 0 without a job_id"}}
	}
	return &RestartResult{JobID: jobID, RetCode: int(out.RetCode), Action: out.Action, Path: path, SentAt: sentAt}, nil
}

// isMissingAction reports whether err says the path does not exist.
func isMissingAction(err error) bool {
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.HTTPStatus == http.StatusNotFound || apiErr.RetCode == CodeNoSuchAction
}

// outcomeUnknown reports whether a failed restart request may have been processed.
func outcomeUnknown(err error) bool {
	var terr *TransportError
	if errors.As(err, &terr) {
		return terr.Sent
	}
	var rerr *ResponseError
	if errors.As(err, &rerr) {
		// Unreadable answer: the request arrived, its fate is unknown.
		return true
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		if apiErr.RetCode == codeInternalError {
			return true
		}
		// An HTTP error without an API verdict (a gateway's 502, a 503) may come
		// after the API acted.
		return apiErr.RetCode == 0 && apiErr.HTTPStatus >= 500
	}
	return false
}
