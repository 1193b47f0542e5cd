package ehpcsim

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"
)

const (
	statusPending    = "pending"
	statusSuccessful = "successful"
	statusFailed     = "failed"
	statusRestarting = "restarting"

	// failedErrorCode is what a failed job carries in error_codes; the reference
	// does not document the format, so it uses the internal-error ret_code.
	failedErrorCode = "5000"
)

type jobOutcome int

const (
	outcomeSuccess jobOutcome = iota
	outcomeFail
	outcomeHang
)

// job stores only what was decided at creation. Status is derived from the
// clock when read, so the simulator needs no goroutines and an injected clock
// moves every job forward consistently.
//
// A job has two creation times because the API is several machines: created
// is when it really began, on the simulator's own clock, and drives its
// progress, the log's lag and the log's order; stamped is what the backend
// that processed the request wrote as create_time, by its own clock. They
// are equal without Options.Backends.
type job struct {
	id        string
	clusterID string
	zone      string
	nodeIDs   []string
	created   time.Time     // true creation: started, truncated to the second
	stamped   time.Time     // the wire's create_time: the creating backend's clock, truncated to the second
	skew      time.Duration // the creating backend's clock offset, which also stamps the wire's status_time
	started   time.Time     // exact; created + duration is started + the job duration asked for
	duration  time.Duration
	outcome   jobOutcome
	path      string
	owner     string
	past      bool // added by AddPastJob or RestorePastJob: finished whatever the clock says, not counted as a restart
	other     bool // RestartByAnotherTool: a real restart, but no request of this log made it, and not counted
	backend   int  // which backend created it; -1 for a past job
	request   int  // index in the request log of the request that created it; -1 for a past job
	// listedBy is one more than the index in the request log of the first
	// operation-log answer that listed it (0: none has).
	listedBy int
}

func (j *job) status(now time.Time) string {
	switch {
	case j.past && j.outcome == outcomeFail:
		return statusFailed
	case j.past:
		return statusSuccessful
	case j.outcome == outcomeHang, now.Before(j.created.Add(j.duration)):
		return statusPending
	case j.outcome == outcomeFail:
		return statusFailed
	default:
		return statusSuccessful
	}
}

// statusTime is when the job last changed status, on the simulator's own
// clock: creation while pending, the end of its duration once finished.
func (j *job) statusTime(now time.Time) time.Time {
	if j.status(now) == statusPending {
		return j.created
	}
	return j.created.Add(j.duration)
}

// wireStatusTime is statusTime as the creating backend writes it in the
// operation log: its create_time while pending, the end by its clock after.
func (j *job) wireStatusTime(now time.Time) time.Time {
	if j.status(now) == statusPending {
		return j.stamped
	}
	return j.created.Add(j.duration + j.skew)
}

func (j *job) public(now time.Time) Job {
	status := j.status(now)
	var ended time.Time
	if status != statusPending {
		ended = j.statusTime(now)
	}
	return Job{
		ID:        j.id,
		Action:    JobActionRestart,
		ClusterID: j.clusterID,
		Zone:      j.zone,
		NodeIDs:   append([]string(nil), j.nodeIDs...),
		Status:    status,
		Created:   j.stamped,
		Started:   j.started,
		Ended:     ended,
		Path:      j.path,
		Past:      j.past,
		Other:     j.other,
		Backend:   j.backend,
		Request:   j.request,
		// The zero value means none, so the -1 of "none" comes from here.
		FirstListed: j.listedBy - 1,
	}
}

// resourceIDs is the job's resource_ids as the operation log spells it: the
// cluster first, then (with QueueIDs) its queue, then the nodes.
func (j *job) resourceIDs(withQueue bool) []string {
	ids := []string{j.clusterID}
	if withQueue {
		ids = append(ids, queueID(j.clusterID))
	}
	return append(ids, j.nodeIDs...)
}

// queueID derives the cluster's queue id from its id, so it is stable across
// requests, Reset and simulator instances without any state to keep.
func queueID(clusterID string) string {
	sum := sha256.Sum256([]byte("queue:" + clusterID))
	b := []byte("ehpcq-")
	for _, x := range sum[:8] {
		b = append(b, jobIDAlphabet[int(x)%len(jobIDAlphabet)])
	}
	return string(b)
}

