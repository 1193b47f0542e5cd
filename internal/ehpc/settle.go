package ehpc

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// How a lost answer is settled. A restart request whose answer is lost may or
// may not have been processed, and may still be processed after the client
// gave up. Two facts of API.md end the doubt without trusting any one clock:
//
//   - the API refuses a request whose signed timestamp is more than 60 s old
//     (1300), so a request is processed, if ever, within RequestValidity of its
//     timestamp, by the clock of the machine that processes it; and
//   - a job appears in the operation log within LogLag of its creation (or
//     within the longer lag the client measured on its own jobs, loglag.go).
//
// So the job of a lost request, if any, is a restart job of exactly its nodes
// whose create_time lies in [From, Until]: Until is the timestamp plus
// RequestValidity (the API's own clock enforces it, so no estimate of that
// clock enters) and From is the server's time when the request was sent,
// estimated from the Date headers. Both reach ClockMargin further, for a
// machine behind the endpoint whose clock is off, for this machine's clock
// stepping, and for the wire's whole seconds. And once a listing made after
// the settle deadline (timestamp + RequestValidity + LogLag + ClockMargin, on
// the server's clock) shows no such job, the request provably had no effect:
// only then may the restart be sent again.
//
// Jobs that cannot be the lost request's are left out by identity, not time:
// those the caller recorded for other requests, and those a listing showed
// before the request was sent (the client remembers every job it listed).

// Defaults of the Config fields that settling relies on.
const (
	defaultRequestValidity = 60 * time.Second
	defaultLogLag          = 6 * time.Second
	defaultClockMargin     = 25 * time.Second
)

// Pacing of the looks at the log while a lost answer settles: one at once, to
// bound the server's clock, then one at the deadline, and more only while the
// log cannot be read.
const (
	settleFirstGap = time.Second
	settleMaxGap   = 10 * time.Second
	// maxReconcilePages bounds how far back one look at the log reads (100 jobs a
	// page at most, often fewer) when the request's window has no lower end (a
	// record that kept no send time); maxWindowPages, how many pages of the
	// window itself one look reads: far more jobs than the API's quota lets any
	// key make in two minutes.
	maxReconcilePages = 20
	maxWindowPages    = 200
	// maxResends bounds how often RestartOnce sends again a restart whose
	// every earlier request provably had no effect.
	maxResends = 2
)

// nodeIDPrefix is how the API's node ids start ("cln-hzzvbtnh"). In an operation
// log entry it tells a node from the other resources a job lists (the cluster
// "ehpc-", a queue "ehpcq-").
const nodeIDPrefix = "cln-"

// Request is a restart request whose job may have to be found later, perhaps
// by another process: what Settle needs, and what a caller keeps (in
// Terraform's state) while the request's outcome is unknown.
type Request struct {
	// SentAt is the request's signed timestamp: this machine's clock, whole
	// seconds. Zero for a request from a record that did not keep it; such a
	// request is taken to have been sent long ago.
	SentAt time.Time
	// From and Until bound the create_time (server clock) of its job, if it
	// has one. A zero From is not known yet (no answer has shown the server's
	// clock); a zero Until is unbounded.
	From, Until time.Time
	// seq orders the request among the listings of the client that sent it
	// (origin); a request from elsewhere (state) has neither.
	seq    uint64
	origin *seenJobs
}

// request returns what is known of a call's lost request.
func (c *Client) lostRequest(t *sendTimes) Request {
	r := Request{SentAt: t.last, Until: t.last.Add(c.cfg.RequestValidity + c.cfg.ClockMargin), seq: t.seq, origin: &c.seen}
	r.From = c.windowFrom(t.first)
	return r
}

// windowFrom is the earliest create_time (server clock) a job of a request
// signed at sentAt can carry, or zero while no answer has bounded the server's
// clock.
func (c *Client) windowFrom(sentAt time.Time) time.Time {
	lower, ok := c.offset.get()
	if !ok {
		return time.Time{}
	}
	return sentAt.Add(lower - c.cfg.ClockMargin).Truncate(time.Second)
}

