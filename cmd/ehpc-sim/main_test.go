package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer lets the test read what run writes from another goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunServesAndSummarises(t *testing.T) {
	dir := t.TempDir()
	addrFile := filepath.Join(dir, "addr")
	summaryFile := filepath.Join(dir, "summary.json")
	clusters := filepath.Join(dir, "clusters.json")
	if err := os.WriteFile(clusters, []byte(`{"clusters":[{"cluster_id":"ehpc-extra001","zone":"pek3","nodes":[{"node_id":"cln-extra001","name":"compute-1","role":"compute"}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-addr-file", addrFile, "-summary-file", summaryFile, "-clusters", clusters, "-job-duration", "1s"}, &stdout, &stderr)
	}()

	var endpoint string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(addrFile); err == nil {
			endpoint = string(b)
			break
		}
	}
	if !strings.HasPrefix(endpoint, "http://127.0.0.1:") {
		t.Fatalf("endpoint %q, stderr %s", endpoint, stderr.String())
	}
	for _, want := range []string{
		"endpoint: " + endpoint + "\n",
		"access_key: QYSIMULATORKEY0001\n",
		"secret_key: sim-secret-do-not-use-in-production\n",
		"zone: jn1a\n",
		"cluster: ehpc-8jqdq0mz (nodes cln-login001 cln-ctrl0001 cln-cmp00001 cln-cmp00002 cln-cmp00003 cln-cmp00004)\n",
		"cluster: ehpc-extra001 (zone pek3, nodes cln-extra001)\n",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}

	// An unsigned API request is refused (1200) but counted.
	resp, err := http.Get(endpoint + "/api/operation?zone=jn1a&signature=c2VjcmV0")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"ret_code":1200`) {
		t.Fatalf("%s", b)
	}
	if strings.Contains(stderr.String(), "c2VjcmV0") {
		t.Fatal("signature logged")
	}
	if !strings.Contains(stderr.String(), "GET /api/operation ret_code=1200 http=200") {
		t.Fatalf("no request log line: %s", stderr.String())
	}

	resp, err = http.Get(endpoint + "/_sim/summary")
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Requests map[string]int `json:"requests"`
		Restarts map[string]int `json:"restarts"`
		Jobs     []any          `json:"jobs"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&sum); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if sum.Requests["/api/operation"] != 1 || sum.Requests["/_sim/summary"] != 0 || sum.Jobs == nil {
		t.Fatalf("%+v", sum)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown")
	}
	if !strings.Contains(stdout.String(), "requests per path:\n  /api/operation: 1\nrestarts per node:\n  (none)\n") {
		t.Fatalf("summary:\n%s", stdout.String())
	}
	b, err = os.ReadFile(summaryFile)
	if err != nil || !strings.Contains(string(b), `"/api/operation": 1`) {
		t.Fatalf("%v %s", err, b)
	}
}

func TestRunRefusesBadSetups(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"clusters": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-listen", "0.0.0.0:0"}, "non-loopback"},
		{[]string{"-listen", ":8080"}, "non-loopback"},
		{[]string{"-listen", "192.168.1.5:80"}, "non-loopback"},
		{[]string{"-listen", "nonsense"}, "-listen"},
		{[]string{"-job-duration", "-1s"}, "negative"},
		{[]string{"-clusters", bad}, bad},
		{[]string{"extra"}, "unexpected"},
	} {
		var stdout, stderr syncBuffer
		if code := run(context.Background(), tc.args, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, stderr.String())
		}
	}
	for _, ok := range []string{"127.0.0.1:0", "[::1]:0", "localhost:0", "127.0.0.2:9"} {
		if err := checkLoopback(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

func TestUnkindFlags(t *testing.T) {
	var stderr syncBuffer
	cfg, err := parseFlags([]string{
		"-clock-offset", "-30s", "-oplog-lag", "5s", "-page-cap", "7", "-total-field", "none", "-queue-ids",
		"-latency", "/api/cluster/listNodes=8s", "-latency", "*=20ms,/api/operation=1s", "-late-effect", "2s",
		"-backend-clocks", "0s,0s,3s", "-oplog-outage", "30s+20s", "-oplog-outage", "2m+1s,0s+500ms",
	}, &stderr)
	if err != nil {
		t.Fatal(err, stderr.String())
	}
	o := cfg.options()
	if o.ClockOffset != -30*time.Second || o.OperationLogLag != 5*time.Second || o.PageCap != 7 || o.TotalField != "none" || !o.QueueIDs ||
		len(o.Latency) != 3 || o.Latency["/api/cluster/listNodes"] != 8*time.Second || o.Latency["*"] != 20*time.Millisecond ||
		o.Latency["/api/operation"] != time.Second || cfg.lateEffect != 2*time.Second || o.JobDuration != 3*time.Second {
		t.Fatalf("%+v %+v", o, cfg)
	}
	if fmt.Sprint(o.Backends) != "[0s 0s 3s]" || cfg.outages.String() != "30s+20s,2m0s+1s,0s+500ms" {
		t.Fatalf("%v %s", o.Backends, cfg.outages.String())
	}
	if u := cfg.unkindness(); !strings.Contains(u, "clock offset -30s") || !strings.Contains(u, "first restart dropped, processed 2s later") ||
		!strings.Contains(u, "3 backends with clocks 0s,0s,3s") || !strings.Contains(u, "operation log answers 502 from 30s to 50s after start") ||
		!strings.Contains(u, "operation log answers 502 from 2m0s to 2m1s after start") {
		t.Fatal(u)
	}
	defaults, err := parseFlags(nil, &stderr)
	if err != nil || defaults.unkindness() != "" || defaults.options().TotalField != "total_count" {
		t.Fatalf("%v %q", err, defaults.unkindness())
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-oplog-lag", "-1s"}, "-oplog-lag must not be negative"},
		{[]string{"-late-effect", "-2s"}, "-late-effect must not be negative"},
		{[]string{"-page-cap", "-1"}, "-page-cap must not be negative"},
		{[]string{"-total-field", "total"}, `-total-field "total"`},
		{[]string{"-latency", "/api/operation"}, "PATH=DURATION"},
		{[]string{"-latency", "api/operation=1s"}, "must start with /"},
		{[]string{"-latency", "*=-1s"}, "must not be negative"},
		{[]string{"-latency", "*=soon"}, "invalid duration"},
		{[]string{"-backend-clocks", "0s,soon"}, "invalid duration"},
		{[]string{"-backend-clocks", "0s,,3s"}, "one clock offset per backend"},
		{[]string{"-oplog-outage", "30s"}, "START+LENGTH"},
		{[]string{"-oplog-outage", "30s+soon"}, "invalid duration"},
		{[]string{"-oplog-outage", "-1s+20s"}, "the start must not be negative"},
		{[]string{"-oplog-outage", "30s+0s"}, "the length must be positive"},
	} {
		var stdout, stderr syncBuffer
		if code := run(context.Background(), tc.args, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, stderr.String())
		}
	}

	var usage syncBuffer
	if code := run(context.Background(), []string{"-h"}, &usage, &usage); code != 0 {
		t.Fatal(code)
	}
	for _, flag := range []string{"-clock-offset", "-oplog-lag", "-page-cap", "-total-field", "-queue-ids", "-latency PATH=DURATION", "-late-effect",
		"-backend-clocks OFFSETS", "-oplog-outage START+LENGTH"} {
		if !strings.Contains(usage.String(), "  "+flag) {
			t.Errorf("usage lacks %s:\n%s", flag, usage.String())
		}
	}
}

// End to end, with unsigned requests (answered 1200, which needs no key):
// Date shows the offset clock, answers wait for -latency, and the first
// restart request's connection is dropped by -late-effect.
func TestUnkindFlagsServe(t *testing.T) {
	addrFile := filepath.Join(t.TempDir(), "addr")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-addr-file", addrFile, "-clock-offset", "2h", "-latency", "/api/operation=300ms", "-late-effect", "100ms"}, &stdout, &stderr)
	}()
	var endpoint string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && endpoint == ""; time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(addrFile); err == nil {
			endpoint = string(b)
		}
	}
	if endpoint == "" {
		t.Fatal(stderr.String())
	}
	if !strings.Contains(stdout.String(), "unkind: clock offset 2h0m0s, latency /api/operation=300ms, first restart dropped, processed 100ms later\n") {
		t.Fatal(stdout.String())
	}

	start := time.Now()
	resp, err := http.Get(endpoint + "/api/operation?zone=jn1a")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if time.Since(start) < 300*time.Millisecond {
		t.Fatalf("answered after %s", time.Since(start))
	}
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil || time.Until(date) < 2*time.Hour-5*time.Second || time.Until(date) > 2*time.Hour+5*time.Second {
		t.Fatalf("Date %q: %v", resp.Header.Get("Date"), err)
	}

	if resp, err := http.Post(endpoint+restartPath+"?zone=jn1a", "application/json", strings.NewReader(`{}`)); err == nil {
		resp.Body.Close()
		t.Fatal("first restart request answered")
	}
	resp, err = http.Post(endpoint+restartPath+"?zone=jn1a", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal("second restart request not answered:", err)
	}
	resp.Body.Close()
	want := "late effect: POST " + restartPath + " processed 100ms after arrival: ret_code=1200"
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline) && !strings.Contains(stderr.String(), want); {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(stderr.String(), want) {
		t.Fatal(stderr.String())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatal(code, stderr.String())
	}
}

// End to end, with unsigned requests: answers take turns on the backends'
// clocks, and the operation log fails at its gateway during the outage that
// starts with the simulator, not during the one that starts an hour later.
func TestBackendAndOutageFlagsServe(t *testing.T) {
	addrFile := filepath.Join(t.TempDir(), "addr")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-addr-file", addrFile, "-backend-clocks", "0s,1h", "-oplog-outage", "1h+1h,0s+1500ms"}, &stdout, &stderr)
	}()
	var endpoint string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && endpoint == ""; time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(addrFile); err == nil {
			endpoint = string(b)
		}
	}
	if endpoint == "" {
		t.Fatal(stderr.String())
	}
	if !strings.Contains(stdout.String(), "unkind: 2 backends with clocks 0s,1h0m0s, operation log answers 502 from 1h0m0s to 2h0m0s after start, operation log answers 502 from 0s to 1.5s after start\n") {
		t.Fatal(stdout.String())
	}
	get := func(path string) (ahead time.Duration, status int, body string) {
		t.Helper()
		resp, err := http.Get(endpoint + path + "?zone=jn1a")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		date, err := http.ParseTime(resp.Header.Get("Date"))
		if err != nil {
			t.Fatalf("Date %q: %v", resp.Header.Get("Date"), err)
		}
		return time.Until(date).Round(time.Hour), resp.StatusCode, string(b)
	}

	// Request 0, backend 0: the log is down.
	if ahead, status, body := get("/api/operation"); ahead != 0 || status != http.StatusBadGateway || !strings.Contains(body, "nginx") {
		t.Fatalf("%s %d %s", ahead, status, body)
	}
	// Request 1, backend 1, an hour ahead; other paths are up.
	if ahead, status, body := get("/api/cluster/listNodes"); ahead != time.Hour || status != http.StatusOK || !strings.Contains(body, `"ret_code":1200`) {
		t.Fatalf("%s %d %s", ahead, status, body)
	}
	// The outage ends 1.5 s after start; the next one is an hour away.
	var body string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !strings.Contains(body, `"ret_code":1200`); time.Sleep(50 * time.Millisecond) {
		_, _, body = get("/api/operation")
	}
	if !strings.Contains(body, `"ret_code":1200`) {
		t.Fatal("the log never came back: ", body)
	}
	if !strings.Contains(stderr.String(), "GET /api/operation ret_code=0 http=502") || !strings.Contains(stderr.String(), "(operation log outage)") {
		t.Fatal(stderr.String())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatal(code, stderr.String())
	}
}
