package ehpc_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// These tests run the exactly-once restart and the listings against a simulator
// as untidy as the real API may be (API.md): a clock that is off, slow answers,
// a lagging operation log, requests processed after the client gave up, pages
// smaller than asked, totals under another name or none, and operation-log
// entries that list more resources than were sent.

const unkindNode = "cln-cmp00004"

// quickSettle keeps the reconcile short; the request timeout stays above any
// latency a test injects on purpose unless the test says otherwise.
func quickSettle(window time.Duration) func(*ehpc.Config) {
	return func(c *ehpc.Config) {
		c.SettleWindow = window
		c.RequestTimeout = 10 * time.Second
	}
}

// restartOnce runs RestartNodesOnce for unkindNode and checks the node restarted
// exactly once.
func restartOnce(t *testing.T, h *harness, c *ehpc.Client) *ehpc.RestartResult {
	t.Helper()
	res, err := c.RestartNodesOnce(testCtx(t), simZone, simCluster, []string{unkindNode})
	if n := h.sim.Restarts(unkindNode); n != 1 {
		t.Errorf("%s restarted %d times by this request, want exactly 1", unkindNode, n)
	}
	if err != nil {
		t.Fatalf("RestartNodesOnce: %v", err)
	}
	return res
}

// Issue #10, point 1: after a lost request that was never processed, a restart of
// the same nodes from seconds before (the previous apply's) must not be adopted as
// this one, whatever the server's clock says. The client has seen no Date before
// the POST, which is the usual case.
func TestRecentEarlierRestartIsNotAdopted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		offset time.Duration
		before time.Duration // how long before the request the earlier job was created
	}{
		{"clocks agree, 20s before", 0, 20 * time.Second},
		{"clocks agree, 3s before", 0, 3 * time.Second},
		{"server 40s ahead, 5s before", 40 * time.Second, 5 * time.Second},
		{"server 45s behind, 5s before", -45 * time.Second, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, ehpcsim.Options{ClockOffset: tc.offset})
			past := h.sim.AddPastJob(simCluster, []string{unkindNode}, h.sim.Now().Add(-tc.before), "successful")
			h.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true})
			c := h.client(quickSettle(500 * time.Millisecond))
			res := restartOnce(t, h, c)
			if res.JobID == past || res.Adopted || !res.Resent {
				t.Fatalf("job %s adopted=%v resent=%v; the earlier job %s must not be taken for this restart", res.JobID, res.Adopted, res.Resent, past)
			}
		})
	}
}

// Our own job is never excluded from the window, whatever the skew, even when
// the job is stamped in the same second as the request.
func TestOwnJobIsAdoptedWhateverTheSkew(t *testing.T) {
	for _, offset := range []time.Duration{-50 * time.Second, -1500 * time.Millisecond, 0, 700 * time.Millisecond, 50 * time.Second} {
		t.Run(fmt.Sprint(offset), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, ehpcsim.Options{ClockOffset: offset})
			h.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, AfterEffect: true})
			res := restartOnce(t, h, h.client(quickSettle(500*time.Millisecond)))
			if !res.Adopted || res.Resent {
				t.Fatalf("adopted=%v resent=%v, want our own job adopted", res.Adopted, res.Resent)
			}
		})
	}
}

// Issue #10, point 2: an earlier slow answer must not make the client believe
// the server's clock is ahead by the latency; that would move the window past
// our own job and send the restart twice.
func TestSlowAnswerDoesNotHideOwnJob(t *testing.T) {
	h := newHarness(t, ehpcsim.Options{Latency: map[string]time.Duration{ehpc.PathListNodes: 7 * time.Second}})
	c := h.client(quickSettle(500 * time.Millisecond))
	if _, err := c.ListNodes(testCtx(t), simCluster, ehpc.NodeFilter{Zone: simZone}); err != nil {
		t.Fatal(err)
	}
	h.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, AfterEffect: true})
	res := restartOnce(t, h, c)
	if !res.Adopted {
		t.Fatalf("adopted=%v resent=%v, want the processed request's job adopted", res.Adopted, res.Resent)
	}
}

// Issue #10, point 4: the operation log lists a queue beside the cluster and the
// nodes (QingCloud's own example); the job is still ours.
func TestJobListingExtraResourceIDsIsAdopted(t *testing.T) {
	h := newHarness(t, ehpcsim.Options{QueueIDs: true})
	h.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, AfterEffect: true})
	res := restartOnce(t, h, h.client(quickSettle(500*time.Millisecond)))
	if !res.Adopted {
		t.Fatalf("adopted=%v resent=%v, want the job adopted", res.Adopted, res.Resent)
	}
}