// settleDeadline is when, on this machine's clock, a listing that shows no job
// of req proves req had no effect: by then the API refuses req (its timestamp
// is too old by the server's clock) and the log shows any job it made. Zero
// (already passed) for a request sent long ago.
func (c *Client) settleDeadline(req Request) time.Time {
	if req.SentAt.IsZero() {
		return time.Time{}
	}
	lower, _ := c.offset.get() // unknown: 0, and the margin covers a clock that is off
	// The lag allowed is LogLag, or longer when the client measured its own
	// jobs taking longer to appear (loglag.go): read at each look, so a lag
	// measured while this settle waits still widens it.
	lag := c.logLagUsed()
	deadline := req.SentAt.Add(c.cfg.RequestValidity + lag + c.cfg.ClockMargin - lower)
	// Until is SentAt + RequestValidity + ClockMargin for one request; for the
	// union of several (see Merge) it is the latest one's, and rules.
	if byUntil := req.Until.Add(lag - lower); !req.Until.IsZero() && byUntil.After(deadline) {
		deadline = byUntil
	}
	return deadline
}

// Merge is one request standing for a and b, both of whose jobs it may hold:
// sent when the first was, its window reaching from the earlier From (not
// known yet when either is not) to the later Until, which also sets its settle
// deadline. A zero a is b.
func Merge(a, b Request) Request {
	switch {
	case a.SentAt.IsZero():
		return b
	case b.SentAt.IsZero():
		return a
	}
	// torture gate: merge-two-requests: a batch inherits a lost request while it holds one already, and the two become one window
	m := Request{SentAt: a.SentAt, From: a.From, Until: a.Until}
	if b.SentAt.Before(m.SentAt) {
		m.SentAt = b.SentAt
	}
	if m.From.IsZero() || b.From.IsZero() {
		m.From = time.Time{}
	} else if b.From.Before(m.From) {
		m.From = b.From
	}
	if m.Until.IsZero() || b.Until.IsZero() {
		m.Until = time.Time{}
	} else if b.Until.After(m.Until) {
		m.Until = b.Until
	}
	return m
}

// Settle finds the job of req, a restart of exactly ids in clusterID whose
// answer was lost. It decides only on a listing made after the settle
// deadline, when the API can no longer process req and the log shows any job
// it made; it waits for the deadline when it is called sooner (a resume right
// after the apply that lost the answer). It returns:
//   - the job, when one candidate lies in req's window; or, of several, the
//     only one created after req was sent (by the bound the Date headers give,
//     less the part of the margin a clock step takes), else the newest;
//   - nil and nil, when none does: req had no effect, and it never will;
//   - an *UnknownOutcomeError when it cannot tell: several candidates not all
//     with a create_time, a log that cannot be read until well past the
//     deadline, or ctx ending first.
//
// known are jobs that cannot be req's: those recorded for other requests. The
// error carries req with its window filled in, for the caller to keep.
func (c *Client) Settle(ctx context.Context, zone, clusterID string, ids []string, req Request, known []string) (*Job, error) {
	jobs, u, err := c.candidates(ctx, zone, clusterID, ids, req, known)
	if err != nil {
		return nil, err
	}
	for {
		job, err := c.decide(jobs, u)
		if job == nil || err != nil {
			return job, err
		}
		// Found for this request, so no other's: claimed at once, since two
		// settles of this client may decide at the same moment. One that
		// another claimed first is that request's.
		if c.mine.claim(job.JobID) {
			for _, id := range job.Alternatives {
				c.mine.add(id)
			}
			return job, nil
		}
		jobs = slices.DeleteFunc(jobs, func(j Job) bool { return j.JobID == job.JobID })
	}
}

// Candidates are every job that may be req's, from a listing made after its
// settle deadline (waiting for it when called sooner): none of them, nor any
// later job, can be the job of a request sent after this call. It is how a
// restart sent for a record that replaced one whose request's outcome is
// unknown keeps that request's job from ever being taken for its own. It
// fails with an *UnknownOutcomeError when the log cannot be read, or ctx ends
// first.
func (c *Client) Candidates(ctx context.Context, zone, clusterID string, ids []string, req Request, known []string) ([]Job, error) {
	jobs, _, err := c.candidates(ctx, zone, clusterID, ids, req, known)
	return jobs, err
}

