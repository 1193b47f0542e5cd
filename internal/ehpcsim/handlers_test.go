package ehpcsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var jobIDPattern = regexp.MustCompile(`^j-[a-z0-9]{10}$`)

func nodeStatus(t *testing.T, e *env, id string) map[string]any {
	t.Helper()
	m := e.c.get(pathListNodes, url.Values{"cluster_id": {DemoClusterID}, "limit": {"100"}})
	wantRet(t, m, 0)
	for _, n := range set(m, "hpc_app_nodes_set") {
		if n["node_id"] == id {
			return n
		}
	}
	t.Fatalf("node %s not listed", id)
	return nil
}

func jobByID(t *testing.T, e *env, id string) map[string]any {
	t.Helper()
	m := e.c.get(pathOperation, url.Values{"jobs": {id}})
	wantRet(t, m, 0)
	js := set(m, "job_set")
	if len(js) != 1 || totalCount(m) != 1 {
		t.Fatalf("job %s: %v", id, m)
	}
	return js[0]
}

func TestRestartLifecycle(t *testing.T) {
	e := newEnv(t, Options{JobDuration: 30 * time.Second})
	m := e.c.restart("cln-cmp00002", "cln-cmp00001", "cln-cmp00002")
	wantRet(t, m, 0)
	if m["action"] != "HpcClusterRestartClusterNodesResponse" {
		t.Fatal(m)
	}
	id, _ := m["job_id"].(string)
	if !jobIDPattern.MatchString(id) {
		t.Fatalf("job id %q", id)
	}

	j := jobByID(t, e, id)
	if j["status"] != "pending" || j["job_action"] != JobActionRestart ||
		j["resource_ids"] != "ehpc-8jqdq0mz cln-cmp00002 cln-cmp00001" ||
		j["create_time"] != "2025-01-02T03:04:30Z" || j["status_time"] != "2025-01-02T03:04:30Z" || j["error_codes"] != "" {
		t.Fatalf("pending job %v", j)
	}
	for _, k := range []string{"action_describe", "owner", "submitter"} {
		if s, _ := j[k].(string); s == "" {
			t.Fatalf("job lacks %s: %v", k, j)
		}
	}
	n := nodeStatus(t, e, "cln-cmp00001")
	if n["status"] != "restarting" || n["transition_status"] != "restarting" {
		t.Fatalf("node while pending: %v", n)
	}
	if n := nodeStatus(t, e, "cln-cmp00003"); n["status"] != "active" || n["transition_status"] != "" {
		t.Fatalf("untouched node: %v", n)
	}
	if got := e.sim.Nodes(DemoClusterID)[2]; got.ID != "cln-cmp00001" || got.Status != "restarting" {
		t.Fatalf("Nodes(): %+v", got)
	}

	e.clock.Advance(29 * time.Second)
	if j := jobByID(t, e, id); j["status"] != "pending" {
		t.Fatalf("at 29s: %v", j)
	}
	e.clock.Advance(time.Second)
	j = jobByID(t, e, id)
	if j["status"] != "successful" || j["status_time"] != "2025-01-02T03:05:00Z" {
		t.Fatalf("at 30s: %v", j)
	}
	n = nodeStatus(t, e, "cln-cmp00001")
	if n["status"] != "active" || n["transition_status"] != "" || n["status_time"] != "2025-01-02T03:05:00Z" {
		t.Fatalf("node after job: %v", n)
	}

	sj, ok := e.sim.Job(id)
	if !ok || sj.Status != "successful" || sj.Path != pathRestart || strings.Join(sj.NodeIDs, ",") != "cln-cmp00002,cln-cmp00001" || sj.ClusterID != DemoClusterID || sj.Zone != DemoZone {
		t.Fatalf("Job(): %+v", sj)
	}
	if e.sim.Restarts("cln-cmp00002") != 1 || e.sim.Restarts("cln-cmp00001") != 1 || len(e.sim.RestartCounts()) != 2 {
		t.Fatalf("restart counts %v", e.sim.RestartCounts())
	}
}

