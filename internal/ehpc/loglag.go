package ehpc

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// How long the operation log takes to show a job is not documented (API.md),
// and settling a lost answer depends on it: a request processed at the end of
// its lease whose job the log shows later than the settle deadline is taken
// as not processed, and sent again. Config.LogLag is the assumed bound; the
// client also measures the lag on the jobs of its own requests whose answers
// arrived, and settles with the larger of the two (logLagUsed).
//
// What is measured is a proven lower bound, on this machine's clock alone:
// the time from when the answer naming the job arrived to when a listing
// that would have shown the job, and did not, was sent. The job was created
// before its answer arrived and had not appeared when that listing was
// processed, so its true lag (from creation) was longer. The job's
// create_time is not used: it is stamped by one of the API's machines, whose
// clock may be 10 s off the one that dates the listing, so a healthy log
// could measure a lag of seconds from the skew alone, or hide a real one.
// Nor is the request's send time: the job may have been made at the end of
// a slow request, so send-to-listing proves nothing about the log. With the
// wall clock (clock.Real), Go measures these durations on the monotonic
// clock, so a step of this machine's clock does not enter either.
//
// The measurement is kept per Client, so per provider instance (one per
// Terraform command phase): a lag seen on one restart of an apply widens the
// settling of every later lost answer in it; a lag first seen on the very
// request whose answer is lost cannot be, since that job is not known to be
// this client's until the settle finds it.
const (
	// logLagFactor multiplies the largest lag measured to make the lag a
	// settle allows. The measurement is a lower bound: the job appeared
	// somewhere between the last listing that did not show it and the first
	// that did. The poller's checks are at most 12% of the time waited (plus
	// 1 s) apart, or 30 s apart in the sparse part of an estimated schedule,
	// where a job missed at 30 s may appear just before 60 s: twice what was
	// measured covers both, and leaves room for a job that lags somewhat
	// longer than the ones measured.
	logLagFactor = 2
	// maxLogLagUsed bounds the lag a settle allows however long the lag
	// measured: half the default create timeout (30 minutes), so a settle,
	// with the lease and the margin, still ends inside it. A log that lags
	// further behind is beyond what waiting can cope with, and the warning
	// says so.
	maxLogLagUsed = 15 * time.Minute
	// maxLagPending and maxLagMisses bound the memory the measurement takes:
	// jobs whose first sighting is awaited, and the listings kept per job
	// that did not show it. Forgetting only loses a measurement.
	maxLagPending = 10000
	maxLagMisses  = 16
	// lagReportGrowth is how much the lag must grow past the last one
	// reported before it is reported again (in quarters), so a rolling
	// restart whose every job lags a little more does not repeat the warning
	// once a job.
	lagReportGrowth = 5 // 5/4
)

// LogLag is what the client measured of the operation log's lag, and what it
// does about it.
type LogLag struct {
	// Measured is the longest the log took to show a job of this client's
	// own requests, at least (see above); zero when no listing proved any.
	Measured time.Duration
	// Assumed is the configured bound (Config.LogLag, documented 6 s).
	Assumed time.Duration
	// Used is the lag a settle allows: Assumed, or logLagFactor × Measured,
	// at most maxLogLagUsed, whichever is longer.
	Used time.Duration
	// Capped reports that logLagFactor × Measured is over maxLogLagUsed.
	Capped bool
	// JobID and ClusterID name the job the longest lag was measured on.
	JobID, ClusterID string
}

// Widened reports whether settling allows more than the assumed lag: the
// measured one, a lower bound, may be under it and still be widened, since
// the true lag can be up to twice as long.
func (l LogLag) Widened() bool { return l.Used > l.Assumed }

// Exceeded reports whether the log was proven to lag longer than assumed:
// the API breaks an assumption of the exactly-once settling, which the user
// is told (String).
func (l LogLag) Exceeded() bool { return l.Measured > l.Assumed }

