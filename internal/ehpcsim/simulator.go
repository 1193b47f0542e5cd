// Package ehpcsim is an in-memory QingCloud EHPC API, served as an http.Handler.
//
// It implements the three actions the provider uses (restartNodes with its
// resatrtNodes alias, the operation log and listNodes) as described in
// API.md, verifies signatures the way the real service documents them, and
// lets tests inject faults and inspect what it received. It is written from
// API.md alone, never from the client in internal/ehpc, so that the client's
// tests check the client against the documented API rather than against
// itself.
//
// By default it is a kind server. Options switch on, one by one, the unkind
// sides API.md allows: a clock that is not the client's (ClockOffset),
// several machines behind the endpoint whose clocks disagree with each other
// (Backends), an operation log that lags (OperationLogLag), fails for a while
// at its gateway (LogOutage) and already holds older restarts (AddPastJob,
// RestorePastJob), short pages and another name or no total (PageCap,
// TotalField), extra ids in resource_ids (QueueIDs), slow answers (Latency),
// requests processed after the client stopped listening (Fault.LateEffect),
// and a timestamp lease shorter than the documented 60 s, checked when a
// request is processed, so that a late request can expire
// (TimestampValidity). As the oracle of the provider's "exactly once"
// promise, it must be at least as unkind as the real API.
package ehpcsim

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Simulator. The zero value is fully usable: demo
// credentials, the demo cluster, jobs that finish at once, the real clock.
type Options struct {
	Credentials map[string]string                // access key id -> secret; nil => {DemoAccessKeyID: DemoSecretKey}
	Clusters    []Cluster                        // nil => []Cluster{DemoCluster()}
	JobDuration time.Duration                    // how long a restart job stays pending; 0 => successful on first read
	Now         func() time.Time                 // clock; nil => time.Now
	Logf        func(format string, args ...any) // one line per request, never a signature or secret; nil => silent
	// QuotaPerHour limits accepted requests per access key over a sliding hour
	// (2500 when exceeded); 0 = unlimited.
	QuotaPerHour int

	// The options below make the simulator as unkind as API.md allows the real
	// service to be. Each is off in the zero value.

	// ClockOffset puts the simulator's clock this far from Now (positive: ahead).
	// Every server-side time uses it: the Date header, create_time/status_time,
	// the 60 s timestamp check (1300), quotas, job progress. A client with a
	// correct clock therefore gets 1300 once the offset exceeds 60 s, as it
	// would from a real server whose clock is that far off.
	ClockOffset time.Duration
	// PageCap caps every listing (operation log and listNodes) at this many items
	// per page whatever `limit` asked (0: the documented 100 max / default 10 as
	// today). API.md warns a server may return fewer items than asked; this
	// makes a client that stops at the first short page visibly wrong.
	PageCap int
	// TotalField names the listings' total: "" or "total_count" (today), "total_sum"
	// (the name the API's general request page uses), "none" (omitted), or
	// "sometimes" (total_count on every other answer, none on the others: a
	// client cannot count on the total it saw last).
	// New panics on any other value: it is a test's setup mistake.
	TotalField string
	// LogTimesByStatus makes the operation log's start_time and end_time bound
	// a job's status_time (when it last changed status) instead of its
	// create_time: the reference names the parameters without saying which,
	// so a client must find its jobs either way.
	LogTimesByStatus bool
	// NodeChurn changes a cluster's membership on every NodeChurn-th listNodes
	// request of it (0: never): a node joins, at a random place in node_id
	// order, and one that joined earlier leaves (churn.go). Offsets shift
	// between two pages of one listing and between listings, as API.md warns.
	// NodeChurnSeed seeds the joining nodes' ids, so a test replays.
	NodeChurn     int
	NodeChurnSeed uint64
	// QueueIDs makes operation-log resource_ids carry a queue id of the cluster
	// between the cluster id and the node ids, as QingCloud's documented example
	// does: "ehpc-czkekzfz ehpcq-rg0vaycm cln-w1xufnk9". Queue id: "ehpcq-" + 8
	// lower-case alphanumerics, stable per cluster (derived from its id). A
	// resource_ids filter on the queue id matches, as it names a touched resource.
	QueueIDs bool
	// OperationLogLag hides a job from every operation-log answer (listings AND
	// queries by job id) until this long after its create time (server clock).
	// The job itself exists and runs from creation (its nodes are "restarting",
	// a second restart of them is refused with 1400 as today). API.md: how soon
	// a job appears in the log is undocumented, so "not listed" never proves
	// "not restarted".
	OperationLogLag time.Duration
	// Latency delays answers per path (exact path such as "/api/cluster/listNodes",
	// or "*" for every path): the request is processed on arrival, then the answer
	// (with its Date header taken when it is written) is sent this much later.
	// A path's own entry, even 0, overrides "*". It adds to a Fault's Delay.
	//
	// The wait is real time, also with an injected Now: Date is read from Now
	// when the answer is written, so with a fake clock that nobody advances
	// Date equals create_time. Tests that want Date to run ahead use the real
	// clock (or advance theirs while the request waits).
	Latency map[string]time.Duration
	// Backends makes the API several machines behind one endpoint, as API.md
	// warns it is: two answers' Date can disagree by seconds, and the machine
	// that stamps a job's create_time need not be the one that answered. Each
	// entry is one machine's clock offset, on top of ClockOffset. Request n
	// (arrival order, from 0 since New or Reset; every request counts, whatever
	// its path or outcome) is served by backend n % len(Backends), whose clock
	// gives that request's Date header (faulted, truncated and late answers
	// too), its timestamp check (1300) and the create_time and status_time
	// written on the wire for a job it creates. A LateEffect is processed by
	// the backend that received the request, at the time it processes it.
	//
	// Everything that is one shared state rather than one machine's stamp
	// keeps the simulator's own clock (Now + ClockOffset): job progress, the
	// nodes' "restarting" status and their status_time, quotas, the operation
	// log's lag (counted from the job's true creation) and its order (by true
	// creation), Job.Started and Job.Ended. A client that orders jobs by
	// create_time, or measures the server's clock from one Date, can therefore
	// be visibly wrong. Empty means one machine, offset 0.
	Backends []time.Duration
	// BootTime is how long a restarted node, once its job ended, is active
	// with no health yet before its health check passes (see nodes.go); 0:
	// healthy at once. FlapPeriod is how long a flapping node stays healthy,
	// then unhealthy (0: 20 s).
	BootTime, FlapPeriod time.Duration
	// TimestampValidity is how far a request's timestamp may be from the
	// server's clock (the serving backend's), either way, before the request
	// is refused with 1300 (0: the documented 60 s). A shorter lease lets a
	// test that runs in real time see a request expire without waiting a
	// minute. The check is made when the request is processed, so a request
	// processed late (Fault.LateEffect) is checked against the clock of that
	// moment: that is how a request delayed in transit expires. New panics on
	// a negative value.
	TimestampValidity time.Duration
}