func TestJobDurationZeroFinishesAtOnce(t *testing.T) {
	e := newEnv(t, Options{Now: time.Now})
	id := e.c.restart("cln-cmp00001")["job_id"].(string)
	if j := jobByID(t, e, id); j["status"] != "successful" {
		t.Fatal(j)
	}
}

func TestDoubleRestartIs1400(t *testing.T) {
	e := newEnv(t, Options{JobDuration: 10 * time.Second})
	wantRet(t, e.c.restart("cln-cmp00001", "cln-cmp00002"), 0)
	m := e.c.restart("cln-cmp00003", "cln-cmp00002")
	wantRet(t, m, 1400)
	if m["message"] != "PermissionDenied, node [cln-cmp00002] is restarting" {
		t.Fatal(m)
	}
	// A restart that touches only other nodes is fine meanwhile.
	wantRet(t, e.c.restart("cln-cmp00003"), 0)
	e.clock.Advance(10 * time.Second)
	wantRet(t, e.c.restart("cln-cmp00002"), 0)
	if e.sim.Restarts("cln-cmp00002") != 2 || e.sim.Restarts("cln-cmp00003") != 1 {
		t.Fatal(e.sim.RestartCounts())
	}
}

func TestRestartNotFound(t *testing.T) {
	other := Cluster{ID: "ehpc-other001", Zone: "pek3", Nodes: []Node{{ID: "cln-pek00001", Name: "compute-1", Role: "compute"}}}
	e := newEnv(t, Options{Clusters: []Cluster{DemoCluster(), other}})
	m := e.c.call("POST", pathRestart, nil, restartBody("ehpc-nope", DemoZone, "cln-cmp00001"))
	wantRet(t, m, 2100)
	if m["message"] != "ResourceNotFound, cluster [ehpc-nope] not found" {
		t.Fatal(m)
	}
	// A cluster of another zone is not found in this one.
	wantRet(t, e.c.call("POST", pathRestart, nil, restartBody("ehpc-other001", DemoZone, "cln-pek00001")), 2100)
	m = e.c.restart("cln-cmp00001", "cln-ghost001")
	wantRet(t, m, 2100)
	if !strings.Contains(m["message"].(string), "cln-ghost001") {
		t.Fatal(m)
	}
	// The other zone works with its own zone.
	c := *e.c
	c.zone = "pek3"
	wantRet(t, c.call("POST", pathRestart, nil, restartBody("ehpc-other001", "pek3", "cln-pek00001")), 0)
	if e.sim.Restarts("cln-cmp00001") != 0 || len(e.sim.Jobs()) != 1 {
		t.Fatal("a rejected restart created a job")
	}
}

func TestRestartBodyValidation(t *testing.T) {
	e := newEnv(t, Options{})
	for name, body := range map[string]string{
		"empty":           ``,
		"not json":        `cluster_id=ehpc-8jqdq0mz`,
		"array":           `["cln-cmp00001"]`,
		"trailing":        `{"cluster_id":"ehpc-8jqdq0mz","node_ids":["cln-cmp00001"],"zone":"jn1a"} {}`,
		"no cluster":      `{"node_ids":["cln-cmp00001"],"zone":"jn1a"}`,
		"blank cluster":   `{"cluster_id":" ","node_ids":["cln-cmp00001"],"zone":"jn1a"}`,
		"numeric cluster": `{"cluster_id":7,"node_ids":["cln-cmp00001"],"zone":"jn1a"}`,
		"no nodes":        `{"cluster_id":"ehpc-8jqdq0mz","zone":"jn1a"}`,
		"empty nodes":     `{"cluster_id":"ehpc-8jqdq0mz","node_ids":[],"zone":"jn1a"}`,
		"string nodes":    `{"cluster_id":"ehpc-8jqdq0mz","node_ids":"cln-cmp00001","zone":"jn1a"}`,
		"blank node":      `{"cluster_id":"ehpc-8jqdq0mz","node_ids":["cln-cmp00001",""],"zone":"jn1a"}`,
		"no zone":         `{"cluster_id":"ehpc-8jqdq0mz","node_ids":["cln-cmp00001"]}`,
		"other zone":      `{"cluster_id":"ehpc-8jqdq0mz","node_ids":["cln-cmp00001"],"zone":"jn1b"}`,
	} {
		t.Run(name, func(t *testing.T) {
			m := e.c.call("POST", pathRestart, nil, []byte(body))
			wantRet(t, m, 1100)
			if m["action"] != "HpcClusterRestartClusterNodesResponse" {
				t.Fatal(m)
			}
		})
	}
	if len(e.sim.Jobs()) != 0 {
		t.Fatal("invalid body created a job")
	}
}

