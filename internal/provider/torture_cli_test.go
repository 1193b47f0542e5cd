package provider

// The torture test's scenarios replayed through the real Terraform CLI, in
// real time at a small scale, against the simulator on loopback: the model of
// Terraform in torture_test.go (state saved with an error, taint after a failed
// create, an update's error untainted, untaint and taint between applies) is
// checked against Terraform itself, and what the simulator did against the same
// invariants.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/torture"
)

// cliScale is how much faster than the documented bounds a CLI scenario runs:
// the lease, margins, lags, job lengths and gaps all shrink by it.
const cliScale = 0.05

// cliBounds draw scenarios for real time: every duration scaled, none longer
// than a few seconds.
var cliBounds = torture.Bounds{LogLag: torture.Production.LogLag, Skew: torture.Production.Skew, Step: torture.Production.Step,
	ClockMargin: scaled(torture.Production.ClockMargin), RequestValidity: scaled(torture.Production.RequestValidity), Scale: cliScale, Cap: 6 * time.Second}

func scaled(d time.Duration) time.Duration { return time.Duration(float64(d) * cliScale) }

// tortureCLISeeds are the seeds replayed through the CLI: the first of those
// make test runs on fake time, and more with TORTURE_CLI_SEEDS.
func tortureCLISeeds() int {
	n := 20
	if os.Getenv("TF_ACC_PROVIDER_HOST") != "" {
		n = 8 // OpenTofu's run repeats the check on a second CLI
	}
	return envInt("TORTURE_CLI_SEEDS", n)
}

// cliTortureAtOnce is how many scenarios run at once: they spend most of
// their time waiting on the simulator's (scaled) clock, not on the CPU, and
// -parallel would let two.
const cliTortureAtOnce = 6

func TestAccTortureCLI(t *testing.T) {
	terraformPath(t)
	n := tortureCLISeeds()
	results := make([]*cliTorture, n+1)
	errs := make([][]string, n+1)
	sem := make(chan struct{}, cliTortureAtOnce)
	var wg sync.WaitGroup
	for seed := 1; seed <= n; seed++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r := newCLITorture(t, torture.Generate(uint64(seed), cliBounds))
			for _, v := range r.run() {
				r.failures = append(r.failures, "VIOLATION "+v.String())
			}
			results[seed], errs[seed] = r, r.failures
		}()
	}
	wg.Wait()
	for seed := 1; seed <= n; seed++ {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
			r := results[seed]
			if len(errs[seed]) == 0 {
				return
			}
			t.Errorf("%s", strings.Join(errs[seed], "\n"))
			t.Logf("replay:\n%s", r.sc)
			for i, o := range r.obs {
				t.Logf("apply %d (%s): gen %d, tainted %v, state %v\n%s", i+1, o.Label, o.Gen, o.Tainted, o.State, indentText(o.Messages))
			}
		})
	}
}

// cliTorture is one scenario through the CLI.
type cliTorture struct {
	t        *testing.T
	sc       torture.Scenario
	e        *testEnv
	c        *cli
	clk      *steppingClock
	gen      int
	triggers int
	knobs
	obs []torture.Observation
	// outagesEnd is when the last log outage armed ends.
	outagesEnd time.Time
	// failures are what this scenario found, reported by its seed's subtest.
	failures []string
	// faults arms and disarms the simulator's faults, as the in-process run
	// does; not what only that run plays (its handler's other-tool-near
	// restarts, a scenario's start from an older release's record): the
	// CLI replay checks the model of Terraform, which those do not touch.
	faults *tortureRun
}