// A job that restarted one node more than we asked is someone else's restart.
func TestJobOfMoreNodesIsNotAdopted(t *testing.T) {
	h := newHarness(t, ehpcsim.Options{QueueIDs: true})
	h.sim.AddPastJob(simCluster, []string{unkindNode, "cln-cmp00003"}, h.sim.Now(), "successful")
	h.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true})
	res := restartOnce(t, h, h.client(quickSettle(500*time.Millisecond)))
	if res.Adopted || !res.Resent {
		t.Fatalf("adopted=%v resent=%v, want a fresh restart", res.Adopted, res.Resent)
	}
}

// A lagging operation log and a request processed after the client gave up are
// both absorbed by the settle window.
func TestLateJobsAreFoundWithinTheSettleWindow(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  ehpcsim.Options
		fault ehpcsim.Fault
	}{
		{"operation log 2s behind", ehpcsim.Options{OperationLogLag: 2 * time.Second}, ehpcsim.Fault{Drop: true, AfterEffect: true}},
		{"processed 1.5s after the connection dropped", ehpcsim.Options{}, ehpcsim.Fault{Drop: true, LateEffect: 1500 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tc.opts)
			h.sim.InjectFault(ehpc.PathRestartNodes, tc.fault)
			res := restartOnce(t, h, h.client(quickSettle(4*time.Second)))
			if !res.Adopted || res.Resent {
				t.Fatalf("adopted=%v resent=%v, want the late job adopted", res.Adopted, res.Resent)
			}
		})
	}
}

// The reconcile reads back through the log by what each page held: with pages
// capped at 2 entries and five newer restarts of other nodes, our job is still
// found.
func TestReconcilePagesThroughShortPages(t *testing.T) {
	h := newHarness(t, ehpcsim.Options{PageCap: 2, TotalField: "none"})
	h.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, AfterEffect: true})
	// Other restarts land after ours and push it off the first page.
	hold := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == ehpc.PathOperations {
			<-hold
		}
		h.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, nil, quickSettle(500*time.Millisecond))
	done := make(chan struct{})
	var res *ehpc.RestartResult
	var err error
	go func() {
		defer close(done)
		res, err = c.RestartNodesOnce(testCtx(t), simZone, simCluster, []string{unkindNode})
	}()
	for h.sim.Requests(ehpc.PathRestartNodes) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	other := newClient(t, h.srv.URL, nil)
	for _, n := range []string{"cln-login001", "cln-ctrl0001", "cln-cmp00001", "cln-cmp00002", "cln-cmp00003"} {
		if _, err := other.RestartNodes(testCtx(t), simZone, simCluster, []string{n}); err != nil {
			t.Fatal(err)
		}
	}
	close(hold)
	<-done
	if err != nil {
		t.Fatalf("RestartNodesOnce: %v", err)
	}
	if !res.Adopted || h.sim.Restarts(unkindNode) != 1 {
		t.Fatalf("adopted=%v, restarts=%d; want our job found on a later page", res.Adopted, h.sim.Restarts(unkindNode))
	}
	if n := h.sim.Requests(ehpc.PathOperations); n < 3 {
		t.Errorf("operation-log requests = %d; the job sits on the third page of 2 entries", n)
	}
}

// Issue #10, point 3: Ctrl-C while the restart request is in flight. The look at
// the log runs to its end on its own bounded context: a job that exists is
// returned (Interrupted), and without one nothing is sent again.
func TestInterruptedRestartStillReconciles(t *testing.T) {
	t.Run("processed: the job is returned", func(t *testing.T) {
		h := newHarness(t, ehpcsim.Options{JobDuration: time.Minute})
		h.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Delay: 5 * time.Second, AfterEffect: true})
		c := h.client(quickSettle(time.Second))
		ctx, cancel := context.WithCancel(testCtx(t))
		time.AfterFunc(300*time.Millisecond, cancel)
		start := time.Now()
		res, err := c.RestartNodesOnce(ctx, simZone, simCluster, []string{unkindNode})
		if err != nil {
			t.Fatalf("RestartNodesOnce: %v", err)
		}
		jobs := h.sim.Jobs()
		if len(jobs) != 1 || res.JobID != jobs[0].ID || !res.Interrupted || !res.Adopted {
			t.Fatalf("result %+v, simulator jobs %+v; want the job returned as interrupted", res, jobs)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("the interrupted restart took %s; it must end within seconds", d)
		}
	})
	t.Run("not processed: nothing is sent again", func(t *testing.T) {
		h := newHarness(t, ehpcsim.Options{})
		h.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Delay: 5 * time.Second})
		c := h.client(quickSettle(time.Second))
		ctx, cancel := context.WithCancel(testCtx(t))
		time.AfterFunc(300*time.Millisecond, cancel)
		_, err := c.RestartNodesOnce(ctx, simZone, simCluster, []string{unkindNode})
		var u *ehpc.UnknownOutcomeError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), "not sent again") {
			t.Fatalf("err = %v, want an unknown outcome that says it was not sent again", err)
		}
		if n := h.sim.Requests(ehpc.PathRestartNodes); n != 1 {
			t.Errorf("restart POSTs = %d, want 1", n)
		}
		if h.sim.Requests(ehpc.PathOperations) == 0 {
			t.Error("the operation log was never read")
		}
	})
}