func TestAliasPath(t *testing.T) {
	e := newEnv(t, Options{})
	m := e.c.call("POST", pathRestartTypo, nil, restartBody(DemoClusterID, DemoZone, "cln-cmp00004"))
	wantRet(t, m, 0)
	if m["action"] != "HpcClusterRestartClusterNodesResponse" {
		t.Fatal(m)
	}
	j, _ := e.sim.Job(m["job_id"].(string))
	if j.Path != pathRestartTypo || e.sim.Requests(pathRestartTypo) != 1 || e.sim.Requests(pathRestart) != 0 || e.sim.Restarts("cln-cmp00004") != 1 {
		t.Fatalf("%+v %v", j, e.sim.RequestCounts())
	}
}

func TestUnknownPathAndMethod(t *testing.T) {
	e := newEnv(t, Options{})
	for _, p := range []string{"/api/cluster/restartnodes", "/api/operation/", "/api/cluster/list", "/"} {
		status, m := e.c.callRaw("GET", p, e.c.rawQuery("GET", p, nil, nil), nil)
		if status != http.StatusNotFound {
			t.Fatalf("%s: HTTP %d", p, status)
		}
		wantRet(t, m, 1101)
		if !strings.Contains(m["message"].(string), "no such action") {
			t.Fatal(m)
		}
	}
	status, m := e.c.callRaw("GET", pathRestart, e.c.rawQuery("GET", pathRestart, nil, nil), nil)
	if status != http.StatusMethodNotAllowed {
		t.Fatalf("HTTP %d", status)
	}
	wantRet(t, m, 1101)
	_, m = e.c.callRaw("POST", pathOperation, e.c.rawQuery("POST", pathOperation, nil, nil), nil)
	wantRet(t, m, 1101)
	if e.sim.TotalRequests() != 6 {
		t.Fatal(e.sim.TotalRequests())
	}
}

