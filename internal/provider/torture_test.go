package provider

// The torture test (issue #18): randomized scenarios of internal/torture run
// through the provider's protocol server as Terraform drives it, on fake time
// (testing/synctest), each checked against what the simulator did. tfModel is
// the part of Terraform that matters here: state saved as JSON between
// commands and upgraded on load, a fresh provider instance for the plan and
// another for the apply, replacement of a tainted resource, taint on a failed
// create, an update's state saved with its error, and an interrupt as the
// apply's context ending. The CLI replay (torture_cli_test.go) checks this
// model against Terraform itself.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
	"github.com/qingcloud/terraform-provider-hpc/internal/memnet"
	"github.com/qingcloud/terraform-provider-hpc/internal/torture"
)

const restartType = "hpc_cluster_node_restart"

// steppingClock is this machine's clock as the provider reads it: fake time,
// moved by the steps a scenario draws. Timers are not moved (a step changes
// the wall clock, not how long a wait lasts), so only what the provider reads
// from Now, its timestamps and the times it computes and compares, sees steps.
type steppingClock struct{ off atomic.Int64 }

func (c *steppingClock) Now() time.Time                         { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *steppingClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (c *steppingClock) step(d time.Duration)                   { c.off.Add(int64(d)) }

// tortureRun is one scenario's world: the simulator on an in-memory network,
// this machine's clock, and Terraform's state of the one resource.
type tortureRun struct {
	t   *testing.T
	sc  torture.Scenario
	sim *ehpcsim.Simulator
	net *memnet.Network
	clk *steppingClock

	state   []byte // the resource's state as Terraform stores it (JSON); nil when not in state
	private []byte
	tainted bool
	gen     int
	// triggers is the triggers value; knobs the settings the user edits.
	triggers int
	knobs

	obs []torture.Observation
	// outagesEnd is when the last log outage armed ends.
	outagesEnd time.Time
	// others are the step's restarts by another tool, still to come; near,
	// those armed on the step's restart requests, which sent counts (mu
	// guards the three: the server's goroutines read them).
	mu     sync.Mutex
	others []*time.Timer
	near   []torture.Fault
	sent   int

	// share, when set, is the provider instance of the command this run's
	// resource is applied in together with others (torture_shared_test.go);
	// twin tells the resource's triggers apart from theirs.
	share *sharedProvider
	twin  string
}

// serve is the simulator's handler, watching restart requests for the
// step's other-tool-near faults: another tool restarts exactly the nodes of
// the step's Skip+1-th restart request (other-tool-next: of the batch after
// it), Delay after it reached the API.
func (r *tortureRun) serve(w http.ResponseWriter, req *http.Request) {
	if req.Method == http.MethodPost && (req.URL.Path == ehpc.PathRestartNodes || req.URL.Path == ehpc.PathRestartNodesAlias) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		var sent struct {
			NodeIDs []string `json:"node_ids"`
		}
		_ = json.Unmarshal(body, &sent)
		r.mu.Lock()
		for _, f := range r.near {
			nodes := sent.NodeIDs
			if f.Kind == torture.OtherToolNext {
				nodes = nil
				if b := r.sc.BatchOf(sent.NodeIDs); b >= 0 && r.sc.BatchSize > 0 {
					nodes = r.sc.BatchNodes(b + 1)
				}
			}
			if f.Skip == r.sent && len(nodes) > 0 {
				r.others = append(r.others, time.AfterFunc(f.Delay, func() { r.sim.RestartByAnotherTool(torture.ClusterID, nodes) }))
			}
		}
		r.sent++
		r.mu.Unlock()
	}
	r.sim.ServeHTTP(w, req)
}

func tortureCluster(sc torture.Scenario) ehpcsim.Cluster {
	c := ehpcsim.Cluster{ID: torture.ClusterID, Zone: ehpcsim.DemoZone}
	if sc.NoHealthCheck {
		off := false
		c.HealthCheck = &off
	}
	for i, id := range sc.NodeIDs() {
		c.Nodes = append(c.Nodes, ehpcsim.Node{ID: id, Name: fmt.Sprintf("compute-%d", i+1), Role: "compute", Status: "active"})
		if i+1 == sc.NeverBack {
			c.Nodes[i].AfterRestart = ehpcsim.FateNeverBack
		}
	}
	return c
}

// nodesModel is the checker's account of sc's nodes, fixed at fixed.
func nodesModel(sc torture.Scenario, fixed time.Time) torture.NodesModel {
	// A booting node reports a transition, so the boot is waited for with the
	// health check off too.
	m := torture.NodesModel{BootTime: sc.BootTime, Fixed: fixed}
	if sc.NeverBack > 0 {
		m.NeverBack = sc.NodeIDs()[sc.NeverBack-1]
	}
	return m
}

