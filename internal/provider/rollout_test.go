package provider

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// Restarts of one provider instance that wait together on one cluster share the
// instance's poller (the resource and the action both take it from
// providerData), and each sees its own job's outcome.
func TestWatchersOfOneProviderInstanceShareRequests(t *testing.T) {
	const n = 12
	c := ehpcsim.Cluster{ID: "ehpc-share001", Zone: ehpcsim.DemoZone}
	for i := range n {
		c.Nodes = append(c.Nodes, ehpcsim.Node{ID: fmt.Sprintf("cln-s%03d", i)})
	}
	e := newTestEnv(t, ehpcsim.Options{JobDuration: 300 * time.Millisecond, Clusters: []ehpcsim.Cluster{c}})
	client, err := ehpc.New(ehpc.Config{Endpoint: e.srv.URL, AccessKeyID: ehpcsim.DemoAccessKeyID, SecretKey: ehpcsim.DemoSecretKey})
	if err != nil {
		t.Fatal(err)
	}
	opts := options{PollSchedule: testSchedule}
	data := &providerData{client: client, opts: opts, poller: newPoller(client, opts)} // what Configure does

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	jobs := make([]string, n)
	for i := range jobs {
		if i == 3 {
			e.sim.FailNextJobs(1)
		}
		res, err := client.RestartNodes(ctx, ehpcsim.DemoZone, c.ID, []string{c.Nodes[i].ID})
		if err != nil {
			t.Fatal(err)
		}
		jobs[i] = res.JobID
	}
	before := e.sim.Requests(ehpc.PathOperations)
	results := make([]waitResult, n)
	var wg sync.WaitGroup
	for i, id := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = data.waitForJob(ctx, ehpcsim.DemoZone, c.ID, id, 20*time.Second, nil)
		}()
	}
	wg.Wait()
	for i, r := range results {
		want := ehpc.JobSuccessful
		if i == 3 {
			want = ehpc.JobFailed
		}
		if r.err != nil || r.status != want || r.job.JobID != jobs[i] {
			t.Errorf("watch %d: status %q job %s err %v; want %q for its own job %s", i, r.status, r.job.JobID, r.err, want, jobs[i])
		}
	}
	// testSchedule alone needs about 6 checks for a 300 ms job; n separate
	// pollers would make n times that.
	if got := e.sim.Requests(ehpc.PathOperations) - before; got > 12 {
		t.Fatalf("%d watches made %d operation-log requests; they do not share the poller", n, got)
	} else {
		t.Logf("%d watches, %d operation-log requests", n, got)
	}
	data.poller.Wait()
}

// A batch is not sent when less of the timeout is left than the previous
// batch took: it would only time out and taint the resource.
func TestRollBeforeSend(t *testing.T) {
	t.Parallel()
	spec := rolloutSpec{}
	if end, ok := beforeSend(context.Background(), spec, time.Now().Add(3*time.Second), 5*time.Second); ok || end != rolloutOutOfTime {
		t.Errorf("3s left after a 5s batch: ok %v, end %v; want out of time", ok, end)
	}
	if _, ok := beforeSend(context.Background(), spec, time.Now().Add(3*time.Second), time.Second); !ok {
		t.Errorf("3s left after a 1s batch: refused")
	}
	if _, ok := beforeSend(context.Background(), spec, time.Now().Add(time.Second), 0); !ok {
		t.Errorf("the first batch of a run was refused")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if end, ok := beforeSend(ctx, spec, time.Now().Add(time.Hour), 0); ok || end != rolloutPauseCut {
		t.Errorf("cancelled before sending: ok %v, end %v", ok, end)
	}
}

// Cancelled before any request was sent: an error (no resource is created),
// never a warning beside a missing state.
func TestRollOutcomeCancelledBeforeSending(t *testing.T) {
	t.Parallel()
	res := rolloutResult{batches: splitBatches([]string{"cln-a", "cln-b", "cln-c"}, 2), end: rolloutPauseCut}
	diags := (&ClusterNodeRestartResource{}).outcome(res, rolloutSpec{clusterID: "ehpc-x", zone: "jn1a"}, true)
	if len(diags) != 1 || !diags.HasError() || diags[0].Summary() != "Restart Cancelled" ||
		!strings.Contains(diags[0].Detail(), "nothing was restarted") || !strings.Contains(diags[0].Detail(), "starts the rollout again from batch 1") {
		t.Fatalf("diagnostics %v", diags)
	}
}
