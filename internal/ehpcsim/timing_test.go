package ehpcsim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// waitFor polls cond for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// Latency: the restart happens on arrival (the job exists while the answer
// is still on its way), and Date, read when the answer is written, is later
// than create_time by about the latency. Real clock: the wait is real time.
func TestLatency(t *testing.T) {
	const latency = 1100 * time.Millisecond
	e := newEnv(t, Options{Now: time.Now, JobDuration: time.Minute,
		Latency: map[string]time.Duration{pathRestart: latency, "*": latency, pathListNodes: 0}})
	type answer struct {
		resp *http.Response
		body []byte
		err  error
	}
	got := make(chan answer, 1)
	start := time.Now()
	go func() {
		resp, b, err := e.rawRestart("cln-cmp00001")
		got <- answer{resp, b, err}
	}()
	if !waitFor(latency/2, func() bool { return len(e.sim.Jobs()) == 1 }) {
		t.Fatal("the restart was not processed on arrival")
	}
	select {
	case <-got:
		t.Fatal("answered before the latency")
	default:
	}
	a := <-got
	if a.err != nil || retCodeOf(a.body) != 0 || time.Since(start) < latency {
		t.Fatalf("%v %s after %s", a.err, a.body, time.Since(start))
	}
	date, err := http.ParseTime(a.resp.Header.Get("Date"))
	if err != nil {
		t.Fatal(err)
	}
	// Both are whole seconds, so a 1.1 s gap shows as 1 or 2 s.
	if gap := date.Sub(e.sim.Jobs()[0].Created); gap < time.Second || gap > 2*time.Second {
		t.Fatalf("Date %s is %s after create_time %s", date, gap, e.sim.Jobs()[0].Created)
	}

	// "*" reaches other paths; a path's own 0 overrides it.
	start = time.Now()
	e.c.get(pathListNodes, url.Values{"cluster_id": {DemoClusterID}})
	if d := time.Since(start); d > latency/2 {
		t.Fatalf("listNodes took %s", d)
	}
	start = time.Now()
	e.c.get(pathOperation, nil)
	if d := time.Since(start); d < latency {
		t.Fatalf("operation took %s", d)
	}
}

// A client that gives up during the latency has still restarted the node.
func TestLatencyClientGone(t *testing.T) {
	done := make(chan string, 1)
	e := newEnv(t, Options{Latency: map[string]time.Duration{"*": 5 * time.Second}, Logf: func(f string, a ...any) {
		if strings.HasPrefix(f, "%s %s") {
			done <- a[len(a)-1].(string)
		}
	}})
	e.c.hc.Timeout = 100 * time.Millisecond
	if _, _, err := e.rawRestart("cln-cmp00001"); err == nil {
		t.Fatal("no timeout")
	}
	select {
	case note := <-done:
		if !strings.Contains(note, "went away during latency") {
			t.Fatal(note)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("latency not cut short")
	}
	if e.sim.Restarts("cln-cmp00001") != 1 {
		t.Fatal(e.sim.RestartCounts())
	}
}

// LateEffect: the client gives up after 100 ms, or the connection is dropped
// at once; either way the restart happens LateEffect after arrival.
func TestLateEffect(t *testing.T) {
	const late = 600 * time.Millisecond
	for _, drop := range []bool{false, true} {
		e := newEnv(t, Options{})
		e.c.hc.Timeout = 100 * time.Millisecond
		e.sim.InjectFault(pathRestart, Fault{LateEffect: late, Drop: drop})
		start := time.Now()
		if _, _, err := e.rawRestart("cln-cmp00003"); err == nil {
			t.Fatalf("drop=%v: answered", drop)
		}
		if e.sim.Restarts("cln-cmp00003") != 0 || len(e.sim.Jobs()) != 0 {
			t.Fatalf("drop=%v: processed at once", drop)
		}
		if n := e.sim.LateInFlight(); n != 1 {
			t.Fatalf("drop=%v: %d requests in flight before processing, want 1", drop, n)
		}
		if !waitFor(3*time.Second, func() bool { return e.sim.Restarts("cln-cmp00003") == 1 }) {
			t.Fatalf("drop=%v: never processed", drop)
		}
		if !waitFor(time.Second, func() bool { return e.sim.LateInFlight() == 0 }) {
			t.Fatalf("drop=%v: %d requests still in flight once processed", drop, e.sim.LateInFlight())
		}
		if d := time.Since(start); d < late {
			t.Fatalf("drop=%v: processed after %s", drop, d)
		}
		if j := e.sim.Jobs(); len(j) != 1 || j[0].Past {
			t.Fatalf("%+v", j)
		}
		jobByID(t, e, e.sim.Jobs()[0].ID) // listed like any job
		var note string
		waitFor(time.Second, func() bool {
			note = e.sim.RequestLog()[0].Note
			return strings.Contains(note, "processed 600ms after arrival: ret_code=0") && strings.Contains(note, "late effect")
		})
		if !strings.Contains(note, "processed 600ms after arrival: ret_code=0") || drop != strings.Contains(note, "dropped") {
			t.Fatalf("drop=%v: note %q", drop, note)
		}
	}

	// A patient client gets the normal answer, once processing is done.
	e := newEnv(t, Options{})
	e.sim.InjectFault(pathRestart, Fault{LateEffect: 200 * time.Millisecond})
	start := time.Now()
	m := e.c.restart("cln-cmp00001")
	wantRet(t, m, 0)
	if time.Since(start) < 200*time.Millisecond || e.sim.Jobs()[0].ID != m["job_id"] {
		t.Fatalf("%v after %s", m, time.Since(start))
	}
}

// A request is checked when it is processed: one that waited in transit
// (LateEffect) while the server's clock moved past its lease expires, though
// it was fresh on arrival, and the client sees 1300 with nothing restarted.
func TestTimestampCheckedWhenProcessedLate(t *testing.T) {
	for _, tc := range []struct {
		validity, moved time.Duration
		want            int
	}{
		{2 * time.Second, 3 * time.Second, 1300},
		{2 * time.Second, 2 * time.Second, 0},
		{0, 3 * time.Second, 0}, // the documented 60 s lease
	} {
		e := newEnv(t, Options{TimestampValidity: tc.validity})
		e.sim.InjectFault(pathRestart, Fault{LateEffect: 300 * time.Millisecond})
		type answer struct {
			resp *http.Response
			body []byte
			err  error
		}
		got := make(chan answer, 1)
		go func() {
			resp, b, err := e.rawRestart("cln-cmp00001")
			got <- answer{resp, b, err}
		}()
		if !waitFor(time.Second, func() bool { return len(e.sim.RequestLog()) == 1 }) {
			t.Fatal("request never arrived")
		}
		e.clock.Advance(tc.moved) // before the late processing, 300 ms after arrival
		a := <-got
		if a.err != nil || retCodeOf(a.body) != tc.want {
			t.Fatalf("validity %s, clock moved %s: %v %s", tc.validity, tc.moved, a.err, a.body)
		}
		wantDate(t, a.resp, t0.Add(tc.moved))
		if restarted := e.sim.Restarts("cln-cmp00001") == 1; restarted != (tc.want == 0) {
			t.Fatalf("validity %s, clock moved %s: restarted %v", tc.validity, tc.moved, restarted)
		}
	}
}