// repair brings back the node that never came back, once the faults are
// gone: it is back as soon as its boot after its last restart ended. It
// returns when, on the simulator's clock.
func (r *tortureRun) repair() time.Time {
	if r.sc.NeverBack > 0 {
		r.sim.SetNodeFate(torture.ClusterID, r.sc.NodeIDs()[r.sc.NeverBack-1], ehpcsim.FateBack)
	}
	return r.sim.Now()
}

// simOptions are the simulator of scenario sc: its cluster and its unkind sides.
func simOptions(sc torture.Scenario) ehpcsim.Options {
	return ehpcsim.Options{
		Clusters:        []ehpcsim.Cluster{tortureCluster(sc)},
		JobDuration:     sc.JobDuration,
		OperationLogLag: sc.LogLag,
		PageCap:         sc.PageCap,
		TotalField:      sc.TotalField,
		QueueIDs:        sc.QueueIDs,
		Backends:        sc.Backends,
		BootTime:        sc.BootTime,
		NodeChurn:       sc.NodeChurn,
		NodeChurnSeed:   sc.Seed,
	}
}

// runTorture runs sc in a synctest bubble and returns the broken invariants,
// with the observations for the report.
func runTorture(t *testing.T, sc torture.Scenario) (violations []torture.Violation, obs []torture.Observation) {
	synctest.Test(t, func(t *testing.T) {
		sim := ehpcsim.New(simOptions(sc))
		r := &tortureRun{t: t, sc: sc, sim: sim, net: memnet.New(), clk: &steppingClock{}, knobs: newKnobs(sc)}
		srv := &http.Server{Handler: http.HandlerFunc(r.serve)}
		go func() { _ = srv.Serve(r.net) }()
		if sc.Legacy != nil {
			sim.AddPastRestart(torture.ClusterID, sc.BatchNodes(sc.Legacy.Lost), sim.Now().Add(-sc.Legacy.Before), sc.JobDuration)
		}
		busyLog(sim, sc)
		if sc.Legacy != nil {
			r.legacyStart()
		}
		for i, st := range sc.Steps {
			time.Sleep(st.Gap)
			r.arm(st)
			r.applyStep(fmt.Sprintf("step %d: %s", i+1, st.Action), st)
		}
		r.disarm()
		fixed := r.repair()
		// The faults are gone once the jobs they slowed have ended too: a node
		// still restarting refuses a new restart, as it should.
		for i := 0; i < 200 && (r.pendingJobs() || r.sim.Now().Before(r.outagesEnd)); i++ {
			time.Sleep(time.Minute)
		}
		clean, empty := 0, r.planEmpty()
		for ; clean < sc.CleanApplies() && !empty; clean++ {
			time.Sleep(time.Minute)
			r.applyStep(fmt.Sprintf("clean apply %d", clean+1), torture.Step{})
			empty = r.planEmpty()
		}
		// Let every job and every late request run out before judging.
		time.Sleep(3 * time.Hour)
		violations = torture.Check(sim.Jobs(), sim.RequestLog(), r.obs, torture.Production)
		violations = append(violations, torture.CheckGate(sim.Jobs(), sim.RequestLog(), r.obs, nodesModel(sc, fixed))...)
		violations = append(violations, torture.CheckPipeline(sim.Jobs(), sim.RequestLog(), r.obs, sc.NodeIDs(), sc.NoWait, nodesModel(sc, fixed))...)
		violations = append(violations, torture.CheckWeathered(sc, r.obs)...)
		if !empty {
			violations = append(violations, torture.Violation{Invariant: "no stuck resource",
				Detail: fmt.Sprintf("with the faults gone, %d applies did not reach an empty plan; state %s (tainted %v)", clean, r.state, r.tainted)})
		}
		obs = r.obs
		r.net.Close()
		_ = srv.Close()
	})
	return violations, obs
}

