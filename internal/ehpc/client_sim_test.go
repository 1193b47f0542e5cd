package ehpc_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

func TestRestartNodesSendsDocumentedBody(t *testing.T) {
	h := newHarness(t, ehpcsim.Options{})
	c := h.client()
	ctx := testCtx(t)

	// Unsorted, duplicated and padded ids must go out sorted and unique: the
	// client sends ids as given, so its caller normalises them once.
	res, err := c.RestartNodes(ctx, simZone, " "+simCluster+" ", ehpc.NormalizeIDs([]string{"cln-cmp00002", " cln-cmp00001", "cln-cmp00002", ""}))
	if err != nil {
		t.Fatalf("RestartNodes: %v", err)
	}

	log := h.sim.RequestLog()
	if len(log) != 1 {
		t.Fatalf("simulator saw %d requests, want 1: %+v", len(log), log)
	}
	got := log[0]
	if got.Method != "POST" || got.Path != ehpc.PathRestartNodes {
		t.Errorf("request = %s %s, want POST %s", got.Method, got.Path, ehpc.PathRestartNodes)
	}
	wantBody := `{"cluster_id":"ehpc-8jqdq0mz","node_ids":["cln-cmp00001","cln-cmp00002"],"zone":"jn1a"}`
	if string(got.Body) != wantBody {
		t.Errorf("body = %s\nwant   %s", got.Body, wantBody)
	}
	if got.RetCode != 0 || got.HTTPStatus != 200 {
		t.Errorf("simulator answered ret_code %d HTTP %d, want 0/200", got.RetCode, got.HTTPStatus)
	}
	for name, want := range map[string]string{"access_key_id": simKey, "zone": simZone, "version": "1", "signature_method": "HmacSHA256", "signature_version": "1"} {
		if v := got.Query.Get(name); v != want {
			t.Errorf("query %s = %q, want %q", name, v, want)
		}
	}

	if res.RetCode != 0 || !strings.HasPrefix(res.JobID, "j-") {
		t.Errorf("result = %+v, want ret_code 0 and a j- job id", res)
	}
	if res.Path != ehpc.PathRestartNodes {
		t.Errorf("result path = %q, want %q", res.Path, ehpc.PathRestartNodes)
	}
	if res.Action != "HpcClusterRestartClusterNodesResponse" {
		t.Errorf("result action = %q", res.Action)
	}
	if sent := res.Request.SentAt; sent.IsZero() || !sent.Equal(sent.Truncate(time.Second)) {
		t.Errorf("result Request.SentAt = %v, want the request's timestamp, in whole seconds as signed", sent)
	}

	jobs := h.sim.Jobs()
	if len(jobs) != 1 {
		t.Fatalf("simulator has %d jobs, want 1", len(jobs))
	}
	if jobs[0].ID != res.JobID || jobs[0].ClusterID != simCluster || strings.Join(jobs[0].NodeIDs, ",") != "cln-cmp00001,cln-cmp00002" {
		t.Errorf("simulator job = %+v, result job id %s", jobs[0], res.JobID)
	}
	if h.sim.Restarts("cln-cmp00001") != 1 || h.sim.Restarts("cln-cmp00002") != 1 || h.sim.Restarts("cln-cmp00003") != 0 {
		t.Errorf("restart counts = %v", h.sim.RestartCounts())
	}
}

