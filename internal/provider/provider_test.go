package provider

import (
	"context"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
	"github.com/qingcloud/terraform-provider-hpc/internal/jobwatch"
)

// testEnv is one simulator on loopback and a provider factory wired to it. Each
// test gets its own, so tests run in parallel without sharing counters.
type testEnv struct {
	t   *testing.T
	sim *ehpcsim.Simulator
	srv *httptest.Server
	env map[string]string // the provider's environment: never the process's own
	// home is the provider's home directory (for ~/.qingcloud/config.yaml): an
	// empty temporary directory unless a test writes a config file into it, so
	// no test reads the real user's file.
	home string
	// clientConfig adjusts the API client (clock skew, retry pacing).
	clientConfig func(*ehpc.Config)
	// optionsHook adjusts the provider's test knobs after the harness's own.
	optionsHook func(*Options)
}

// adjustClient adds mod to the client adjustments, after those already set.
func (e *testEnv) adjustClient(mod func(*ehpc.Config)) {
	prev := e.clientConfig
	e.clientConfig = func(c *ehpc.Config) {
		if prev != nil {
			prev(c)
		}
		mod(c)
	}
}

func newTestEnv(t *testing.T, opts ehpcsim.Options) *testEnv {
	t.Helper()
	sim := ehpcsim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &testEnv{t: t, sim: sim, srv: srv, env: map[string]string{}, home: t.TempDir()}
}

// testSchedule polls fast so tests of jobs that take a fraction of a second stay
// quick; the production schedule is tested on its own in internal/jobwatch.
var testSchedule = jobwatch.Schedule{First: 20 * time.Millisecond, Factor: 1.5, Max: 250 * time.Millisecond}

// options are the provider's test knobs for e: fast polling and retries, and the
// environment and home directory of the test, never the process's own.
func (e *testEnv) options() Options {
	o := Options{
		PollSchedule: testSchedule,
		Getenv:       func(k string) string { return e.env[k] },
		HomeDir:      func() (string, error) { return e.home, nil },
		ClientConfig: func(c *ehpc.Config) {
			c.RetryBaseDelay = 5 * time.Millisecond
			c.RetryMaxDelay = 50 * time.Millisecond
			c.RequestTimeout = 5 * time.Second
			if e.clientConfig != nil {
				e.clientConfig(c)
			}
		},
	}
	if e.optionsHook != nil {
		e.optionsHook(&o)
	}
	return o
}

func (e *testEnv) factories() map[string]func() (tfprotov6.ProviderServer, error) {
	return map[string]func() (tfprotov6.ProviderServer, error){
		"hpc": providerserver.NewProtocol6WithError(NewWithOptions("test", e.options())()),
	}
}

// providerBlock configures the provider for the simulator with the demo key.
func (e *testEnv) providerBlock() string {
	return fmt.Sprintf(`
provider "hpc" {
  endpoint   = %q
  access_key = %q
  secret_key = %q
  zone       = %q
}
`, e.srv.URL, ehpcsim.DemoAccessKeyID, ehpcsim.DemoSecretKey, ehpcsim.DemoZone)
}

// simCheck is a state check that asserts on what the simulator received, so a
// step proves what the API saw, not only what state says.
type simCheck func() error

var (
	_ statecheck.StateCheck = simCheck(nil)
	// A plan check too: run before an apply, it proves what the plan (and every
	// step before it) sent.
	_ plancheck.PlanCheck = simCheck(nil)
)

func (f simCheck) CheckState(_ context.Context, _ statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	if err := f(); err != nil {
		resp.Error = err
	}
}

func (f simCheck) CheckPlan(_ context.Context, _ plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	if err := f(); err != nil {
		resp.Error = err
	}
}

// expectRequests returns a check that the simulator saw exactly these request
// counts per path (paths not listed must have none).
func (e *testEnv) expectRequests(want map[string]int) simCheck {
	return func() error {
		got := e.sim.RequestCounts()
		for path, n := range want {
			if got[path] != n {
				return fmt.Errorf("simulator saw %d requests to %s, want %d (all: %v)", got[path], path, n, got)
			}
		}
		for path, n := range got {
			if _, ok := want[path]; !ok && n > 0 {
				return fmt.Errorf("simulator saw %d unexpected requests to %s (all: %v)", n, path, got)
			}
		}
		return nil
	}
}

// expectRestarts checks how many restart jobs each node was part of.
func (e *testEnv) expectRestarts(want map[string]int) simCheck {
	return func() error {
		got := e.sim.RestartCounts()
		for node, n := range want {
			if got[node] != n {
				return fmt.Errorf("node %s restarted %d times, want %d (all: %v)", node, got[node], n, got)
			}
		}
		for node, n := range got {
			if _, ok := want[node]; !ok && n > 0 {
				return fmt.Errorf("node %s restarted %d times, want none (all: %v)", node, n, got)
			}
		}
		return nil
	}
}

// restartBodies returns the JSON bodies of every restart POST received.
func (e *testEnv) restartBodies() []string {
	var out []string
	for _, r := range e.sim.RequestLog() {
		if r.Method == "POST" && strings.Contains(r.Path, "/api/cluster/") {
			out = append(out, string(r.Body))
		}
	}
	return out
}

// snapshot records the request count now, for "no request since" checks.
func (e *testEnv) noRequestsSince(n *int) simCheck {
	return func() error {
		if got := e.sim.TotalRequests(); got != *n {
			return fmt.Errorf("simulator saw %d new requests, want none: %v", got-*n, e.sim.RequestCounts())
		}
		return nil
	}
}

func regex(s string) *regexp.Regexp { return regexp.MustCompile(s) }

func TestProviderSchemaIsValid(t *testing.T) {
	// A provider that fails GetProviderSchema breaks every command; check it
	// without the CLI so the failure is obvious.
	srv, err := providerserver.NewProtocol6WithError(New("test")())()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range resp.Diagnostics {
		t.Errorf("schema diagnostic: %s: %s", d.Summary, d.Detail)
	}
	if _, ok := resp.ResourceSchemas["hpc_cluster_node_restart"]; !ok {
		t.Fatalf("resource schema missing; have %v", resp.ResourceSchemas)
	}
}

func TestCheckEndpoint(t *testing.T) {
	ok := []string{"https://hpc-api.qingcloud.com", "https://hpc.api.qingcloud.com/", "http://127.0.0.1:8080", "http://127.9.9.9", "http://[::1]:9000", "http://localhost:1", "http://LOCALHOST", "https://10.0.0.1/prefix"}
	for _, e := range ok {
		if err := checkEndpoint(e); err != nil {
			t.Errorf("checkEndpoint(%q) = %v, want ok", e, err)
		}
	}
	bad := map[string]string{
		"http://hpc-api.qingcloud.com": "not a loopback host",
		"http://10.0.0.5:80":           "not a loopback host",
		"http://localhost.evil.com":    "not a loopback host",
		"ftp://127.0.0.1":              "use https://",
		"hpc-api.qingcloud.com":        "not an absolute URL",
		"https://u:p@host":             "credentials in the URL",
		"https://host/?a=b":            "query or fragment",
		"":                             "not an absolute URL",
	}
	for e, want := range bad {
		err := checkEndpoint(e)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("checkEndpoint(%q) = %v, want error containing %q", e, err, want)
		}
		if err != nil && strings.Contains(err.Error(), ":p@") {
			t.Errorf("checkEndpoint(%q) leaks the URL password: %v", e, err)
		}
	}
}

// Ensure the acceptance harness is exercised only with TF_ACC, as the testing
// framework requires, while unit tests above always run.
var _ = resource.TestCase{}
