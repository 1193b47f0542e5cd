package provider

// The shared test harness of this package: a simulator per test and the provider
// wired to it (testEnv), checks on what the simulator received, the provider's
// tfprotov6 server for protocol-level tests (protoServer), and the provider
// binary that CLI tests which need a real plugin build once (TestMain cleans it).
// The CLI driver itself is in cli_test.go.

import (
	"cmp"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
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
	optionsHook func(*options)
	// lease is how old a request's timestamp the simulator accepts: the
	// client settles a lost answer by it, so tests keep it short.
	lease time.Duration
}

// testLease is the simulator's timestamp validity in tests, unless a test's
// simulator has a clock of its own (ClockOffset): 60 s as documented would make
// a lost answer settle in over a minute. The client is told the same (options).
const testLease = 3 * time.Second

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
	if opts.TimestampValidity == 0 && opts.ClockOffset == 0 {
		opts.TimestampValidity = testLease
	}
	sim := ehpcsim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &testEnv{t: t, sim: sim, srv: srv, env: map[string]string{}, home: t.TempDir(), lease: cmp.Or(opts.TimestampValidity, time.Minute)}
}

// testSchedule polls fast so tests of jobs that take a fraction of a second stay
// quick; the production schedule is tested on its own in internal/jobwatch.
var testSchedule = jobwatch.Schedule{First: 20 * time.Millisecond, Factor: 1.5, Max: 250 * time.Millisecond}

