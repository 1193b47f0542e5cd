package ehpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
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
	// Request is the request that made the job: its signed timestamp, and the
	// window it was looked for in when its answer was lost.
	Request Request
	// Adopted reports that the request's answer was lost and the job was found in
	// the operation log instead (RestartOnce); AdoptedReason says what was lost.
	Adopted       bool
	AdoptedReason string
	// Alternatives are the other jobs the adopted one was chosen over
	// (Job.Alternatives).
	Alternatives []string
	// Resent reports that an earlier request provably had no effect and was sent again.
	Resent bool
	// Interrupted reports that the caller's context ended while a lost answer was
	// being settled, and the job was found all the same: the caller should
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
	if err == nil {
		c.mine.add(res.JobID)
		c.answeredJob(zone, clusterID, res.JobID, c.cfg.Clock.Now())
	}
	return res, err
}

// RestartOnce restarts the nodes exactly once or reports clearly that it could
// not tell. It sends one restart request (RestartNodes); when its answer is
// lost it settles it (Settle): the job found is adopted (Adopted); a request
// proven to have had no effect is sent again (Resent), at most maxResends
// times; anything else is an *UnknownOutcomeError carrying the request to
// settle later. known are jobs that cannot be this restart's (the caller's
// records of other requests).
//
// A resend refused with 1400 (the nodes are busy) after a lost answer is
// reported as the lost request's unknown outcome, never as "not sent": busy
// nodes may be restarting because of it. When ctx ends after the log proved
// the lost request had no effect, the restart is not sent again and the error
// says so; nothing was restarted.
//
// Unambiguous rejections (1100, 1200, 1300, 1400, 2100, 2500, ...) are returned as
// they are and never retried.
func (c *Client) RestartOnce(ctx context.Context, zone, clusterID string, ids []string, known []string) (*RestartResult, error) {
	res, err := c.RestartNodes(ctx, zone, clusterID, ids)
	for resends := 0; ; resends++ {
		var u *UnknownOutcomeError
		if err == nil || !asUnknown(err, &u) {
			return res, err
		}
		if fn, ok := ctx.Value(settlingKey{}).(func()); ok {
			fn()
		}
		job, serr := c.Settle(ctx, zone, clusterID, ids, u.Request, known)
		switch {
		case serr != nil:
			return nil, serr
		case job != nil:
			return &RestartResult{JobID: job.JobID, Action: job.JobAction, Path: PathOperations, Request: u.Request,
				Adopted: true, AdoptedReason: u.Err.Error(), Alternatives: job.Alternatives, Interrupted: ctx.Err() != nil}, nil
		case ctx.Err() != nil:
			return nil, fmt.Errorf("the answer to the restart request was lost, the operation log then showed it had no effect, and it was not sent again: %w", ctx.Err())
		case resends == maxResends:
			u.Checked = true
			u.Err = fmt.Errorf("%v; this request and the %d before it all lost their answers", u.Err, maxResends)
			return nil, u
		}
		if check, ok := ctx.Value(resendKey{}).(func() error); ok {
			if err := check(); err != nil {
				return nil, fmt.Errorf("the answer to the restart request was lost, the operation log then showed it had no effect, and it was not sent again: %w", err)
			}
		}
		res, err = c.RestartNodes(ctx, zone, clusterID, ids)
		switch {
		case err == nil:
			res.Resent = true
			return res, nil
		case RetCode(err) == CodePermissionDenied:
			u.Checked = true
			u.Err = fmt.Errorf("%v; sent again once the operation log showed no job of it, and refused: %w", u.Err, err)
			return nil, u
		}
	}
}

type settlingKey struct{}

type resendKey struct{}

// WithResendCheck returns ctx with check, which RestartOnce calls before it
// sends a restart again once the operation log proved a lost request had no
// effect: an error from it ends RestartOnce with nothing sent again, wrapping
// that error.
func WithResendCheck(ctx context.Context, check func() error) context.Context {
	return context.WithValue(ctx, resendKey{}, check)
}

// WithSettling returns ctx with fn, which RestartOnce calls each time it
// starts to settle a lost answer: that reads the operation log until the lost
// request can no longer make a job, a minute and a half or more, and a caller
// that shows progress must say what it waits for.
func WithSettling(ctx context.Context, fn func()) context.Context {
	return context.WithValue(ctx, settlingKey{}, fn)
}

func (c *Client) restartAt(ctx context.Context, path, zone, clusterID string, ids []string, body []byte) (*RestartResult, error) {
	var out restartResponse
	sent := &sendTimes{}
	err := c.do(ctx, request{method: http.MethodPost, path: path, zone: zone, body: body, sent: sent}, &out)
	if err != nil {
		if outcomeUnknown(err) {
			return nil, &UnknownOutcomeError{ClusterID: clusterID, NodeIDs: ids, Request: c.lostRequest(sent), Err: err}
		}
		return nil, err
	}
	jobID := strings.TrimSpace(string(out.JobID))
	if jobID == "" {
		// The API said yes without naming the job: the restart probably happened, but
		// there is nothing to track. That is an unknown outcome, not a success.
		return nil, &UnknownOutcomeError{ClusterID: clusterID, NodeIDs: ids, Request: c.lostRequest(sent),
			Err: &ResponseError{Path: path, HTTPStatus: http.StatusOK, Reason: "ret_code 0 without a job_id"}}
	}
	return &RestartResult{JobID: jobID, RetCode: int(out.RetCode), Action: out.Action, Path: path, Request: Request{SentAt: sent.last}}, nil
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
