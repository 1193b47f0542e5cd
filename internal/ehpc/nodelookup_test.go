package ehpc_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

const lookupCluster = "ehpc-lookup01"

func nodeIDs(from, n int) []string {
	var ids []string
	for i := from; i < from+n; i++ {
		ids = append(ids, fmt.Sprintf("cln-big%05d", i))
	}
	return ids
}

func idsOf(nodes []ehpc.Node) []string {
	var ids []string
	for _, n := range nodes {
		ids = append(ids, n.NodeID)
	}
	return ids
}

// wantAsSimulated checks that nodes are exactly the nodes of ids, in that
// order, each as the simulator has it now.
func wantAsSimulated(t *testing.T, sim *ehpcsim.Simulator, ids []string, nodes []ehpc.Node) {
	t.Helper()
	if !slices.Equal(idsOf(nodes), ids) {
		t.Fatalf("looked up %v, got %v", ids, idsOf(nodes))
	}
	truth := map[string]ehpcsim.Node{}
	for _, n := range sim.Nodes(lookupCluster) {
		truth[n.ID] = n
	}
	for _, n := range nodes {
		if want := truth[n.NodeID]; string(n.Status) != want.Status || string(n.Name) != want.Name {
			t.Fatalf("node %s: status %q name %q, the simulator has %q %q", n.NodeID, n.Status, n.Name, want.Status, want.Name)
		}
	}
}

// A look at ten nodes of a 2000-node cluster, pages capped at 100, reads a
// few windows the first time (a binary search in node_id order) and one
// window once the index knows where they are, not the 20 pages of the whole
// list; every request asks for the node_id order.
func TestLookupNodesReadsItsWindowNotTheCluster(t *testing.T) {
	h := newHarness(t, ehpcsim.Options{Clusters: []ehpcsim.Cluster{bigCluster(lookupCluster, 2000)}})
	c, ctx := h.client(), testCtx(t)
	idx := ehpc.NewNodeIndex()
	before := h.sim.Requests(ehpc.PathListNodes)
	batch := nodeIDs(1503, 10)
	nodes, err := c.LookupNodes(ctx, lookupCluster, ehpc.NodeFilter{Zone: simZone}, batch, idx)
	if err != nil {
		t.Fatal(err)
	}
	wantAsSimulated(t, h.sim, batch, nodes)
	if first := h.sim.Requests(ehpc.PathListNodes) - before; first > 4 {
		t.Fatalf("the first look read %d pages; a search in node_id order over 20 pages takes at most 4 (the first page, the middle, then where the ids fall between)", first)
	}
	for from := 1513; from < 1600; from += 10 {
		before = h.sim.Requests(ehpc.PathListNodes)
		batch = nodeIDs(from, 10)
		nodes, err = c.LookupNodes(ctx, lookupCluster, ehpc.NodeFilter{Zone: simZone}, reversed(batch), idx)
		if err != nil {
			t.Fatal(err)
		}
		wantAsSimulated(t, h.sim, reversed(batch), nodes) // in the order asked
		if got := h.sim.Requests(ehpc.PathListNodes) - before; got != 1 {
			t.Fatalf("looking up %v read %d pages, want the one window", batch, got)
		}
	}
	for _, r := range h.sim.RequestLog() {
		if r.Path == ehpc.PathListNodes && r.Query.Get("sort_key") != "node_id" {
			t.Fatalf("a window was read without sort_key=node_id: %v", r.Query)
		}
	}
	if nodes, err := c.LookupNodes(ctx, lookupCluster, ehpc.NodeFilter{Zone: simZone}, nil, idx); err != nil || len(nodes) != 0 {
		t.Fatalf("no ids: %v %v", nodes, err)
	}
}

func reversed(ids []string) []string {
	out := slices.Clone(ids)
	slices.Reverse(out)
	return out
}

// Under a list that changes between pages (nodes joining and leaving at
// random places in node_id order), with short pages and a total only
// sometimes, every look at a batch finds each of its nodes, as the
// simulator has it, and never calls one gone: none left.
func TestLookupNodesUnderAShiftingList(t *testing.T) {
	for _, opts := range []ehpcsim.Options{
		{NodeChurn: 1, NodeChurnSeed: 1},
		{NodeChurn: 1, NodeChurnSeed: 2, TotalField: ehpcsim.TotalSometimes},
		{NodeChurn: 2, NodeChurnSeed: 3, PageCap: 7, TotalField: ehpcsim.TotalNone},
	} {
		t.Run(fmt.Sprintf("churn %d cap %d total %q", opts.NodeChurn, opts.PageCap, opts.TotalField), func(t *testing.T) {
			opts.Clusters = []ehpcsim.Cluster{bigCluster(lookupCluster, 600)}
			h := newHarness(t, opts)
			c, ctx := h.client(), testCtx(t)
			idx := ehpc.NewNodeIndex()
			r := rand.New(rand.NewPCG(opts.NodeChurnSeed, 9))
			for look := range 40 {
				batch := nodeIDs(r.IntN(590), 1+r.IntN(10))
				if look%5 == 4 { // nodes from all over the cluster
					batch = []string{}
					for range 6 {
						batch = append(batch, nodeIDs(r.IntN(600), 1)...)
					}
					batch = slices.Compact(slices.Sorted(slices.Values(batch)))
				}
				before := h.sim.Requests(ehpc.PathListNodes)
				nodes, err := c.LookupNodes(ctx, lookupCluster, ehpc.NodeFilter{Zone: simZone}, batch, idx)
				if err != nil {
					t.Fatalf("look %d at %v: %v", look, batch, err)
				}
				wantAsSimulated(t, h.sim, batch, nodes)
				// Never more than the windows' budget and one whole listing.
				if reads, most := h.sim.Requests(ehpc.PathListNodes)-before, 3*(600/max(opts.PageCap, 100)+1)*max(1, 100/max(opts.PageCap, 100))+8; opts.PageCap == 0 && reads > most {
					t.Fatalf("look %d read %d pages", look, reads)
				}
			}
		})
	}
}