// Issue #10, point 5: node lists page by what came back and accept either name
// of the total, or none; a listing that stops short of its total is an error.
func TestListNodesUntidyPaging(t *testing.T) {
	const id = "ehpc-big00002"
	for _, tc := range []struct {
		name  string
		opts  ehpcsim.Options
		pages int
	}{
		{"pages capped at 7", ehpcsim.Options{PageCap: 7}, 4},
		{"total named total_sum", ehpcsim.Options{TotalField: "total_sum", PageCap: 7}, 4},
		{"no total, pages capped", ehpcsim.Options{TotalField: "none", PageCap: 7}, 5},
		{"no total, full pages", ehpcsim.Options{TotalField: "none"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tc.opts)
			h.sim.AddCluster(bigCluster(id, 25))
			nodes, err := h.client().ListNodes(testCtx(t), id, ehpc.NodeFilter{Zone: simZone})
			if err != nil {
				t.Fatal(err)
			}
			if len(nodes) != 25 {
				t.Fatalf("got %d nodes, want all 25", len(nodes))
			}
			if n := h.sim.Requests(ehpc.PathListNodes); n != tc.pages {
				t.Errorf("listNodes requests = %d, want %d", n, tc.pages)
			}
		})
	}
	t.Run("stops short of its total", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if r.URL.Query().Get("offset") != "0" {
				_, _ = w.Write([]byte(`{"action":"HpcClusterGetClusterNodesResponse","ret_code":0,"total_count":30,"hpc_app_nodes_set":[]}`))
				return
			}
			_, _ = w.Write([]byte(`{"action":"HpcClusterGetClusterNodesResponse","ret_code":0,"total_count":30,"hpc_app_nodes_set":[{"node_id":"cln-a"},{"node_id":"cln-b"}]}`))
		}))
		t.Cleanup(srv.Close)
		nodes, err := newClient(t, srv.URL, nil).ListNodes(testCtx(t), id, ehpc.NodeFilter{Zone: simZone})
		if err == nil || !strings.Contains(err.Error(), "30") || !strings.Contains(err.Error(), "incomplete") {
			t.Fatalf("nodes %v, err %v; want an error saying the list is incomplete", nodes, err)
		}
	})
}

// RestartJobsSince (a rolling restart settling a batch whose answer was lost in
// an earlier apply) finds exactly the restarts of these nodes created since a
// server time, across pages of one with no total, past queue ids in
// resource_ids, with the server's clock far from ours: the bound is the
// server's own, so the client's clock plays no part.
func TestRestartJobsSinceOnAnUnkindLog(t *testing.T) {
	h := newHarness(t, ehpcsim.Options{PageCap: 1, TotalField: "none", QueueIDs: true, ClockOffset: 45 * time.Second})
	now := h.sim.Now()
	since := now.Add(-30 * time.Second).Truncate(time.Second)
	old := h.sim.AddPastJob(simCluster, []string{unkindNode}, since.Add(-time.Second), "successful")
	at := h.sim.AddPastJob(simCluster, []string{unkindNode}, since, "successful")
	recent := h.sim.AddPastJob(simCluster, []string{unkindNode}, now.Add(-5*time.Second), "failed")
	h.sim.AddPastJob(simCluster, []string{"cln-cmp00003"}, now.Add(-3*time.Second), "successful")             // other node
	h.sim.AddPastJob(simCluster, []string{unkindNode, "cln-cmp00003"}, now.Add(-2*time.Second), "successful") // more nodes

	jobs, err := h.client(quickSettle(time.Second)).RestartJobsSince(testCtx(t), simZone, simCluster, []string{unkindNode}, since)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range jobs {
		got = append(got, j.JobID)
	}
	if want := []string{recent, at}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("RestartJobsSince = %v, want %v (newest first; %s is older than the bound)", got, want, old)
	}
}