func TestOperationFiltersAndPaging(t *testing.T) {
	e := newEnv(t, Options{Clusters: []Cluster{DemoCluster(), bigCluster(120)}})
	var ids []string
	for i := 0; i < 4; i++ {
		ids = append(ids, e.c.restart(fmt.Sprintf("cln-cmp0000%d", i+1))["job_id"].(string))
		e.clock.Advance(time.Minute)
	}
	e.sim.FailNextJobs(1)
	ids = append(ids, e.c.restart("cln-login001")["job_id"].(string))
	e.sim.HangNextJobs(1)
	ids = append(ids, e.c.restart("cln-ctrl0001")["job_id"].(string))

	count := func(params url.Values) (int, []string) {
		t.Helper()
		m := e.c.get(pathOperation, params)
		wantRet(t, m, 0)
		var got []string
		for _, j := range set(m, "job_set") {
			got = append(got, j["job_id"].(string))
		}
		return totalCount(m), got
	}
	check := func(name string, params url.Values, wantTotal int, want ...string) {
		t.Helper()
		total, got := count(params)
		if total != wantTotal || strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: total %d %v, want %d %v", name, total, got, wantTotal, want)
		}
	}
	check("all", nil, 6, ids...)
	check("reverse", url.Values{"reverse": {"1"}}, 6, ids[5], ids[4], ids[3], ids[2], ids[1], ids[0])
	check("jobs repeated", url.Values{"jobs": {ids[3], ids[1]}}, 2, ids[1], ids[3])
	check("job_ids comma", url.Values{"job_ids": {ids[0] + "," + ids[2]}}, 2, ids[0], ids[2])
	check("jobs.N", url.Values{"jobs.1": {ids[4]}, "jobs.2": {ids[5]}}, 2, ids[4], ids[5])
	check("unknown job", url.Values{"jobs": {"j-doesnotexi"}}, 0)
	check("resource cluster", url.Values{"resource_ids": {DemoClusterID}}, 6, ids...)
	check("resource nodes", url.Values{"resource_ids.1": {"cln-cmp00002"}, "resource_ids.2": {"cln-login001"}}, 2, ids[1], ids[4])
	check("status failed", url.Values{"status": {"failed"}}, 1, ids[4])
	check("status pending", url.Values{"status": {"pending"}}, 1, ids[5])
	check("status list", url.Values{"status": {"failed,pending"}}, 2, ids[4], ids[5])
	check("action", url.Values{"job_action": {JobActionRestart}}, 6, ids...)
	check("other action", url.Values{"job_action": {"HpcClusterDeleteCluster"}}, 0)
	check("start_time", url.Values{"start_time": {"2025-01-02T03:06:30Z"}}, 4, ids[2:]...)
	check("end_time", url.Values{"end_time": {"2025-01-02T03:05:30Z"}}, 2, ids[0], ids[1])
	check("page", url.Values{"offset": {"2"}, "limit": {"3"}}, 6, ids[2], ids[3], ids[4])
	check("page past end", url.Values{"offset": {"6"}}, 6)
	check("reverse page", url.Values{"offset": {"1"}, "limit": {"2"}, "reverse": {"1"}}, 6, ids[4], ids[3])
	check("verbose ignored", url.Values{"verbose": {"1"}, "jobs": {ids[0]}}, 1, ids[0])

	m := e.c.get(pathOperation, url.Values{"status": {"failed"}})
	if j := set(m, "job_set")[0]; j["error_codes"] == "" {
		t.Errorf("failed job without error_codes: %v", j)
	}
	for _, bad := range []url.Values{{"limit": {"x"}}, {"offset": {"-1"}}, {"reverse": {"2"}}, {"start_time": {"yesterday"}}} {
		wantRet(t, e.c.get(pathOperation, bad), 1100)
	}

	// 120 more jobs: default page 10, limit clamped to 100.
	for i := 0; i < 120; i++ {
		e.c.call("POST", pathRestart, nil, restartBody("ehpc-big00001", DemoZone, fmt.Sprintf("cln-big%05d", i)))
	}
	if total, got := count(nil); total != 126 || len(got) != 10 || got[0] != ids[0] {
		t.Errorf("default limit: %d %d", total, len(got))
	}
	if total, got := count(url.Values{"limit": {"500"}}); total != 126 || len(got) != 100 {
		t.Errorf("clamp: %d %d", total, len(got))
	}
	if total, _ := count(url.Values{"resource_ids": {"ehpc-big00001"}}); total != 120 {
		t.Errorf("big cluster jobs: %d", total)
	}
}

