package ehpc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// PathListNodes lists a cluster's nodes.
const PathListNodes = "/api/cluster/listNodes"

// listNodesPage is the largest page the API serves.
const listNodesPage = 100

// maxNodePages stops a server that never reaches its own total_count from
// keeping a read going forever.
const maxNodePages = 1000

// Node is one node of a cluster. Fields the API adds beyond these are ignored.
type Node struct {
	NodeID           string     `json:"node_id"`
	Name             FlexString `json:"name"`
	Role             FlexString `json:"role"`
	Status           FlexString `json:"status"`
	TransitionStatus FlexString `json:"transition_status"`
	PrivateIP        FlexString `json:"private_ip"`
	InstanceID       FlexString `json:"instance_id"`
	ClusterID        FlexString `json:"cluster_id"`
	HealthStatus     FlexString `json:"health_status"`
	// HealthCheck says whether HealthStatus means anything.
	HealthCheck HealthCheck `json:"health_check"`
	CreateTime  Time        `json:"create_time"`
	StatusTime  Time        `json:"status_time"`
}

// HealthReported reports whether n's health_status means anything: API.md
// has a node report its health only while the application's health check is
// enabled on it; otherwise health_status is to be ignored, whatever it holds.
func (n Node) HealthReported() bool { return n.HealthCheck.Enabled }

// InService reports whether n is in service: status active, no transition in
// progress, and healthy wherever its health is reported. A restarted node is
// back only once this holds: its job's success means it was restarted, not
// that it booted or passed its health check.
func (n Node) InService() bool {
	return strings.EqualFold(strings.TrimSpace(string(n.Status)), NodeActive) && strings.TrimSpace(string(n.TransitionStatus)) == "" &&
		(!n.HealthReported() || strings.EqualFold(strings.TrimSpace(string(n.HealthStatus)), NodeHealthy))
}

// InServiceOf counts the nodes of ids that nodes shows in service; one of
// ids that nodes lacks is not.
func InServiceOf(ids []string, nodes []Node) int {
	n := 0
	for _, node := range nodes {
		if node.InService() && slices.Contains(ids, node.NodeID) {
			n++
		}
	}
	return n
}

// Node status and health values that InService accepts (API.md).
const (
	NodeActive  = "active"
	NodeHealthy = "healthy"
)

// HealthCheck is a node's health_check: null or missing when no check is
// configured, else an object with enable (the reference types the field as a
// string, so an object inside a string is read too). Enabled errs on the
// side of a check: an object whose enable cannot be read, or a value that is
// not an object at all, counts as enabled, since taking a sick node's
// meaningless health for "not reported" would let a rollout go on past it.
type HealthCheck struct {
	Enabled bool
}

func (h *HealthCheck) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var inner string
		if err := json.Unmarshal(b, &inner); err != nil {
			return err
		}
		b = bytes.TrimSpace([]byte(inner))
	}
	if len(b) == 0 || string(b) == "null" {
		*h = HealthCheck{}
		return nil
	}
	var obj struct {
		Enable json.RawMessage `json:"enable"`
	}
	// Not an object counts as a check: see the type's comment.
	object := json.Unmarshal(b, &obj) == nil
	*h = HealthCheck{Enabled: !object || !falsy(obj.Enable)}
	return nil
}

// falsy reports whether an enable value clearly says no: false, 0, "false",
// "0", "no" or "off". Anything else, a missing value included, is not.
func falsy(v json.RawMessage) bool {
	var s FlexString
	if len(v) == 0 || s.UnmarshalJSON(v) != nil {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(string(s))) {
	case "false", "0", "no", "off":
		return true
	}
	return false
}

// NodeFilter narrows ListNodes on the server side. Zero fields are not sent.
type NodeFilter struct {
	Zone       string
	SearchWord string
	Status     string
}

type listNodesResponse struct {
	listTotal
	Nodes *[]Node `json:"hpc_app_nodes_set"`
}

func (r *listNodesResponse) listed() bool      { return r.Nodes != nil }
func (r *listNodesResponse) listField() string { return "hpc_app_nodes_set" }

// ListNodes returns every node of clusterID that matches f. It pages by what
// came back, not by what it asked for, since a server may serve fewer items than
// the limit: on until the listing's total is reached, or, when the answer gives
// no total, until a page comes back empty. A listing that stops short of its own
// total is an error, never a shorter list.
func (c *Client) ListNodes(ctx context.Context, clusterID string, f NodeFilter) ([]Node, error) {
	clusterID = strings.TrimSpace(clusterID)
	if clusterID == "" {
		return nil, fmt.Errorf("list nodes: cluster id is empty")
	}
	var nodes []Node
	seen := map[string]bool{}
	offset := 0
	for page := 0; page < maxNodePages; page++ {
		params := url.Values{}
		params.Set("cluster_id", clusterID)
		if f.SearchWord != "" {
			params.Set("search_word", f.SearchWord)
		}
		if f.Status != "" {
			params.Set("status", f.Status)
		}
		params.Set("offset", strconv.Itoa(offset))
		params.Set("limit", strconv.Itoa(listNodesPage))

		var out listNodesResponse
		if err := c.do(ctx, request{method: http.MethodGet, path: PathListNodes, zone: f.Zone, params: params, safe: true}, &out); err != nil {
			return nil, err
		}
		total, known := out.total()
		added := 0
		page := *out.Nodes
		for _, n := range page {
			// A node list that shifts between pages (a node added meanwhile) must
			// not yield the same node twice.
			if seen[n.NodeID] {
				continue
			}
			seen[n.NodeID] = true
			nodes = append(nodes, n)
			added++
		}
		offset += len(page)
		// A total is trusted to end the listing only where it agrees with
		// what came; one below it (a list that shrank, or an answer that
		// contradicts itself) is paged past, to an empty page.
		switch {
		case known && offset == total:
			return nodes, nil
		case len(page) == 0 || added == 0:
			if known && len(nodes) < total {
				return nil, fmt.Errorf("list nodes: cluster %s: the API reports %d nodes but stopped listing after %d; the list is incomplete, so it is not used", clusterID, total, len(nodes))
			}
			return nodes, nil
		}
	}
	return nil, fmt.Errorf("list nodes: cluster %s: the API kept returning pages past %d nodes without reaching the end of its listing", clusterID, len(nodes))
}
