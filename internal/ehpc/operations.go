package ehpc

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PathOperations is the operation log.
const PathOperations = "/api/operation"

// Job statuses in the operation log. A job that is not done is pending, or
// "working" once it has started.
const (
	JobPending    = "pending"
	JobSuccessful = "successful"
	JobFailed     = "failed"
)

// Job is one entry of the operation log.
type Job struct {
	JobID          string     `json:"job_id"`
	JobAction      string     `json:"job_action"`
	ActionDescribe FlexString `json:"action_describe"`
	Status         string     `json:"status"`
	StatusTime     Time       `json:"status_time"`
	CreateTime     Time       `json:"create_time"`
	ResourceIDs    IDList     `json:"resource_ids"`
	ErrorCodes     FlexString `json:"error_codes"`
	Owner          FlexString `json:"owner"`
	Submitter      FlexString `json:"submitter"`
	// Alternatives are, for a job a settle adopted, the other jobs of
	// exactly its nodes in the lost request's window that it was chosen over:
	// the request's own job may be any of them (another tool may have
	// restarted the same nodes in that window), so the caller keeps them all.
	Alternatives []string `json:"-"`
}

// Done reports whether the job reached a final status.
func (j Job) Done() bool { return j.Status == JobSuccessful || j.Status == JobFailed }

// RestartedNodes is how many nodes a restart job restarted, read from its
// resource_ids the way RestartOnce matches jobs to nodes (ids with the API's
// node prefix; the cluster and any queue it names are not nodes). ok is false
// when j is not a restart job.
func (j Job) RestartedNodes() (n int, ok bool) {
	if !isRestartAction(j.JobAction) {
		return 0, false
	}
	for _, r := range j.ResourceIDs {
		if strings.HasPrefix(r, nodeIDPrefix) {
			n++
		}
	}
	return n, true
}

// OperationQuery selects operation log entries. Zero fields are not sent.
type OperationQuery struct {
	Zone        string
	JobIDs      []string
	ResourceIDs []string
	Status      []string
	JobAction   string
	StartTime   time.Time
	EndTime     time.Time
	Offset      int
	Limit       int
	// Reverse lists newest first.
	Reverse bool
	Verbose bool
}

// OperationList is one page of the operation log.
type OperationList struct {
	// TotalCount is how many entries match the query, when the answer says
	// (TotalKnown); a page may hold fewer than the limit asked for either way.
	TotalCount int
	TotalKnown bool
	Jobs       []Job
}

type operationResponse struct {
	listTotal
	JobSet *[]Job `json:"job_set"`
}

func (r *operationResponse) listed() bool      { return r.JobSet != nil }
func (r *operationResponse) listField() string { return "job_set" }

func (q OperationQuery) params() url.Values {
	v := url.Values{}
	for _, id := range q.JobIDs {
		// API.md documents both names for the job filter; sending both lets either
		// reading of the reference find the job.
		v.Add("jobs", id)
		v.Add("job_ids", id)
	}
	for _, id := range q.ResourceIDs {
		v.Add("resource_ids", id)
	}
	for _, s := range q.Status {
		v.Add("status", s)
	}
	if q.JobAction != "" {
		v.Set("job_action", q.JobAction)
	}
	if !q.StartTime.IsZero() {
		v.Set("start_time", q.StartTime.UTC().Format(timestampLayout))
	}
	if !q.EndTime.IsZero() {
		v.Set("end_time", q.EndTime.UTC().Format(timestampLayout))
	}
	if q.Offset > 0 {
		v.Set("offset", strconv.Itoa(q.Offset))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Reverse {
		v.Set("reverse", "1")
	}
	if q.Verbose {
		v.Set("verbose", "1")
	}
	return v
}

// Operations reads one page of the operation log. It is a read, so transient
// failures are retried.
func (c *Client) Operations(ctx context.Context, q OperationQuery) (*OperationList, error) {
	var out operationResponse
	// Before any attempt: a retried listing was sent later, so a lag measured
	// from this time is, if anything, shorter than the one it proves.
	sent := c.cfg.Clock.Now()
	err := c.do(ctx, request{method: http.MethodGet, path: PathOperations, zone: q.Zone, params: q.params(), safe: true}, &out)
	if err != nil {
		return nil, err
	}
	total, known := out.total()
	c.seen.add(*out.JobSet)
	list := &OperationList{TotalCount: total, TotalKnown: known, Jobs: *out.JobSet}
	c.measureLag(ctx, q, sent, list)
	return list, nil
}

// Job returns the operation log entry for jobID, or found=false when the log has no
// such job. It asks by job id first; an API that ignores that filter still lists the
// job among the newest of its cluster when clusterID is given.
func (c *Client) Job(ctx context.Context, zone, clusterID, jobID string) (job Job, found bool, err error) {
	list, err := c.Operations(ctx, OperationQuery{Zone: zone, JobIDs: []string{jobID}, Limit: 10})
	if err != nil {
		return Job{}, false, err
	}
	if j, ok := findJob(list.Jobs, jobID); ok {
		return j, true, nil
	}
	if clusterID == "" {
		return Job{}, false, nil
	}
	list, err = c.Operations(ctx, OperationQuery{Zone: zone, ResourceIDs: []string{clusterID}, Reverse: true, Limit: 100})
	if err != nil {
		return Job{}, false, err
	}
	j, ok := findJob(list.Jobs, jobID)
	return j, ok, nil
}

func findJob(jobs []Job, id string) (Job, bool) {
	for _, j := range jobs {
		if j.JobID == id {
			return j, true
		}
	}
	return Job{}, false
}

// seenJobs remembers, for every job a listing of this client showed, when it
// was first listed, in the client's own order of events (tick): a job listed
// before a request was sent existed before it, whatever any clock says.
type seenJobs struct {
	mu     sync.Mutex
	events uint64
	first  map[string]uint64
}

// maxSeenJobs bounds the memory: past it, the oldest sightings are forgotten
// all at once, which only gives up an exclusion, never adds a candidate.
const maxSeenJobs = 100000

// tick counts an event (a request sent) and returns its number.
func (s *seenJobs) tick() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events++
	return s.events
}

// add records the jobs of a listing that just arrived.
func (s *seenJobs) add(jobs []Job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events++
	if s.first == nil || len(s.first) > maxSeenJobs {
		s.first = map[string]uint64{}
	}
	for _, j := range jobs {
		if _, ok := s.first[j.JobID]; !ok {
			s.first[j.JobID] = s.events
		}
	}
}

// before reports whether job id was listed before the event seq (0: unknown).
func (s *seenJobs) before(id string, seq uint64) bool {
	if seq == 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.first[id]
	return ok && at < seq
}

// ownJobs is the set of jobs a client's requests made.
type ownJobs struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (o *ownJobs) add(id string) {
	if id == "" {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ids == nil {
		o.ids = map[string]bool{}
	}
	o.ids[id] = true
}

// claim adds id and reports whether it was not there yet.
func (o *ownJobs) claim(id string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ids[id] {
		return false
	}
	if o.ids == nil {
		o.ids = map[string]bool{}
	}
	o.ids[id] = true
	return true
}

func (o *ownJobs) has(id string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ids[id]
}