func newCLITorture(t *testing.T, sc torture.Scenario) *cliTorture {
	for i := range sc.Steps {
		// A kill is the in-process run's: there the provider's calls end
		// with the apply, as they do when a killed Terraform's connection
		// to its provider goes.
		sc.Steps[i].Kill = 0
	}
	lease := scaled(time.Minute)
	opts := simOptions(sc)
	opts.TimestampValidity = lease
	e := newTestEnv(t, opts)
	r := &cliTorture{t: t, sc: sc, e: e, clk: &steppingClock{}, knobs: newKnobs(sc), faults: &tortureRun{sim: e.sim, sc: sc}}
	e.adjustClient(func(c *ehpc.Config) {
		// The documented bounds, scaled as the scenario is.
		c.RequestValidity, c.LogLag, c.ClockMargin = lease, scaled(6*time.Second), cliBounds.ClockMargin
		c.RequestTimeout = scaled(30 * time.Second)
		c.Clock = r.clk
	})
	busyLog(e.sim, sc)
	r.c = e.newCLI(t)
	r.c.write(r.config())
	r.c.mustSucceed("init", "-input=false")
	return r
}

// config is the resource's configuration now.
func (r *cliTorture) config() string {
	var b strings.Builder
	ids := r.sc.NodeIDs()
	fmt.Fprintf(&b, "resource \"hpc_cluster_node_restart\" \"test\" {\n  cluster_id = %q\n  node_ids   = [\"%s\"]\n  triggers   = { n = %q }\n",
		torture.ClusterID, strings.Join(ids, `", "`), strconv.Itoa(r.triggers))
	if r.sc.NoWait {
		b.WriteString("  wait_for_completion = false\n")
	}
	if r.rolls() {
		if r.sc.Pause > 0 {
			fmt.Fprintf(&b, "  rolling = { batch_size = %d, pause = %q }\n", r.batchSize, r.sc.Pause.String())
		} else {
			fmt.Fprintf(&b, "  rolling = { batch_size = %d }\n", r.batchSize)
		}
	}
	if r.gateOff {
		b.WriteString("  health_gate = { enabled = false }\n")
	}
	if r.sc.CreateTimeout > 0 {
		fmt.Fprintf(&b, "  timeouts {\n    create = %q\n  }\n", r.sc.CreateTimeout.String())
	}
	b.WriteString("}\n")
	return r.e.providerBlock() + b.String()
}

func (r *cliTorture) run() []torture.Violation {
	for i, st := range r.sc.Steps {
		time.Sleep(st.Gap)
		r.arm(st)
		r.applyStep(fmt.Sprintf("step %d: %s", i+1, st.Action), st)
	}
	r.disarm()
	fixed := (&tortureRun{sim: r.e.sim, sc: r.sc}).repair()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && (r.pendingJobs() || r.e.sim.Now().Before(r.outagesEnd)); {
		time.Sleep(200 * time.Millisecond)
	}
	empty := r.planEmpty()
	for clean := 0; clean < r.sc.CleanApplies() && !empty; clean++ {
		r.applyStep(fmt.Sprintf("clean apply %d", clean+1), torture.Step{})
		empty = r.planEmpty()
	}
	time.Sleep(2 * scaled(90*time.Second)) // late requests run out
	v := torture.Check(r.e.sim.Jobs(), r.e.sim.RequestLog(), r.obs, cliBounds)
	v = append(v, torture.CheckGate(r.e.sim.Jobs(), r.e.sim.RequestLog(), r.obs, nodesModel(r.sc, fixed))...)
	v = append(v, torture.CheckPipeline(r.e.sim.Jobs(), r.e.sim.RequestLog(), r.obs, r.sc.NodeIDs(), r.sc.NoWait, nodesModel(r.sc, fixed))...)
	if !empty {
		v = append(v, torture.Violation{Invariant: "no stuck resource", Detail: fmt.Sprintf("with the faults gone, %d applies did not reach an empty plan", r.sc.CleanApplies())})
	}
	return v
}

func (r *cliTorture) arm(st torture.Step) {
	r.faults.arm(st)
	if r.faults.outagesEnd.After(r.outagesEnd) {
		r.outagesEnd = r.faults.outagesEnd
	}
}

func (r *cliTorture) disarm() { r.faults.disarm() }