func TestRestartNodesRejectsEmptyInputWithoutSending(t *testing.T) {
	h := newHarness(t, ehpcsim.Options{})
	c := h.client()
	ctx := testCtx(t)
	for name, call := range map[string]func() error{
		"no cluster": func() error { _, err := c.RestartNodes(ctx, simZone, "  ", []string{"cln-cmp00001"}); return err },
		"no nodes": func() error {
			_, err := c.RestartNodes(ctx, simZone, simCluster, ehpc.NormalizeIDs([]string{" ", ""}))
			return err
		},
		// The API has no default zone, and neither has the client.
		"no zone":          func() error { _, err := c.RestartNodes(ctx, "", simCluster, []string{"cln-cmp00001"}); return err },
		"no zone, reading": func() error { _, err := c.ListNodes(ctx, simCluster, ehpc.NodeFilter{}); return err },
	} {
		if err := call(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if n := h.sim.TotalRequests(); n != 0 {
		t.Errorf("simulator saw %d requests for invalid input, want 0", n)
	}
}

// restartEach restarts each node in its own job and returns the job ids.
func restartEach(t *testing.T, c *ehpc.Client, nodes ...string) []string {
	t.Helper()
	var ids []string
	for _, n := range nodes {
		res, err := c.RestartNodes(testCtx(t), simZone, simCluster, []string{n})
		if err != nil {
			t.Fatalf("restart %s: %v", n, err)
		}
		ids = append(ids, res.JobID)
	}
	return ids
}

func jobIDs(jobs []ehpc.Job) string {
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.JobID
	}
	return strings.Join(ids, ",")
}

func TestOperationsFilters(t *testing.T) {
	h := newHarness(t, ehpcsim.Options{})
	c := h.client()
	ctx := testCtx(t)

	h.sim.HangNextJobs(1) // first job stays pending
	h.sim.FailNextJobs(1) // second job fails
	ids := restartEach(t, c, "cln-cmp00001", "cln-cmp00002", "cln-cmp00003", "cln-cmp00004")
	pending, failed, ok3, ok4 := ids[0], ids[1], ids[2], ids[3]

	t.Run("by job id", func(t *testing.T) {
		list, err := c.Operations(ctx, ehpc.OperationQuery{Zone: simZone, JobIDs: []string{failed}})
		if err != nil {
			t.Fatal(err)
		}
		if list.TotalCount != 1 || len(list.Jobs) != 1 {
			t.Fatalf("got total %d jobs %s, want just %s", list.TotalCount, jobIDs(list.Jobs), failed)
		}
		j := list.Jobs[0]
		if j.JobID != failed || j.Status != ehpc.JobFailed || !j.Done() {
			t.Errorf("job = %+v, want %s failed", j, failed)
		}
		if j.JobAction != ehpc.JobActionRestart {
			t.Errorf("job_action = %q, want %q", j.JobAction, ehpc.JobActionRestart)
		}
		if !slices.Contains(j.ResourceIDs, simCluster) || !slices.Contains(j.ResourceIDs, "cln-cmp00002") || slices.Contains(j.ResourceIDs, "cln-cmp00001") {
			t.Errorf("resource ids = %v", j.ResourceIDs)
		}
		if j.CreateTime.IsZero() || time.Since(j.CreateTime.Time) > time.Minute {
			t.Errorf("create time = %v (raw %q), want about now", j.CreateTime.Time, j.CreateTime.Raw)
		}
	})

	cases := []struct {
		name  string
		q     ehpc.OperationQuery
		total int
		want  []string
	}{
		{"by node resource id", ehpc.OperationQuery{Zone: simZone, ResourceIDs: []string{"cln-cmp00003"}}, 1, []string{ok3}},
		{"by cluster resource id", ehpc.OperationQuery{Zone: simZone, ResourceIDs: []string{simCluster}}, 4, ids},
		{"pending", ehpc.OperationQuery{Zone: simZone, Status: []string{ehpc.JobPending}}, 1, []string{pending}},
		{"successful", ehpc.OperationQuery{Zone: simZone, Status: []string{ehpc.JobSuccessful}}, 2, []string{ok3, ok4}},
		{"successful or failed", ehpc.OperationQuery{Zone: simZone, Status: []string{ehpc.JobSuccessful, ehpc.JobFailed}}, 3, []string{failed, ok3, ok4}},
		{"offset and limit", ehpc.OperationQuery{Zone: simZone, Offset: 1, Limit: 2}, 4, []string{failed, ok3}},
		{"reverse", ehpc.OperationQuery{Zone: simZone, Reverse: true, Limit: 2}, 4, []string{ok4, ok3}},
		{"job action", ehpc.OperationQuery{Zone: simZone, JobAction: ehpc.JobActionRestart, Limit: 100}, 4, ids},
		{"unknown job", ehpc.OperationQuery{Zone: simZone, JobIDs: []string{"j-doesnotexist"}}, 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			list, err := c.Operations(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if list.TotalCount != tc.total || jobIDs(list.Jobs) != strings.Join(tc.want, ",") {
				t.Errorf("got total %d jobs [%s], want total %d jobs [%s]", list.TotalCount, jobIDs(list.Jobs), tc.total, strings.Join(tc.want, ","))
			}
		})
	}

	// What went over the wire for the paging query.
	for _, r := range h.sim.RequestLog() {
		if r.Path == ehpc.PathOperations && r.Query.Get("offset") == "1" {
			if r.Query.Get("limit") != "2" || r.Method != "GET" || len(r.Body) != 0 {
				t.Errorf("paging request = %s %v body %q", r.Method, r.Query, r.Body)
			}
		}
	}
}

func TestJobLookup(t *testing.T) {
	h := newHarness(t, ehpcsim.Options{})
	c := h.client()
	ctx := testCtx(t)
	ids := restartEach(t, c, "cln-cmp00001")

	before := h.sim.Requests(ehpc.PathOperations)
	job, found, err := c.Job(ctx, simZone, simCluster, ids[0])
	if err != nil || !found {
		t.Fatalf("Job(%s) = found %v, err %v", ids[0], found, err)
	}
	if job.JobID != ids[0] || job.Status != ehpc.JobSuccessful {
		t.Errorf("job = %+v", job)
	}
	if n := h.sim.Requests(ehpc.PathOperations) - before; n != 1 {
		t.Errorf("found job with %d requests, want 1", n)
	}

	before = h.sim.Requests(ehpc.PathOperations)
	_, found, err = c.Job(ctx, simZone, "", "j-nosuchjob01")
	if err != nil || found {
		t.Errorf("Job(unknown, no cluster) = found %v, err %v; want not found, nil", found, err)
	}
	if n := h.sim.Requests(ehpc.PathOperations) - before; n != 1 {
		t.Errorf("missing job without cluster took %d requests, want 1", n)
	}

	before = h.sim.Requests(ehpc.PathOperations)
	_, found, err = c.Job(ctx, simZone, simCluster, "j-nosuchjob01")
	if err != nil || found {
		t.Errorf("Job(unknown, cluster) = found %v, err %v; want not found, nil", found, err)
	}
	if n := h.sim.Requests(ehpc.PathOperations) - before; n != 2 {
		t.Errorf("missing job with cluster took %d requests, want 2 (by id, then the cluster's newest)", n)
	}
}

func TestListNodesPagesThroughLargeCluster(t *testing.T) {
	h := newHarness(t, ehpcsim.Options{})
	const id = "ehpc-big00001"
	h.sim.AddCluster(bigCluster(id, 250))
	c := h.client()
	ctx := testCtx(t)

	nodes, err := c.ListNodes(ctx, id, ehpc.NodeFilter{Zone: simZone})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 250 {
		t.Fatalf("got %d nodes, want 250", len(nodes))
	}
	seen := map[string]bool{}
	for _, n := range nodes {
		if seen[n.NodeID] {
			t.Errorf("node %s listed twice", n.NodeID)
		}
		seen[n.NodeID] = true
	}
	for i := 0; i < 250; i++ {
		if !seen[fmt.Sprintf("cln-big%05d", i)] {
			t.Errorf("node cln-big%05d missing", i)
		}
	}
	if got := h.sim.Requests(ehpc.PathListNodes); got != 3 {
		t.Errorf("listNodes requests = %d, want 3", got)
	}
	var offsets []string
	for _, r := range h.sim.RequestLog() {
		offsets = append(offsets, r.Query.Get("offset")+"/"+r.Query.Get("limit")+"/"+r.Query.Get("cluster_id"))
	}
	if got, want := strings.Join(offsets, " "), "0/100/"+id+" 100/100/"+id+" 200/100/"+id; got != want {
		t.Errorf("pages requested = %s, want %s", got, want)
	}

	// The simulator sends many fields the client does not model (cpu, volumes,
	// labels, ...): decoding must ignore them and keep the documented ones.
	first := nodes[0]
	if first.NodeID != "cln-big00000" || first.Name != "node-000" || first.Role != "login" || first.Status != "active" ||
		first.PrivateIP != "10.20.0.1" || first.InstanceID != "i-big00000" || string(first.ClusterID) != id || first.HealthStatus != "healthy" || first.CreateTime.IsZero() {
		t.Errorf("first node = %+v", first)
	}
}

func TestListNodesFilters(t *testing.T) {
	h := newHarness(t, ehpcsim.Options{})
	const id = "ehpc-big00002"
	h.sim.AddCluster(bigCluster(id, 250))
	c := h.client()
	ctx := testCtx(t)

	nodes, err := c.ListNodes(ctx, id, ehpc.NodeFilter{Zone: simZone, SearchWord: "node-01"})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 10 {
		t.Errorf("search node-01 found %d nodes, want 10 (node-010..node-019)", len(nodes))
	}
	for _, n := range nodes {
		if !strings.HasPrefix(string(n.Name), "node-01") {
			t.Errorf("search returned %s", n.Name)
		}
	}

	before := h.sim.Requests(ehpc.PathListNodes)
	stopped, err := c.ListNodes(ctx, id, ehpc.NodeFilter{Zone: simZone, Status: "stopped"})
	if err != nil {
		t.Fatal(err)
	}
	if len(stopped) != 24 { // 10, 20, ..., 240
		t.Errorf("status stopped found %d nodes, want 24", len(stopped))
	}
	for _, n := range stopped {
		if n.Status != "stopped" {
			t.Errorf("status filter returned %s in status %s", n.NodeID, n.Status)
		}
	}
	if n := h.sim.Requests(ehpc.PathListNodes) - before; n != 1 {
		t.Errorf("24 nodes took %d requests, want 1", n)
	}

	_, err = c.ListNodes(ctx, "ehpc-nosuch01", ehpc.NodeFilter{Zone: simZone})
	var apiErr *ehpc.APIError
	if !errors.As(err, &apiErr) || apiErr.RetCode != ehpc.CodeNotFound {
		t.Errorf("unknown cluster: err = %v, want APIError 2100", err)
	}
}

func TestConcurrentCalls(t *testing.T) {
	h := newHarness(t, ehpcsim.Options{})
	const id = "ehpc-conc0001"
	cluster := bigCluster(id, 25)
	for i := range cluster.Nodes {
		cluster.Nodes[i].Status = "active"
	}
	h.sim.AddCluster(cluster)
	c := h.client(func(cfg *ehpc.Config) { cfg.MaxAttempts = 10 })
	ctx := testCtx(t)

	// Some of the concurrent requests meet a busy server and must retry.
	h.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Count: 5, RetCode: codeServerBusy})
	h.sim.InjectFault(ehpc.PathOperations, ehpcsim.Fault{Count: 5, RetCode: codeServerBusy})

	const workers = 20
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	jobOf := make([]string, workers)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			node := "cln-big" + fmt.Sprintf("%05d", i+1)
			res, err := c.RestartNodes(ctx, simZone, id, []string{node})
			if err != nil {
				errs <- fmt.Errorf("worker %d restart: %w", i, err)
				return
			}
			jobOf[i] = res.JobID
			list, err := c.Operations(ctx, ehpc.OperationQuery{Zone: simZone, JobIDs: []string{res.JobID}})
			if err != nil {
				errs <- fmt.Errorf("worker %d operations: %w", i, err)
				return
			}
			if len(list.Jobs) != 1 || list.Jobs[0].JobID != res.JobID || !slices.Contains(list.Jobs[0].ResourceIDs, node) {
				errs <- fmt.Errorf("worker %d: operation log for %s = %+v", i, res.JobID, list.Jobs)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := 0; i < workers; i++ {
		node := "cln-big" + fmt.Sprintf("%05d", i+1)
		if got := h.sim.Restarts(node); got != 1 {
			t.Errorf("node %s restarted %d times, want 1", node, got)
		}
	}
	simJobs := map[string]bool{}
	for _, j := range h.sim.Jobs() {
		simJobs[j.ID] = true
	}
	if len(simJobs) != workers {
		t.Errorf("simulator has %d jobs, want %d", len(simJobs), workers)
	}
	for i, id := range jobOf {
		if !simJobs[id] {
			t.Errorf("worker %d got job id %q, which the simulator does not know", i, id)
		}
	}
	if got := h.sim.Requests(ehpc.PathRestartNodes); got != workers+5 {
		t.Errorf("restart POSTs = %d, want %d (one each plus one retry per busy answer)", got, workers+5)
	}
}