// Job is a restart job as the simulator sees it, with its status computed at
// the time of the call.
//
// Created is what the operation log shows (whole seconds, the creating
// backend's clock); Started and Ended are exact, on the simulator's own clock,
// for measuring what a client did between jobs (how soon it sent the next
// restart after one finished), which whole seconds cannot show.
type Job struct {
	ID        string    `json:"job_id"`
	Action    string    `json:"job_action"`
	ClusterID string    `json:"cluster_id"`
	Zone      string    `json:"zone"`
	NodeIDs   []string  `json:"node_ids"`
	Status    string    `json:"status"`
	Created   time.Time `json:"create_time"`
	// Started is the simulator's clock (UTC) when the restart request was
	// processed (for a Fault.LateEffect, when the late processing happened).
	Started time.Time `json:"started"`
	// Ended is when the job reached its final status, exactly the job duration
	// after Started; zero while it is pending, so always for a job that hangs
	// (HangNextJobs). Status at the time of the call decides, like Status.
	Ended time.Time `json:"ended,omitzero"`
	Path  string    `json:"path"`           // which path created it: restartNodes or the resatrtNodes alias ("" for a past job)
	Past  bool      `json:"past,omitempty"` // added by AddPastJob or RestorePastJob: history, not a restart this simulator performed; Started and Ended are its Created
	// Other: made by another API client (RestartByAnotherTool), not by a
	// request of this log: a real restart of its nodes, with Request -1.
	Other bool `json:"other,omitempty"`
	// Backend is the Options.Backends entry that processed the request and
	// stamped Created (0 without Backends); -1 for a past job, which no
	// backend of this simulator created.
	Backend int `json:"backend"`
	// Request is the index in RequestLog of the request that created the
	// job; -1 for a past job, or when Reset cleared that log before a late
	// request was processed.
	Request int `json:"request"`
	// FirstListed is the index in RequestLog of the first operation-log
	// answer that listed the job, -1 when none has: a client that read that
	// answer knew of the job from then on (a test's oracle for what a client
	// could know).
	FirstListed int `json:"first_listed"`
}

