package ehpcsim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func (e *env) rawRestart(node string) (*http.Response, []byte, error) {
	body := restartBody(DemoClusterID, DemoZone, node)
	return e.c.send("POST", pathRestart, e.c.rawQuery("POST", pathRestart, nil, body), body)
}

// Each fault kind, before and after effect, on the restart action: the
// Restarts counter proves whether the API acted.
func TestFaultEffects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault Fault
		check func(t *testing.T, resp *http.Response, body []byte, err error)
	}{
		{"ret_code", Fault{RetCode: 5000}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			var m map[string]any
			if err != nil || resp.StatusCode != 200 || json.Unmarshal(body, &m) != nil || retCodeOf(body) != 5000 ||
				m["action"] != "HpcClusterRestartClusterNodesResponse" || !strings.HasPrefix(m["message"].(string), "InternalError, ") {
				t.Fatalf("%v %s", err, body)
			}
		}},
		{"502 html", Fault{HTTPStatus: 502, RetryAfter: "7"}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || resp.StatusCode != 502 || resp.Header.Get("Retry-After") != "7" || resp.Header.Get("Content-Type") != "text/html" || !strings.Contains(string(body), "<h1>502 Bad Gateway</h1>") {
				t.Fatalf("%v %v %s", err, resp.Header, body)
			}
		}},
		{"503 json", Fault{HTTPStatus: 503}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || resp.StatusCode != 503 || retCodeOf(body) != 5100 {
				t.Fatalf("%v %s", err, body)
			}
		}},
		{"429 text", Fault{HTTPStatus: 429, RetryAfter: "1"}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Fatalf("%v %s", err, body)
			}
		}},
		{"body", Fault{Body: `{"ret_code":0, "job_`}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || resp.StatusCode != 200 || string(body) != `{"ret_code":0, "job_` {
				t.Fatalf("%v %s", err, body)
			}
		}},
		{"truncate", Fault{Truncate: true}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if !errors.Is(err, io.ErrUnexpectedEOF) || resp.StatusCode != 200 || resp.ContentLength <= int64(len(body)) || len(body) == 0 {
				t.Fatalf("%v %v %q", err, resp, body)
			}
		}},
		{"truncate given body", Fault{Truncate: true, Body: `{"action":"HpcClusterRestartClusterNodesResponse","job_id":"j-aaaaaaaaaa","ret_code":0}`}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if !errors.Is(err, io.ErrUnexpectedEOF) || resp.ContentLength != 87 || string(body) != `{"action":"HpcClusterRestartClusterNodesRes` {
				t.Fatalf("%v %v %q", err, resp.ContentLength, body)
			}
		}},
		{"drop", Fault{Drop: true}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err == nil || resp != nil {
				t.Fatalf("dropped request answered: %v %s", resp, body)
			}
		}},
		{"delay", Fault{Delay: 30 * time.Millisecond}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || retCodeOf(body) != 0 || !strings.Contains(string(body), `"job_id":"j-`) {
				t.Fatalf("%v %s", err, body)
			}
		}},
	} {
		for _, after := range []bool{false, true} {
			name := tc.name + " before effect"
			if after {
				name = tc.name + " after effect"
			}
			t.Run(name, func(t *testing.T) {
				e := newEnv(t, Options{})
				f := tc.fault
				f.AfterEffect = after
				e.sim.InjectFault(pathRestart, f)
				start := time.Now()
				resp, body, err := e.rawRestart("cln-cmp00001")
				if f.Delay > 0 && time.Since(start) < f.Delay {
					t.Fatalf("answered after %s", time.Since(start))
				}
				tc.check(t, resp, body, err)

				wantRestarts := 0
				if after || tc.name == "delay" {
					wantRestarts = 1
				}
				if got := e.sim.Restarts("cln-cmp00001"); got != wantRestarts {
					t.Fatalf("Restarts = %d, want %d", got, wantRestarts)
				}
				if got := len(e.sim.Jobs()); got != wantRestarts {
					t.Fatalf("%d jobs", got)
				}
				if e.sim.Requests(pathRestart) != 1 {
					t.Fatal("faulted request not counted")
				}
				// The fault is used up: the next request is served normally
				// (and, after effect, the node is not restarting: duration 0).
				wantRet(t, e.c.restart("cln-cmp00001"), 0)
				if got := e.sim.Restarts("cln-cmp00001"); got != wantRestarts+1 {
					t.Fatalf("Restarts = %d after retry", got)
				}
			})
		}
	}
}

// A client that gives up during a delay before effect leaves nothing behind;
// one that gives up during a delay after effect has restarted the node.
func TestFaultDelayClientGone(t *testing.T) {
	for _, after := range []bool{false, true} {
		done := make(chan string, 4)
		e := newEnv(t, Options{Logf: func(f string, a ...any) {
			if strings.HasPrefix(f, "%s %s") {
				done <- f
			}
		}})
		e.c.hc.Timeout = 50 * time.Millisecond
		e.sim.InjectFault(pathRestart, Fault{Delay: 5 * time.Second, AfterEffect: after})
		start := time.Now()
		if _, _, err := e.rawRestart("cln-cmp00002"); err == nil {
			t.Fatal("no timeout")
		}
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			t.Fatal("handler did not notice the client leaving")
		}
		if time.Since(start) > 3*time.Second {
			t.Fatal("delay not cut short")
		}
		want := 0
		if after {
			want = 1
		}
		if got := e.sim.Restarts("cln-cmp00002"); got != want {
			t.Fatalf("after=%v: Restarts = %d", after, got)
		}
		if log := e.sim.RequestLog(); log[0].HTTPStatus != 0 {
			t.Fatalf("%+v", log[0])
		}
	}
}

