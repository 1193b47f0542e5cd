package ehpcsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

func opIDs(t *testing.T, m map[string]any) []string {
	t.Helper()
	wantRet(t, m, 0)
	var ids []string
	for _, j := range set(m, "job_set") {
		ids = append(ids, j["job_id"].(string))
	}
	return ids
}

// During the lag a job runs (its node is restarting, a second restart is
// refused) but no operation-log answer shows it, not even asked by id.
func TestOperationLogLag(t *testing.T) {
	e := newEnv(t, Options{OperationLogLag: 5 * time.Second, JobDuration: 30 * time.Second})
	m := e.c.restart("cln-cmp00001")
	wantRet(t, m, 0)
	id := m["job_id"].(string)
	hidden := func(when string) {
		t.Helper()
		for _, q := range []url.Values{nil, {"jobs": {id}}, {"job_ids": {id}}, {"resource_ids": {DemoClusterID}}, {"status": {"pending"}}} {
			if m := e.c.get(pathOperation, q); len(opIDs(t, m)) != 0 || totalCount(m) != 0 {
				t.Fatalf("%s: %v listed %v", when, q, m)
			}
		}
	}
	hidden("at once")
	if n := nodeStatus(t, e, "cln-cmp00001"); n["status"] != "restarting" {
		t.Fatalf("job not running during the lag: %v", n)
	}
	wantRet(t, e.c.restart("cln-cmp00001"), 1400)
	e.clock.Advance(4999 * time.Millisecond)
	hidden("4.999 s later")
	e.clock.Advance(time.Millisecond)
	if j := jobByID(t, e, id); j["create_time"] != "2025-01-02T03:04:30Z" || j["status"] != "pending" {
		t.Fatalf("%v", j)
	}
	if ids := opIDs(t, e.c.get(pathOperation, nil)); fmt.Sprint(ids) != "["+id+"]" {
		t.Fatalf("listing %v", ids)
	}

	// The lag is measured from a past job's create time too.
	old := e.sim.AddPastJob(DemoClusterID, []string{"cln-cmp00002"}, e.clock.Now().Add(-time.Hour), "successful")
	recent := e.sim.AddPastJob(DemoClusterID, []string{"cln-cmp00003"}, e.clock.Now().Add(-2*time.Second), "successful")
	if ids := opIDs(t, e.c.get(pathOperation, nil)); fmt.Sprint(ids) != fmt.Sprint([]string{old, id}) {
		t.Fatalf("listing %v, want %s %s (not %s)", ids, old, id, recent)
	}
	e.clock.Advance(3 * time.Second)
	if ids := opIDs(t, e.c.get(pathOperation, url.Values{"reverse": {"1"}})); fmt.Sprint(ids) != fmt.Sprint([]string{recent, id, old}) {
		t.Fatalf("listing %v", ids)
	}
}

var queueIDPattern = regexp.MustCompile(`^ehpcq-[a-z0-9]{8}$`)

func TestQueueIDs(t *testing.T) {
	other := Cluster{ID: "ehpc-other001", Zone: DemoZone, Nodes: []Node{{ID: "cln-oth00001", Status: "active"}}}
	e := newEnv(t, Options{QueueIDs: true, Clusters: []Cluster{DemoCluster(), other}})
	a := e.c.restart("cln-cmp00001")["job_id"].(string)
	b := e.c.restart("cln-cmp00002", "cln-cmp00003")["job_id"].(string)
	e.c.call("POST", pathRestart, nil, restartBody(other.ID, DemoZone, "cln-oth00001"))
	past := e.sim.AddPastJob(DemoClusterID, []string{"cln-cmp00004"}, t0.Add(-time.Hour), "failed")

	ra := jobByID(t, e, a)["resource_ids"].(string)
	var q string
	if n, _ := fmt.Sscanf(ra, DemoClusterID+" %s cln-cmp00001", &q); n != 1 || !queueIDPattern.MatchString(q) {
		t.Fatalf("resource_ids %q", ra)
	}
	for id, nodes := range map[string]string{b: "cln-cmp00002 cln-cmp00003", past: "cln-cmp00004"} {
		if got := jobByID(t, e, id)["resource_ids"]; got != DemoClusterID+" "+q+" "+nodes {
			t.Fatalf("queue id not stable per cluster: %q", got)
		}
	}
	// The queue names a touched resource: filtering on it finds the cluster's
	// jobs and no other cluster's.
	if ids := opIDs(t, e.c.get(pathOperation, url.Values{"resource_ids": {q}})); len(ids) != 3 {
		t.Fatalf("by queue id: %v", ids)
	}
	if ids := opIDs(t, e.c.get(pathOperation, url.Values{"resource_ids": {"cln-cmp00003"}})); fmt.Sprint(ids) != "["+b+"]" {
		t.Fatalf("by node id: %v", ids)
	}
	ops := set(e.c.get(pathOperation, url.Values{"resource_ids": {other.ID}}), "job_set")
	if len(ops) != 1 || ops[0]["resource_ids"] == other.ID+" "+q+" cln-oth00001" {
		t.Fatalf("other cluster: %v", ops)
	}
	// Stable across simulators: derived from the cluster id.
	if e2 := newEnv(t, Options{QueueIDs: true}); e2 != nil {
		id := e2.c.restart("cln-cmp00001")["job_id"].(string)
		if got := jobByID(t, e2, id)["resource_ids"]; got != ra {
			t.Fatalf("%q vs %q", got, ra)
		}
	}
}

