package ehpcsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// getDated sends a signed GET and returns the answer's Date with its JSON.
func (c *testClient) getDated(path string, params url.Values) (time.Time, map[string]any) {
	c.t.Helper()
	resp, b, err := c.send(http.MethodGet, path, c.rawQuery(http.MethodGet, path, params, nil), nil)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("GET %s: bad JSON %q: %v", path, b, err)
	}
	return date(c.t, resp), m
}

func date(t *testing.T, resp *http.Response) time.Time {
	t.Helper()
	d, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		t.Fatalf("Date %q: %v", resp.Header.Get("Date"), err)
	}
	return d
}

func wire(t time.Time) string { return t.UTC().Format(TimestampLayout) }

// Requests take turns on the backends, every request counting (even a 404
// or an unsigned one). The backend that processed a restart stamps its
// create_time and status_time, also when another backend answers the log,
// while the job runs by the simulator's own clock.
func TestBackendsStampDateAndCreateTime(t *testing.T) {
	e := newEnv(t, Options{ClockOffset: 10 * time.Second, Backends: []time.Duration{0, 3 * time.Second, -2 * time.Second}, JobDuration: 5 * time.Second})
	e.c.clock = e.sim.Now
	own := t0.Add(10 * time.Second)

	// Request 0, backend 0.
	if d, m := e.c.getDated(pathListNodes, url.Values{"cluster_id": {DemoClusterID}}); !d.Equal(own) || retCode(t, m) != 0 {
		t.Fatalf("request 0: Date %s, %v", d, m)
	}
	// Request 1, backend 1: it creates the job.
	resp, b, err := e.rawRestart("cln-cmp00001")
	if err != nil || retCodeOf(b) != 0 {
		t.Fatal(err, string(b))
	}
	wantDate(t, resp, own.Add(3*time.Second))
	var created struct {
		JobID string `json:"job_id"`
	}
	_ = json.Unmarshal(b, &created)
	// Request 2, backend 2, answers with the stamp of backend 1.
	d, m := e.c.getDated(pathOperation, url.Values{"jobs": {created.JobID}})
	ops := set(m, "job_set")
	if !d.Equal(own.Add(-2*time.Second)) || len(ops) != 1 {
		t.Fatalf("request 2: Date %s, %v", d, m)
	}
	if op := ops[0]; op["create_time"] != wire(own.Add(3*time.Second)) || op["status_time"] != op["create_time"] || op["status"] != "pending" {
		t.Fatalf("pending job %v", op)
	}
	// Requests 3 and 4, unsigned and unknown, are served in turn too.
	resp, _, err = e.c.send("GET", pathOperation, "zone=jn1a", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantDate(t, resp, own)
	resp, _, err = e.c.send("GET", "/api/nope", "", nil)
	if err != nil || resp.StatusCode != 404 {
		t.Fatal(err, resp)
	}
	wantDate(t, resp, own.Add(3*time.Second))

	j, _ := e.sim.Job(created.JobID)
	if !j.Created.Equal(own.Add(3*time.Second)) || !j.Started.Equal(own) || j.Backend != 1 || j.Request != 1 {
		t.Fatalf("%+v", j)
	}
	log := e.sim.RequestLog()
	for i, r := range log {
		if r.Backend != i%3 || !r.Time.Equal(own) {
			t.Fatalf("request %d: backend %d at %s", i, r.Backend, r.Time)
		}
	}
	if log[j.Request].Path != pathRestart {
		t.Fatalf("Request %d is %+v", j.Request, log[j.Request])
	}

	// The job runs on the simulator's own clock: backend 1 is 3 s ahead, yet
	// the job and its node are busy until 5 s after its true creation.
	e.clock.Advance(5*time.Second - time.Millisecond)
	if n := nodeStatus(t, e, "cln-cmp00001"); n["status"] != "restarting" {
		t.Fatalf("node %v", n)
	}
	if op := jobByID(t, e, created.JobID); op["status"] != "pending" {
		t.Fatalf("1 ms before the end %v", op)
	}
	e.clock.Advance(time.Millisecond)
	// Status time is the end by backend 1's clock, whichever backend answers.
	for range 3 {
		if op := jobByID(t, e, created.JobID); op["status"] != "successful" || op["status_time"] != wire(own.Add(8*time.Second)) ||
			op["create_time"] != wire(own.Add(3*time.Second)) {
			t.Fatalf("finished job %v", op)
		}
	}
	if j, _ := e.sim.Job(created.JobID); !j.Ended.Equal(own.Add(5 * time.Second)) {
		t.Fatalf("%+v", j)
	}
	if n := nodeStatus(t, e, "cln-cmp00001"); n["status"] != "active" || n["status_time"] != wire(own.Add(5*time.Second)) {
		t.Fatalf("node %v", n)
	}
}

// The 60 s check is against the serving backend's clock, both ways: a client
// in step with the simulator is refused by a backend over a minute off.
func TestBackendsTimestampCheck(t *testing.T) {
	e := newEnv(t, Options{Backends: []time.Duration{0, 61 * time.Second, -61 * time.Second}})
	for i, want := range []struct {
		ret  int
		msg  string
		date time.Time
	}{
		{0, "", t0},
		{1300, "older than 60 seconds", t0.Add(61 * time.Second)},
		{1300, "more than 60 seconds in the future", t0.Add(-61 * time.Second)},
		{0, "", t0},
	} {
		d, m := e.c.getDated(pathOperation, nil)
		if retCode(t, m) != want.ret || !d.Equal(want.date) || want.msg != "" && !strings.Contains(m["message"].(string), want.msg) {
			t.Fatalf("request %d: Date %s, %v", i, d, m)
		}
	}
}

// The log's order and lag follow true creation, not the stamps: a job
// stamped by a backend behind the others is newer than its create_time says,
// and stays hidden for the lag after it really began.
func TestBackendsOrderAndLag(t *testing.T) {
	e := newEnv(t, Options{Backends: []time.Duration{3 * time.Second, -2 * time.Second}, OperationLogLag: 5 * time.Second})
	first := e.c.restart("cln-cmp00001")["job_id"].(string) // request 0, backend 0: stamped t0+3s
	e.clock.Advance(time.Second)
	second := e.c.restart("cln-cmp00002")["job_id"].(string) // request 1, backend 1: stamped t0-1s

	// At t0+4s the second job's stamp is the lag behind by any clock of the
	// simulator, but neither job's true creation is.
	e.clock.Advance(3 * time.Second)
	if m := e.c.get(pathOperation, nil); len(opIDs(t, m)) != 0 {
		t.Fatalf("listed during the lag: %v", m)
	}
	e.clock.Advance(time.Second) // t0+5s: the first job's lag is over
	if ids := opIDs(t, e.c.get(pathOperation, nil)); fmt.Sprint(ids) != "["+first+"]" {
		t.Fatalf("at t0+5s: %v", ids)
	}
	e.clock.Advance(time.Second)
	m := e.c.get(pathOperation, nil)
	if ids := opIDs(t, m); fmt.Sprint(ids) != fmt.Sprint([]string{first, second}) {
		t.Fatalf("oldest first %v", ids)
	}
	if ops := set(m, "job_set"); ops[0]["create_time"] != wire(t0.Add(3*time.Second)) || ops[1]["create_time"] != wire(t0.Add(-time.Second)) {
		t.Fatalf("%v", ops)
	}
	if ids := opIDs(t, e.c.get(pathOperation, url.Values{"reverse": {"1"}})); fmt.Sprint(ids) != fmt.Sprint([]string{second, first}) {
		t.Fatalf("newest first %v", ids)
	}
	// start_time and end_time filter on the create_time the log shows.
	if ids := opIDs(t, e.c.get(pathOperation, url.Values{"start_time": {wire(t0)}})); fmt.Sprint(ids) != "["+first+"]" {
		t.Fatalf("start_time %v", ids)
	}
	if ids := opIDs(t, e.c.get(pathOperation, url.Values{"end_time": {wire(t0)}})); fmt.Sprint(ids) != "["+second+"]" {
		t.Fatalf("end_time %v", ids)
	}
}

// Faulted, truncated and late answers carry their backend's Date too, and a
// late request is processed, and stamped, by the backend that received it
// when it is processed. Reset starts the turns again.
func TestBackendsFaultedLateAndReset(t *testing.T) {
	e := newEnv(t, Options{Backends: []time.Duration{0, 7 * time.Second}})
	skip := func() { // a request on backend 0, so that the next is on backend 1
		t.Helper()
		e.c.get(pathListNodes, url.Values{"cluster_id": {DemoClusterID}})
	}
	skip()
	e.sim.InjectFault(pathOperation, Fault{HTTPStatus: 502})
	resp, _, err := e.c.send("GET", pathOperation, e.c.rawQuery("GET", pathOperation, nil, nil), nil)
	if err != nil || resp.StatusCode != 502 {
		t.Fatal(err, resp)
	}
	wantDate(t, resp, t0.Add(7*time.Second))

	skip()
	e.sim.InjectFault(pathOperation, Fault{Truncate: true})
	resp, _, err = e.c.send("GET", pathOperation, e.c.rawQuery("GET", pathOperation, nil, nil), nil)
	if err == nil || resp == nil {
		t.Fatal("not truncated", err)
	}
	wantDate(t, resp, t0.Add(7*time.Second))

	skip()
	e.sim.InjectFault(pathRestart, Fault{LateEffect: 300 * time.Millisecond})
	got := make(chan *http.Response, 1)
	go func() {
		resp, b, err := e.rawRestart("cln-cmp00001")
		if err != nil || retCodeOf(b) != 0 {
			t.Error(err, string(b))
		}
		got <- resp
	}()
	if !waitFor(time.Second, func() bool { return len(e.sim.RequestLog()) == 6 }) {
		t.Fatal("request never arrived")
	}
	e.clock.Advance(2 * time.Second) // before the late processing
	resp = <-got
	wantDate(t, resp, t0.Add(9*time.Second))
	j := e.sim.Jobs()[0]
	if !j.Created.Equal(t0.Add(9*time.Second)) || !j.Started.Equal(t0.Add(2*time.Second)) || j.Backend != 1 || j.Request != 5 {
		t.Fatalf("%+v", j)
	}
	if op := jobByID(t, e, j.ID); op["create_time"] != wire(t0.Add(9*time.Second)) {
		t.Fatalf("%v", op)
	}

	// Seven requests so far: without a new count, the next would be backend 1's.
	e.sim.Reset()
	d, _ := e.c.getDated(pathListNodes, url.Values{"cluster_id": {DemoClusterID}})
	if !d.Equal(t0.Add(2*time.Second)) || e.sim.RequestLog()[0].Backend != 0 {
		t.Fatalf("after Reset: Date %s, %+v", d, e.sim.RequestLog())
	}
}
