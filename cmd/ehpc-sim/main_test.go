package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
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
		"-clock-offset", "-30s", "-oplog-lag", "5s", "-page-cap", "7", "-total-field", "none", "-queue-ids", "-node-churn", "4",
		"-latency", "/api/cluster/listNodes=8s", "-latency", "*=20ms,/api/operation=1s", "-late-effect", "2s",
		"-backend-clocks", "0s,0s,3s", "-oplog-outage", "30s+20s", "-oplog-outage", "2m+1s,0s+500ms",
	}, &stderr)
	if err != nil {
		t.Fatal(err, stderr.String())
	}
	o := cfg.options()
	if o.ClockOffset != -30*time.Second || o.OperationLogLag != 5*time.Second || o.PageCap != 7 || o.TotalField != "none" || !o.QueueIDs || o.NodeChurn != 4 ||
		len(o.Latency) != 3 || o.Latency["/api/cluster/listNodes"] != 8*time.Second || o.Latency["*"] != 20*time.Millisecond ||
		o.Latency["/api/operation"] != time.Second || cfg.lateEffect != 2*time.Second || o.JobDuration != 3*time.Second {
		t.Fatalf("%+v %+v", o, cfg)
	}
	if fmt.Sprint(o.Backends) != "[0s 0s 3s]" || cfg.outages.String() != "30s+20s,2m0s+1s,0s+500ms" {
		t.Fatalf("%v %s", o.Backends, cfg.outages.String())
	}
	if u := cfg.unkindness(); !strings.Contains(u, "clock offset -30s") || !strings.Contains(u, "first restart dropped, processed 2s later") ||
		!strings.Contains(u, "3 backends with clocks 0s,0s,3s") || !strings.Contains(u, "every 4 listNodes requests") || !strings.Contains(u, "operation log answers 502 from 30s to 50s after start") ||
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
		{[]string{"-node-churn", "-1"}, "-node-churn must not be negative"},
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
	for _, flag := range []string{"-clock-offset", "-oplog-lag", "-page-cap", "-total-field", "-queue-ids", "-node-churn N", "-latency PATH=DURATION", "-late-effect",
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

// startSim runs the simulator with args until the test ends, and returns its
// endpoint (read from -addr-file, as scripts do) and its output so far.
func startSim(t *testing.T, args ...string) (endpoint string, stdout *syncBuffer) {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), "addr")
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"-addr-file", addrFile}, args...), stdout, stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("exit %d: %s", code, stderr.String())
			}
		case <-time.After(10 * time.Second):
			t.Error("no shutdown")
		}
	})
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && endpoint == ""; time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(addrFile); err == nil {
			endpoint = string(b)
		}
	}
	if endpoint == "" {
		t.Fatalf("no endpoint; stdout %s, stderr %s", stdout.String(), stderr.String())
	}
	return endpoint, stdout
}

// providerEnv reads the provider's environment variable names from its source,
// so that the export lines cannot drift from what the provider reads.
func providerEnv(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join("..", "..", "internal", "provider", "provider.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if i >= len(vs.Values) {
				break
			}
			if lit, ok := vs.Values[i].(*ast.BasicLit); ok && strings.HasPrefix(name.Name, "env") && lit.Kind == token.STRING {
				env[name.Name], _ = strconv.Unquote(lit.Value)
			}
		}
		return false
	})
	return env
}