// Past jobs are listed like any job (zone, filters, order, realistic ids),
// leave their nodes free, and are not counted as restarts.
func TestAddPastJob(t *testing.T) {
	pek := Cluster{ID: "ehpc-pek00001", Zone: "pek3", Nodes: []Node{{ID: "cln-pek00001", Status: "active"}}}
	e := newEnv(t, Options{JobDuration: 10 * time.Second, Clusters: []Cluster{DemoCluster(), pek}})
	failed := e.sim.AddPastJob(DemoClusterID, []string{"cln-cmp00001", "cln-cmp00002"}, t0.Add(-2*time.Hour+300*time.Millisecond), "failed")
	ok := e.sim.AddPastJob(DemoClusterID, []string{"cln-cmp00001"}, t0.Add(-time.Hour), "successful")
	older := e.sim.AddPastJob(DemoClusterID, []string{"cln-cmp00003"}, t0.Add(-3*time.Hour), "successful")
	elsewhere := e.sim.AddPastJob(pek.ID, []string{"cln-pek00001"}, t0.Add(-time.Hour), "successful")
	for _, id := range []string{failed, ok, older, elsewhere} {
		if !jobIDPattern.MatchString(id) {
			t.Fatalf("job id %q", id)
		}
	}
	if e.sim.Restarts("cln-cmp00001") != 0 || len(e.sim.RestartCounts()) != 0 {
		t.Fatal(e.sim.RestartCounts())
	}
	f := jobByID(t, e, failed)
	if f["status"] != "failed" || f["error_codes"] == "" || f["create_time"] != "2025-01-02T01:04:30Z" ||
		f["status_time"] != "2025-01-02T01:04:30Z" || f["resource_ids"] != DemoClusterID+" cln-cmp00001 cln-cmp00002" ||
		f["job_action"] != JobActionRestart || f["owner"] == "" {
		t.Fatalf("%v", f)
	}
	if s := jobByID(t, e, ok)["status"]; s != "successful" {
		t.Fatal(s)
	}
	// Zone: the jn1a log does not show the pek3 job.
	if ids := opIDs(t, e.c.get(pathOperation, nil)); fmt.Sprint(ids) != fmt.Sprint([]string{older, failed, ok}) {
		t.Fatalf("listing %v", ids)
	}
	if ids := opIDs(t, e.c.get(pathOperation, url.Values{"resource_ids": {"cln-cmp00001"}, "status": {"successful"}})); fmt.Sprint(ids) != "["+ok+"]" {
		t.Fatalf("filtered %v", ids)
	}
	// The nodes are free, and a new restart is listed after the history.
	if n := nodeStatus(t, e, "cln-cmp00001"); n["status"] != "active" {
		t.Fatal(n)
	}
	now := e.c.restart("cln-cmp00001")["job_id"].(string)
	if ids := opIDs(t, e.c.get(pathOperation, url.Values{"reverse": {"1"}, "limit": {"2"}})); fmt.Sprint(ids) != fmt.Sprint([]string{now, ok}) {
		t.Fatalf("newest first %v", ids)
	}
	if e.sim.Restarts("cln-cmp00001") != 1 {
		t.Fatal(e.sim.RestartCounts())
	}
	var past int
	for _, j := range e.sim.Jobs() {
		if j.Past {
			past++
			if j.Path != "" || j.Status == "pending" {
				t.Fatalf("%+v", j)
			}
		}
	}
	if past != 4 || len(e.sim.Jobs()) != 5 || e.sim.Jobs()[0].ID != older {
		t.Fatalf("%+v", e.sim.Jobs())
	}

	for _, bad := range []func(){
		func() { e.sim.AddPastJob("ehpc-nothere1", []string{"cln-cmp00001"}, t0, "successful") },
		func() { e.sim.AddPastJob(DemoClusterID, []string{"cln-cmp00001"}, t0, "pending") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			bad()
		}()
	}
}

