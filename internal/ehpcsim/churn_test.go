package ehpcsim

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// listAll pages through the big cluster by offset in node_id order, as a
// client that trusts offsets would, and returns the ids it saw per page.
func listAll(e *env, limit int) [][]string {
	var pages [][]string
	for offset := 0; ; {
		m := e.c.get(pathListNodes, url.Values{"cluster_id": {bigClusterID}, "sort_key": {"node_id"},
			"limit": {fmt.Sprint(limit)}, "offset": {fmt.Sprint(offset)}})
		var ids []string
		for _, n := range set(m, "hpc_app_nodes_set") {
			ids = append(ids, n["node_id"].(string))
		}
		if len(ids) == 0 {
			return pages
		}
		pages = append(pages, ids)
		offset += len(ids)
	}
}

// With NodeChurn, membership changes between pages: nodes join at random
// places in node_id order and leave again, so an offset-paged sweep can skip
// or repeat a node and an offset is only where a node was. Configured nodes
// never leave; every page is still sorted by the sort_key asked for, and the
// cluster never holds more than churnKeep churned nodes.
func TestNodeChurnShiftsOffsetsBetweenPages(t *testing.T) {
	e := newEnv(t, Options{NodeChurn: 1, NodeChurnSeed: 7, Clusters: []Cluster{bigCluster(250)}})
	configured := map[string]bool{}
	for _, n := range bigCluster(250).Nodes {
		configured[n.ID] = true
	}
	joined, shifted := map[string]bool{}, false
	where := map[string]int{}
	for sweep := range 6 {
		seen := map[string]int{}
		offset := 0
		for _, page := range listAll(e, 100) {
			if !slices.IsSorted(page) {
				t.Fatalf("sweep %d: a page is not in node_id order: %v", sweep, page)
			}
			for i, id := range page {
				seen[id]++
				if !configured[id] {
					joined[id] = true
				} else if at, ok := where[id]; ok && at != offset+i {
					shifted = true
				}
				where[id] = offset + i
			}
			offset += len(page)
		}
		for id := range configured {
			if seen[id] > 1 {
				shifted = true // listed twice: the list moved under the sweep
			}
		}
	}
	if len(joined) <= churnKeep || !shifted {
		t.Fatalf("churn: %d nodes joined over six sweeps, offsets shifted: %v", len(joined), shifted)
	}
	nodes := e.sim.Nodes(bigClusterID)
	extra := 0
	for _, n := range nodes {
		if !configured[n.ID] {
			extra++
			if !strings.HasPrefix(n.ID, "cln-") || len(n.ID) != len("cln-")+8 || n.Status != "active" {
				t.Fatalf("a joined node looks unlike the API's: %+v", n)
			}
		}
	}
	if len(nodes)-extra != 250 || extra > churnKeep {
		t.Fatalf("%d nodes, %d of them joined by churn: configured nodes left, or churn kept more than %d", len(nodes), extra, churnKeep)
	}
	// The same seed replays the same churn.
	again := newEnv(t, Options{NodeChurn: 1, NodeChurnSeed: 7, Clusters: []Cluster{bigCluster(250)}})
	for range 6 {
		listAll(again, 100)
	}
	if fmt.Sprint(again.sim.Nodes(bigClusterID)) != fmt.Sprint(nodes) {
		t.Fatal("NodeChurnSeed did not replay the same churn")
	}
}

// NodeChurn counts listings per cluster: with 3, two requests answer from
// the same membership, the third from a changed one.
func TestNodeChurnEveryNthListing(t *testing.T) {
	e := newEnv(t, Options{NodeChurn: 3, Clusters: []Cluster{bigCluster(5)}})
	count := func() int {
		return len(set(e.c.get(pathListNodes, url.Values{"cluster_id": {bigClusterID}}), "hpc_app_nodes_set"))
	}
	if got := []int{count(), count(), count(), count()}; fmt.Sprint(got) != "[5 5 6 6]" {
		t.Fatalf("node counts of four listings: %v", got)
	}
}

// A removed node is gone from listings, whatever the filter, and a restart
// of it is refused as of a node that does not exist; an added one is listed
// and can be restarted.
func TestRemoveAndAddNode(t *testing.T) {
	e := newEnv(t, Options{})
	e.sim.RemoveNode(DemoClusterID, "cln-cmp00002")
	e.sim.AddNode(DemoClusterID, Node{ID: "cln-cmp00009", Name: "compute-9", Role: "compute"})
	var ids []string
	for _, n := range set(e.c.get(pathListNodes, url.Values{"cluster_id": {DemoClusterID}, "limit": {"100"}}), "hpc_app_nodes_set") {
		ids = append(ids, n["node_id"].(string))
	}
	if slices.Contains(ids, "cln-cmp00002") || !slices.Contains(ids, "cln-cmp00009") || len(ids) != 6 {
		t.Fatalf("listed after removing cln-cmp00002 and adding cln-cmp00009: %v", ids)
	}
	wantRet(t, e.c.restart("cln-cmp00002"), 2100)
	wantRet(t, e.c.restart("cln-cmp00009"), 0)
	for _, bad := range []func(){
		func() { e.sim.RemoveNode(DemoClusterID, "cln-cmp00002") },
		func() { e.sim.AddNode(DemoClusterID, Node{ID: "cln-cmp00001"}) },
		func() { e.sim.AddNode("ehpc-nosuch00", Node{ID: "cln-x"}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("a setup mistake was accepted")
				}
			}()
			bad()
		}()
	}
}

// TotalSometimes gives a total on every other listing answer, of either
// listing, so a client cannot page by the last total it saw.
func TestTotalSometimes(t *testing.T) {
	e := newEnv(t, Options{TotalField: TotalSometimes})
	var got []bool
	for _, path := range []string{pathListNodes, pathOperation, pathListNodes, pathListNodes} {
		params := url.Values{}
		if path == pathListNodes {
			params.Set("cluster_id", DemoClusterID)
		}
		_, ok := e.c.get(path, params)["total_count"]
		got = append(got, ok)
	}
	if fmt.Sprint(got) != "[true false true false]" {
		t.Fatalf("total_count present in four answers: %v", got)
	}
}