func TestExportBlock(t *testing.T) {
	env := providerEnv(t)
	for name, ours := range map[string]string{"envEndpoint": envEndpoint, "envAccessKey": envAccessKey, "envSecretKey": envSecretKey, "envZone": envZone} {
		if env[name] == "" || env[name] != ours {
			t.Errorf("internal/provider/provider.go has %s = %q, the simulator exports %q", name, env[name], ours)
		}
	}

	// -quiet silences the request log, not the block: the block is what a user
	// starts the simulator for.
	endpoint, stdout := startSim(t, "-quiet")
	if !strings.HasPrefix(endpoint, "http://127.0.0.1:") || strings.HasSuffix(endpoint, ":0") {
		t.Fatalf("endpoint %q", endpoint)
	}
	block := "\n# The provider reads these variables: paste them into the shell you run terraform in.\n" +
		"# The secret key is the public demo key of this simulator, accepted nowhere else.\n" +
		"export QINGCLOUD_HPC_ENDPOINT=" + endpoint + "\n" +
		"export QINGCLOUD_ACCESS_KEY=QYSIMULATORKEY0001\n" +
		"export QINGCLOUD_SECRET_KEY=sim-secret-do-not-use-in-production\n" +
		"export QINGCLOUD_ZONE=jn1a\n"
	if !strings.Contains(stdout.String(), block) {
		t.Fatalf("stdout lacks\n%s\nin\n%s", block, stdout.String())
	}
	// scripts/demo.sh shows the first six lines and reads the key lines.
	lines := strings.Split(stdout.String(), "\n")
	if lines[0] != "endpoint: "+endpoint || lines[1] != "access_key: QYSIMULATORKEY0001" || lines[2] != "secret_key: sim-secret-do-not-use-in-production" ||
		lines[5] != "summary: "+endpoint+"/_sim/summary" ||
		lines[6] != `try: cluster_id = "ehpc-8jqdq0mz", node_ids = ["cln-cmp00001", "cln-cmp00002"]` {
		t.Fatalf("banner:\n%s", stdout.String())
	}

	// The endpoint is the one bound: the simulator answers there.
	resp, err := http.Get(endpoint + "/_sim/summary")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	// A shell given the whole block, comments and all, ends up with the values.
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh:", err)
	}
	_, block, _ = strings.Cut(stdout.String(), "\n\n")
	out, err := exec.Command(sh, "-c", block+`printf '%s|%s|%s|%s' "$QINGCLOUD_HPC_ENDPOINT" "$QINGCLOUD_ACCESS_KEY" "$QINGCLOUD_SECRET_KEY" "$QINGCLOUD_ZONE"`).CombinedOutput()
	if want := endpoint + "|QYSIMULATORKEY0001|sim-secret-do-not-use-in-production|jn1a"; err != nil || string(out) != want {
		t.Fatalf("%v: %q, want %q", err, out, want)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080": "http://127.0.0.1:8080",
		"http://[::1]:8080":     "'http://[::1]:8080'",
		"it's":                  `'it'\''s'`,
		"":                      "''",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
		sh, err := exec.LookPath("sh")
		if err != nil {
			continue
		}
		if out, err := exec.Command(sh, "-c", "printf %s "+shellQuote(in)).Output(); err != nil || string(out) != in {
			t.Errorf("sh reads %s as %q (%v)", shellQuote(in), out, err)
		}
	}
}