// During an outage every operation-log request, signed or not, meets a
// failing gateway (502, nginx page, Date of its backend) and reaches nothing
// behind it: no fault is spent, no quota charged. Other paths work, and
// outside the spans the log answers again.
func TestLogOutage(t *testing.T) {
	e := newEnv(t, Options{Backends: []time.Duration{0, 5 * time.Second}, QuotaPerHour: 6})
	e.sim.LogOutage(t0.Add(10*time.Second), t0.Add(20*time.Second))
	e.sim.LogOutage(t0.Add(30*time.Second), t0.Add(31*time.Second))
	id := e.c.restart("cln-cmp00001")["job_id"].(string) // request 0, backend 0
	down := func(rawQuery string, date time.Time) {
		t.Helper()
		resp, b, err := e.c.send("GET", pathOperation, rawQuery, nil)
		if err != nil || resp.StatusCode != http.StatusBadGateway || resp.Header.Get("Content-Type") != "text/html" ||
			string(b) != string(statusPage(http.StatusBadGateway).body) || !strings.Contains(string(b), "nginx") {
			t.Fatalf("at %s: %v %v %q", e.clock.Now(), err, resp, b)
		}
		wantDate(t, resp, date)
	}
	up := func() {
		t.Helper()
		if ids := opIDs(t, e.c.get(pathOperation, nil)); fmt.Sprint(ids) != "["+id+"]" {
			t.Fatalf("at %s: %v", e.clock.Now(), ids)
		}
	}

	e.clock.Advance(10*time.Second - time.Millisecond)
	up() // request 1
	e.clock.Advance(time.Millisecond)
	e.sim.InjectFault(pathOperation, Fault{RetCode: 5100})
	down(e.c.rawQuery("GET", pathOperation, nil, nil), t0.Add(10*time.Second)) // request 2, backend 0
	down("zone=jn1a", t0.Add(15*time.Second))                                  // request 3, unsigned, backend 1
	wantRet(t, e.c.get(pathListNodes, url.Values{"cluster_id": {DemoClusterID}}), 0)
	wantRet(t, e.c.restart("cln-cmp00002"), 0)
	e.clock.Advance(10*time.Second - time.Millisecond)
	down(e.c.rawQuery("GET", pathOperation, nil, nil), t0.Add(20*time.Second-time.Millisecond)) // request 6, backend 0
	e.clock.Advance(time.Millisecond)
	wantRet(t, e.c.get(pathOperation, nil), 5100) // the fault waited for a request that got through
	e.clock.Advance(10 * time.Second)
	down(e.c.rawQuery("GET", pathOperation, url.Values{"jobs": {id}}, nil), t0.Add(30*time.Second))
	e.clock.Advance(time.Second)
	wantRet(t, e.c.get(pathOperation, url.Values{"jobs": {id}}), 0)

	// Ten requests, seven to the log, four of those stopped at the gateway:
	// all counted, none charged (five were, the sixth would have been refused).
	if n := e.sim.Requests(pathOperation); n != 7 || e.sim.TotalRequests() != 10 {
		t.Fatalf("%d operation requests, %d in all", n, e.sim.TotalRequests())
	}
	for i, r := range e.sim.RequestLog() {
		if outage := r.Note == "operation log outage"; outage != (i == 2 || i == 3 || i == 6 || i == 8) ||
			outage && (r.HTTPStatus != 502 || r.RetCode != 0 || r.StringToSign != "") {
			t.Fatalf("request %d: %+v", i, r)
		}
	}

	e.sim.Reset()
	e.clock.Set(t0.Add(15 * time.Second))
	wantRet(t, e.c.get(pathOperation, nil), 0)

	defer func() {
		if recover() == nil {
			t.Fatal("an empty outage did not panic")
		}
	}()
	e.sim.LogOutage(t0, t0)
}

