package ehpcsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Demo credentials and ids. They are public on purpose: the simulator is a local
// test double, and the demo, the docs and the acceptance tests all need one
// well-known key pair and cluster that work without any setup.
const (
	DemoAccessKeyID = "QYSIMULATORKEY0001"
	DemoSecretKey   = "sim-secret-do-not-use-in-production"
	DemoZone        = "jn1a"
	DemoClusterID   = "ehpc-8jqdq0mz"
)

// JobActionRestart is the job_action of a restart job. API.md infers it from the
// response's action name; the simulator uses it so the client's filter on
// job_action is exercised.
const JobActionRestart = "HpcClusterRestartClusterNodes"

// Node is a cluster node as configured. Status and HealthStatus are the
// node's resting state, before any restart; once restarted, its state follows
// its last restart job (see nodes.go). Read back from Nodes or Clusters, they
// are the state now, with TransitionStatus.
type Node struct {
	ID         string `json:"node_id"`
	Name       string `json:"name"`
	Role       string `json:"role"`
	Status     string `json:"status"`
	PrivateIP  string `json:"private_ip"`
	InstanceID string `json:"instance_id"`
	// HealthStatus is the resting health ("" means healthy while the
	// cluster's health check is on, and is reported as is when it is off).
	HealthStatus string `json:"health_status,omitempty"`
	// AfterRestart is the node's fate after a restart: one of the Fate
	// constants ("" comes back healthy).
	AfterRestart     string `json:"after_restart,omitempty"`
	TransitionStatus string `json:"-"`
}

// Cluster is a cluster as configured: the unit the clusters file and AddCluster
// deal in.
type Cluster struct {
	ID    string `json:"cluster_id"`
	Zone  string `json:"zone"`
	Nodes []Node `json:"nodes"`
	// HealthCheck is the application's health check (API.md): nil or true is
	// on, and health_status means what it says; false is off, and it means
	// nothing.
	HealthCheck *bool `json:"health_check,omitempty"`
}

// healthCheck reports whether the cluster's health check is on.
func (c Cluster) healthCheck() bool { return c.HealthCheck == nil || *c.HealthCheck }

// DemoCluster returns the cluster the simulator serves when given no other: one
// login node, one controller and four compute nodes, all active, so a demo can
// restart "the compute nodes" and still show nodes it must not touch.
func DemoCluster() Cluster {
	return Cluster{
		ID:   DemoClusterID,
		Zone: DemoZone,
		Nodes: []Node{
			{ID: "cln-login001", Name: "login-1", Role: "login", Status: "active", PrivateIP: "10.16.0.2", InstanceID: "i-lg7k2m9p"},
			{ID: "cln-ctrl0001", Name: "controller-1", Role: "controller", Status: "active", PrivateIP: "10.16.0.3", InstanceID: "i-ct4n8q1r"},
			{ID: "cln-cmp00001", Name: "compute-1", Role: "compute", Status: "active", PrivateIP: "10.16.0.11", InstanceID: "i-cp1a5x7d"},
			{ID: "cln-cmp00002", Name: "compute-2", Role: "compute", Status: "active", PrivateIP: "10.16.0.12", InstanceID: "i-cp2b6y8e"},
			{ID: "cln-cmp00003", Name: "compute-3", Role: "compute", Status: "active", PrivateIP: "10.16.0.13", InstanceID: "i-cp3c7z9f"},
			{ID: "cln-cmp00004", Name: "compute-4", Role: "compute", Status: "active", PrivateIP: "10.16.0.14", InstanceID: "i-cp4d8w0g"},
		},
	}
}

// clusterState is a configured cluster plus what the simulator needs to answer
// for it. The configured Node values change only by SetNodeFate: a node's
// visible state is derived from the jobs, so Reset only has to drop the jobs.
type clusterState struct {
	Cluster
	created time.Time
	byID    map[string]int // node id -> index in Nodes
	// listings counts listNodes requests, churnSeq the nodes churn added,
	// churned the ids of those still in Nodes, oldest first (churn.go).
	listings, churnSeq int
	churned            []string
}

func newClusterState(c Cluster, created time.Time) *clusterState {
	cs := &clusterState{created: created, byID: make(map[string]int, len(c.Nodes))}
	cs.ID = c.ID
	cs.Zone = c.Zone
	cs.HealthCheck = c.HealthCheck
	cs.Nodes = make([]Node, len(c.Nodes))
	copy(cs.Nodes, c.Nodes)
	for i := range cs.Nodes {
		if cs.Nodes[i].Status == "" {
			cs.Nodes[i].Status = "active"
		}
		cs.byID[cs.Nodes[i].ID] = i
	}
	return cs
}

// validateCluster catches the mistakes a hand-written clusters file makes, so
// they surface at start-up instead of as a puzzling 2100 later.
func validateCluster(c Cluster) error {
	if strings.TrimSpace(c.ID) == "" {
		return errors.New("a cluster has no cluster_id")
	}
	if strings.TrimSpace(c.Zone) == "" {
		return fmt.Errorf("cluster %s has no zone", c.ID)
	}
	seen := make(map[string]bool, len(c.Nodes))
	for i, n := range c.Nodes {
		if strings.TrimSpace(n.ID) == "" {
			return fmt.Errorf("cluster %s: node #%d has no node_id", c.ID, i+1)
		}
		if seen[n.ID] {
			return fmt.Errorf("cluster %s: node %s is listed twice", c.ID, n.ID)
		}
		if !validFate(n.AfterRestart) {
			return fmt.Errorf("cluster %s: node %s: after_restart %q is not one of %q, %q, %q (or empty: back and healthy)", c.ID, n.ID, n.AfterRestart, FateNeverBack, FateUnhealthy, FateFlapping)
		}
		seen[n.ID] = true
	}
	return nil
}

// LoadClustersFile adds (or replaces) the clusters listed in a JSON file of the
// form {"clusters": [Cluster...]}. Unknown fields are rejected because in a
// hand-written file they are almost always typos ("node_id" vs "nodes").
func (s *Simulator) LoadClustersFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("ehpcsim: reading clusters file %s: %w", path, err)
	}
	var doc struct {
		Clusters []Cluster `json:"clusters"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("ehpcsim: clusters file %s is not valid JSON of the form {\"clusters\": [...]}: %w", path, err)
	}
	if dec.More() {
		return fmt.Errorf("ehpcsim: clusters file %s has data after the JSON object", path)
	}
	if len(doc.Clusters) == 0 {
		return fmt.Errorf("ehpcsim: clusters file %s lists no clusters", path)
	}
	for _, c := range doc.Clusters {
		if err := validateCluster(c); err != nil {
			return fmt.Errorf("ehpcsim: clusters file %s: %w", path, err)
		}
	}
	for _, c := range doc.Clusters {
		s.AddCluster(c)
	}
	return nil
}
