package ehpcsim

import (
	"math/rand/v2"
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
type job struct {
	id        string
	clusterID string
	zone      string
	nodeIDs   []string
	created   time.Time
	duration  time.Duration
	outcome   jobOutcome
	path      string
	owner     string
}

func (j *job) status(now time.Time) string {
	switch {
	case j.outcome == outcomeHang, now.Before(j.created.Add(j.duration)):
		return statusPending
	case j.outcome == outcomeFail:
		return statusFailed
	default:
		return statusSuccessful
	}
}

// statusTime is when the job last changed status: creation while pending,
// the end of its duration once finished.
func (j *job) statusTime(now time.Time) time.Time {
	if j.status(now) == statusPending {
		return j.created
	}
	return j.created.Add(j.duration)
}

func (j *job) public(now time.Time) Job {
	return Job{
		ID:        j.id,
		Action:    JobActionRestart,
		ClusterID: j.clusterID,
		Zone:      j.zone,
		NodeIDs:   append([]string(nil), j.nodeIDs...),
		Status:    j.status(now),
		Created:   j.created,
		Path:      j.path,
	}
}

// resourceIDs is the job's resource_ids as the operation log spells it: the
// cluster first, then the nodes, space separated.
func (j *job) resourceIDs() []string {
	return append([]string{j.clusterID}, j.nodeIDs...)
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

// nodeStatusTimeLocked is the last time a job changed the node's status, or
// the cluster's creation time if none did.
func (s *Simulator) nodeStatusTimeLocked(cs *clusterState, nodeID string, now time.Time) time.Time {
	t := cs.created
	for _, j := range s.jobs {
		if j.clusterID != cs.ID || !contains(j.nodeIDs, nodeID) {
			continue
		}
		if st := j.statusTime(now); st.After(t) {
			t = st
		}
	}
	return t
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

// createJobLocked records a restart job and counts the restart for each node.
func (s *Simulator) createJobLocked(cs *clusterState, nodeIDs []string, path, owner string, now time.Time) *job {
	j := &job{
		id:        s.newJobIDLocked(),
		clusterID: cs.ID,
		zone:      cs.Zone,
		nodeIDs:   nodeIDs,
		created:   now.UTC().Truncate(time.Second),
		duration:  s.jobDur,
		path:      path,
		owner:     owner,
	}
	// Truncating created to the wire's one-second resolution would make a
	// short job finish early; keep its end where the duration says.
	j.duration += now.Sub(j.created)
	switch {
	case s.hangNext > 0:
		s.hangNext--
		j.outcome = outcomeHang
	case s.failNext > 0:
		s.failNext--
		j.outcome = outcomeFail
	}
	s.jobs = append(s.jobs, j)
	s.jobByID[j.id] = j
	for _, n := range nodeIDs {
		s.restarts[n]++
	}
	return j
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