// arm sets the step's faults on the simulator, replacing what an earlier step
// left unused.
func (r *tortureRun) arm(st torture.Step) {
	r.disarm()
	if r.sc.NodesFail > 0 {
		r.sim.InjectFault(ehpc.PathListNodes, ehpcsim.Fault{HTTPStatus: http.StatusBadGateway, Count: r.sc.NodesFail})
	}
	for _, f := range st.Faults {
		restart := func(sf ehpcsim.Fault) {
			sf.Skip = f.Skip
			r.sim.InjectFault(ehpc.PathRestartNodes, sf)
		}
		switch f.Kind {
		case torture.LostBefore:
			restart(ehpcsim.Fault{Drop: true})
		case torture.LostAfter:
			restart(ehpcsim.Fault{Drop: true, AfterEffect: true})
		case torture.LostLate:
			restart(ehpcsim.Fault{Drop: true, LateEffect: f.Delay})
		case torture.GatewayBefore:
			restart(ehpcsim.Fault{HTTPStatus: http.StatusBadGateway})
		case torture.GatewayAfter:
			restart(ehpcsim.Fault{HTTPStatus: http.StatusBadGateway, AfterEffect: true})
		case torture.InternalAfter:
			restart(ehpcsim.Fault{RetCode: 5000, AfterEffect: true})
		case torture.TruncatedAfter:
			restart(ehpcsim.Fault{Truncate: true, AfterEffect: true})
		case torture.SlowAfter:
			restart(ehpcsim.Fault{Delay: f.Delay, AfterEffect: true})
		case torture.Busy:
			restart(ehpcsim.Fault{RetCode: 5100, Count: f.Count})
		case torture.LogOutage:
			from := r.sim.Now().Add(f.Delay)
			r.sim.LogOutage(from, from.Add(f.Length))
			if end := from.Add(f.Length); end.After(r.outagesEnd) {
				r.outagesEnd = end
			}
		case torture.LogNoList:
			r.sim.InjectFault(ehpc.PathOperations, ehpcsim.Fault{Skip: f.Skip, Count: f.Count,
				Body: `{"action":"HpcOperationListOperationResponse","ret_code":0,"total_count":0}`})
		case torture.JobFails:
			r.sim.FailJobsAfter(f.Skip, 1)
		case torture.JobsSlow:
			r.sim.SetJobDuration(f.Length)
		case torture.LogLagBeyond:
			r.sim.SetOperationLogLag(f.Length)
		case torture.Refused1400, torture.Refused2100:
			code := map[torture.FaultKind]int{torture.Refused1400: 1400, torture.Refused2100: 2100}[f.Kind]
			restart(ehpcsim.Fault{RetCode: code, Count: f.Count})
		case torture.OtherTool:
			nodes := r.sc.BatchNodes(f.Skip)
			r.mu.Lock()
			r.others = append(r.others, time.AfterFunc(f.Delay, func() { r.sim.RestartByAnotherTool(torture.ClusterID, nodes) }))
			r.mu.Unlock()
		case torture.OtherToolNear, torture.OtherToolNext:
			r.mu.Lock()
			r.near = append(r.near, f)
			r.mu.Unlock()
		}
	}
}

// busyLog puts sc.BusyLog restarts of nodes outside the scenario's in the
// log before its first step, a second apart, the newest just before it.
func busyLog(sim *ehpcsim.Simulator, sc torture.Scenario) {
	now := sim.Now()
	for i := range sc.BusyLog {
		sim.AddPastRestart(torture.ClusterID, []string{fmt.Sprintf("cln-other%03d", i%50)}, now.Add(-time.Duration(sc.BusyLog-i)*time.Second), time.Second)
	}
}

func (r *tortureRun) disarm() {
	r.mu.Lock()
	for _, t := range r.others {
		t.Stop() // another tool's restart comes in its own step, or not at all
	}
	r.others, r.near, r.sent = nil, nil, 0
	r.mu.Unlock()
	r.sim.SetJobDuration(r.sc.JobDuration)
	r.sim.SetOperationLogLag(r.sc.LogLag)
	r.sim.ClearFaults()
	r.sim.FailJobsAfter(0, 0)
	r.sim.HangNextJobs(0)
	r.sim.FailNextJobs(0)
}

// legacyStart plays the older release of sc.Legacy before the first step:
// through a client of its own, it sends the batches before the lost one,
// each once the one before succeeded and its nodes are back (a release before
// the gate: once it succeeded), then the lost
// one, whose answer is dropped (after the API processed it, or before), and
// it spends two minutes, as that release did, failing to settle it (past the
// request's lease: the record says nothing of when it was sent, and is read
// as sent long ago). The record it leaves is legacyState's; its requests and
// jobs are the first declared restart's, checked like any apply's.
func (r *tortureRun) legacyStart() {
	sc, l := r.sc, r.sc.Legacy
	c, err := ehpc.New(ehpc.Config{Endpoint: "http://127.0.0.1:80", AccessKeyID: ehpcsim.DemoAccessKeyID, SecretKey: ehpcsim.DemoSecretKey,
		HTTPClient: r.net.Client(), Clock: r.clk, MaxAttempts: 1})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx := context.Background()
	o := torture.Observation{Label: "an older release's apply", Gen: 1, Failed: true, FirstRequest: len(r.sim.RequestLog())}
	var jobs []string
	for i := range l.Lost {
		res, err := c.RestartNodes(ctx, ehpcsim.DemoZone, torture.ClusterID, sc.BatchNodes(i))
		if err != nil {
			r.t.Fatalf("the older release's batch %d: %v", i+1, err)
		}
		jobs = append(jobs, res.JobID)
		boot := sc.BootTime + time.Second
		if l.NoGate {
			boot = 0 // the release sent the next batch once the job succeeded
		}
		for {
			j, _ := r.sim.Job(res.JobID)
			if !j.Ended.IsZero() && r.sim.Now().After(j.Ended.Add(boot)) {
				break
			}
			time.Sleep(time.Second)
		}
	}
	r.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, AfterEffect: l.Processed})
	if _, err := c.RestartNodes(ctx, ehpcsim.DemoZone, torture.ClusterID, sc.BatchNodes(l.Lost)); err == nil {
		r.t.Fatal("the older release's lost request was answered")
	}
	r.sim.ClearFaults()
	time.Sleep(2 * time.Minute)
	r.state, r.tainted, r.gen = legacyState(r.t, sc, jobs), l.Tainted, 1
	o.EndRequest, o.At = len(r.sim.RequestLog()), r.sim.Now()
	o.State, o.Tainted, o.Gated = r.stateMap(), r.tainted, r.gated() && !l.NoGate
	o.Messages = fmt.Sprintf("Error: the answer of batch %d's restart request was lost, and the operation log could not be read", l.Lost+1)
	r.obs = append(r.obs, o)
}