// String is the sentence the provider logs (at WARN) and shows when a lag
// longer than the assumed one was measured: the values, and what settling
// does about them.
func (l LogLag) String() string {
	s := fmt.Sprintf("The operation log showed restart job %s of cluster %s only %s or more after the API had answered its request; "+
		"the exactly-once settling of a lost answer assumes a job appears in the log within %s of its creation. "+
		"For the rest of this run the provider waits %s for a job to appear instead",
		l.JobID, l.ClusterID, roundLag(l.Measured), roundLag(l.Assumed), roundLag(l.Used))
	if l.Capped {
		s += fmt.Sprintf(" (the most it waits; twice the lag measured would be %s, more than an operation log should ever lag, "+
			"and a log this slow can still make a lost request look unprocessed, and its restart be sent twice)", roundLag(l.Measured*logLagFactor))
	} else {
		s += " (twice what it measured)"
	}
	return s + ", before it decides that a request whose answer was lost made no job and sends it again. " +
		"A lag first seen on the very request whose answer is lost cannot be allowed for (docs/guides/exactly-once.md)."
}

// roundLag rounds a lag for a message: to the second, or to the millisecond
// below one (tests shorten every bound).
func roundLag(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}

// LogLag returns what the client measured of the log's lag so far, and the
// lag its settles allow.
func (c *Client) LogLag() LogLag {
	measured, job, cluster := c.lag.worst()
	return c.logLagFor(measured, job, cluster)
}

// logLagFor is the one place the lag a settle allows is decided.
func (c *Client) logLagFor(measured time.Duration, jobID, clusterID string) LogLag {
	l := LogLag{Measured: measured, Assumed: c.cfg.LogLag, Used: c.cfg.LogLag, JobID: jobID, ClusterID: clusterID}
	widened := measured * logLagFactor
	if widened > maxLogLagUsed {
		widened, l.Capped = maxLogLagUsed, true
	}
	l.Used = max(l.Used, widened)
	return l
}

// logLagUsed is the lag a settle allows (LogLag.Used).
func (c *Client) logLagUsed() time.Duration { return c.LogLag().Used }

// answeredJob notes a job this client's request made, whose answer arrived
// at answered: from now on, listings that do not show it measure the log's
// lag.
func (c *Client) answeredJob(zone, clusterID, jobID string, answered time.Time) {
	c.lag.answered(zone, clusterID, jobID, answered)
}

// measureLag folds a listing of q, sent at sent, into the measurement, and
// tells Config.Warn when it proves the log lagging longer than assumed, or
// noticeably longer than told before. A measured lag under the assumed one
// may still widen the settle's wait (up to twice the assumed lag), silently:
// nothing is proven wrong then.
func (c *Client) measureLag(ctx context.Context, q OperationQuery, sent time.Time, list *OperationList) {
	measured, jobID, clusterID, grew := c.lag.listed(q, sent, list, c.cfg.ClockMargin)
	if !grew {
		return
	}
	l := c.logLagFor(measured, jobID, clusterID)
	if !l.Exceeded() || !c.lag.report(measured) || c.cfg.Warn == nil {
		return
	}
	c.cfg.Warn(ctx, l.String(), map[string]any{
		"measured_log_lag": roundLag(l.Measured).String(), "assumed_log_lag": roundLag(l.Assumed).String(),
		"settle_log_lag": roundLag(l.Used).String(), "job_id": l.JobID, "cluster_id": l.ClusterID,
	})
}

// lagMeter keeps, for the jobs of this client's requests whose answers
// arrived, the listings that would have shown them and did not, until one
// shows them; and the longest lag that proved.
type lagMeter struct {
	mu      sync.Mutex
	pending map[string]*lagJob
	longest time.Duration
	job     string
	cluster string
	// reported is the lag last told to Config.Warn.
	reported time.Duration
}

// lagJob is a job awaiting its first sighting.
type lagJob struct {
	zone, cluster string
	answered      time.Time
	misses        []lagMiss
}

// lagMiss is a listing that did not show the job: sent at at, and listing
// every matching job created after reached (zero: every matching job).
type lagMiss struct {
	at, reached time.Time
}

func (m *lagMeter) answered(zone, cluster, id string, at time.Time) {
	if id == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pending == nil || len(m.pending) >= maxLagPending {
		m.pending = map[string]*lagJob{}
	}
	m.pending[id] = &lagJob{zone: zone, cluster: cluster, answered: at}
}