// candidates looks for req's job until a listing after its settle deadline,
// and returns what that listing showed, with the error Settle fills in when it
// cannot decide.
func (c *Client) candidates(ctx context.Context, zone, clusterID string, ids []string, req Request, known []string) ([]Job, *UnknownOutcomeError, error) {
	u := &UnknownOutcomeError{ClusterID: clusterID, NodeIDs: ids, Request: req}
	gap := settleFirstGap
	var lastErr error
	for {
		if u.Request.From.IsZero() && !u.Request.SentAt.IsZero() {
			u.Request.From = c.windowFrom(u.Request.SentAt)
		}
		looked := c.cfg.Clock.Now()
		jobs, err := c.findRestartJobs(ctx, zone, clusterID, ids, &u.Request, known)
		deadline := c.settleDeadline(u.Request)
		switch {
		case err != nil:
			lastErr = err
			// A log that cannot be read is tried for as long again as the
			// lease, then the outcome stays unknown.
			if Permanent(err) || !looked.Before(deadline.Add(c.cfg.RequestValidity)) {
				u.Err = fmt.Errorf("the operation log could not be read to find its job: %w", err)
				return nil, nil, u
			}
		case !looked.Before(deadline):
			return jobs, u, nil
		default:
			lastErr = nil
		}
		wait := gap
		if rest := deadline.Sub(c.cfg.Clock.Now()); err == nil && rest > 0 {
			wait = rest // nothing is decided before the deadline: look again then
		}
		select {
		case <-ctx.Done():
			u.Err = fmt.Errorf("its job was still being looked for in the operation log (it is decided only once the API can no longer process the request, at %s by this machine's clock) when the apply was cancelled (%v)",
				deadline.UTC().Format(timestampLayout), ctx.Err())
			if lastErr != nil {
				u.Err = fmt.Errorf("the operation log could not be read to find its job (%v), and the apply was cancelled (%v)", lastErr, ctx.Err())
			}
			return nil, nil, u
		case <-c.cfg.Clock.After(wait):
		}
		gap = min(gap*2, settleMaxGap)
	}
}

// decide settles u's request from the candidates a listing after its settle
// deadline showed.
func (c *Client) decide(jobs []Job, u *UnknownOutcomeError) (*Job, error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	// Of several, a job created before the request was sent is another
	// restart's: those created after it, by the tight bound (the margin left
	// only for a step of this machine's clock), are the request's to choose
	// from. Of those (or, with none, of all), the newest is taken: within
	// seconds of each other only the allowance for a clock step keeps them
	// apart, and no later listing could tell more, so an outcome left unknown
	// here would stay unknown for good. Taking one never restarts the nodes
	// twice; at worst the job recorded is another restart of exactly these
	// nodes made in the request's window, as when it is the only candidate.
	// The others go with it (Alternatives): the request's own job may be one
	// of them, and no job id may be lost.
	pool := jobs
	if lower, ok := c.offset.get(); ok && !u.Request.SentAt.IsZero() && len(jobs) > 1 {
		// torture gate: several-candidates: a settle chooses between several jobs of exactly its nodes in a lost request's window
		bound := u.Request.SentAt.Add(lower - c.cfg.ClockMargin*2/5).Truncate(time.Second)
		var after []Job
		for _, j := range jobs {
			if j.CreateTime.IsZero() || !j.CreateTime.Before(bound) {
				after = append(after, j)
			}
		}
		if len(after) > 0 {
			pool = after
		}
	}
	if newest := newestOf(pool); newest != nil {
		chosen := *newest
		for _, j := range jobs {
			if j.JobID != chosen.JobID {
				chosen.Alternatives = append(chosen.Alternatives, j.JobID)
			}
		}
		return &chosen, nil
	}
	u.Checked, u.Candidates = true, jobIDs(jobs)
	u.Err = fmt.Errorf("several restart jobs of exactly these nodes lie in its window, and the operation log gives no create_time for some of them, so the newest cannot be told")
	return nil, u
}

