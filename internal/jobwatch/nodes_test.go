package jobwatch_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
	"github.com/qingcloud/terraform-provider-hpc/internal/jobwatch"
	"github.com/qingcloud/terraform-provider-hpc/internal/memnet"
)

// nodeWorld is a simulated cluster of n nodes on fake time (synctest), with
// restarted nodes booting for boot, and a production-paced Poller on it.
type nodeWorld struct {
	sim    *ehpcsim.Simulator
	client *ehpc.Client
	p      *jobwatch.Poller
}

func newNodeWorld(t *testing.T, n int, jobDur, boot time.Duration, fates map[string]string) *nodeWorld {
	return newNodeWorldWith(t, n, ehpcsim.Options{JobDuration: jobDur, BootTime: boot}, fates)
}

// newNodeWorldWith is newNodeWorld with more of the simulator's options.
func newNodeWorldWith(t *testing.T, n int, opts ehpcsim.Options, fates map[string]string) *nodeWorld {
	c := ehpcsim.Cluster{ID: cluster, Zone: ehpcsim.DemoZone}
	for i := range n {
		id := fmt.Sprintf("cln-n%04d", i)
		c.Nodes = append(c.Nodes, ehpcsim.Node{ID: id, Role: "compute", AfterRestart: fates[id]})
	}
	opts.Clusters = []ehpcsim.Cluster{c}
	sim := ehpcsim.New(opts)
	network := memnet.New()
	srv := &http.Server{Handler: sim}
	go func() { _ = srv.Serve(network) }()
	t.Cleanup(func() { network.Close(); _ = srv.Close() })
	client, err := ehpc.New(ehpc.Config{Endpoint: "http://127.0.0.1:80", AccessKeyID: ehpcsim.DemoAccessKeyID, SecretKey: ehpcsim.DemoSecretKey, HTTPClient: network.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return &nodeWorld{sim: sim, client: client, p: jobwatch.New(client, jobwatch.Options{})}
}

// restartAndWait restarts ids, waits for the job as the engine does, then
// follows the nodes until all are in service. It returns how long after the
// job's end they were seen back, how long after they really were (the boot
// time), and how many node checks that took.
func (w *nodeWorld) restartAndWait(t *testing.T, ids []string, boot time.Duration) (seen, lag time.Duration, checks int) {
	t.Helper()
	ctx := context.Background()
	res, err := w.client.RestartNodes(ctx, ehpcsim.DemoZone, cluster, ids)
	if err != nil {
		t.Fatal(err)
	}
	jw := w.p.Watch(ctx, ehpcsim.DemoZone, cluster, jobwatch.Target{JobID: res.JobID, Nodes: len(ids)})
	for c := range jw.C {
		if c.Found && c.Job.Done() {
			break
		}
	}
	jw.Stop()
	job, _ := w.sim.Job(res.JobID)
	nw := w.p.WatchNodes(ctx, ehpcsim.DemoZone, cluster, jobwatch.NodesTarget{IDs: ids, Since: job.Ended})
	defer nw.Stop()
	for c := range nw.C {
		checks++
		if c.Err != nil {
			t.Fatal(c.Err)
		}
		if allBack(c, len(ids)) {
			break
		}
	}
	seen = time.Since(job.Ended)
	return seen, seen - boot, checks
}

func allBack(c jobwatch.Check, n int) bool {
	if len(c.Nodes) != n {
		return false
	}
	for _, node := range c.Nodes {
		if !node.InService() {
			return false
		}
	}
	return true
}

// Batch after batch of one cluster, the Poller learns how long nodes take to
// come back, and its checks close in on it: the first batch is seen back on
// the geometric sequence, every later one within Dense of its return, in a
// handful of listings.
func TestNodeWatchLearnsBootTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const boot = 5 * time.Second
		w := newNodeWorld(t, 12, 10*time.Second, boot, nil)
		for b := range 6 {
			ids := []string{fmt.Sprintf("cln-n%04d", 2*b), fmt.Sprintf("cln-n%04d", 2*b+1)}
			_, lag, checks := w.restartAndWait(t, ids, boot)
			t.Logf("batch %d: seen back %s after it was, %d checks", b+1, lag, checks)
			switch {
			case lag < 0:
				t.Fatalf("batch %d seen back %s before its boot ended", b+1, -lag)
			case b == 0 && lag > 2*time.Second:
				t.Errorf("batch 1 seen back %s after it was, want within the geometric sequence's gap", lag)
			case b > 0 && (lag > 600*time.Millisecond || checks > 4):
				t.Errorf("batch %d seen back %s after it was, in %d checks; want within Dense (0.5 s), in at most 4, once a boot time is learned (estimate %+v)",
					b+1, lag, checks, w.p.BootEstimate(ehpcsim.DemoZone, cluster))
			}
		}
		if est := w.p.BootEstimate(ehpcsim.DemoZone, cluster); est.Samples != 6 || est.Lo > boot || est.Hi < boot {
			t.Errorf("boot estimate %+v, want 6 samples around %s", est, boot)
		}
	})
}