func TestFaultQueueing(t *testing.T) {
	e := newEnv(t, Options{})
	e.sim.InjectFault(pathOperation, Fault{RetCode: 5100, Count: 2})
	e.sim.InjectFault(pathOperation, Fault{RetCode: 5300})
	e.sim.InjectFault("", Fault{RetCode: 2500})
	e.sim.InjectFault("*", Fault{RetCode: 1400})
	for _, want := range []int{5100, 5100, 5300, 2500, 1400, 0} {
		wantRet(t, e.c.get(pathOperation, nil), want)
	}
	// Any-path faults reach other paths; path faults do not.
	e.sim.InjectFault(pathRestart, Fault{RetCode: 5000})
	e.sim.InjectFault("*", Fault{RetCode: 5100})
	wantRet(t, e.c.get(pathListNodes, url.Values{"cluster_id": {DemoClusterID}}), 5100)
	wantRet(t, e.c.get(pathListNodes, url.Values{"cluster_id": {DemoClusterID}}), 0)
	e.sim.ClearFaults()
	wantRet(t, e.c.restart("cln-cmp00001"), 0)
	if e.sim.Requests(pathOperation) != 6 || e.sim.Requests(pathListNodes) != 2 || e.sim.TotalRequests() != 9 {
		t.Fatal(e.sim.RequestCounts())
	}
	log := e.sim.RequestLog()
	if log[0].RetCode != 5100 || log[0].HTTPStatus != 200 {
		t.Fatalf("%+v", log[0])
	}
}

// Skip lets requests pass before the fault applies: here the second of three
// restarts loses its answer after the API acted, as the middle batch of a
// rolling restart would. A skipping fault holds its queue: the requests it
// lets pass get no fault, neither one queued behind it nor an any-path one.
func TestFaultSkip(t *testing.T) {
	e := newEnv(t, Options{})
	e.sim.InjectFault(pathRestart, Fault{Drop: true, AfterEffect: true, Skip: 1})
	wantRet(t, e.c.restart("cln-cmp00001"), 0)
	if _, _, err := e.rawRestart("cln-cmp00002"); err == nil {
		t.Fatal("the second restart was answered")
	}
	wantRet(t, e.c.restart("cln-cmp00003"), 0)
	for _, n := range []string{"cln-cmp00001", "cln-cmp00002", "cln-cmp00003"} {
		if got := e.sim.Restarts(n); got != 1 {
			t.Fatalf("Restarts(%s) = %d, want 1", n, got)
		}
	}
	if got := e.sim.Requests(pathRestart); got != 3 {
		t.Fatalf("%d restart requests", got)
	}
	// The dropped request's note is written once its handler returns, which
	// can be after the client saw the connection close: wait for it.
	log := e.sim.RequestLog()
	for deadline := time.Now().Add(2 * time.Second); log[1].Note == "" && time.Now().Before(deadline); log = e.sim.RequestLog() {
		time.Sleep(5 * time.Millisecond)
	}
	if log[0].Note != "" || !strings.Contains(log[1].Note, "dropped") || log[2].Note != "" {
		t.Fatalf("notes %q, %q, %q", log[0].Note, log[1].Note, log[2].Note)
	}

	e.sim.InjectFault(pathOperation, Fault{RetCode: 5100, Count: 2, Skip: 2})
	e.sim.InjectFault(pathOperation, Fault{RetCode: 5300})
	e.sim.InjectFault("*", Fault{RetCode: 2500})
	for _, want := range []int{0, 0, 5100, 5100, 5300, 2500, 0} {
		wantRet(t, e.c.get(pathOperation, nil), want)
	}
	// An any-path fault skips requests to any path; a negative Skip is none.
	e.sim.InjectFault("*", Fault{RetCode: 1400, Skip: 1})
	e.sim.InjectFault("*", Fault{RetCode: 5000, Skip: -3})
	wantRet(t, e.c.get(pathListNodes, url.Values{"cluster_id": {DemoClusterID}}), 0)
	wantRet(t, e.c.get(pathOperation, nil), 1400)
	wantRet(t, e.c.get(pathOperation, nil), 5000)
	wantRet(t, e.c.get(pathOperation, nil), 0)

	// ClearFaults drops a fault that is still skipping.
	e.sim.InjectFault(pathOperation, Fault{RetCode: 5100, Skip: 1})
	e.sim.ClearFaults()
	wantRet(t, e.c.get(pathOperation, nil), 0)
	wantRet(t, e.c.get(pathOperation, nil), 0)
}

// Faults on GET actions, and a fault with a bad signature: faults come before
// authentication, like a gateway in front of the API.
func TestFaultOnReadsAndUnsignedRequests(t *testing.T) {
	e := newEnv(t, Options{})
	e.sim.InjectFault(pathListNodes, Fault{Truncate: true, AfterEffect: true})
	_, b, err := e.c.send("GET", pathListNodes, e.c.rawQuery("GET", pathListNodes, url.Values{"cluster_id": {DemoClusterID}}, nil), nil)
	if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.HasPrefix(string(b), `{"action":"HpcClusterGetClusterNodesResponse"`) {
		t.Fatalf("%v %s", err, b)
	}
	e.sim.InjectFault(pathOperation, Fault{HTTPStatus: 504})
	resp, _, err := e.c.send("GET", pathOperation, "zone=jn1a", nil)
	if err != nil || resp.StatusCode != 504 {
		t.Fatal(err, resp)
	}
	e.sim.InjectFault(pathOperation, Fault{Drop: true})
	if _, _, err := e.c.send("GET", pathOperation, e.c.rawQuery("GET", pathOperation, nil, nil), nil); err == nil {
		t.Fatal("not dropped")
	}
	if e.sim.Requests(pathOperation) != 2 {
		t.Fatal(e.sim.RequestCounts())
	}
}