// newestOf is the job created last: the only one, or of several the one
// with the latest create_time; nil when one of several has none.
func newestOf(jobs []Job) *Job {
	if len(jobs) == 1 {
		return &jobs[0]
	}
	// torture gate: newest-of-several: of several candidates, the newest is adopted
	var newest *Job
	for i := range jobs {
		switch {
		case jobs[i].CreateTime.IsZero():
			return nil
		case newest == nil || jobs[i].CreateTime.After(newest.CreateTime.Time):
			newest = &jobs[i]
		}
	}
	return newest
}

// findRestartJobs lists the restart jobs of exactly ids in clusterID that can
// be req's: created inside its window, not known to be another request's (the
// caller's, or made by this client's own requests), and not listed before req
// was sent. A job whose create_time cannot be read is kept: missing a restart
// that did happen would send it twice.
//
// With the window's lower end known, the log is read oldest first from it
// (start_time, on the server's clock as From is), so a log busy with later
// restarts costs no more than a quiet one: the reference does not say whether
// start_time bounds create_time or status_time, and either way every job
// created in the window is listed. Without it (a record that kept no send
// time), newest first, back to the window or maxReconcilePages.
func (c *Client) findRestartJobs(ctx context.Context, zone, clusterID string, ids []string, req *Request, known []string) ([]Job, error) {
	if req.From.IsZero() && !req.SentAt.IsZero() {
		if req.From = c.windowFrom(req.SentAt); req.From.IsZero() {
			// No answer has shown the server's clock yet: one short listing does.
			if _, err := c.Operations(ctx, OperationQuery{Zone: zone, ResourceIDs: []string{clusterID}, Limit: 1}); err != nil {
				return nil, err
			}
			req.From = c.windowFrom(req.SentAt)
		}
	}
	q := OperationQuery{Zone: zone, ResourceIDs: []string{clusterID}, Reverse: req.From.IsZero(), Limit: 100, StartTime: req.From}
	pages := maxReconcilePages
	if !req.From.IsZero() {
		pages = maxWindowPages
	}
	var out []Job
	for page := 0; page < pages; page++ {
		list, err := c.Operations(ctx, q)
		if err != nil {
			return nil, err
		}
		past := false // a page reached beyond the window, in the order read
		for _, j := range list.Jobs {
			created := j.CreateTime.Time
			switch {
			case !created.IsZero() && !req.From.IsZero() && created.Before(req.From):
				past = past || q.Reverse
				continue
			case !created.IsZero() && !req.Until.IsZero() && created.After(req.Until):
				// Oldest first, the log's order is the jobs' true creation, which
				// the machines' clocks can stamp out of order by a margin.
				past = past || !q.Reverse && created.After(req.Until.Add(c.cfg.ClockMargin))
				continue
			case !isRestartAction(j.JobAction) || !restartsExactly(j.ResourceIDs, ids) || listed(out, j.JobID):
				continue
			case contains(known, j.JobID) || c.mine.has(j.JobID) || req.origin == &c.seen && c.seen.before(j.JobID, req.seq):
				continue
			}
			out = append(out, j)
		}
		q.Offset += len(list.Jobs)
		// A total is trusted only where it agrees with what came: one below
		// the items already received (an answer that says total 0 with a page
		// of jobs) would end the listing short and read it as whole.
		if past || len(list.Jobs) == 0 || (list.TotalKnown && q.Offset == list.TotalCount) {
			return out, nil
		}
	}
	from := "its start"
	if !req.From.IsZero() {
		from = req.From.UTC().Format(timestampLayout)
	}
	return nil, fmt.Errorf("the operation log of cluster %s holds more than %d entries from %s on that are not past the request's window; cannot read it all", clusterID, q.Offset, from)
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func jobIDs(jobs []Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.JobID
	}
	return out
}