// Request is one request as received, for assertions on what a client sent.
type Request struct {
	Method     string
	Path       string
	Query      url.Values // the signature parameter is removed: it is a credential-derived secret
	Body       []byte
	RetCode    int // ret_code sent (0 when none was sent, e.g. dropped or non-JSON)
	HTTPStatus int // HTTP status sent (0 when the connection was dropped or the client went away)
	// Time is the arrival on the simulator's own clock (Now + ClockOffset,
	// no backend offset), so the times of requests served by different
	// backends compare.
	Time time.Time
	// Backend is the Options.Backends entry that served the request (0
	// without Backends).
	Backend int
	// StringToSign is what the simulator signed to check the request (empty when
	// it never got that far). It holds no secret and makes a 1200 debuggable.
	StringToSign string
	// Note says what happened besides the plain answer: which fault applied,
	// that the client went away, and for a LateEffect when the request was
	// processed and with what ret_code ("" for a plain answer).
	Note string
}

// Simulator is the in-memory API. One mutex guards all state: the simulator is
// a test double, and a single lock makes every handler trivially consistent
// with the inspection methods tests call concurrently.
type Simulator struct {
	mu sync.Mutex
	// late counts the requests a Fault.LateEffect will still process.
	late atomic.Int64

	creds  map[string]string
	now    func() time.Time // the server's clock, offset included; safe without mu
	logf   func(format string, args ...any)
	quota  int
	jobDur time.Duration
	// jobSpread is SetJobDurationSpread's fraction.
	jobSpread float64
	validity  time.Duration // the timestamp's validity window, either way
	// bootTime and flapPeriod shape a restarted node's health (nodes.go).
	bootTime, flapPeriod time.Duration

	pageCap       int
	totalField    string
	totals        int // listing answers written under TotalSometimes
	timesByStatus bool
	nodeChurn     int
	rng           *rand.Rand // churn's node ids
	queueIDs      bool
	opLogLag      time.Duration
	latency       map[string]time.Duration // never written after New: read without mu
	backends      []time.Duration          // clock offsets on top of now; never written after New: read without mu

	clusters     map[string]*clusterState
	clusterOrder []string

	jobs    []*job
	jobByID map[string]*job

	failNext int
	hangNext int
	faults   map[string][]*Fault // path ("*" for any) -> FIFO queue
	outages  []outage            // when the operation log's gateway fails (LogOutage)

	// FailJobsAfter's schedule: jobs still to pass before failing ones, and
	// how many fail then.
	failSkip, failLater int

	requests      map[string]int
	total         int
	restarts      map[string]int
	log           []Request
	quotaByKey    map[string][]time.Time
	logGeneration int // bumped by Reset, so a request in flight does not update a cleared log
}