// legacyState is the record of sc's rolling restart that an older release
// left (as internal/provider/testdata/upgrade/unfinished/dev-100760a-unknown
// has it: a batch is its job id, nodes and status, nothing more): jobs are
// the batches that succeeded, the next one is unknown, and the rest were
// never sent. Its arguments are those the scenario configures, so the plan
// reads it as the same restart.
func legacyState(t *testing.T, sc torture.Scenario, jobs []string) []byte {
	var batches []any
	for i := 0; len(sc.BatchNodes(i)) > 0; i++ {
		b := map[string]any{"job_id": nil, "node_ids": sc.BatchNodes(i), "status": "not_sent"}
		switch {
		case i < len(jobs):
			b["job_id"], b["status"] = jobs[i], "successful"
		case i == len(jobs):
			b["status"] = "unknown"
		}
		batches = append(batches, b)
	}
	var pause, timeouts any
	if sc.Pause > 0 {
		pause = sc.Pause.String()
	}
	if sc.CreateTimeout > 0 {
		timeouts = map[string]any{"create": sc.CreateTimeout.String()}
	}
	state := map[string]any{
		"batches": batches, "cluster_id": torture.ClusterID, "id": jobs[0], "job_id": jobs[len(jobs)-1], "node_ids": sc.NodeIDs(),
		"ret_code": 0, "rolling": map[string]any{"batch_size": sc.BatchSize, "pause": pause}, "status": "pending",
		"timeouts": timeouts, "triggers": map[string]any{"n": "0"}, "wait_for_completion": true, "zone": ehpcsim.DemoZone,
	}
	b, err := json.Marshal(state)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pendingJobs reports whether a job of the scenario still runs, or is yet to
// be made by a request the API processes late (torture seed 1799005484: a
// killed apply's request processed 51 s after it arrived restarted the node
// through both clean applies, which the API then rightly refused).
func (r *tortureRun) pendingJobs() bool {
	if r.sim.LateInFlight() > 0 {
		return true
	}
	for _, j := range r.sim.Jobs() {
		if j.Status == ehpc.JobPending {
			return true
		}
	}
	return false
}

// tfProvider is one provider instance, as Terraform starts one per command
// phase.
type tfProvider struct {
	r      *tortureRun
	srv    tfprotov6.ProviderServer
	typ    tftypes.Object
	schema *tfprotov6.Schema
	msgs   *strings.Builder
}

func (r *tortureRun) newProvider(msgs *strings.Builder) *tfProvider {
	if r.share != nil {
		return r.share.provider(r, msgs)
	}
	return r.startProvider(msgs)
}

// startProvider starts and configures a provider instance.
func (r *tortureRun) startProvider(msgs *strings.Builder) *tfProvider {
	t := r.t
	opts := options{
		Getenv:  func(string) string { return "" },
		HomeDir: func() (string, error) { return t.TempDir(), nil },
		ClientConfig: func(c *ehpc.Config) {
			c.HTTPClient = r.net.Client()
			c.Clock = r.clk
		},
	}
	srv, err := providerserver.NewProtocol6WithError(newWithOptions("torture", opts)())()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sch, err := srv.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	rs := sch.ResourceSchemas[restartType]
	typ, _ := rs.ValueType().(tftypes.Object)
	p := &tfProvider{r: r, srv: srv, typ: typ, schema: rs, msgs: msgs}
	cfg := map[string]tftypes.Value{
		"endpoint": str("http://127.0.0.1:80"), "access_key": str(ehpcsim.DemoAccessKeyID),
		"secret_key": str(ehpcsim.DemoSecretKey), "zone": str(ehpcsim.DemoZone),
	}
	resp, err := srv.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{
		TerraformVersion: "1.8.5", Config: dynamic(t, sch.Provider.ValueType(), cfg),
	})
	if err != nil {
		t.Fatal(err)
	}
	p.note(resp.Diagnostics)
	return p
}

func (p *tfProvider) note(diags []*tfprotov6.Diagnostic) bool {
	failed := false
	for _, d := range diags {
		sev := "Warning"
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			sev, failed = "Error", true
		}
		fmt.Fprintf(p.msgs, "%s: %s: %s\n", sev, d.Summary, d.Detail)
	}
	return failed
}