func TestListNodesPaging(t *testing.T) {
	e := newEnv(t, Options{Clusters: []Cluster{bigCluster(250)}})
	e.c.zone = DemoZone
	var all []string
	for offset := 0; ; offset += 100 {
		m := e.c.get(pathListNodes, url.Values{"cluster_id": {"ehpc-big00001"}, "offset": {fmt.Sprint(offset)}, "limit": {"100"}})
		wantRet(t, m, 0)
		if m["action"] != "HpcClusterGetClusterNodesResponse" || totalCount(m) != 250 {
			t.Fatal(m["action"], m["total_count"])
		}
		page := set(m, "hpc_app_nodes_set")
		for _, n := range page {
			all = append(all, n["node_id"].(string))
			for _, k := range []string{"name", "role", "status", "private_ip", "instance_id", "cluster_id", "create_time", "status_time", "health_status"} {
				if _, ok := n[k]; !ok {
					t.Fatalf("node lacks %s: %v", k, n)
				}
			}
		}
		if len(page) < 100 {
			break
		}
	}
	if len(all) != 250 {
		t.Fatalf("%d nodes", len(all))
	}
	for i, id := range all {
		if want := fmt.Sprintf("cln-big%05d", i); id != want {
			t.Fatalf("node %d is %s, want %s", i, id, want)
		}
	}

	nodes := func(params url.Values) (int, []string) {
		t.Helper()
		params.Set("cluster_id", "ehpc-big00001")
		m := e.c.get(pathListNodes, params)
		wantRet(t, m, 0)
		var ids []string
		for _, n := range set(m, "hpc_app_nodes_set") {
			ids = append(ids, n["node_id"].(string))
		}
		return totalCount(m), ids
	}
	if total, ids := nodes(url.Values{}); total != 250 || len(ids) != 10 || ids[9] != "cln-big00009" {
		t.Errorf("default page: %d %v", total, ids)
	}
	if total, ids := nodes(url.Values{"limit": {"1000"}}); total != 250 || len(ids) != 100 {
		t.Errorf("clamped page: %d %d", total, len(ids))
	}
	if _, ids := nodes(url.Values{"reverse": {"1"}, "limit": {"2"}}); strings.Join(ids, ",") != "cln-big00249,cln-big00248" {
		t.Errorf("reverse: %v", ids)
	}
	if total, ids := nodes(url.Values{"search_word": {"COMPUTE-24"}}); total != 11 || ids[0] != "cln-big00024" {
		t.Errorf("search: %d %v", total, ids)
	}
	if total, _ := nodes(url.Values{"role": {"login"}}); total != 0 {
		t.Errorf("role: %d", total)
	}
	if _, ids := nodes(url.Values{"sort_key": {"name"}, "limit": {"3"}}); strings.Join(ids, ",") != "cln-big00000,cln-big00001,cln-big00010" {
		t.Errorf("sort by name: %v", ids)
	}
	e.c.call("POST", pathRestart, nil, restartBody("ehpc-big00001", DemoZone, "cln-big00007"))
	e.sim.SetJobDuration(time.Hour)
	e.c.call("POST", pathRestart, nil, restartBody("ehpc-big00001", DemoZone, "cln-big00042"))
	if total, ids := nodes(url.Values{"status": {"restarting"}}); total != 1 || ids[0] != "cln-big00042" {
		t.Errorf("status filter: %d %v", total, ids)
	}

	wantRet(t, e.c.get(pathListNodes, url.Values{}), 1100)
	wantRet(t, e.c.get(pathListNodes, url.Values{"cluster_id": {"ehpc-nope"}}), 2100)
	wantRet(t, e.c.get(pathListNodes, url.Values{"cluster_id": {"ehpc-big00001"}, "sort_key": {"colour"}}), 1100)
}

func TestDemoClusterListing(t *testing.T) {
	e := newEnv(t, Options{})
	m := e.c.get(pathListNodes, url.Values{"cluster_id": {DemoClusterID}, "role": {"compute"}})
	wantRet(t, m, 0)
	var ids []string
	for _, n := range set(m, "hpc_app_nodes_set") {
		ids = append(ids, n["node_id"].(string))
		if n["cluster_id"] != DemoClusterID || n["role"] != "compute" || n["status"] != "active" || !strings.HasPrefix(n["private_ip"].(string), "10.16.0.") {
			t.Fatal(n)
		}
	}
	if strings.Join(ids, " ") != "cln-cmp00001 cln-cmp00002 cln-cmp00003 cln-cmp00004" {
		t.Fatal(ids)
	}
}

func TestFailAndHangJobs(t *testing.T) {
	e := newEnv(t, Options{JobDuration: 5 * time.Second})
	e.sim.FailNextJobs(1)
	e.sim.HangNextJobs(1)
	hung := e.c.restart("cln-cmp00001")["job_id"].(string)
	failed := e.c.restart("cln-cmp00002")["job_id"].(string)
	ok := e.c.restart("cln-cmp00003")["job_id"].(string)
	e.clock.Advance(24 * time.Hour)
	for id, want := range map[string]string{hung: "pending", failed: "failed", ok: "successful"} {
		if j := jobByID(t, e, id); j["status"] != want {
			t.Errorf("%s: %v, want %s", id, j["status"], want)
		}
	}
	wantRet(t, e.c.restart("cln-cmp00001"), 1400) // still restarting
	wantRet(t, e.c.restart("cln-cmp00002"), 0)    // failed restarts leave the node active
}