// New returns a simulator configured by opts.
func New(opts Options) *Simulator {
	s := &Simulator{
		creds:         map[string]string{DemoAccessKeyID: DemoSecretKey},
		now:           time.Now,
		logf:          opts.Logf,
		quota:         opts.QuotaPerHour,
		validity:      opts.TimestampValidity,
		bootTime:      max(opts.BootTime, 0),
		flapPeriod:    cmp.Or(max(opts.FlapPeriod, 0), defaultFlapPeriod),
		jobDur:        opts.JobDuration,
		pageCap:       max(opts.PageCap, 0),
		nodeChurn:     max(opts.NodeChurn, 0),
		rng:           rand.New(rand.NewPCG(opts.NodeChurnSeed, 0x6e6f646573)),
		totalField:    opts.TotalField,
		timesByStatus: opts.LogTimesByStatus,
		queueIDs:      opts.QueueIDs,
		opLogLag:      max(opts.OperationLogLag, 0),
		clusters:      map[string]*clusterState{},
		jobByID:       map[string]*job{},
	}
	if len(opts.Backends) > 0 {
		s.backends = append([]time.Duration(nil), opts.Backends...)
	}
	if len(opts.Latency) > 0 {
		s.latency = make(map[string]time.Duration, len(opts.Latency))
		for p, d := range opts.Latency {
			s.latency[p] = max(d, 0)
		}
	}
	switch {
	case s.validity < 0:
		panic(fmt.Sprintf("ehpcsim: Options.TimestampValidity %s is negative", s.validity))
	case s.validity == 0:
		s.validity = defaultTimestampValidity
	}
	switch opts.TotalField {
	case "", TotalCount, TotalSum, TotalNone, TotalSometimes:
	default:
		panic(fmt.Sprintf("ehpcsim: Options.TotalField %q is not one of %q, %q, %q, %q", opts.TotalField, TotalCount, TotalSum, TotalNone, TotalSometimes))
	}
	if opts.Credentials != nil {
		s.creds = make(map[string]string, len(opts.Credentials))
		for k, v := range opts.Credentials {
			s.creds[k] = v
		}
	}
	if opts.Now != nil {
		s.now = opts.Now
	}
	if off := opts.ClockOffset; off != 0 {
		// Wrapping the clock once means no server-side time can forget the offset.
		base := s.now
		s.now = func() time.Time { return base().Add(off) }
	}
	clusters := opts.Clusters
	if clusters == nil {
		clusters = []Cluster{DemoCluster()}
	}
	for _, c := range clusters {
		s.AddCluster(c)
	}
	s.resetLocked()
	return s
}

// Now returns the simulator's clock (Options.Now + ClockOffset): the clock its
// Date headers, create_time and status_time are read from, plus the serving
// backend's offset with Options.Backends.
func (s *Simulator) Now() time.Time { return s.now() }

// backendOf is the backend that serves request n (counted from 0).
func (s *Simulator) backendOf(n int) int {
	if len(s.backends) == 0 {
		return 0
	}
	return n % len(s.backends)
}

// backendOffset is backend b's clock offset from the simulator's own clock.
func (s *Simulator) backendOffset(b int) time.Duration {
	if len(s.backends) == 0 {
		return 0
	}
	return s.backends[b]
}

// AddCluster adds c, replacing any cluster with the same id. Jobs already
// created for a replaced cluster are kept: they are history.
func (s *Simulator) AddCluster(c Cluster) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clusters[c.ID]; !ok {
		s.clusterOrder = append(s.clusterOrder, c.ID)
	}
	s.clusters[c.ID] = newClusterState(c, s.now().UTC().Truncate(time.Second))
}