// freePort is a loopback port nothing listens on, most likely still free when
// the test uses it.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestFixedPort(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "127.0.0.1:0"},
		{[]string{"-port", "8080"}, "127.0.0.1:8080"},
		{[]string{"-port", "0"}, "127.0.0.1:0"},
		{[]string{"-listen", "127.0.0.1:8080"}, "127.0.0.1:8080"},
		{[]string{"-listen", "[::1]:0", "-port", "8080"}, "[::1]:8080"},
		{[]string{"-listen", "localhost:8080", "-port", "8080"}, "localhost:8080"},
	} {
		var stderr syncBuffer
		cfg, err := parseFlags(tc.args, &stderr)
		if err != nil || cfg.listen != tc.want {
			t.Errorf("%v: listen %q, %v, want %q", tc.args, cfg.listen, err, tc.want)
		}
	}

	port := strconv.Itoa(freePort(t))
	endpoint, stdout := startSim(t, "-port", port)
	if endpoint != "http://127.0.0.1:"+port || !strings.Contains(stdout.String(), "\nexport QINGCLOUD_HPC_ENDPOINT=http://127.0.0.1:"+port+"\n") {
		t.Fatalf("endpoint %q for -port %s:\n%s", endpoint, port, stdout.String())
	}
	resp, err := http.Get("http://127.0.0.1:" + port + "/_sim/summary")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestTakenPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	for _, args := range [][]string{{"-port", port}, {"-listen", "127.0.0.1:" + port}} {
		var stdout, stderr syncBuffer
		code := run(context.Background(), args, &stdout, &stderr)
		if want := "ehpc-sim: port " + port + " on 127.0.0.1 is already in use (another ehpc-sim still running?): stop whatever holds it, or give another port with -port N, or -port 0 for a free one\n"; code != 1 || stderr.String() != want {
			t.Errorf("%v: exit %d, stderr %q, want %q", args, code, stderr.String(), want)
		}
		if stdout.String() != "" {
			t.Errorf("%v: printed %q", args, stdout.String())
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-port", "-1"}, "-port -1: a port is 1 to 65535 (0 picks a free one)"},
		{[]string{"-port", "65536"}, "-port 65536: a port is 1 to 65535"},
		{[]string{"-port", "http"}, `invalid value "http" for flag -port`},
		{[]string{"-listen", "127.0.0.1:9000", "-port", "8080"}, "-listen 127.0.0.1:9000 and -port 8080 name two ports: give the port once"},
		{[]string{"-listen", "0.0.0.0:0", "-port", "8080"}, "non-loopback"},
	} {
		var stdout, stderr syncBuffer
		if code := run(context.Background(), tc.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

func TestComputeNodes(t *testing.T) {
	var stderr syncBuffer
	cfg, err := parseFlags(nil, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.options().Clusters; len(got) != 1 || !reflect.DeepEqual(got[0], ehpcsim.DemoCluster()) {
		t.Fatalf("default demo cluster %+v, want ehpcsim.DemoCluster()", got)
	}

	for _, n := range []int{1, 4, 5, 250, maxComputeNodes} {
		cfg, err := parseFlags([]string{"-compute-nodes", strconv.Itoa(n)}, &stderr)
		if err != nil {
			t.Fatal(n, err)
		}
		c := cfg.options().Clusters[0]
		if c.ID != ehpcsim.DemoClusterID || c.Zone != ehpcsim.DemoZone || len(c.Nodes) != n+2 ||
			c.Nodes[0].Role != "login" || c.Nodes[1].Role != "controller" || c.Nodes[n+1].ID != fmt.Sprintf("cln-cmp%05d", n) {
			t.Fatalf("-compute-nodes %d: %d nodes, %+v ... %+v", n, len(c.Nodes), c.Nodes[0], c.Nodes[len(c.Nodes)-1])
		}
		demo := ehpcsim.DemoCluster().Nodes
		ids, ips := map[string]bool{}, map[string]bool{}
		for i, node := range c.Nodes {
			if i < len(demo) && node != demo[i] {
				t.Fatalf("-compute-nodes %d: node %d is %+v, not the demo cluster's %+v", n, i, node, demo[i])
			}
			if i >= 2 && (node.Role != "compute" || node.Status != "active") {
				t.Fatalf("-compute-nodes %d: %+v", n, node)
			}
			if ids[node.ID] || ips[node.PrivateIP] || net.ParseIP(node.PrivateIP) == nil {
				t.Fatalf("-compute-nodes %d: %+v repeats an id or address, or has none", n, node)
			}
			ids[node.ID], ips[node.PrivateIP] = true, true
		}
	}

	endpoint, stdout := startSim(t, "-compute-nodes", "40", "-quiet")
	for _, want := range []string{
		"cluster: ehpc-8jqdq0mz (42 nodes: cln-login001 cln-ctrl0001 cln-cmp00001 cln-cmp00002 ... cln-cmp00040)\n",
		`try: cluster_id = "ehpc-8jqdq0mz", node_ids = ["cln-cmp00001", "cln-cmp00002"]` + "\n",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	if !strings.Contains(stdout.String(), "export QINGCLOUD_HPC_ENDPOINT="+endpoint+"\n") {
		t.Fatal(stdout.String())
	}
	// The simulator the flags build serves them all.
	cfg, err = parseFlags([]string{"-compute-nodes", "40"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	sim, err := cfg.simulator(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if nodes := sim.Nodes(ehpcsim.DemoClusterID); len(nodes) != 42 || nodes[41].ID != "cln-cmp00040" {
		t.Fatalf("%d nodes", len(nodes))
	}

	dir := t.TempDir()
	replace := filepath.Join(dir, "replace.json")
	if err := os.WriteFile(replace, []byte(`{"clusters":[{"cluster_id":"ehpc-8jqdq0mz","zone":"jn1a","nodes":[{"node_id":"cln-own00001","role":"compute"}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-compute-nodes", "0"}, "-compute-nodes 0: the demo cluster takes 1 to 10000 compute nodes (default 4)"},
		{[]string{"-compute-nodes", "-3"}, "-compute-nodes -3: the demo cluster takes 1 to 10000 compute nodes"},
		{[]string{"-compute-nodes", "10001"}, "-compute-nodes 10001: the demo cluster takes 1 to 10000 compute nodes"},
		{[]string{"-compute-nodes", "many"}, `invalid value "many" for flag -compute-nodes`},
		{[]string{"-compute-nodes", "8", "-clusters", replace}, "-compute-nodes 8: the clusters file " + replace + " lists the demo cluster ehpc-8jqdq0mz itself"},
	} {
		var stdout, stderr syncBuffer
		if code := run(context.Background(), tc.args, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, stderr.String(), tc.want)
		}
	}

	// Without -compute-nodes, a clusters file may replace the demo cluster,
	// and the try line follows it.
	_, stdout = startSim(t, "-clusters", replace, "-quiet")
	if !strings.Contains(stdout.String(), "cluster: ehpc-8jqdq0mz (nodes cln-own00001)\n") ||
		!strings.Contains(stdout.String(), `try: cluster_id = "ehpc-8jqdq0mz", node_ids = ["cln-own00001"]`+"\n") {
		t.Fatal(stdout.String())
	}
}

func TestUsageNamesPortAndSize(t *testing.T) {
	var usage syncBuffer
	if code := run(context.Background(), []string{"-h"}, &usage, &usage); code != 0 {
		t.Fatal(code)
	}
	for _, want := range []string{"  -port N\n", "  -compute-nodes N\n", "  -listen host:port\n", "-port N fixes one", "(default 4)", "export lines"} {
		if !strings.Contains(usage.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, usage.String())
		}
	}
}

// The node-health flags: -boot-time and -flap-period reach the simulator,
// the fates reach the demo cluster's nodes, -no-health-check turns its check
// off, the banner says so, and a fate for a node the cluster lacks, or two
// fates for one node, are refused.
func TestNodeHealthFlags(t *testing.T) {
	var stderr syncBuffer
	cfg, err := parseFlags([]string{"-compute-nodes", "6", "-boot-time", "5s", "-flap-period", "30s", "-never-back", "cln-cmp00002",
		"-unhealthy", "cln-cmp00003,cln-cmp00006", "-flapping", "cln-cmp00004", "-no-health-check"}, &stderr)
	if err != nil {
		t.Fatal(err, stderr.String())
	}
	o := cfg.options()
	d := o.Clusters[0]
	fates := map[string]string{}
	for _, n := range d.Nodes {
		fates[n.ID] = n.AfterRestart
	}
	if o.BootTime != 5*time.Second || o.FlapPeriod != 30*time.Second || d.HealthCheck == nil || *d.HealthCheck ||
		fates["cln-cmp00002"] != ehpcsim.FateNeverBack || fates["cln-cmp00003"] != ehpcsim.FateUnhealthy || fates["cln-cmp00006"] != ehpcsim.FateUnhealthy ||
		fates["cln-cmp00004"] != ehpcsim.FateFlapping || fates["cln-cmp00001"] != "" || fates["cln-login001"] != "" {
		t.Fatalf("options %+v, fates %v", o, fates)
	}
	if u := cfg.unkindness(); !strings.Contains(u, "restarted nodes healthy 5s after their job") || !strings.Contains(u, "never back after a restart: cln-cmp00002") ||
		!strings.Contains(u, "unhealthy after a restart: cln-cmp00003,cln-cmp00006") || !strings.Contains(u, "no health check") {
		t.Fatal(u)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-never-back", "cln-cmp00009"}, "-never-back cln-cmp00009: no such node in the demo cluster"},
		{[]string{"-unhealthy", "cln-cmp00001", "-flapping", "cln-cmp00001"}, "node cln-cmp00001 is given two fates: unhealthy and flapping"},
		{[]string{"-boot-time", "-1s"}, "-boot-time must not be negative"},
	} {
		var stdout, stderr syncBuffer
		if code := run(context.Background(), tc.args, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, stderr.String())
		}
	}
}

// The clusters file is documented where its flag is: -h shows its fields and
// an example, and that example is a file the simulator loads, with the nodes
// it shows.
func TestUsageDocumentsClustersFile(t *testing.T) {
	var usage syncBuffer
	if code := run(context.Background(), []string{"-h"}, &usage, &usage); code != 0 {
		t.Fatal(code)
	}
	text := usage.String()
	for _, want := range []string{"-clusters file", "cluster_id", "zone", "health_check", "node_id", "status", "health_status", "after_restart", "never_back"} {
		if !strings.Contains(text, want) {
			t.Errorf("usage lacks %q:\n%s", want, text)
		}
	}
	start := strings.Index(text, `{"clusters": [{`)
	if start < 0 {
		t.Fatalf("usage shows no example clusters file:\n%s", text)
	}
	file := filepath.Join(t.TempDir(), "clusters.json")
	if err := os.WriteFile(file, []byte(text[start:]), 0o600); err != nil {
		t.Fatal(err)
	}
	sim := ehpcsim.New(ehpcsim.Options{})
	if err := sim.LoadClustersFile(file); err != nil {
		t.Fatalf("the example of -h does not load: %v", err)
	}
	var got []string
	for _, c := range sim.Clusters() {
		for _, n := range c.Nodes {
			got = append(got, c.ID+"/"+n.ID+"/"+n.Status)
		}
	}
	want := "ehpc-3fs8k2xb/cln-gpu00002/stopped"
	if !strings.Contains(strings.Join(got, " "), want) {
		t.Errorf("clusters after loading the example: %v, want %s among them", got, want)
	}
}
