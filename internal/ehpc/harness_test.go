package ehpc_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// The tests in this package run the client against the independent simulator
// (internal/ehpcsim) over loopback HTTP, and against a few tiny hand-written
// servers for responses the simulator does not produce.

const (
	simKey     = ehpcsim.DemoAccessKeyID
	simSecret  = ehpcsim.DemoSecretKey
	simZone    = ehpcsim.DemoZone
	simCluster = ehpcsim.DemoClusterID
)

// ret_codes the client only retries on, so it does not export them (API.md).
const (
	codeInternalError = 5000
	codeServerBusy    = 5100
)

// logRecorder is a Config.Logger that keeps every line.
type logRecorder struct {
	mu      sync.Mutex
	entries []map[string]any
}

func (l *logRecorder) log(_ context.Context, msg string, fields map[string]any) {
	cp := make(map[string]any, len(fields)+1)
	for k, v := range fields {
		cp[k] = v
	}
	cp["msg"] = msg
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, cp)
}

func (l *logRecorder) all() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]map[string]any(nil), l.entries...)
}

// text renders every field of every line, keys sorted, one line per entry.
func (l *logRecorder) text() string {
	var b strings.Builder
	for _, e := range l.all() {
		keys := make([]string, 0, len(e))
		for k := range e {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s=%v ", k, e[k])
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// sigRecorder remembers every signature that went over the wire, in every
// spelling a server might echo it back in.
type sigRecorder struct {
	mu   sync.Mutex
	seen []string
}

func (s *sigRecorder) record(rawQuery string) {
	for _, pair := range strings.Split(rawQuery, "&") {
		name, value, ok := strings.Cut(pair, "=")
		if !ok || name != "signature" || value == "" {
			continue
		}
		forms := []string{value}
		if once, err := url.QueryUnescape(value); err == nil {
			forms = append(forms, once)
			if twice, err := url.QueryUnescape(once); err == nil {
				forms = append(forms, twice)
			}
		}
		s.mu.Lock()
		s.seen = append(s.seen, forms...)
		s.mu.Unlock()
	}
}

func (s *sigRecorder) values() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

// harness is a simulator on loopback plus the recorders a test asserts on.
type harness struct {
	t    *testing.T
	sim  *ehpcsim.Simulator
	srv  *httptest.Server
	logs *logRecorder
	sigs *sigRecorder
	// lease is how old a timestamp the simulator accepts; the client is told
	// the same, so a lost answer settles in seconds.
	lease time.Duration
}

// testLease is the simulator's timestamp validity in these tests: long enough
// for a simulator clock that is off (ClockOffset), otherwise 2 s, so that a
// lost answer settles in seconds rather than the documented minute.
func testLease(offset time.Duration) time.Duration {
	return max(2*time.Second, offset+2*time.Second, -offset+2*time.Second)
}

// leaseOf tells the client the lease a lost answer settles by, with short
// margins.
func leaseOf(lease time.Duration) func(*ehpc.Config) {
	return func(c *ehpc.Config) {
		c.RequestValidity, c.ClockMargin, c.LogLag = lease, 500*time.Millisecond, 500*time.Millisecond
	}
}

func newHarness(t *testing.T, opts ehpcsim.Options) *harness {
	t.Helper()
	if opts.TimestampValidity == 0 {
		opts.TimestampValidity = testLease(opts.ClockOffset)
	}
	h := &harness{t: t, sim: ehpcsim.New(opts), logs: &logRecorder{}, sigs: &sigRecorder{}, lease: opts.TimestampValidity}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.sigs.record(r.URL.RawQuery)
		h.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// client returns a client for the harness's simulator, told its lease; mods
// adjust the config.
func (h *harness) client(mods ...func(*ehpc.Config)) *ehpc.Client {
	h.t.Helper()
	return newClient(h.t, h.srv.URL, h.logs, append([]func(*ehpc.Config){leaseOf(h.lease)}, mods...)...)
}

// noKeepAlive returns an http.Client that opens a new connection per request,
// so Go's transport never silently re-sends a request on a reused connection
// and the simulator's counts are exactly the client's attempts.
func noKeepAlive(t *testing.T) *http.Client {
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func baseConfig(t *testing.T, endpoint string, logs *logRecorder) ehpc.Config {
	cfg := ehpc.Config{
		Endpoint:       endpoint,
		AccessKeyID:    simKey,
		SecretKey:      simSecret,
		HTTPClient:     noKeepAlive(t),
		RequestTimeout: 10 * time.Second,
		MaxAttempts:    4,
		RetryBaseDelay: time.Millisecond,
		RetryMaxDelay:  10 * time.Millisecond,
		Jitter:         func() float64 { return 0.5 },
	}
	if logs != nil {
		cfg.Logger = logs.log
	}
	return cfg
}

func newClient(t *testing.T, endpoint string, logs *logRecorder, mods ...func(*ehpc.Config)) *ehpc.Client {
	t.Helper()
	cfg := baseConfig(t, endpoint, logs)
	for _, m := range mods {
		m(&cfg)
	}
	c, err := ehpc.New(cfg)
	if err != nil {
		t.Fatalf("ehpc.New: %v", err)
	}
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// bigCluster is a cluster of n nodes: node 0 is the login node, every tenth
// other node is stopped.
func bigCluster(id string, n int) ehpcsim.Cluster {
	c := ehpcsim.Cluster{ID: id, Zone: simZone}
	for i := 0; i < n; i++ {
		node := ehpcsim.Node{
			ID:         fmt.Sprintf("cln-big%05d", i),
			Name:       fmt.Sprintf("node-%03d", i),
			Role:       "compute",
			Status:     "active",
			PrivateIP:  fmt.Sprintf("10.20.%d.%d", i/250, i%250+1),
			InstanceID: fmt.Sprintf("i-big%05d", i),
		}
		if i == 0 {
			node.Role = "login"
		} else if i%10 == 0 {
			node.Status = "stopped"
		}
		c.Nodes = append(c.Nodes, node)
	}
	return c
}

// assertNoSecrets fails if text holds the secret key, a signature value that
// went over the wire, or a "signature=" parameter that is not redacted.
func assertNoSecrets(t *testing.T, what, text string, sigs []string) {
	t.Helper()
	if strings.Contains(text, simSecret) {
		t.Errorf("%s contains the secret key:\n%s", what, text)
	}
	for _, s := range sigs {
		if len(s) >= 16 && strings.Contains(text, s) {
			t.Errorf("%s contains signature %q:\n%s", what, s, text)
		}
	}
	rest := text
	for {
		i := strings.Index(strings.ToLower(rest), "signature=")
		if i < 0 {
			break
		}
		rest = rest[i+len("signature="):]
		if !strings.HasPrefix(rest, "[REDACTED]") {
			end := min(len(rest), 40)
			t.Errorf("%s has an unredacted signature= value %q", what, rest[:end])
		}
	}
}