// Clusters returns the configured clusters, with node statuses as they are now.
func (s *Simulator) Clusters() []Cluster {
	return snapshot(s, func() []string { return s.clusterOrder }, func(id string, now time.Time) Cluster {
		cs := s.clusters[id]
		return Cluster{ID: cs.ID, Zone: cs.Zone, Nodes: s.nodesLocked(cs, now), HealthCheck: cs.HealthCheck}
	})
}

// SetJobDuration sets how long restart jobs created from now on stay pending.
func (s *Simulator) SetJobDuration(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobDur = d
}

// SetBootTime sets Options.BootTime: how long restarted nodes take, once
// their job ended, to pass their health check. It applies to every restart,
// past ones included, since a node's state is derived when it is read.
func (s *Simulator) SetBootTime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bootTime = max(d, 0)
}

// SetJobDurationSpread makes the restart jobs created from now on last
// different times, as the restarts of one real cluster do: each job's
// duration is drawn uniformly from the job duration ± frac of it. Zero (the
// default) makes every job last exactly the job duration.
func (s *Simulator) SetJobDurationSpread(frac float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobSpread = min(max(frac, 0), 1)
}

func (s *Simulator) jobDurationLocked() time.Duration {
	if s.jobSpread == 0 {
		return s.jobDur
	}
	return time.Duration(float64(s.jobDur) * (1 + s.jobSpread*(2*rand.Float64()-1)))
}

// FailNextJobs makes the next n restart jobs end "failed" after the job duration.
func (s *Simulator) FailNextJobs(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = max(n, 0)
}

// HangNextJobs makes the next n restart jobs stay "pending" forever. A job
// consumes a hang before a failure when both are queued.
func (s *Simulator) HangNextJobs(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hangNext = max(n, 0)
}

// EndHungJobs ends every job that HangNextJobs made stay pending, now, failed
// when failed is set and successful otherwise: a stuck job that the platform
// finally finished, for a test's next apply to find.
func (s *Simulator) EndHungJobs(failed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	outcome := outcomeSuccess
	if failed {
		outcome = outcomeFail
	}
	for _, j := range s.jobs {
		if j.outcome == outcomeHang {
			j.outcome, j.duration = outcome, max(now.Sub(j.created), j.duration)
		}
	}
}

// SetOperationLogLag changes how long a job stays hidden from the operation
// log (Options.OperationLogLag) from now on, for every job: a log that caught
// up shows every job older than the new lag at once.
func (s *Simulator) SetOperationLogLag(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opLogLag = max(d, 0)
}

// FailJobsAfter lets the next skip restart jobs pass, then makes the n after
// them end "failed" after the job duration: a failure in the middle of a
// sequence of restarts, such as the third batch of a rolling restart
// (FailJobsAfter(2, 1)).
//
// It counts positions, from this call on: every restart job created counts,
// whatever FailNextJobs or HangNextJobs do to it. Those two keep their own
// counts and take precedence: a job they claim hangs or fails as they say,
// and a failure of this schedule that falls on it is spent, not moved to the
// next job (a hung job stays pending). A new call replaces the schedule;
// Reset clears it.
func (s *Simulator) FailJobsAfter(skip, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failSkip, s.failLater = max(skip, 0), max(n, 0)
}

// Requests returns how many requests arrived for path, whatever their outcome.
func (s *Simulator) Requests(path string) int {
	return readLocked(s, func() int { return s.requests[path] })
}

// RequestCounts returns the number of requests per path.
func (s *Simulator) RequestCounts() map[string]int {
	return readLocked(s, func() map[string]int { return maps.Clone(s.requests) })
}

// TotalRequests returns how many requests arrived in all.
func (s *Simulator) TotalRequests() int {
	return readLocked(s, func() int { return s.total })
}

// Restarts returns how many restart jobs have included nodeID (jobs added by
// AddPastJob or RestorePastJob excluded: they are history from before the
// test).
func (s *Simulator) Restarts(nodeID string) int {
	return readLocked(s, func() int { return s.restarts[nodeID] })
}

