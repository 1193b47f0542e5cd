package provider

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
	"github.com/qingcloud/terraform-provider-hpc/internal/memnet"
	"github.com/qingcloud/terraform-provider-hpc/internal/torture"
)

// sharedProvider is the provider instance of each phase of a command that
// applies several resources: Terraform starts one for the plan and one for
// the apply, and every resource of the configuration goes through it, in
// parallel. The nth instance a run asks for is the command's nth.
type sharedProvider struct {
	mu    sync.Mutex
	calls map[*tortureRun]int
	srvs  []*tfProvider
}

func newSharedProvider() *sharedProvider { return &sharedProvider{calls: map[*tortureRun]int{}} }

func (s *sharedProvider) provider(r *tortureRun, msgs *strings.Builder) *tfProvider {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.calls[r]
	s.calls[r]++
	for len(s.srvs) <= i {
		s.srvs = append(s.srvs, r.startProvider(&strings.Builder{}))
	}
	p := *s.srvs[i]
	p.r, p.msgs = r, msgs
	return &p
}

// tortureSharedSeeds is how many seeds make test runs of TestTortureShared.
const tortureSharedSeeds = 150

// TestTortureShared draws the torture's scenarios for two resources of the
// same nodes (their triggers told apart) in one configuration: each step
// applies both in parallel through one provider instance, as Terraform
// does, under the step's faults; then, with the faults gone, clean applies
// of one resource after the other in one command (as depends_on would order
// them: two restarts of the same nodes at once refuse each other, 1400). In
// a third of the steps the action of the same nodes runs in the same
// command too, through the same instances. Checked by torture.CheckShared
// from what the simulator did. TORTURE_SHARED_SEEDS
// sets the count, TORTURE_FIRST the first seed.
func TestTortureShared(t *testing.T) {
	n, first := envInt("TORTURE_SHARED_SEEDS", tortureSharedSeeds), envInt("TORTURE_FIRST", 1)
	if raceEnabled && os.Getenv("TORTURE_SHARED_SEEDS") == "" {
		n = tortureRaceSeeds / 2
	}
	failed, invoked, claimedOK := 0, 0, 0
	for seed := first; seed < first+n; seed++ {
		sc := torture.Generate(uint64(seed), torture.Production)
		v, runs, acts := runShared(t, sc)
		for _, a := range acts {
			invoked++
			if !a.Failed && len(a.Claimed()) > 0 {
				claimedOK++
			}
		}
		if len(v) == 0 {
			continue
		}
		failed++
		var b strings.Builder
		fmt.Fprintf(&b, "seed %d breaks the invariants of two resources in one provider:\n%s", seed, sc)
		for ri, obs := range runs {
			for i, o := range obs {
				fmt.Fprintf(&b, "  resource %d apply %d (%s): gen %d, failed %v, tainted %v, state %v\n%s\n", ri+1, i+1, o.Label, o.Gen, o.Failed, o.Tainted, o.State, indentText(o.Messages))
			}
		}
		for _, a := range acts {
			fmt.Fprintf(&b, "  action in command %d: failed %v\n%s\n", a.Step+1, a.Failed, indentText(a.Messages))
		}
		for _, x := range v {
			fmt.Fprintf(&b, "  VIOLATION %s\n", x)
		}
		t.Error(b.String())
		if failed >= 3 {
			t.Fatal("stopping after 3 failing seeds")
		}
	}
	t.Logf("ran %d seeds (%d..%d), %d failed; the action ran %d times, %d of them exited 0 with a job", n, first, first+n-1, failed, invoked, claimedOK)
}