// A node taken out of the cluster is an error that names it, and says so
// (ehpc.Permanent: asking again will not bring it back), with the batch's
// other nodes; ids past either end of the list and between two nodes too,
// also while the list shifts.
func TestLookupNodesNamesANodeGoneFromTheCluster(t *testing.T) {
	for _, churn := range []int{0, 1} {
		h := newHarness(t, ehpcsim.Options{NodeChurn: churn, Clusters: []ehpcsim.Cluster{bigCluster(lookupCluster, 1000)}})
		c, ctx := h.client(), testCtx(t)
		idx := ehpc.NewNodeIndex()
		batch := nodeIDs(700, 10)
		if _, err := c.LookupNodes(ctx, lookupCluster, ehpc.NodeFilter{Zone: simZone}, batch, idx); err != nil {
			t.Fatal(err)
		}
		h.sim.RemoveNode(lookupCluster, "cln-big00704")
		for _, tc := range []struct {
			ids, gone []string
		}{
			{batch, []string{"cln-big00704"}},
			{[]string{"cln-big00001", "cln-big00002", "cln-big00704"}, []string{"cln-big00704"}},
			{[]string{"cln-aaa00000", "cln-big00500", "cln-big0050x", "cln-zzz99999"}, []string{"cln-aaa00000", "cln-big0050x", "cln-zzz99999"}},
		} {
			for _, index := range []*ehpc.NodeIndex{idx, nil} {
				nodes, err := c.LookupNodes(ctx, lookupCluster, ehpc.NodeFilter{Zone: simZone}, tc.ids, index)
				var gone *ehpc.NodesGoneError
				if !errors.As(err, &gone) || !slices.Equal(gone.IDs, tc.gone) || !ehpc.Permanent(err) {
					t.Fatalf("churn %d, %v: err %v, want the gone nodes %v", churn, tc.ids, err, tc.gone)
				}
				want := slices.DeleteFunc(slices.Clone(tc.ids), func(id string) bool { return slices.Contains(tc.gone, id) })
				wantAsSimulated(t, h.sim, want, nodes)
				for _, id := range tc.gone {
					if !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), lookupCluster) || !strings.Contains(err.Error(), "cannot come back into service") {
						t.Fatalf("the error does not name %s, its cluster and what it means: %v", id, err)
					}
				}
			}
		}
	}
}

// orderBreaker stands between the client and the simulator: it reverses
// every page of listNodes (an API that ignores sort_key), or refuses
// sort_key with 1100 (one that does not know node_id as a key).
func orderBreaker(sim http.Handler, refuse bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != ehpc.PathListNodes {
			sim.ServeHTTP(w, r)
			return
		}
		if refuse && r.URL.Query().Get("sort_key") != "" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"action":"HpcClusterGetClusterNodesResponse","ret_code":1100,"message":"InvalidParameter, sort_key [node_id] is not supported"}`)
			return
		}
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, r)
		var m map[string]any
		if json.Unmarshal(rec.Body.Bytes(), &m) == nil {
			if set, ok := m["hpc_app_nodes_set"].([]any); ok {
				slices.Reverse(set)
			}
		}
		b, _ := json.Marshal(m)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(b)
	})
}

// An API that does not serve the list in node_id order (it ignores sort_key
// or refuses it) costs whole listings, as before windows, and never a wrong
// answer: the nodes are found, and one missing is left out, not called gone
// on the word of windows that cannot be trusted.
func TestLookupNodesWithoutTheNodeIDOrder(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		sim := ehpcsim.New(ehpcsim.Options{Clusters: []ehpcsim.Cluster{bigCluster(lookupCluster, 250)}})
		srv := httptest.NewServer(orderBreaker(sim, refuse))
		t.Cleanup(srv.Close)
		logs := &logRecorder{}
		c, ctx := newClient(t, srv.URL, logs), testCtx(t)
		idx := ehpc.NewNodeIndex()
		sim.RemoveNode(lookupCluster, "cln-big00105")
		for look := range 2 {
			before := sim.Requests(ehpc.PathListNodes)
			batch := nodeIDs(100, 10)
			nodes, err := c.LookupNodes(ctx, lookupCluster, ehpc.NodeFilter{Zone: simZone}, batch, idx)
			if err != nil {
				t.Fatalf("refuse=%v: %v", refuse, err)
			}
			wantAsSimulated(t, sim, slices.DeleteFunc(batch, func(id string) bool { return id == "cln-big00105" }), nodes)
			want := 3 // the whole list, in the API's order
			if look == 0 && !refuse {
				want++ // the window that showed the order is not node_id's
			}
			if got := sim.Requests(ehpc.PathListNodes) - before; got != want {
				t.Fatalf("refuse=%v, look %d: %d listNodes requests, want %d", refuse, look, got, want)
			}
		}
		if n := strings.Count(logs.text(), "are read from its whole list from now on"); n != 1 {
			t.Fatalf("refuse=%v: the log says %d times that the cluster is read whole, want once:\n%s", refuse, n, logs.text())
		}
	}
}