// FailJobsAfter fails restart jobs by position: here the third and fourth.
// A refused restart makes no job, so it takes no position.
func TestFailJobsAfter(t *testing.T) {
	e := newEnv(t, Options{JobDuration: time.Second})
	statuses := func(restarts int) string {
		t.Helper()
		var got []string
		for range restarts {
			id := e.c.restart("cln-cmp00001")["job_id"].(string)
			e.clock.Advance(time.Second)
			got = append(got, jobByID(t, e, id)["status"].(string))
			wantRet(t, e.c.restart("cln-nothere1"), 2100)
		}
		return strings.Join(got, " ")
	}
	e.sim.FailJobsAfter(2, 2)
	if got := statuses(6); got != "successful successful failed failed successful successful" {
		t.Fatal(got)
	}

	// A new call replaces the schedule; Reset clears it.
	e.sim.FailJobsAfter(5, 1)
	e.sim.FailJobsAfter(0, 1)
	if got := statuses(2); got != "failed successful" {
		t.Fatal(got)
	}
	e.sim.FailJobsAfter(0, 1)
	e.sim.Reset()
	if got := statuses(1); got != "successful" {
		t.Fatal(got)
	}
}

// Jobs that HangNextJobs and FailNextJobs claim take positions in
// FailJobsAfter's count, and those two go first: a scheduled failure falling
// on a hung job is spent (the job hangs), one falling on a job FailNextJobs
// fails leaves nothing over for the next job.
func TestFailJobsAfterWithNextJobs(t *testing.T) {
	e := newEnv(t, Options{JobDuration: time.Second})
	e.sim.HangNextJobs(2)
	e.sim.FailNextJobs(1)
	e.sim.FailJobsAfter(1, 3)
	var ids []string
	for _, n := range []string{"cln-cmp00001", "cln-cmp00002", "cln-cmp00003", "cln-cmp00004", "cln-login001", "cln-ctrl0001"} {
		ids = append(ids, e.c.restart(n)["job_id"].(string))
	}
	e.clock.Advance(24 * time.Hour)
	var got []string
	for _, id := range ids {
		got = append(got, jobByID(t, e, id)["status"].(string))
	}
	// 1: hang (position 1, let pass); 2: hang (a scheduled failure, spent);
	// 3: FailNextJobs's failure (and the schedule's); 4: the schedule's last
	// failure; 5, 6: nothing left.
	if want := "pending pending failed failed successful successful"; strings.Join(got, " ") != want {
		t.Fatalf("got %s, want %s", strings.Join(got, " "), want)
	}
}