type nodeKey struct{ cluster, node string }

// restartingLocked returns the nodes that have a pending restart job, with the
// time that job started.
func (s *Simulator) restartingLocked(now time.Time) map[nodeKey]time.Time {
	busy := map[nodeKey]time.Time{}
	for _, j := range s.jobs {
		if j.status(now) != statusPending {
			continue
		}
		for _, n := range j.nodeIDs {
			busy[nodeKey{j.clusterID, n}] = j.created
		}
	}
	return busy
}

const jobIDAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// newJobIDLocked makes ids of the documented shape (j- and lower-case
// alphanumerics) so a client that validates or logs them sees realistic ids.
func (s *Simulator) newJobIDLocked() string {
	for {
		b := make([]byte, 12)
		b[0], b[1] = 'j', '-'
		for i := 2; i < len(b); i++ {
			b[i] = jobIDAlphabet[rand.IntN(len(jobIDAlphabet))]
		}
		if _, taken := s.jobByID[string(b)]; !taken {
			return string(b)
		}
	}
}

// createJobLocked records the restart job that request c creates and counts
// the restart for each node.
func (s *Simulator) createJobLocked(cs *clusterState, nodeIDs []string, c *reqCtx, owner string) *job {
	j := &job{
		id:        s.newJobIDLocked(),
		clusterID: cs.ID,
		zone:      cs.Zone,
		nodeIDs:   nodeIDs,
		created:   c.now.UTC().Truncate(time.Second),
		stamped:   c.stamp.UTC().Truncate(time.Second),
		skew:      c.stamp.Sub(c.now),
		started:   c.now.UTC(),
		duration:  s.jobDurationLocked(),
		path:      c.path,
		owner:     owner,
		backend:   c.at.backend,
		request:   c.at.idx,
	}
	// Truncating created to the wire's one-second resolution would make a
	// short job finish early; keep its end where the duration says, exactly
	// the job duration after started.
	j.duration += j.started.Sub(j.created)
	// FailJobsAfter counts every job, so its position moves on before the
	// other two claim this one.
	scheduledFail := false
	if s.failSkip > 0 {
		s.failSkip--
	} else if s.failLater > 0 {
		s.failLater--
		scheduledFail = true
	}
	switch {
	case s.hangNext > 0:
		s.hangNext--
		j.outcome = outcomeHang
	case s.failNext > 0:
		s.failNext--
		j.outcome = outcomeFail
	case scheduledFail:
		j.outcome = outcomeFail
	}
	s.jobs = append(s.jobs, j)
	s.jobByID[j.id] = j
	for _, n := range nodeIDs {
		s.restarts[n]++
	}
	return j
}

// RestartByAnotherTool restarts nodeIDs of clusterID now, as another API
// client (the console, a script) would: a real job of the job duration whose
// nodes go out of service and come back as any restart's, in the operation
// log like any job, but made by no request of this simulator's log (Job.Other,
// Request -1) and not counted by Restarts. Refused, as the API refuses it,
// while a node of it is still restarting: it then returns "".
func (s *Simulator) RestartByAnotherTool(clusterID string, nodeIDs []string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs, ok := s.clusters[clusterID]
	if !ok {
		panic(fmt.Sprintf("ehpcsim: RestartByAnotherTool: unknown cluster %q", clusterID))
	}
	now := s.now()
	busy := s.restartingLocked(now)
	for _, n := range nodeIDs {
		if _, restarting := busy[nodeKey{clusterID, n}]; restarting {
			return ""
		}
	}
	j := &job{id: s.newJobIDLocked(), clusterID: cs.ID, zone: cs.Zone, nodeIDs: append([]string(nil), nodeIDs...),
		created: now.UTC().Truncate(time.Second), stamped: now.UTC().Truncate(time.Second), started: now.UTC(),
		duration: s.jobDurationLocked(), owner: s.someOwnerLocked(), other: true, request: -1}
	j.duration += j.started.Sub(j.created)
	s.jobs = append(s.jobs, j)
	s.jobByID[j.id] = j
	return j.id
}