// config is the resource's configuration now.
func (p *tfProvider) config() tftypes.Value {
	sc := p.r.sc
	ids := sc.NodeIDs()
	vals := map[string]tftypes.Value{
		"cluster_id": str(torture.ClusterID),
		"node_ids":   strSet(ids...),
		"triggers":   tftypes.NewValue(tftypes.Map{ElementType: tftypes.String}, map[string]tftypes.Value{"n": str(p.r.twin + strconv.Itoa(p.r.triggers))}),
	}
	if sc.NoWait {
		vals["wait_for_completion"] = boolean(false)
	}
	if p.r.rolls() {
		pause := tftypes.NewValue(tftypes.String, nil)
		if sc.Pause > 0 {
			pause = str(sc.Pause.String())
		}
		vals["rolling"] = rollingArg(num(int64(p.r.batchSize)), pause)
	}
	if p.r.gateOff {
		gate, _ := p.typ.AttributeTypes["health_gate"].(tftypes.Object)
		vals["health_gate"] = tftypes.NewValue(gate, map[string]tftypes.Value{
			"enabled": boolean(false), "min_healthy_time": tftypes.NewValue(tftypes.String, nil), "healthy_deadline": tftypes.NewValue(tftypes.String, nil),
		})
	}
	if sc.CreateTimeout > 0 {
		vals["timeouts"] = tftypes.NewValue(p.typ.AttributeTypes["timeouts"], map[string]tftypes.Value{"create": str(sc.CreateTimeout.String())})
	}
	full := map[string]tftypes.Value{}
	for name, at := range p.typ.AttributeTypes {
		if v, ok := vals[name]; ok {
			full[name] = v
		} else {
			full[name] = tftypes.NewValue(at, nil)
		}
	}
	return tftypes.NewValue(p.typ, full)
}

// proposed is Terraform's proposed new state: the configuration, with the
// prior state's value where the configuration leaves a computed attribute
// unset.
func (p *tfProvider) proposed(prior, config tftypes.Value) tftypes.Value {
	if prior.IsNull() {
		return config
	}
	var pv, cv map[string]tftypes.Value
	_ = prior.As(&pv)
	_ = config.As(&cv)
	out := map[string]tftypes.Value{}
	for _, a := range p.schema.Block.Attributes {
		out[a.Name] = cv[a.Name]
		if cv[a.Name].IsNull() && a.Computed {
			out[a.Name] = pv[a.Name]
		}
	}
	for _, b := range p.schema.Block.BlockTypes {
		out[b.TypeName] = cv[b.TypeName]
	}
	return tftypes.NewValue(p.typ, out)
}

func (p *tfProvider) dv(v tftypes.Value) *tfprotov6.DynamicValue {
	d, err := tfprotov6.NewDynamicValue(p.typ, v)
	if err != nil {
		p.r.t.Fatal(err)
	}
	return &d
}

func (p *tfProvider) value(d *tfprotov6.DynamicValue) tftypes.Value {
	if d == nil {
		return tftypes.NewValue(p.typ, nil)
	}
	v, err := d.Unmarshal(p.typ)
	if err != nil {
		p.r.t.Fatal(err)
	}
	return v
}

// load reads the stored state through UpgradeResourceState, as Terraform does
// on every command; null when there is none.
func (p *tfProvider) load() tftypes.Value {
	if p.r.state == nil {
		return tftypes.NewValue(p.typ, nil)
	}
	resp, err := p.srv.UpgradeResourceState(context.Background(), &tfprotov6.UpgradeResourceStateRequest{
		TypeName: restartType, Version: 0, RawState: &tfprotov6.RawState{JSON: p.r.state},
	})
	if err != nil {
		p.r.t.Fatal(err)
	}
	if p.note(resp.Diagnostics) {
		p.r.t.Fatalf("UpgradeResourceState failed on %s", p.r.state)
	}
	return p.value(resp.UpgradedState)
}

func (p *tfProvider) plan(prior, config tftypes.Value, priorPrivate []byte) (tftypes.Value, []byte, bool, bool) {
	resp, err := p.srv.PlanResourceChange(context.Background(), &tfprotov6.PlanResourceChangeRequest{
		TypeName: restartType, PriorState: p.dv(prior), ProposedNewState: p.dv(p.proposed(prior, config)), Config: p.dv(config), PriorPrivate: priorPrivate,
	})
	if err != nil {
		p.r.t.Fatal(err)
	}
	failed := p.note(resp.Diagnostics)
	return p.value(resp.PlannedState), resp.PlannedPrivate, len(resp.RequiresReplace) > 0, failed
}

// applyChange runs ApplyResourceChange, turning a panic into an observation.
func (p *tfProvider) applyChange(ctx context.Context, prior, planned, config tftypes.Value, private []byte) (newState tftypes.Value, newPrivate []byte, failed bool, panicked string) {
	defer func() {
		if x := recover(); x != nil {
			panicked = fmt.Sprint(x)
			failed = true
		}
	}()
	resp, err := p.srv.ApplyResourceChange(ctx, &tfprotov6.ApplyResourceChangeRequest{
		TypeName: restartType, PriorState: p.dv(prior), PlannedState: p.dv(planned), Config: p.dv(config), PlannedPrivate: private,
	})
	if err != nil {
		p.r.t.Fatal(err)
	}
	return p.value(resp.NewState), resp.Private, p.note(resp.Diagnostics), ""
}