// Node watches of one cluster due at once share one listNodes request: ten
// cost what one alone costs.
func TestNodeWatchesShareListings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNodeWorld(t, 22, 10*time.Second, 30*time.Second, nil)
		ctx := context.Background()
		wave := func(batches [][]string) int {
			for _, b := range batches {
				if _, err := w.client.RestartNodes(ctx, ehpcsim.DemoZone, cluster, b); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(10 * time.Second)
			before := w.sim.Requests(ehpc.PathListNodes)
			var watches []*jobwatch.Watch
			for _, b := range batches {
				watches = append(watches, w.p.WatchNodes(ctx, ehpcsim.DemoZone, cluster, jobwatch.NodesTarget{IDs: b}))
			}
			for i, nw := range watches {
				for c := range nw.C {
					if len(c.Nodes) != 2 || c.Nodes[0].NodeID != batches[i][0] {
						t.Fatalf("watch %d got %+v", i, c)
					}
					if allBack(c, 2) {
						break
					}
				}
				nw.Stop()
			}
			return w.sim.Requests(ehpc.PathListNodes) - before
		}
		lone := wave([][]string{{"cln-n0020", "cln-n0021"}})
		w.p = jobwatch.New(w.client, jobwatch.Options{}) // nothing learned: the same schedule as the lone watch
		var ids [][]string
		for b := range 10 {
			ids = append(ids, []string{fmt.Sprintf("cln-n%04d", 2*b), fmt.Sprintf("cln-n%04d", 2*b+1)})
		}
		if together := wave(ids); together > lone+1 {
			t.Errorf("10 node watches made %d listNodes requests, one alone %d: they must share", together, lone)
		}
	})
}

// A node that never comes back is looked at for as long as the caller
// watches, at a pace that backs off to the schedule's Max; Want places a
// check where the caller needs it, and no earlier.
func TestNodeWatchNeverBackAndWant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNodeWorld(t, 2, time.Second, time.Second, map[string]string{"cln-n0001": ehpcsim.FateNeverBack})
		ctx := context.Background()
		if _, err := w.client.RestartNodes(ctx, ehpcsim.DemoZone, cluster, []string{"cln-n0000", "cln-n0001"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		nw := w.p.WatchNodes(ctx, ehpcsim.DemoZone, cluster, jobwatch.NodesTarget{IDs: []string{"cln-n0000", "cln-n0001"}})
		defer nw.Stop()
		start := time.Now()
		var last jobwatch.Check
		for time.Since(start) < 10*time.Minute {
			last = <-nw.C
		}
		if allBack(last, 2) || last.Nodes[1].TransitionStatus != "starting" {
			t.Fatalf("last check %+v", last)
		}
		if n := w.sim.Requests(ehpc.PathListNodes); n > 60 {
			t.Errorf("%d listings in ten minutes, want the schedule's back-off (Max 15 s: about 50)", n)
		}
		at := time.Now().Add(3 * time.Second)
		nw.Want(at)
		<-nw.C
		if got := time.Since(at); got < 0 || got > 100*time.Millisecond {
			t.Errorf("the wanted check came %s after it was wanted", got)
		}
	})
}
