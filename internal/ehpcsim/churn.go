package ehpcsim

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// A cluster's membership changes while clients read it: API.md warns that
// nodes can be added or removed between two pages or two listings, and
// documents no order beyond sort_key and reverse, so a node's offset in a
// listing is never a fact, only where it was. With Options.NodeChurn, every
// NodeChurn-th listNodes request of a cluster is answered after a change:
// one node joins with a random id (so it sorts anywhere and shifts the
// offsets of the nodes after it), and once churnKeep nodes have joined, the
// oldest of them leaves again (shifting them back). Configured nodes never
// leave by churn, so a restart of them still works; RemoveNode takes one out.

// churnKeep is how many nodes churn keeps in a cluster at a time.
const churnKeep = 3

// churnLocked changes cs's membership before the listing request it is
// answering, when that request is one churn falls on.
func (s *Simulator) churnLocked(cs *clusterState) {
	if s.nodeChurn <= 0 {
		return
	}
	cs.listings++
	if cs.listings%s.nodeChurn != 0 {
		return
	}
	if len(cs.churned) == churnKeep {
		s.removeNodeLocked(cs, cs.churned[0])
		cs.churned = cs.churned[1:]
	}
	id := churnID(s.rng)
	for _, taken := cs.byID[id]; taken; _, taken = cs.byID[id] {
		id = churnID(s.rng)
	}
	cs.churnSeq++
	n := Node{ID: id, Name: fmt.Sprintf("churn-%d", cs.churnSeq), Role: "compute", Status: "active",
		PrivateIP: fmt.Sprintf("10.17.%d.%d", cs.churnSeq/250%250, cs.churnSeq%250+1), InstanceID: "i-" + id[len("cln-"):]}
	cs.byID[id] = len(cs.Nodes)
	cs.Nodes = append(cs.Nodes, n)
	cs.churned = append(cs.churned, id)
}

// churnID is a node id as the API writes them: "cln-" and 8 lower-case
// alphanumerics.
func churnID(r *rand.Rand) string {
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := []byte("cln-00000000")
	for i := len("cln-"); i < len(b); i++ {
		b[i] = alnum[r.IntN(len(alnum))]
	}
	return string(b)
}

// AddNode adds n to cluster clusterID, as the platform does when a cluster
// grows. It panics on an unknown cluster or a node id already in it: a
// test's setup mistake.
func (s *Simulator) AddNode(clusterID string, n Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.clusterForSetupLocked("AddNode", clusterID)
	if _, taken := cs.byID[n.ID]; taken || n.ID == "" {
		panic(fmt.Sprintf("ehpcsim: AddNode: node id %q is empty or already in cluster %s", n.ID, clusterID))
	}
	if n.Status == "" {
		n.Status = "active"
	}
	cs.byID[n.ID] = len(cs.Nodes)
	cs.Nodes = append(cs.Nodes, n)
}

// RemoveNode takes a node out of cluster clusterID, as the platform does
// when a cluster shrinks or a node is deleted: listings no longer show it,
// and a restart of it is refused as of a node that does not exist. Its jobs
// stay in the operation log. It panics on an unknown cluster or node.
func (s *Simulator) RemoveNode(clusterID, nodeID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.clusterForSetupLocked("RemoveNode", clusterID)
	if _, ok := cs.byID[nodeID]; !ok {
		panic(fmt.Sprintf("ehpcsim: RemoveNode: no node %s in cluster %s", nodeID, clusterID))
	}
	s.removeNodeLocked(cs, nodeID)
	cs.churned = slices.DeleteFunc(cs.churned, func(id string) bool { return id == nodeID })
}

func (s *Simulator) clusterForSetupLocked(caller, clusterID string) *clusterState {
	cs, ok := s.clusters[clusterID]
	if !ok {
		panic(fmt.Sprintf("ehpcsim: %s: no cluster %s", caller, clusterID))
	}
	return cs
}

func (s *Simulator) removeNodeLocked(cs *clusterState, nodeID string) {
	i := cs.byID[nodeID]
	cs.Nodes = slices.Delete(cs.Nodes, i, i+1)
	delete(cs.byID, nodeID)
	for k := i; k < len(cs.Nodes); k++ {
		cs.byID[cs.Nodes[k].ID] = k
	}
}