type planAction int

const (
	noop planAction = iota
	create
	update
	replace
)

// planStep is what `terraform plan` decides, with a fresh provider instance,
// passing private state as Terraform does: the refresh (of a tainted record
// too) reads the stored private state and may change it (refreshed); a
// tainted record is planned as a new object with none; a replacement for
// changed arguments is planned with what the update's plan left; and the
// change's planned private state is what both halves of a replacement get
// (the destroy included), never the record's own.
func (r *tortureRun) planStep(msgs *strings.Builder) (act planAction, prior, planned, config tftypes.Value, private, refreshed []byte, failed bool) {
	p := r.newProvider(msgs)
	prior = p.load()
	config = p.config()
	if resp, err := p.srv.ValidateResourceConfig(context.Background(), &tfprotov6.ValidateResourceConfigRequest{TypeName: restartType, Config: p.dv(config)}); err != nil {
		r.t.Fatal(err)
	} else if p.note(resp.Diagnostics) {
		return noop, prior, prior, config, nil, r.private, true
	}
	refreshed = r.private
	if !prior.IsNull() {
		resp, err := p.srv.ReadResource(context.Background(), &tfprotov6.ReadResourceRequest{TypeName: restartType, CurrentState: p.dv(prior), Private: r.private})
		if err != nil {
			r.t.Fatal(err)
		}
		if p.note(resp.Diagnostics) {
			return noop, prior, prior, config, nil, r.private, true
		}
		prior, refreshed = p.value(resp.NewState), resp.Private
	}
	null := tftypes.NewValue(p.typ, nil)
	if prior.IsNull() || r.tainted {
		planned, private, _, failed = p.plan(null, config, nil)
		if prior.IsNull() {
			return create, prior, planned, config, private, refreshed, failed
		}
		return replace, prior, planned, config, private, refreshed, failed
	}
	planned, private, replaces, failed := p.plan(prior, config, refreshed)
	switch {
	case failed:
		return noop, prior, planned, config, private, refreshed, true
	case replaces:
		planned, private, _, failed = p.plan(null, config, private)
		return replace, prior, planned, config, private, refreshed, failed
	case planned.Equal(prior):
		return noop, prior, planned, config, private, refreshed, false
	}
	return update, prior, planned, config, private, refreshed, false
}

// planEmpty reports whether a plan now would change nothing.
func (r *tortureRun) planEmpty() bool {
	var msgs strings.Builder
	act, _, _, _, _, _, failed := r.planStep(&msgs)
	return act == noop && !failed && !r.tainted
}

// applyStep runs the user's action and one `terraform apply`, and records what
// it left.
func (r *tortureRun) applyStep(label string, st torture.Step) {
	userTaint := false
	switch st.Action {
	case torture.UntaintApply:
		r.tainted = false
	case torture.TaintApply:
		userTaint = r.state != nil && !r.tainted
		r.tainted = r.state != nil
	case torture.TriggersApply:
		r.triggers++
	}
	r.edit(st)
	o := torture.Observation{Label: label, Gen: r.gen, FirstRequest: len(r.sim.RequestLog()), UserTaint: userTaint}
	// What a kill leaves: the state as the user's commands before the apply
	// left it, refresh included (Terraform saves nothing of a killed apply).
	saved := struct {
		state, private []byte
		tainted        bool
		gen            int
	}{r.state, r.private, r.tainted, r.gen}
	killed := false
	var msgs strings.Builder
	act, prior, planned, config, private, refreshed, failed := r.planStep(&msgs)
	o.Failed = failed
	if !failed && !prior.IsNull() {
		// The apply saves the refreshed record, whatever happens next.
		r.state, r.private = stateJSON(r.t, prior), refreshed
	}
	if !failed && act != noop {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if st.Interrupt > 0 {
			timer := time.AfterFunc(st.Interrupt, cancel)
			defer timer.Stop()
		}
		if st.ClockStep != 0 {
			timer := time.AfterFunc(st.ClockStepAt, func() { r.clk.step(st.ClockStep) })
			defer timer.Stop()
		}
		var kill *time.Timer
		if st.Kill > 0 {
			// The provider's calls end as its gRPC connection goes; what the
			// API does with a request already on the wire is its own affair.
			kill = time.AfterFunc(st.Kill, cancel)
		}
		p := r.newProvider(&msgs)
		// From here on, one client (the apply's provider instance) makes
		// every request, unless resources share it.
		o.ApplyFirst, o.OneClient = len(r.sim.RequestLog()), r.share == nil
		null := tftypes.NewValue(p.typ, nil)
		// A new declared restart begins only with the user's act: the first
		// create, new triggers, or a replacement of a finished record. The
		// pipeline's replacement of a record Terraform tainted continues it.
		newGen := act == create
		if act == replace {
			newGen = r.triggersChanged() || torture.Finished(r.stateMap(), r.gated(), r.sc.NoWait)
			// Destroy first (it calls no API), then create anew.
			if _, _, bad, pn := p.applyChange(ctx, prior, null, null, private); bad {
				o.Panic = pn
			}
			r.state, r.private, r.tainted = nil, nil, false
			prior = null
		}
		if newGen {
			r.gen++
			o.Gen = r.gen
			r.recordMade()
		}
		newState, newPrivate, bad, pn := p.applyChange(ctx, prior, planned, config, private)
		killed = kill != nil && !kill.Stop()
		o.Panic += pn
		o.Failed = bad
		if !newState.IsNull() {
			r.state, r.private = stateJSON(r.t, newState), newPrivate
			// Terraform taints what a failed create left; a failed update keeps
			// its state untainted.
			r.tainted = act != update && bad
		} else if act != update {
			r.state, r.private = nil, nil
		}
	}
	if killed {
		// Nothing of the apply is saved, and the user sees no message: the
		// pipeline's log ends with the runner. Except a replacement's destroy,
		// done before its create: Terraform's local state hook writes the
		// state after each resource instance's change, so the record is gone.
		if act == replace {
			saved.state, saved.private, saved.tainted = nil, nil, false
		}
		// The declared restart is again the one that state holds (new
		// triggers make a new one on the next apply again); the apply's
		// observation keeps the one it ran.
		r.state, r.private, r.tainted, r.gen = saved.state, saved.private, saved.tainted, saved.gen
		o.Failed, o.Killed = true, true
		msgs.Reset()
	}
	o.EndRequest, o.At = len(r.sim.RequestLog()), r.sim.Now()
	o.Messages, o.Tainted, o.State = msgs.String(), r.tainted, r.stateMap()
	if o.State != nil {
		o.Private = r.private
	}
	o.Gated = r.gated() // the run's own: its configuration, and the record it ran
	r.obs = append(r.obs, o)
	r.followCutAdvice(o.Messages)
}