// RestartCounts returns the number of restart jobs per node id.
func (s *Simulator) RestartCounts() map[string]int {
	return readLocked(s, func() map[string]int { return maps.Clone(s.restarts) })
}

// readLocked returns read() called under the simulator's lock, so that each
// counter accessor above is one expression. The lock covers choosing the map
// too: Reset replaces the counter maps, it does not clear them.
func readLocked[T any](s *Simulator, read func() T) T {
	s.mu.Lock()
	defer s.mu.Unlock()
	return read()
}

// LateInFlight is how many requests a Fault.LateEffect has yet to process:
// a test that waits for every job to end waits for these too, as their jobs
// do not exist yet.
func (s *Simulator) LateInFlight() int { return int(s.late.Load()) }

// Jobs returns all jobs in creation order, status computed now, including
// those added by AddPastJob or RestorePastJob (Past: true).
func (s *Simulator) Jobs() []Job {
	return snapshot(s, func() []*job { return s.jobs }, (*job).public)
}

// snapshot returns the public form of items, all taken under the lock at one
// instant of the clock, so a listing never mixes two moments.
func snapshot[E, T any](s *Simulator, items func() []E, public func(E, time.Time) T) []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	in := items()
	out := make([]T, 0, len(in))
	for _, e := range in {
		out = append(out, public(e, now))
	}
	return out
}

// Job returns the job with the given id.
func (s *Simulator) Job(id string) (Job, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobByID[id]
	if !ok {
		return Job{}, false
	}
	return j.public(s.now()), true
}

// Nodes returns the nodes of a cluster, in configured order, with their state
// now ("restarting" while a restart job including them is pending, then as
// nodes.go says). It returns nil for an unknown cluster.
func (s *Simulator) Nodes(clusterID string) []Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs, ok := s.clusters[clusterID]
	if !ok {
		return nil
	}
	return s.nodesLocked(cs, s.now())
}

func (s *Simulator) nodesLocked(cs *clusterState, now time.Time) []Node {
	out := make([]Node, len(cs.Nodes))
	copy(out, cs.Nodes)
	last := s.lastJobsLocked(cs)
	for i := range out {
		st := s.nodeStateLocked(cs, out[i], now, last[out[i].ID])
		out[i].Status, out[i].TransitionStatus, out[i].HealthStatus = st.status, st.transition, st.health
	}
	return out
}

// RequestLog returns every request received, in arrival order.
func (s *Simulator) RequestLog() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.log))
	for i, r := range s.log {
		r.Query = cloneValues(r.Query)
		r.Body = append([]byte(nil), r.Body...)
		out[i] = r
	}
	return out
}

// Summary is what the simulator received, in a JSON-friendly shape (the
// ehpc-sim program serves it and writes it at shutdown).
type Summary struct {
	Requests map[string]int `json:"requests"`
	Restarts map[string]int `json:"restarts"`
	Jobs     []Job          `json:"jobs"`
}

// Summary returns the request counts per path, restart counts per node and all
// jobs.
func (s *Simulator) Summary() Summary {
	return Summary{Requests: s.RequestCounts(), Restarts: s.RestartCounts(), Jobs: s.Jobs()}
}

// Reset clears counters, logs, faults, outages, jobs, quotas and pending job
// outcomes.
// Nodes return to their configured status (active unless configured otherwise)
// because a node's visible status is derived from the jobs that were dropped.
func (s *Simulator) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

func (s *Simulator) resetLocked() {
	s.jobs = nil
	s.jobByID = map[string]*job{}
	s.failNext, s.hangNext = 0, 0
	s.failSkip, s.failLater = 0, 0
	s.faults = map[string][]*Fault{}
	s.outages = nil
	s.requests = map[string]int{}
	s.total = 0
	s.restarts = map[string]int{}
	s.log = nil
	s.quotaByKey = map[string][]time.Time{}
	s.logGeneration++
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

var _ http.Handler = (*Simulator)(nil)
