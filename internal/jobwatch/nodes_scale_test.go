package jobwatch_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
	"github.com/qingcloud/terraform-provider-hpc/internal/jobwatch"
)

// batchIDs is the ids of nodes from to from+n-1 of a nodeWorld.
func batchIDs(from, n int) []string {
	var ids []string
	for i := from; i < from+n; i++ {
		ids = append(ids, fmt.Sprintf("cln-n%04d", i))
	}
	return ids
}

// The node watches of a rolling restart of 40 nodes, in batches of 10, cost
// about the same in a cluster of 2000 nodes, pages capped at 100, as in one
// of 40 (issue #30): a look reads the batch's window, not the cluster; the
// 2000-node cluster's first look finds it by a binary search, and the rest
// go where the index saw the nodes.
func TestNodeWatchCostsTheBatchNotTheCluster(t *testing.T) {
	cost := func(size, first int) (listings, checks int) {
		synctest.Test(t, func(t *testing.T) {
			w := newNodeWorldWith(t, size, ehpcsim.Options{JobDuration: 2 * time.Second, BootTime: 2 * time.Second, PageCap: 100}, nil)
			for b := range 4 {
				_, _, n := w.restartAndWait(t, batchIDs(first+10*b, 10), 2*time.Second)
				checks += n
			}
			listings = w.sim.Requests(ehpc.PathListNodes)
		})
		return listings, checks
	}
	small, smallChecks := cost(40, 0)
	large, largeChecks := cost(2000, 1234) // in the middle: the first look searches
	t.Logf("listNodes requests: %d in a 40-node cluster (%d checks), %d in a 2000-node one (%d checks)", small, smallChecks, large, largeChecks)
	if large > small+4 || largeChecks != smallChecks {
		t.Errorf("the node watches cost %d listNodes requests in a 2000-node cluster, %d in a 40-node one (checks %d and %d): a look must cost its batch, not its cluster",
			large, small, largeChecks, smallChecks)
	}
}

// While the cluster's list shifts under every look (nodes joining and
// leaving between pages, a total only sometimes), the watches of batch after
// batch see their nodes as they are, and come out when all are back.
func TestNodeWatchUnderAShiftingList(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNodeWorldWith(t, 700, ehpcsim.Options{JobDuration: 2 * time.Second, BootTime: 3 * time.Second,
			NodeChurn: 1, TotalField: ehpcsim.TotalSometimes}, nil)
		for b := range 6 {
			ids := batchIDs(97*b+40, 25)
			if seen, _, _ := w.restartAndWait(t, ids, 3*time.Second); seen < 3*time.Second || seen > 5*time.Second {
				t.Fatalf("batch %d seen back %s after its job ended; its nodes were back after 3s", b+1, seen)
			}
			for _, n := range w.sim.Nodes(cluster) {
				if slices.Contains(ids, n.ID) && n.HealthStatus != "healthy" {
					t.Fatalf("batch %d was seen back, but the simulator has %s %s", b+1, n.ID, n.HealthStatus)
				}
			}
		}
	})
}

// A node removed from the cluster while its batch waits fails that batch's
// watch with an error naming it, one that asking again will not change
// (ehpc.Permanent); the other batch's watch, answered by the same look, goes
// on.
func TestNodeWatchOfANodeGoneFromTheCluster(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNodeWorldWith(t, 300, ehpcsim.Options{JobDuration: time.Second, BootTime: 20 * time.Second}, nil)
		ctx := context.Background()
		a, b := batchIDs(100, 5), batchIDs(200, 5)
		for _, ids := range [][]string{a, b} {
			if _, err := w.client.RestartNodes(ctx, ehpcsim.DemoZone, cluster, ids); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(2 * time.Second)
		wa := w.p.WatchNodes(ctx, ehpcsim.DemoZone, cluster, jobwatch.NodesTarget{IDs: a})
		wb := w.p.WatchNodes(ctx, ehpcsim.DemoZone, cluster, jobwatch.NodesTarget{IDs: b})
		defer wa.Stop()
		defer wb.Stop()
		if c := <-wa.C; c.Err != nil || len(c.Nodes) != 5 {
			t.Fatalf("first check of batch a: %+v", c)
		}
		<-wb.C
		w.sim.RemoveNode(cluster, "cln-n0102")
		var gone *ehpc.NodesGoneError
		for c := range wa.C {
			if c.Err == nil {
				continue
			}
			if !errors.As(c.Err, &gone) || !slices.Equal(gone.IDs, []string{"cln-n0102"}) || !ehpc.Permanent(c.Err) || !strings.Contains(c.Err.Error(), "cln-n0102") {
				t.Fatalf("batch a's watch: %v, want the gone node cln-n0102 named", c.Err)
			}
			break
		}
		for c := range wb.C {
			if c.Err != nil || len(c.Nodes) != 5 {
				t.Fatalf("batch b's watch, answered by the look that found cln-n0102 gone: %+v", c)
			}
			if allBack(c, 5) {
				break
			}
		}
	})
}

// Poller.LookupNodes, a look before a rollout, teaches the cluster's index
// where the nodes are: the gate's first look after it reads one window.
func TestPollerLookupTeachesTheGate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNodeWorldWith(t, 2000, ehpcsim.Options{JobDuration: time.Second}, nil)
		ctx := context.Background()
		ids := batchIDs(1234, 10)
		nodes, err := w.p.LookupNodes(ctx, ehpcsim.DemoZone, cluster, ids)
		if err != nil || len(nodes) != 10 {
			t.Fatalf("%d nodes, %v", len(nodes), err)
		}
		before := w.sim.Requests(ehpc.PathListNodes)
		nw := w.p.WatchNodes(ctx, ehpcsim.DemoZone, cluster, jobwatch.NodesTarget{IDs: ids})
		defer nw.Stop()
		if c := <-nw.C; !allBack(c, 10) {
			t.Fatalf("%+v", c)
		}
		if got := w.sim.Requests(ehpc.PathListNodes) - before; got != 1 {
			t.Fatalf("the gate's first look read %d pages after the lookup, want its one window", got)
		}
	})
}