func (r *cliTorture) pendingJobs() bool { return (&tortureRun{sim: r.e.sim}).pendingJobs() }

func (r *cliTorture) planEmpty() bool {
	out, code := r.c.run("plan", "-input=false", "-detailed-exitcode")
	if code == 1 {
		r.failures = append(r.failures, "plan failed:\n"+out)
	}
	return code == 0
}

// applyStep runs the user's action and one `terraform apply`, interrupted
// (SIGINT) when the step says, and checks that Terraform tainted the resource
// exactly when the model of torture_test.go says it does: after a create (or a
// replacement) whose resource ended in an error with a record saved.
func (r *cliTorture) applyStep(label string, st torture.Step) {
	userTaint := false
	switch st.Action {
	case torture.UntaintApply:
		r.c.run("untaint", restartAddr)
	case torture.TaintApply:
		st, tainted := r.c.stateResource()
		userTaint = st != nil && !tainted
		r.c.run("taint", restartAddr)
	case torture.TriggersApply:
		r.triggers++
	}
	r.edit(st)
	r.c.write(r.config())
	prior, wasTainted := r.c.stateResource()
	o := torture.Observation{Label: label, Gen: r.gen, FirstRequest: len(r.e.sim.RequestLog()), UserTaint: userTaint}
	if st.ClockStep != 0 {
		timer := time.AfterFunc(st.ClockStepAt, func() { r.clk.step(st.ClockStep) })
		defer timer.Stop()
	}
	out, code := r.apply(st.Interrupt)
	o.EndRequest, o.At, o.Failed = len(r.e.sim.RequestLog()), r.e.sim.Now(), code != 0
	created, destroyed := strings.Contains(out, "Creating..."), strings.Contains(out, "Destruction complete")
	// A new declared restart begins with the user's act: the first create,
	// new triggers, a replacement of a finished record; and when Terraform
	// halts (an interrupt) between a replacement's destroy and its create,
	// the record is gone, and the next create is a restart of its own. The
	// pipeline's replacement of a record it tainted continues the restart.
	switch {
	case created && prior == nil, destroyed && !created,
		destroyed && (triggersDiffer(prior, strconv.Itoa(r.triggers)) || torture.Finished(prior, r.gatedFor(r.sc, prior), r.sc.NoWait)):
		r.gen++
		o.Gen = r.gen
		r.recordMade()
	}
	state, tainted := r.c.stateResource()
	o.Gated = r.gatedFor(r.sc, state)
	resourceErred := regexp.MustCompile(`(?s)Error: [^\n]*\n\s*\n\s*with ` + regexp.QuoteMeta(restartAddr)).MatchString(out)
	if want := created && resourceErred && state != nil || !created && wasTainted && state != nil; tainted != want {
		r.failures = append(r.failures, fmt.Sprintf("MODEL %s: Terraform left the resource tainted=%v; the model says %v (created %v, the resource's error %v):\n%s",
			label, tainted, want, created, resourceErred, out))
	}
	o.State, o.Tainted, o.Messages = state, tainted, diagText(out)
	if state != nil {
		o.Private = r.c.statePrivate()
	}
	r.obs = append(r.obs, o)
	r.followCutAdvice(out)
}

// apply runs terraform apply, sending it Ctrl-C after interrupt when set, and
// returns its output and exit code.
func (r *cliTorture) apply(interrupt time.Duration) (string, int) {
	var out bytes.Buffer
	cmd := r.c.command("apply", "-auto-approve", "-input=false", "-no-color")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	if interrupt > 0 {
		timer := time.AfterFunc(interrupt, func() { _ = cmd.Process.Signal(os.Interrupt) })
		defer timer.Stop()
	}
	code := 0
	if err := cmd.Wait(); err != nil {
		exit, ok := err.(*exec.ExitError)
		if !ok {
			r.t.Fatal(err)
		}
		code = exit.ExitCode()
	}
	return out.String(), code
}