// listed folds in a listing of q sent at sent. It returns the longest lag
// measured, on which job, and whether this listing made it longer. margin is
// how far two of the API's machines' clocks may disagree (see covers).
func (m *lagMeter) listed(q OperationQuery, sent time.Time, list *OperationList, margin time.Duration) (longest time.Duration, jobID, cluster string, grew bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.pending) == 0 {
		return m.longest, m.job, m.cluster, false
	}
	shown := make(map[string]Job, len(list.Jobs))
	for _, j := range list.Jobs {
		shown[j.JobID] = j
	}
	for id, p := range m.pending {
		if j, ok := shown[id]; ok {
			delete(m.pending, id)
			if lag, ok := p.lag(j.CreateTime.Time, margin); ok && lag > m.longest {
				m.longest, m.job, m.cluster, grew = lag, id, p.cluster, true
			}
			continue
		}
		if !sent.After(p.answered) {
			continue // sent before the job was known: it may have been processed before the job was made
		}
		if reached, ok := covers(q, list, id, p); ok {
			p.misses = append(p.misses, lagMiss{at: sent, reached: reached})
			if len(p.misses) > maxLagMisses {
				p.misses = slices.Delete(p.misses, 0, 1)
			}
		}
	}
	return m.longest, m.job, m.cluster, grew
}

// lag is what the job's sighting, with create_time created (zero: not
// given), proves of the log's lag: the time from the answer to the latest
// listing that would have shown it and did not. ok is false when none did.
func (p *lagJob) lag(created time.Time, margin time.Duration) (time.Duration, bool) {
	for i := len(p.misses) - 1; i >= 0; i-- {
		miss := p.misses[i]
		// A listing that stopped at reached would have shown a job created
		// after it; create_time is one machine's clock and reached another's,
		// so only a job stamped a margin later surely was.
		if miss.reached.IsZero() || !created.IsZero() && created.After(miss.reached.Add(margin)) {
			return miss.at.Sub(p.answered), true
		}
	}
	return 0, false
}

// covers reports whether a listing of q, that answered list, would have shown
// job id of p had the log held it, and how far back it reached: the
// create_time of its oldest job, or zero when it listed every job that
// matched. Only the two listings that look for a job are counted: by its id
// (when the API honoured the filter: every job it listed was asked for), and
// the newest jobs of its cluster, from the first; anything filtered otherwise
// (status, action, time) or further down is not.
func covers(q OperationQuery, list *OperationList, id string, p *lagJob) (reached time.Time, ok bool) {
	if q.Zone != p.zone || q.Offset != 0 || len(q.Status) > 0 || q.JobAction != "" || !q.StartTime.IsZero() || !q.EndTime.IsZero() {
		return time.Time{}, false
	}
	if len(q.JobIDs) > 0 {
		if !slices.Contains(q.JobIDs, id) || len(q.ResourceIDs) > 0 && !slices.Contains(q.ResourceIDs, p.cluster) {
			return time.Time{}, false
		}
		for _, j := range list.Jobs {
			if !slices.Contains(q.JobIDs, j.JobID) {
				return time.Time{}, false // the filter was ignored: a page of other jobs proves nothing
			}
		}
		return time.Time{}, true
	}
	if !q.Reverse || len(q.ResourceIDs) != 1 || q.ResourceIDs[0] != p.cluster {
		return time.Time{}, false
	}
	switch {
	case len(list.Jobs) == 0:
		return time.Time{}, !list.TotalKnown || list.TotalCount == 0
	case list.TotalKnown && len(list.Jobs) >= list.TotalCount:
		return time.Time{}, true
	}
	oldest := list.Jobs[len(list.Jobs)-1].CreateTime.Time
	return oldest, !oldest.IsZero()
}

// worst is the longest lag measured, and on which job.
func (m *lagMeter) worst() (time.Duration, string, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.longest, m.job, m.cluster
}

// report reports whether measured is to be told (the first lag longer than
// assumed, or one noticeably longer than the last told), and notes it.
func (m *lagMeter) report(measured time.Duration) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.reported > 0 && measured*4 < m.reported*lagReportGrowth {
		return false
	}
	m.reported = measured
	return true
}
