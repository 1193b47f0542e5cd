package ehpcsim

import (
	"fmt"
	"time"
)

// A restarted node is not back when its job ends (API.md, "Node state and
// health"): the job's success means the machine was restarted, and the node
// then boots, and its health check has to pass before it reports healthy. The
// simulator derives every node's state from its last restart job and the
// clock, as it derives job status, so nothing runs in the background:
//
//   - while the job is pending: status and transition_status "restarting",
//     health "unhealthy" (the check cannot reach it);
//   - from the job's end, for Options.BootTime: status "active", transition
//     "starting", health "" (no check has passed yet): API.md has no status
//     but active for a node, and puts a boot between the job's end and "active
//     with no transition", so only the transition tells the node is not back
//     (with the health check off, nothing else does);
//   - then healthy, unless the node's fate (AfterRestart, SetNodeFate) says
//     otherwise.
//
// A cluster whose health check is off (Cluster.HealthCheck false) reports a
// health_status that means nothing, as API.md warns: "" by default, or the
// stale value a node was configured with.

// Fates of a node after a restart: what Node.AfterRestart and SetNodeFate take.
const (
	// FateBack: active at the job's end, healthy BootTime later.
	FateBack = ""
	// FateNeverBack: never returns: status "pending", transition "starting",
	// for ever.
	FateNeverBack = "never_back"
	// FateUnhealthy: returns active, but its health check never passes.
	FateUnhealthy = "unhealthy"
	// FateFlapping: returns active; once booted, its health alternates
	// between healthy and unhealthy every Options.FlapPeriod, starting healthy.
	FateFlapping = "flapping"
)

// transitionStarting is a booting node's transition_status.
const transitionStarting = "starting"

// Health values on the wire.
const (
	healthHealthy   = "healthy"
	healthUnhealthy = "unhealthy"
)

// defaultFlapPeriod is how long a flapping node stays healthy, then unhealthy.
const defaultFlapPeriod = 20 * time.Second

func validFate(f string) bool {
	switch f {
	case FateBack, FateNeverBack, FateUnhealthy, FateFlapping:
		return true
	}
	return false
}

// nodeState is what listNodes reports of a node at one time.
type nodeState struct {
	status, transition, health string
	statusTime                 time.Time
}

// lastJobsLocked maps each node of cluster cs to its last restart job, in
// one pass over the jobs: a listing of a large cluster reads them once, not
// once a node.
func (s *Simulator) lastJobsLocked(cs *clusterState) map[string]*job {
	last := map[string]*job{}
	for _, j := range s.jobs {
		if j.clusterID != cs.ID {
			continue
		}
		for _, id := range j.nodeIDs {
			if l := last[id]; l == nil || !j.created.Before(l.created) {
				last[id] = j
			}
		}
	}
	return last
}

// nodeStateLocked derives node n's state at now from its last restart job
// (nil: none).
func (s *Simulator) nodeStateLocked(cs *clusterState, n Node, now time.Time, last *job) nodeState {
	st := nodeState{status: n.Status, health: n.HealthStatus, statusTime: cs.created}
	if st.health == "" && cs.healthCheck() {
		st.health = healthHealthy
	}
	switch {
	case last == nil:
	case last.status(now) == statusPending:
		st = nodeState{status: statusRestarting, transition: statusRestarting, health: healthUnhealthy, statusTime: last.created}
	case n.AfterRestart == FateNeverBack:
		st = nodeState{status: statusPending, transition: transitionStarting, statusTime: last.statusTime(now)}
	default:
		up := now.Sub(last.statusTime(now))
		st = nodeState{status: "active", statusTime: last.statusTime(now), health: s.healthAfter(n.AfterRestart, up)}
		if up < s.bootTime {
			st.transition = transitionStarting
		}
	}
	if !cs.healthCheck() {
		st.health = n.HealthStatus // reported, but meaningless: the check is off
	}
	return st
}

// healthAfter is the health of a node of fate f that came back up ago.
func (s *Simulator) healthAfter(f string, up time.Duration) string {
	booted := up - s.bootTime
	switch {
	case booted < 0:
		return ""
	case f == FateUnhealthy:
		return healthUnhealthy
	case f == FateFlapping && (booted/s.flapPeriod)%2 == 1:
		return healthUnhealthy
	}
	return healthHealthy
}

// SetNodeFate sets what becomes of a node after its next restarts (one of the
// Fate constants). It panics on an unknown cluster, node or fate: a test's
// setup mistake.
func (s *Simulator) SetNodeFate(clusterID, nodeID, fate string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs, ok := s.clusters[clusterID]
	if !ok {
		panic(fmt.Sprintf("ehpcsim: SetNodeFate: no cluster %s", clusterID))
	}
	i, ok := cs.byID[nodeID]
	if !ok || !validFate(fate) {
		panic(fmt.Sprintf("ehpcsim: SetNodeFate: no node %s in cluster %s, or fate %q is not one of the Fate constants", nodeID, clusterID, fate))
	}
	cs.Nodes[i].AfterRestart = fate
}
