package jobwatch_test

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
	"github.com/qingcloud/terraform-provider-hpc/internal/jobwatch"
	"github.com/qingcloud/terraform-provider-hpc/internal/memnet"
)

// waitOnUnkindSim restarts one node of a simulator as unkind as the API can
// be to the learned schedule, and waits for the job with a fresh poller:
// two machines whose clocks differ by 3 s (each stamps its own jobs'
// create_time and status_time), whole-second times, a log that hides new
// jobs for 2 s, pages of 3 whatever is asked, a queue id among the
// resource_ids, and slow listings. With history, the log first holds five
// finished 10 s restarts. It returns how many ticks (first pages of a
// listing) the wait took, and how long after the job ended it was seen.
func waitOnUnkindSim(t *testing.T, history bool) (ticks int, lag time.Duration, est jobwatch.Estimate) {
	const node = "cln-u0000001"
	sim := ehpcsim.New(ehpcsim.Options{
		Clusters:        []ehpcsim.Cluster{{ID: cluster, Zone: ehpcsim.DemoZone, Nodes: []ehpcsim.Node{{ID: node}, {ID: "cln-u0000002"}}}},
		JobDuration:     10 * time.Second,
		Backends:        []time.Duration{0, 3 * time.Second},
		OperationLogLag: 2 * time.Second,
		PageCap:         3,
		QueueIDs:        true,
		Latency:         map[string]time.Duration{ehpc.PathOperations: 300 * time.Millisecond},
	})
	if history {
		for i := range 5 {
			sim.AddPastRestart(cluster, []string{"cln-u0000002"}, time.Now().Add(-time.Duration(5-i)*time.Hour), 10*time.Second)
		}
	}
	net := memnet.New()
	srv := &http.Server{Handler: sim}
	go func() { _ = srv.Serve(net) }()
	defer func() { net.Close(); _ = srv.Close() }()
	client, err := ehpc.New(ehpc.Config{Endpoint: "http://127.0.0.1:80", AccessKeyID: ehpcsim.DemoAccessKeyID, SecretKey: ehpcsim.DemoSecretKey,
		HTTPClient: net.Client(), RequestTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.RestartNodes(context.Background(), ehpcsim.DemoZone, cluster, []string{node})
	if err != nil {
		t.Fatal(err)
	}
	p := jobwatch.New(client, jobwatch.Options{})
	c, _, err := waitForTarget(t.Context(), p, cluster, jobwatch.Target{JobID: res.JobID, Nodes: 1})
	seen := time.Now()
	if err != nil || c.Job.Status != ehpc.JobSuccessful {
		t.Fatalf("%+v %v", c, err)
	}
	p.Wait()
	job, _ := sim.Job(res.JobID)
	for _, r := range sim.RequestLog() {
		if r.Path == ehpc.PathOperations && r.Query.Get("offset") == "" && !r.Time.Before(job.Started) {
			ticks++
		}
	}
	return ticks, seen.Sub(job.Ended), p.Estimate(ehpcsim.DemoZone, cluster, 1)
}

// The learned schedule holds against the simulator's unkind sides: the
// estimate is the restarts' 10 s whichever machine stamped them, the job is
// seen soon after it ends, and the wait costs three ticks (the quick look
// that reads the history, one after half the estimate, one at its end)
// where the geometric schedule, without history, takes about nine.
func TestLearnedScheduleOnAnUnkindSimulator(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ticks, lag, est := waitOnUnkindSim(t, true)
		t.Logf("with history: %d ticks, seen %v after the job ended, estimate %+v", ticks, lag, est)
		if est.Mid != 10*time.Second || est.Samples != 6 {
			t.Errorf("estimate %+v, want 10 s from the five past restarts and the one waited for", est)
		}
		if ticks > 3 || lag > 1500*time.Millisecond {
			t.Errorf("with history: %d ticks, seen %v after the job ended; want at most 3 ticks, seen within 1.5 s (a tick's slow answer included)", ticks, lag)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		ticks, lag, _ := waitOnUnkindSim(t, false)
		t.Logf("without history: %d ticks, seen %v after the job ended", ticks, lag)
		if ticks < 7 {
			t.Errorf("without history the wait took %d ticks: the geometric schedule takes about nine, so the case shows nothing", ticks)
		}
	})
}