// History saved from one simulator (its Jobs(), through JSON as a fixture
// keeps it) and restored into another answers the same job ids the same way
// in the operation log, in its place among newer jobs, as history: its nodes
// free, no restart counted.
func TestRestorePastJob(t *testing.T) {
	a := newEnv(t, Options{})
	older := a.sim.AddPastJob(DemoClusterID, []string{"cln-cmp00004"}, t0.Add(-time.Hour), "successful")
	ok := a.c.restart("cln-cmp00001")["job_id"].(string)
	a.clock.Advance(3 * time.Second)
	a.sim.FailNextJobs(1)
	failed := a.c.restart("cln-cmp00001", "cln-cmp00002")["job_id"].(string)
	saved, err := json.Marshal(a.sim.Jobs())
	if err != nil {
		t.Fatal(err)
	}
	if j, _ := a.sim.Job(older); j.Request != -1 || j.Backend != -1 {
		t.Fatalf("past job %+v", j)
	}

	b := newEnv(t, Options{})
	b.clock.Advance(time.Hour)
	newer := b.c.restart("cln-cmp00003")["job_id"].(string)
	var jobs []Job
	if err := json.Unmarshal(saved, &jobs); err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		b.sim.RestorePastJob(j)
	}
	for _, id := range []string{older, ok, failed} {
		was, is := jobByID(t, a, id), jobByID(t, b, id)
		if fmt.Sprint(was) != fmt.Sprint(is) {
			t.Fatalf("saved %v\nrestored %v", was, is)
		}
		if j, _ := b.sim.Job(id); !j.Past || j.Request != -1 || j.Backend != -1 || j.Path != "" {
			t.Fatalf("restored %+v", j)
		}
	}
	if ids := opIDs(t, b.c.get(pathOperation, url.Values{"reverse": {"1"}})); fmt.Sprint(ids) != fmt.Sprint([]string{newer, failed, ok, older}) {
		t.Fatalf("newest first %v", ids)
	}
	wantRet(t, b.c.restart("cln-cmp00001", "cln-cmp00002"), 0)
	if n := b.sim.RestartCounts(); fmt.Sprint(n) != "map[cln-cmp00001:1 cln-cmp00002:1 cln-cmp00003:1]" {
		t.Fatalf("restarts %v", n)
	}

	good := Job{ID: "j-fixture001", ClusterID: DemoClusterID, NodeIDs: []string{"cln-cmp00001"}, Created: t0, Status: "successful"}
	for name, bad := range map[string]func(j *Job){
		"taken id":        func(j *Job) { j.ID = ok },
		"no id":           func(j *Job) { j.ID = "" },
		"unknown cluster": func(j *Job) { j.ClusterID = "ehpc-nothere1" },
		"pending":         func(j *Job) { j.Status = "pending" },
	} {
		j := good
		bad(&j)
		func() {
			defer func() {
				if recover() == nil {
					t.Fatalf("%s: no panic", name)
				}
			}()
			b.sim.RestorePastJob(j)
		}()
	}
	if _, found := b.sim.Job(good.ID); found {
		t.Fatal("a refused job was kept")
	}
	b.sim.RestorePastJob(good)
	if j := jobByID(t, b, good.ID); j["create_time"] != wire(t0) || j["status"] != "successful" {
		t.Fatalf("%v", j)
	}
}

// FirstListed is the request whose operation-log answer first listed a job:
// what a client could know of it from then on. A listing that leaves a job
// out (another page, the log's lag) does not count.
func TestFirstListed(t *testing.T) {
	e := newEnv(t, Options{JobDuration: time.Minute})
	a, _ := e.c.restart("cln-cmp00001")["job_id"].(string)
	b, _ := e.c.restart("cln-cmp00002")["job_id"].(string)
	first := func(id string) int {
		t.Helper()
		j, ok := e.sim.Job(id)
		if !ok {
			t.Fatalf("no job %s", id)
		}
		return j.FirstListed
	}
	if first(a) != -1 || first(b) != -1 {
		t.Fatalf("listed before any listing: %d, %d", first(a), first(b))
	}
	wantRet(t, e.c.get(pathOperation, url.Values{"reverse": {"1"}, "limit": {"1"}}), 0) // b only, newest first
	listed := len(e.sim.RequestLog()) - 1
	if first(b) != listed || first(a) != -1 {
		t.Fatalf("after a one-job page: b %d (want %d), a %d (want -1)", first(b), listed, first(a))
	}
	jobByID(t, e, a)
	jobByID(t, e, b)
	if first(a) != listed+1 || first(b) != listed {
		t.Fatalf("after both were listed: a %d (want %d), b %d (want %d, the first listing)", first(a), listed+1, first(b), listed)
	}
}