// options are the provider's test knobs for e: fast polling and retries, and the
// environment and home directory of the test, never the process's own.
func (e *testEnv) options() options {
	o := options{
		PollSchedule: testSchedule,
		Getenv:       func(k string) string { return e.env[k] },
		HomeDir:      func() (string, error) { return e.home, nil },
		ClientConfig: func(c *ehpc.Config) {
			c.RetryBaseDelay = 5 * time.Millisecond
			c.RetryMaxDelay = 50 * time.Millisecond
			c.RequestTimeout = 5 * time.Second
			c.RequestValidity, c.ClockMargin, c.LogLag = e.lease, time.Second, time.Second
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
		"hpc": providerserver.NewProtocol6WithError(newWithOptions("test", e.options())()),
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

// actionType is the action's type name in protocol requests.
const actionType = "hpc_cluster_node_restart"

// protoProvider is the provider's protocol server plus its schemas, so tests can
// encode configurations the way Terraform does.
type protoProvider struct {
	t      *testing.T
	e      *testEnv
	srv    actionProviderServer
	schema *tfprotov6.GetProviderSchemaResponse
}

// protoServer builds the provider server for e with opts on top of the harness's
// test knobs (fast polling and retries, injected environment and home).
func (e *testEnv) protoServer(adjust func(*options)) *protoProvider {
	e.t.Helper()
	opts := e.options()
	if adjust != nil {
		adjust(&opts)
	}
	server, err := providerserver.NewProtocol6WithError(newWithOptions("test", opts)())()
	if err != nil {
		e.t.Fatal(err)
	}
	srv, ok := server.(actionProviderServer)
	if !ok {
		e.t.Fatalf("the provider server %T does not serve actions", server)
	}
	schema, err := srv.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, d := range schema.Diagnostics {
		e.t.Fatalf("schema diagnostic: %s: %s", d.Summary, d.Detail)
	}
	return &protoProvider{t: e.t, e: e, srv: srv, schema: schema}
}

// dynamic encodes vals as an object of typ; attributes not given are null, as
// Terraform sends unset optional arguments.
func dynamic(t *testing.T, typ tftypes.Type, vals map[string]tftypes.Value) *tfprotov6.DynamicValue {
	t.Helper()
	obj, ok := typ.(tftypes.Object)
	if !ok {
		t.Fatalf("schema type is %T, not an object", typ)
	}
	full := make(map[string]tftypes.Value, len(obj.AttributeTypes))
	for name, at := range obj.AttributeTypes {
		if v, ok := vals[name]; ok {
			full[name] = v
		} else {
			full[name] = tftypes.NewValue(at, nil)
		}
	}
	for name := range vals {
		if _, ok := obj.AttributeTypes[name]; !ok {
			t.Fatalf("attribute %q is not in the schema", name)
		}
	}
	dv, err := tfprotov6.NewDynamicValue(typ, tftypes.NewValue(typ, full))
	if err != nil {
		t.Fatal(err)
	}
	return &dv
}

// rollingType is the rolling argument's type on the wire.
var rollingType = tftypes.Object{AttributeTypes: map[string]tftypes.Type{"batch_size": tftypes.Number, "first_batch_size": tftypes.Number, "pause": tftypes.String}}

// rollingArg is a rolling argument without first_batch_size.
func rollingArg(size, pause tftypes.Value) tftypes.Value {
	return tftypes.NewValue(rollingType, map[string]tftypes.Value{"batch_size": size, "first_batch_size": tftypes.NewValue(tftypes.Number, nil), "pause": pause})
}

func str(s string) tftypes.Value { return tftypes.NewValue(tftypes.String, s) }
func num(n int64) tftypes.Value  { return tftypes.NewValue(tftypes.Number, n) }
func boolean(b bool) tftypes.Value {
	return tftypes.NewValue(tftypes.Bool, b)
}
func strSet(ids ...string) tftypes.Value {
	vals := make([]tftypes.Value, len(ids))
	for i, id := range ids {
		vals[i] = str(id)
	}
	return tftypes.NewValue(tftypes.Set{ElementType: tftypes.String}, vals)
}

// simProviderConfig is the provider block for the simulator with the demo key.
func (e *testEnv) simProviderConfig() map[string]tftypes.Value {
	return map[string]tftypes.Value{
		"endpoint":   str(e.srv.URL),
		"access_key": str(ehpcsim.DemoAccessKeyID),
		"secret_key": str(ehpcsim.DemoSecretKey),
		"zone":       str(ehpcsim.DemoZone),
	}
}

// configure sends ConfigureProvider and returns its diagnostics.
func (p *protoProvider) configure(vals map[string]tftypes.Value) []*tfprotov6.Diagnostic {
	p.t.Helper()
	resp, err := p.srv.ConfigureProvider(context.Background(), &tfprotov6.ConfigureProviderRequest{
		TerraformVersion: "1.14.0",
		Config:           dynamic(p.t, p.schema.Provider.ValueType(), vals),
	})
	if err != nil {
		p.t.Fatal(err)
	}
	return resp.Diagnostics
}

// mustConfigure configures the provider and fails the test on any error.
func (p *protoProvider) mustConfigure(vals map[string]tftypes.Value) *protoProvider {
	p.t.Helper()
	for _, d := range p.configure(vals) {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			p.t.Fatalf("ConfigureProvider: %s: %s", d.Summary, d.Detail)
		}
	}
	return p
}

func (p *protoProvider) actionConfig(vals map[string]tftypes.Value) *tfprotov6.DynamicValue {
	p.t.Helper()
	s, ok := p.schema.ActionSchemas[actionType]
	if !ok {
		p.t.Fatalf("GetProviderSchema does not list the action %s", actionType)
	}
	return dynamic(p.t, s.Schema.ValueType(), vals)
}

func (p *protoProvider) validate(vals map[string]tftypes.Value) []*tfprotov6.Diagnostic {
	p.t.Helper()
	resp, err := p.srv.ValidateActionConfig(context.Background(), &tfprotov6.ValidateActionConfigRequest{ActionType: actionType, Config: p.actionConfig(vals)})
	if err != nil {
		p.t.Fatal(err)
	}
	return resp.Diagnostics
}

func (p *protoProvider) plan(vals map[string]tftypes.Value) []*tfprotov6.Diagnostic {
	p.t.Helper()
	resp, err := p.srv.PlanAction(context.Background(), &tfprotov6.PlanActionRequest{ActionType: actionType, Config: p.actionConfig(vals)})
	if err != nil {
		p.t.Fatal(err)
	}
	return resp.Diagnostics
}

// invocation is what one InvokeAction streamed, in order.
type invocation struct {
	progress []string
	diags    []*tfprotov6.Diagnostic
	// completed counts completion events (must be exactly one, and last).
	completed int
	order     []string // "progress" / "completed", in arrival order
}

// invoke runs InvokeAction and reads every event. onProgress, if set, sees each
// progress message as it arrives (a test cancels ctx from it).
func (p *protoProvider) invoke(ctx context.Context, vals map[string]tftypes.Value, onProgress func(string)) invocation {
	p.t.Helper()
	stream, err := p.srv.InvokeAction(ctx, &tfprotov6.InvokeActionRequest{ActionType: actionType, Config: p.actionConfig(vals)})
	if err != nil {
		p.t.Fatal(err)
	}
	var inv invocation
	for ev := range stream.Events {
		switch e := ev.Type.(type) {
		case tfprotov6.ProgressInvokeActionEventType:
			inv.progress = append(inv.progress, e.Message)
			inv.order = append(inv.order, "progress")
			if onProgress != nil {
				onProgress(e.Message)
			}
		case tfprotov6.CompletedInvokeActionEventType:
			inv.diags = append(inv.diags, e.Diagnostics...)
			inv.completed++
			inv.order = append(inv.order, "completed")
		default:
			p.t.Fatalf("unexpected event type %T", ev.Type)
		}
	}
	if inv.completed != 1 || inv.order[len(inv.order)-1] != "completed" {
		p.t.Fatalf("events %v: want exactly one completion, last", inv.order)
	}
	return inv
}

// errorsOf renders error diagnostics as "Summary: Detail" lines.
func errorsOf(diags []*tfprotov6.Diagnostic) []string {
	var out []string
	for _, d := range diags {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			attr := ""
			if d.Attribute != nil {
				attr = " [" + d.Attribute.String() + "]"
			}
			out = append(out, d.Summary+attr+": "+d.Detail)
		}
	}
	return out
}

func expectNoErrors(t *testing.T, what string, diags []*tfprotov6.Diagnostic) {
	t.Helper()
	if errs := errorsOf(diags); len(errs) > 0 {
		t.Fatalf("%s: unexpected errors:\n%s", what, strings.Join(errs, "\n"))
	}
}

// expectOneError checks there is exactly one error diagnostic and that it matches.
func expectOneError(t *testing.T, what string, diags []*tfprotov6.Diagnostic, pattern string) string {
	t.Helper()
	errs := errorsOf(diags)
	if len(errs) != 1 {
		t.Fatalf("%s: want one error matching %q, got %d:\n%s", what, pattern, len(errs), strings.Join(errs, "\n"))
	}
	if !regexp.MustCompile(pattern).MatchString(errs[0]) {
		t.Fatalf("%s: error\n  %s\ndoes not match %q", what, errs[0], pattern)
	}
	return errs[0]
}

func actionArgs(extra map[string]tftypes.Value, nodes ...string) map[string]tftypes.Value {
	vals := map[string]tftypes.Value{
		"cluster_id": str(ehpcsim.DemoClusterID),
		"node_ids":   strSet(nodes...),
	}
	for k, v := range extra {
		vals[k] = v
	}
	return vals
}

// TestMain removes the provider binary that buildProviderBinary shares between
// tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if providerBin != "" {
		_ = os.RemoveAll(filepath.Dir(providerBin))
	}
	os.Exit(code)
}

var (
	providerBinOnce sync.Once
	providerBin     string
	providerBinErr  error
)

// buildProviderBinary builds the provider once per test run.
func buildProviderBinary(t *testing.T) string {
	t.Helper()
	providerBinOnce.Do(func() {
		// Not t.TempDir: the binary outlives the first test that asks for it.
		dir, err := os.MkdirTemp("", "hpc-provider-bin-") //nolint:usetesting
		if err != nil {
			providerBinErr = err
			return
		}
		providerBin = filepath.Join(dir, "terraform-provider-hpc")
		cmd := exec.Command("go", "build", "-o", providerBin, "github.com/qingcloud/terraform-provider-hpc")
		if out, err := cmd.CombinedOutput(); err != nil {
			providerBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if providerBinErr != nil {
		t.Fatal(providerBinErr)
	}
	return providerBin
}