// triggersChanged reports whether the configuration's triggers differ from
// the record's: the user's new triggers, this step's or a killed apply's.
func (r *tortureRun) triggersChanged() bool {
	return triggersDiffer(r.stateMap(), r.twin+strconv.Itoa(r.triggers))
}

// triggersDiffer reports whether a record in state was made for other
// triggers than want (the configuration's n): replacing it is a new declared
// restart, the user's act, whichever step it was made in.
func triggersDiffer(state map[string]any, want string) bool {
	tr, _ := state["triggers"].(map[string]any)
	return tr["n"] != want
}

// stateMap is the resource's attributes in state; nil when not in state.
func (r *tortureRun) stateMap() map[string]any {
	var m map[string]any
	if r.state != nil {
		_ = json.Unmarshal(r.state, &m)
	}
	return m
}

// gated reports whether the health gate is on now: it is with rolling, or
// for a recorded rollout of several batches (which is taken up as one), unless
// not waiting.
func (r *tortureRun) gated() bool { return r.gatedFor(r.sc, r.stateMap()) }

// stateJSON writes v as Terraform's state file holds a resource's attributes.
func stateJSON(t *testing.T, v tftypes.Value) []byte {
	b, err := json.Marshal(goValue(v))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goValue turns a known value into plain Go: objects and maps as maps, lists
// and sets as slices, numbers as json.Number.
func goValue(v tftypes.Value) any {
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	switch typ := v.Type().(type) {
	case tftypes.Object:
		var m map[string]tftypes.Value
		_ = v.As(&m)
		out := map[string]any{}
		for k := range typ.AttributeTypes {
			out[k] = goValue(m[k])
		}
		return out
	case tftypes.Map:
		var m map[string]tftypes.Value
		_ = v.As(&m)
		out := map[string]any{}
		for k, e := range m {
			out[k] = goValue(e)
		}
		return out
	case tftypes.List, tftypes.Set, tftypes.Tuple:
		var l []tftypes.Value
		_ = v.As(&l)
		out := make([]any, len(l))
		for i, e := range l {
			out[i] = goValue(e)
		}
		return out
	}
	switch {
	case v.Type().Is(tftypes.String):
		var s string
		_ = v.As(&s)
		return s
	case v.Type().Is(tftypes.Bool):
		var b bool
		_ = v.As(&b)
		return b
	case v.Type().Is(tftypes.Number):
		var f big.Float
		_ = v.As(&f)
		return json.Number(f.Text('f', -1))
	}
	return nil
}

// tortureSeeds is how many seeds make test runs, in a run of its own without
// the race detector (which makes each seed about four times slower); under the
// race detector, the package's tests run tortureRaceSeeds of them, so the
// provider's concurrency is raced on fault paths too. TORTURE_SEEDS sets it.
const (
	tortureSeeds     = 500
	tortureRaceSeeds = 60
)

// TestTorture runs a fixed set of seeds (TORTURE_SEEDS, from TORTURE_FIRST)
// and, with TORTURE_TIME, new seeds until that much time has passed (make
// torture). A failing seed is shrunk to a minimal replay.
func TestTorture(t *testing.T) {
	n, first := envInt("TORTURE_SEEDS", tortureSeeds), envInt("TORTURE_FIRST", 1)
	if raceEnabled && os.Getenv("TORTURE_SEEDS") == "" {
		n = tortureRaceSeeds
	}
	deadline := time.Time{}
	if d, err := time.ParseDuration(os.Getenv("TORTURE_TIME")); err == nil && d > 0 {
		deadline = time.Now().Add(d)
		n = 1 << 30
	}
	failed, seed, kills := 0, first, 0
	defer func() {
		t.Logf("ran %d seeds (%d..%d), %d failed; %d applies killed while they ran", seed-first, first, seed-1, failed, kills)
	}()
	for ; seed < first+n; seed++ {
		if !deadline.IsZero() && time.Now().After(deadline) {
			break
		}
		sc := torture.Generate(uint64(seed), torture.Production)
		v, obs := runTorture(t, sc)
		for _, o := range obs {
			if o.Killed {
				kills++
			}
		}
		if survey := os.Getenv("TORTURE_SURVEY"); len(v) > 0 && survey != "" {
			// A survey lists every failing seed's first violation, unshrunk;
			// "first" stops at the first (a mutant is killed by one seed).
			failed++
			t.Errorf("seed %d: %s", seed, firstLine(v[0].String(), 300))
			if survey == "first" {
				seed++
				break
			}
			continue
		}
		if len(v) > 0 {
			failed++
			t.Errorf("%s", tortureReport(t, sc, v))
			if failed >= 3 {
				t.Fatal("stopping after 3 failing seeds")
			}
		}
	}
}

// tortureReport shrinks a failing scenario, keeping the invariant its first
// violation broke, and words the smallest replay with its violations.
func tortureReport(t *testing.T, sc torture.Scenario, v []torture.Violation) string {
	small, sv := sc, v
	breaks := func(vs []torture.Violation) bool {
		return slices.ContainsFunc(vs, func(x torture.Violation) bool { return x.Invariant == v[0].Invariant })
	}
	for changed := true; changed; {
		changed = false
		for _, s := range small.Shrink() {
			if v2, _ := runTorture(t, s); breaks(v2) {
				small, sv, changed = s, v2, true
				break
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d breaks the invariants; smallest replay:\n%s", sc.Seed, small)
	_, obs := runTorture(t, small)
	for i, o := range obs {
		fmt.Fprintf(&b, "  apply %d (%s): gen %d, tainted %v, state %v\n%s\n", i+1, o.Label, o.Gen, o.Tainted, o.State, indentText(o.Messages))
	}
	for _, x := range sv {
		fmt.Fprintf(&b, "  VIOLATION %s\n", x)
	}
	return b.String()
}

func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
}

func indentText(s string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	return "      " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n      ")
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// knobs are the settings the user edits between applies: rolling on or off,
// its batch size, and the health gate turned off; and the cut (rolling and
// batch size) the current declared restart's record was made with.
type knobs struct {
	rolling   bool
	batchSize int
	gateOff   bool
	made      struct {
		rolling   bool
		batchSize int
	}
}

func newKnobs(sc torture.Scenario) knobs {
	k := knobs{rolling: sc.BatchSize > 0, batchSize: sc.BatchSize}
	k.recordMade()
	return k
}

// edit is the user's edit of step st, before its apply.
func (k *knobs) edit(st torture.Step) {
	switch st.Action {
	case torture.ToggleRolling:
		k.rolling = !k.rolling
	case torture.EditBatchSize:
		k.batchSize = st.BatchSize
	case torture.ToggleGate:
		k.gateOff = !k.gateOff
	}
}

// recordMade notes the cut of a new declared restart's record: a tainted
// record's replacement continues it with that cut.
func (k *knobs) recordMade() { k.made.rolling, k.made.batchSize = k.rolling, k.batchSize }

// rolls reports whether the configuration sets rolling.
func (k knobs) rolls() bool { return k.rolling && k.batchSize > 0 }

// followCutAdvice is the user reading the error of a replacement that would
// continue a rollout cut differently from the configuration (Rollout Cut
// Differently: rolling or its batch size changed while the record was
// tainted): it says to set them back, and they do, before the next apply.
func (k *knobs) followCutAdvice(messages string) {
	if strings.Contains(messages, "Rollout Cut Differently") {
		k.rolling, k.batchSize = k.made.rolling, k.made.batchSize
	}
}

// gatedFor reports whether the health gate is on for an apply of state with
// these settings: with rolling, or for a recorded rollout of several batches
// (taken up as one), unless not waiting or turned off.
func (k knobs) gatedFor(sc torture.Scenario, state map[string]any) bool {
	return !sc.NoWait && !k.gateOff && (k.rolls() || len(torture.Batches(state, nil)) > 1)
}
