package ehpcsim

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// With PageCap, a page holds min(limit, cap) items whatever limit asked, and
// offset counts items, so a client that advances by what it received gets
// every item exactly once.
func TestPageCap(t *testing.T) {
	e := newEnv(t, Options{PageCap: 7, Clusters: []Cluster{bigCluster(23)}})
	for _, tc := range []struct {
		limit string
		want  int
	}{{"", 7}, {"3", 3}, {"7", 7}, {"100", 7}, {"1000", 7}} {
		m := e.c.get(pathListNodes, url.Values{"cluster_id": {"ehpc-big00001"}, "limit": {tc.limit}})
		if got := len(set(m, "hpc_app_nodes_set")); got != tc.want || totalCount(m) != 23 {
			t.Fatalf("limit %q: %d items, total %d", tc.limit, got, totalCount(m))
		}
	}
	var ids []string
	for offset := 0; ; {
		m := e.c.get(pathListNodes, url.Values{"cluster_id": {"ehpc-big00001"}, "limit": {"100"}, "offset": {fmt.Sprint(offset)}})
		page := set(m, "hpc_app_nodes_set")
		if len(page) == 0 {
			break
		}
		for _, n := range page {
			ids = append(ids, n["node_id"].(string))
		}
		offset += len(page)
	}
	if len(ids) != 23 || ids[0] != "cln-big00000" || ids[22] != "cln-big00022" {
		t.Fatalf("%d ids: %v", len(ids), ids)
	}

	e = newEnv(t, Options{PageCap: 4})
	for i := 0; i < 9; i++ {
		wantRet(t, e.c.restart("cln-cmp00001"), 0)
	}
	var sizes []int
	for _, off := range []string{"0", "4", "8"} {
		m := e.c.get(pathOperation, url.Values{"limit": {"50"}, "offset": {off}})
		sizes = append(sizes, len(set(m, "job_set")))
		if totalCount(m) != 9 {
			t.Fatal(m)
		}
	}
	if fmt.Sprint(sizes) != "[4 4 1]" {
		t.Fatalf("operation log pages %v", sizes)
	}
}

// TotalField names (or omits) the total in both listings.
func TestTotalField(t *testing.T) {
	for _, tc := range []struct {
		field   string
		present string
	}{{"", "total_count"}, {TotalCount, "total_count"}, {TotalSum, "total_sum"}, {TotalNone, ""}} {
		e := newEnv(t, Options{TotalField: tc.field})
		wantRet(t, e.c.restart("cln-cmp00001"), 0)
		for _, m := range []map[string]any{
			e.c.get(pathOperation, nil),
			e.c.get(pathListNodes, url.Values{"cluster_id": {DemoClusterID}}),
		} {
			for _, key := range []string{"total_count", "total_sum"} {
				v, ok := m[key]
				if ok != (key == tc.present) {
					t.Fatalf("TotalField %q: key %s present=%v in %v", tc.field, key, ok, m)
				}
				if ok && v.(float64) == 0 {
					t.Fatalf("TotalField %q: %s = 0", tc.field, key)
				}
			}
		}
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "total_summ") {
			t.Fatalf("bad TotalField accepted: %v", r)
		}
	}()
	New(Options{TotalField: "total_summ"})
}