// Started and Ended are exact where create_time and status_time have whole
// seconds: a job started at .7 s ends exactly its duration later, and shows no
// end while pending; a failed job ends like a successful one, a hung job never.
func TestJobStartedAndEnded(t *testing.T) {
	e := newEnv(t, Options{JobDuration: 5 * time.Second})
	e.clock.Advance(700 * time.Millisecond)
	start := e.clock.Now()
	ok := e.c.restart("cln-cmp00001")["job_id"].(string)
	e.sim.FailNextJobs(1)
	failed := e.c.restart("cln-cmp00002")["job_id"].(string)
	e.sim.HangNextJobs(1)
	hung := e.c.restart("cln-cmp00003")["job_id"].(string)
	past := e.sim.AddPastJob(DemoClusterID, []string{"cln-cmp00004"}, t0.Add(-time.Hour+400*time.Millisecond), "successful")

	job := func(id string) Job {
		t.Helper()
		j, found := e.sim.Job(id)
		if !found {
			t.Fatalf("no job %s", id)
		}
		return j
	}
	for _, id := range []string{ok, failed, hung} {
		j := job(id)
		if !j.Created.Equal(t0) || !j.Started.Equal(start) || !j.Ended.IsZero() || j.Status != "pending" {
			t.Fatalf("at once: %+v", j)
		}
		if b, _ := json.Marshal(j); strings.Contains(string(b), `"ended"`) || !strings.Contains(string(b), `"started":"2025-01-02T03:04:30.7Z"`) {
			t.Fatalf("JSON of a pending job: %s", b)
		}
	}

	e.clock.Advance(5*time.Second - time.Millisecond)
	if j := job(ok); j.Status != "pending" || !j.Ended.IsZero() {
		t.Fatalf("1 ms before the end: %+v", j)
	}
	e.clock.Advance(time.Millisecond)
	end := start.Add(5 * time.Second)
	for id, want := range map[string]string{ok: "successful", failed: "failed"} {
		if j := job(id); j.Status != want || !j.Ended.Equal(end) || !j.Started.Equal(start) {
			t.Fatalf("at the end: %+v, want %s ending %s", j, want, end)
		}
		// The wire keeps whole seconds.
		if w := jobByID(t, e, id); w["status_time"] != "2025-01-02T03:04:35Z" {
			t.Fatalf("status_time %v", w["status_time"])
		}
	}
	e.clock.Advance(24 * time.Hour)
	if j := job(hung); j.Status != "pending" || !j.Ended.IsZero() {
		t.Fatalf("hung job a day later: %+v", j)
	}
	if j := job(ok); !j.Ended.Equal(end) {
		t.Fatalf("a day later the end moved: %+v", j)
	}
	// History has only create_time.
	if j := job(past); !j.Started.Equal(j.Created) || !j.Ended.Equal(j.Created) || !j.Created.Equal(t0.Add(-time.Hour)) {
		t.Fatalf("past job: %+v", j)
	}
	// Jobs() says the same as Job().
	for _, j := range e.sim.Jobs() {
		if one := job(j.ID); !one.Started.Equal(j.Started) || !one.Ended.Equal(j.Ended) {
			t.Fatalf("Jobs() %+v, Job() %+v", j, one)
		}
	}
}

func TestQuota(t *testing.T) {
	e := newEnv(t, Options{QuotaPerHour: 3})
	for i := 0; i < 3; i++ {
		wantRet(t, e.c.get(pathOperation, nil), 0)
	}
	m := e.c.restart("cln-cmp00001")
	wantRet(t, m, 2500)
	if !strings.HasPrefix(m["message"].(string), "QuotaExceeded, ") || e.sim.Restarts("cln-cmp00001") != 0 {
		t.Fatal(m)
	}
	// Another key has its own quota.
	e2 := newEnv(t, Options{QuotaPerHour: 1, Credentials: map[string]string{"K1": "s1", "K2": "s2"}})
	c1, c2 := *e2.c, *e2.c
	c1.key, c1.secret, c2.key, c2.secret = "K1", "s1", "K2", "s2"
	wantRet(t, c1.get(pathOperation, nil), 0)
	wantRet(t, c1.get(pathOperation, nil), 2500)
	wantRet(t, c2.get(pathOperation, nil), 0)
	e2.clock.Advance(time.Hour)
	wantRet(t, c1.get(pathOperation, nil), 0)
}

func TestResetAndLog(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	e := newEnv(t, Options{JobDuration: time.Hour, Logf: func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, fmt.Sprintf(f, a...))
	}})
	wantRet(t, e.c.restart("cln-cmp00001"), 0)
	e.sim.InjectFault("*", Fault{RetCode: 5100, Count: 5})
	log := e.sim.RequestLog()
	if len(log) != 1 || log[0].Method != "POST" || log[0].Path != pathRestart || log[0].RetCode != 0 || log[0].HTTPStatus != 200 ||
		log[0].Query.Get("zone") != "jn1a" || log[0].Query.Get("signature") != "" || !strings.Contains(string(log[0].Body), "cln-cmp00001") || !log[0].Time.Equal(t0) {
		t.Fatalf("%+v", log)
	}
	mu.Lock()
	if len(lines) != 1 || !strings.Contains(lines[0], "POST /api/cluster/restartNodes ret_code=0 http=200") || strings.Contains(lines[0], "signature") || strings.Contains(lines[0], DemoSecretKey) {
		t.Fatalf("log lines %q", lines)
	}
	mu.Unlock()

	e.sim.Reset()
	if e.sim.TotalRequests() != 0 || len(e.sim.Jobs()) != 0 || len(e.sim.RequestLog()) != 0 || len(e.sim.RestartCounts()) != 0 {
		t.Fatal("Reset left state")
	}
	for _, n := range e.sim.Nodes(DemoClusterID) {
		if n.Status != "active" {
			t.Fatal(n)
		}
	}
	wantRet(t, e.c.restart("cln-cmp00001"), 0) // no fault, node not restarting
}

func TestLoadClustersFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "clusters.json")
	if err := os.WriteFile(good, []byte(`{"clusters":[{"cluster_id":"ehpc-file0001","zone":"jn1a","health_check":false,"nodes":[{"node_id":"cln-file0001","name":"compute-1","role":"compute","private_ip":"10.0.0.5","instance_id":"i-file0001","health_status":"unhealthy","after_restart":"flapping"}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := New(Options{})
	if err := s.LoadClustersFile(good); err != nil {
		t.Fatal(err)
	}
	if n := s.Nodes("ehpc-file0001"); len(n) != 1 || n[0].Status != "active" || n[0].HealthStatus != "unhealthy" || n[0].AfterRestart != FateFlapping {
		t.Fatalf("%+v", n)
	}
	if c := s.Clusters(); c[len(c)-1].HealthCheck == nil || *c[len(c)-1].HealthCheck {
		t.Fatalf("health_check not read: %+v", c[len(c)-1])
	}
	if len(s.Nodes(DemoClusterID)) != 6 {
		t.Fatal("demo cluster lost")
	}
	for name, content := range map[string]string{
		"bad.json":     `{"clusters":[{"cluster_id":"x",}]}`,
		"typo.json":    `{"clusters":[{"cluster_id":"x","zone":"jn1a","node":[]}]}`,
		"empty.json":   `{}`,
		"nozone.json":  `{"clusters":[{"cluster_id":"x"}]}`,
		"dupnode.json": `{"clusters":[{"cluster_id":"x","zone":"a","nodes":[{"node_id":"n"},{"node_id":"n"}]}]}`,
		"fate.json":    `{"clusters":[{"cluster_id":"x","zone":"a","nodes":[{"node_id":"n","after_restart":"sometimes"}]}]}`,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := s.LoadClustersFile(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := s.LoadClustersFile(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Error(err)
	}
}

func TestConcurrency(t *testing.T) {
	e := newEnv(t, Options{Clusters: []Cluster{bigCluster(64)}, Now: time.Now, JobDuration: 10 * time.Millisecond})
	e.c.hc = &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 8; i++ {
				node := fmt.Sprintf("cln-big%05d", g*8+i)
				body := restartBody("ehpc-big00001", DemoZone, node)
				for _, r := range []struct {
					method, path string
					params       url.Values
					body         []byte
				}{
					{"POST", pathRestart, nil, body},
					{"GET", pathOperation, url.Values{"resource_ids": {node}}, nil},
					{"GET", pathListNodes, url.Values{"cluster_id": {"ehpc-big00001"}}, nil},
				} {
					_, b, err := e.c.send(r.method, r.path, e.c.rawQuery(r.method, r.path, r.params, r.body), r.body)
					if err != nil || retCodeOf(b) != 0 || !strings.Contains(string(b), `"ret_code":0`) {
						t.Errorf("%s %s: %v %s", r.method, node, err, b)
					}
				}
				e.sim.Jobs()
				e.sim.Nodes("ehpc-big00001")
				e.sim.RequestLog()
				e.sim.Summary()
				if i == 4 {
					e.sim.InjectFault(pathOperation, Fault{Delay: time.Millisecond})
					e.sim.SetJobDuration(time.Millisecond)
				}
			}
		}(g)
	}
	wg.Wait()
	if len(e.sim.Jobs()) != 64 || e.sim.TotalRequests() != 64*3 || len(e.sim.RestartCounts()) != 64 {
		t.Fatalf("%d jobs, %d requests", len(e.sim.Jobs()), e.sim.TotalRequests())
	}
}