func runShared(t *testing.T, sc torture.Scenario) (violations []torture.Violation, runs [][]torture.Observation, acts []torture.Invocation) {
	sc.Legacy = nil // a start from an older release's record is one resource's: TestTorture's
	for i := range sc.Steps {
		sc.Steps[i].Kill = 0 // so is a kill: CheckShared has no account of one
	}
	synctest.Test(t, func(t *testing.T) {
		sim := ehpcsim.New(simOptions(sc))
		net, clk := memnet.New(), &steppingClock{}
		a := &tortureRun{t: t, sc: sc, sim: sim, net: net, clk: clk, knobs: newKnobs(sc)}
		b := &tortureRun{t: t, sc: sc, sim: sim, net: net, clk: clk, knobs: newKnobs(sc), twin: "b"}
		srv := &http.Server{Handler: http.HandlerFunc(a.serve)} // the step's near restarts, armed by a
		go func() { _ = srv.Serve(net) }()
		busyLog(sim, sc)
		// The action of the same nodes joins a third of the commands, drawn
		// from the seed; act is its key to the command's provider instances.
		draw := rand.New(rand.NewPCG(sc.Seed, 0xac7))
		act := &tortureRun{t: t, sc: sc, sim: sim, net: net, clk: clk, twin: "action"}
		for i, st := range sc.Steps {
			time.Sleep(st.Gap)
			a.arm(st) // the faults are the simulator's, for both
			share := newSharedProvider()
			a.share, b.share = share, share
			stB := st
			stB.ClockStep = 0 // one clock, stepped once
			var wg sync.WaitGroup
			if draw.IntN(3) == 0 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					acts = append(acts, share.invokeAction(act, st, i))
				}()
			}
			for _, x := range []struct {
				r  *tortureRun
				st torture.Step
			}{{a, st}, {b, stB}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					x.r.applyStep(fmt.Sprintf("step %d: %s", i+1, st.Action), x.st)
				}()
			}
			wg.Wait()
		}
		a.disarm()
		a.repair()
		for i := 0; i < 200 && (a.pendingJobs() || sim.Now().Before(a.outagesEnd)); i++ {
			time.Sleep(time.Minute)
		}
		stuck := []*tortureRun{a, b}
		for clean := 0; clean < 3 && len(stuck) > 0; clean++ {
			time.Sleep(time.Minute)
			share := newSharedProvider() // one command, one resource after the other
			a.share, b.share = share, share
			var still []*tortureRun
			for _, r := range stuck {
				if !r.planEmpty() {
					r.applyStep(fmt.Sprintf("clean apply %d", clean+1), torture.Step{})
				}
				if !r.planEmpty() {
					still = append(still, r)
				}
			}
			stuck = still
		}
		time.Sleep(3 * time.Hour)
		runs = [][]torture.Observation{a.obs, b.obs}
		violations = torture.CheckShared(sim.Jobs(), runs, acts, sc.NodeIDs())
		for _, r := range stuck {
			violations = append(violations, torture.Violation{Invariant: "no stuck resource",
				Detail: fmt.Sprintf("resource %q: with the faults gone, 3 rounds of clean applies did not reach an empty plan; state %s (tainted %v)", r.twin, r.state, r.tainted)})
		}
		net.Close()
		_ = srv.Close()
	})
	return violations, runs, acts
}

// invokeAction runs the action over every node of the scenario in command k,
// as Terraform 1.14 runs an action_trigger: PlanAction in the command's plan
// instance, InvokeAction in its apply instance, cancelled with the command
// when the step interrupts it.
func (s *sharedProvider) invokeAction(key *tortureRun, st torture.Step, k int) torture.Invocation {
	t, sc := key.t, key.sc
	inv := torture.Invocation{Step: k, Wait: !sc.NoWait}
	var msgs strings.Builder
	vals := map[string]tftypes.Value{"cluster_id": str(torture.ClusterID), "node_ids": strSet(sc.NodeIDs()...)}
	if sc.NoWait {
		vals["wait_for_completion"] = boolean(false)
	}
	for phase := 0; phase < 2; phase++ {
		p := s.provider(key, &msgs)
		srv, ok := p.srv.(actionProviderServer)
		if !ok {
			t.Fatalf("the provider server %T does not serve actions", p.srv)
		}
		sch, err := srv.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
		if err != nil {
			t.Fatal(err)
		}
		cfg := dynamic(t, sch.ActionSchemas[actionType].Schema.ValueType(), vals)
		if phase == 0 {
			resp, err := srv.PlanAction(context.Background(), &tfprotov6.PlanActionRequest{ActionType: actionType, Config: cfg})
			if err != nil {
				t.Fatal(err)
			}
			if inv.Failed = p.note(resp.Diagnostics); inv.Failed {
				break
			}
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if st.Interrupt > 0 {
			timer := time.AfterFunc(st.Interrupt, cancel)
			defer timer.Stop()
		}
		stream, err := srv.InvokeAction(ctx, &tfprotov6.InvokeActionRequest{ActionType: actionType, Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		for ev := range stream.Events {
			switch e := ev.Type.(type) {
			case tfprotov6.ProgressInvokeActionEventType:
				fmt.Fprintf(&msgs, "Progress: %s\n", e.Message)
			case tfprotov6.CompletedInvokeActionEventType:
				inv.Failed = p.note(e.Diagnostics) || inv.Failed
			}
		}
	}
	inv.Messages = msgs.String()
	return inv
}