// AddPastJob records a restart job of nodeIDs in clusterID that was created at
// `created` (server clock) and ended with status ("successful" or "failed"; a
// finished job, so its nodes are not busy). It is history from before the test:
// it is listed by the operation log like any job, but is not counted by
// Restarts/RestartCounts. It returns the job id. Jobs() includes it with
// Past: true, Backend and Request -1.
//
// The node ids are not checked against the cluster (history may name nodes
// since removed). An unknown cluster or another status panics: that is a
// mistake in the test's setup, not something an API client could cause.
// Reset drops past jobs with all others.
func (s *Simulator) AddPastJob(clusterID string, nodeIDs []string, created time.Time, status string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addPastJobLocked("AddPastJob", s.newJobIDLocked(), clusterID, nodeIDs, created, status).id
}

// AddPastRestart is AddPastJob for a successful restart that took took: its
// status_time is took after its create_time, as a finished restart's is, so
// the history tells a client how long restarts take on the cluster.
func (s *Simulator) AddPastRestart(clusterID string, nodeIDs []string, created time.Time, took time.Duration) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.addPastJobLocked("AddPastRestart", s.newJobIDLocked(), clusterID, nodeIDs, created, statusSuccessful)
	j.duration = took
	return j.id
}

// RestorePastJob is AddPastJob with the job id given: it loads history saved
// from an earlier simulator (its Jobs(), say), so that a state fixture naming
// those job ids finds them in the operation log. It uses j.ID, j.ClusterID,
// j.NodeIDs, j.Created and j.Status ("successful" or "failed") and ignores
// the rest: the job is restored as history, like AddPastJob's. An empty or
// taken id, an unknown cluster or another status panics.
func (s *Simulator) RestorePastJob(j Job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j.ID == "" {
		panic("ehpcsim: RestorePastJob: the job has no id")
	}
	if _, taken := s.jobByID[j.ID]; taken {
		panic(fmt.Sprintf("ehpcsim: RestorePastJob: job id %q is taken", j.ID))
	}
	s.addPastJobLocked("RestorePastJob", j.ID, j.ClusterID, j.NodeIDs, j.Created, j.Status)
}

// addPastJobLocked records a past job under id; caller names the exported
// method in panics, as it is the test's setup that is wrong.
func (s *Simulator) addPastJobLocked(caller, id, clusterID string, nodeIDs []string, created time.Time, status string) *job {
	cs, ok := s.clusters[clusterID]
	if !ok {
		panic(fmt.Sprintf("ehpcsim: %s: unknown cluster %q", caller, clusterID))
	}
	j := &job{
		id:        id,
		clusterID: cs.ID,
		zone:      cs.Zone,
		nodeIDs:   append([]string(nil), nodeIDs...),
		created:   created.UTC().Truncate(time.Second),
		owner:     s.someOwnerLocked(),
		past:      true,
		backend:   -1,
		request:   -1,
	}
	// History has no finer times than create_time, and no backend to stamp
	// it otherwise; a zero duration makes it start and end there too.
	j.stamped = j.created
	j.started = j.created
	switch status {
	case statusSuccessful:
	case statusFailed:
		j.outcome = outcomeFail
	default:
		panic(fmt.Sprintf("ehpcsim: %s: status %q is neither %q nor %q", caller, status, statusSuccessful, statusFailed))
	}
	// s.jobs stays in creation order: the operation log's reverse=1 relies on it.
	i := sort.Search(len(s.jobs), func(i int) bool { return s.jobs[i].created.After(j.created) })
	s.jobs = append(s.jobs, nil)
	copy(s.jobs[i+1:], s.jobs[i:])
	s.jobs[i] = j
	s.jobByID[j.id] = j
	return j
}

// someOwnerLocked is the owner of a past job: the first configured key's,
// so history looks like it came from the account the test uses.
func (s *Simulator) someOwnerLocked() string {
	first := ""
	for k := range s.creds {
		if first == "" || k < first {
			first = k
		}
	}
	return ownerOf(first)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