// slowLimiter holds every request back for d.
type slowLimiter struct{ d time.Duration }

func (l slowLimiter) Wait(ctx context.Context) error {
	select {
	case <-time.After(l.d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// A request the Limiter holds back noticeably counts in its operation's
// Pacing and is told to OnPaced; a short wait is neither.
func TestPacingIsTallied(t *testing.T) {
	h := newHarness(t, ehpcsim.Options{})
	for _, tc := range []struct {
		wait     time.Duration
		requests int
	}{{300 * time.Millisecond, 1}, {10 * time.Millisecond, 0}} {
		var heard []time.Duration
		c := h.client(func(cfg *ehpc.Config) {
			cfg.Limiter = slowLimiter{tc.wait}
			cfg.OnPaced = func(_ context.Context, waited time.Duration) { heard = append(heard, waited) }
		})
		ctx, p := ehpc.WithPacing(testCtx(t))
		if _, err := c.Operations(ctx, ehpc.OperationQuery{Zone: simZone}); err != nil {
			t.Fatal(err)
		}
		total, requests := p.Waited()
		if requests != tc.requests || len(heard) != tc.requests || (requests == 1 && (total < tc.wait || heard[0] < tc.wait)) {
			t.Errorf("a %s wait: Pacing %s over %d requests, OnPaced heard %v", tc.wait, total, requests, heard)
		}
	}
}
