package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// The health gate (issue #19), through the real CLI: a batch's nodes must be
// back in service before the next batch is sent.

const restartAddr19 = "hpc_cluster_node_restart.test"

// A node that never comes back stops the rollout at its batch: the later
// batches are never sent, the error names the node with its state, and the
// resource is tainted, as after a failed job.
func TestAccClusterNodeRestart_healthGateNodeNeverBack(t *testing.T) {
	e := newRollingEnv(t, ehpcsim.Options{JobDuration: 200 * time.Millisecond, BootTime: 300 * time.Millisecond})
	e.sim.SetNodeFate(rollCluster, rollNodes[7], ehpcsim.FateNeverBack)
	cfg := rollingConfig(e, `{ batch_size = 6 }
  health_gate = { healthy_deadline = "3s" }`)
	notBack := flexRegex(`(?s)Nodes Not Back In Service.*succeeded, but its nodes were not all back in service within 3s ` +
		`\(health_gate\.healthy_deadline\): 5 of 6 back; not back: cln-r00008 \(status pending, transition starting, health not reported yet\)` +
		`.*Rolling restart stopped at batch 2 of 4.*Terraform marks it tainted.*It waits for the nodes of batch 2`)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{{
			Config:      cfg,
			ExpectError: notBack,
		}, {
			// Tainted: the next apply replaces it, and the replacement takes the
			// gate up again for batch 2, never restarting it: the node is still
			// not back, so it fails the same way.
			Config: cfg,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(restartAddr19, plancheck.ResourceActionReplace),
				e.expectJobsRanInBatches(rollBatches[:2], 0),
				e.expectRestarts(restartsOnce(rollNodes[:12]...)), // and none of the 8 later nodes
			}},
			ExpectError: notBack,
		}, {
			// The node mended, the next plain apply finishes the rollout: every
			// node restarted once, batch 2's included, no more.
			PreConfig: func() { e.sim.SetNodeFate(rollCluster, rollNodes[7], ehpcsim.FateBack) },
			Config:    cfg,
			ConfigStateChecks: []statecheck.StateCheck{
				e.expectRestarts(restartsOnce(rollNodes...)),
				e.expectJobsRanInBatches(rollBatches, 0),
				statecheck.ExpectKnownValue(restartAddr19, tfjsonpath.New("status"), knownvalue.StringExact("successful")),
			},
		}},
	})
}

// A node whose health flaps holds the next batch until it stayed healthy for
// min_healthy_time; every batch is held so, and the record says each passed.
func TestAccClusterNodeRestart_healthGateMinHealthyTime(t *testing.T) {
	const boot, minHealthy = 300 * time.Millisecond, 2 * time.Second
	e := newRollingEnv(t, ehpcsim.Options{JobDuration: 200 * time.Millisecond, BootTime: boot, FlapPeriod: 3 * time.Second})
	e.sim.SetNodeFate(rollCluster, rollNodes[0], ehpcsim.FateFlapping)
	passed := knownvalue.ObjectPartial(map[string]knownvalue.Check{"health_gate": knownvalue.StringExact("passed"), "status": knownvalue.StringExact("successful")})
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{{
			Config: rollingConfig(e, `{ batch_size = 10 }
  health_gate = { min_healthy_time = "2s" }`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(restartAddr19, tfjsonpath.New("batches"), knownvalue.ListExact([]knownvalue.Check{passed, passed})),
				e.expectJobsRanInBatches([][]string{rollNodes[:10], rollNodes[10:]}, boot+minHealthy),
			},
		}},
	})
}

// A canary: the first batch holds first_batch_size nodes, the plan shows it,
// and the others batch_size.
func TestAccClusterNodeRestart_canary(t *testing.T) {
	e := newRollingEnv(t, ehpcsim.Options{JobDuration: 100 * time.Millisecond})
	batches := [][]string{rollNodes[:1], rollNodes[1:7], rollNodes[7:13], rollNodes[13:19], rollNodes[19:]}
	var planned []knownvalue.Check
	for _, b := range batches {
		planned = append(planned, knownvalue.ObjectPartial(map[string]knownvalue.Check{"node_ids": strs(b...)}))
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{{
			Config: rollingConfig(e, `{ batch_size = 6, first_batch_size = 1 }`),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue(restartAddr19, tfjsonpath.New("batches"), knownvalue.ListExact(planned)),
			}},
			ConfigStateChecks: []statecheck.StateCheck{e.expectJobsRanInBatches(batches, 0)},
		}},
	})
}

// A lone restart waits for its nodes only when asked (health_gate.enabled):
// without it, it ends with its job and reads no node; with it, it ends once
// they are back. Changing the gate's settings alone restarts nothing.
func TestAccClusterNodeRestart_healthGateLone(t *testing.T) {
	const boot = 1500 * time.Millisecond
	e := newRollingEnv(t, ehpcsim.Options{JobDuration: 100 * time.Millisecond, BootTime: boot})
	lone := func(gate string) string {
		return e.providerBlock() + fmt.Sprintf(`
resource "hpc_cluster_node_restart" "plain" {
  cluster_id = %q
  node_ids   = [%q]
}
resource "hpc_cluster_node_restart" "test" {
  cluster_id  = %q
  node_ids    = [%q]
  %s
}
`, rollCluster, rollNodes[0], rollCluster, rollNodes[1], gate)
	}
	backBeforeEnd := simCheck(func() error {
		for _, j := range e.sim.Jobs() {
			if j.NodeIDs[0] == rollNodes[1] {
				for _, n := range e.sim.Nodes(rollCluster) {
					if n.ID == rollNodes[1] && (n.Status != "active" || n.HealthStatus != "healthy") {
						return fmt.Errorf("the gated restart ended with %s %s, %q", n.ID, n.Status, n.HealthStatus)
					}
				}
			}
		}
		return nil
	})
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{{
			Config: lone(`health_gate = { enabled = true }`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("hpc_cluster_node_restart.plain", tfjsonpath.New("batches").AtSliceIndex(0).AtMapKey("health_gate"), knownvalue.Null()),
				statecheck.ExpectKnownValue(restartAddr19, tfjsonpath.New("batches").AtSliceIndex(0).AtMapKey("health_gate"), knownvalue.StringExact("passed")),
				backBeforeEnd,
				e.expectRestarts(map[string]int{rollNodes[0]: 1, rollNodes[1]: 1}),
			},
		}, {
			Config: lone(`health_gate = { enabled = true, min_healthy_time = "30s" }`),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(restartAddr19, plancheck.ResourceActionUpdate),
			}},
			ConfigStateChecks: []statecheck.StateCheck{e.expectRestarts(map[string]int{rollNodes[0]: 1, rollNodes[1]: 1})},
		}},
	})
}

// health_gate needs the wait, and its durations must make sense: refused at
// plan, naming the attribute and the fix, with nothing sent.
func TestAccClusterNodeRestart_healthGateInvalid(t *testing.T) {
	e := newRollingEnv(t, ehpcsim.Options{})
	for _, tc := range []struct{ gate, want string }{
		{`health_gate = { enabled = true }
  wait_for_completion = false`, `Health Gate Needs Waiting.*wait_for_completion = false cannot be combined with health_gate\.enabled = true`},
		{`health_gate = { min_healthy_time = "soon" }`, `Invalid Health Gate.*health_gate\.min_healthy_time = "soon" is not a duration`},
		{`health_gate = { healthy_deadline = "48h" }`, `Invalid Health Gate.*health_gate\.healthy_deadline = "48h" is out of range: give a duration from 1s to 24h`},
		{`health_gate = { min_healthy_time = "10m" }`, `Invalid Health Gate.*min_healthy_time = 10m is not shorter than health_gate\.healthy_deadline = 10m`},
	} {
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: e.factories(),
			Steps: []resource.TestStep{{
				Config:      e.providerBlock() + fmt.Sprintf("resource \"hpc_cluster_node_restart\" \"test\" {\n  cluster_id = %q\n  node_ids = [%q]\n  %s\n}\n", rollCluster, rollNodes[0], tc.gate),
				PlanOnly:    true,
				ExpectError: flexRegex(`(?s)` + tc.want),
			}},
		})
	}
	if n := e.sim.Requests(ehpc.PathRestartNodes); n != 0 {
		t.Fatalf("%d restarts sent", n)
	}
}

// healthGateArg is a health_gate argument.
func healthGateArg(enabled tftypes.Value, minHealthy, deadline string) tftypes.Value {
	opt := func(s string) tftypes.Value {
		if s == "" {
			return tftypes.NewValue(tftypes.String, nil)
		}
		return str(s)
	}
	return tftypes.NewValue(tftypes.Object{AttributeTypes: map[string]tftypes.Type{"enabled": tftypes.Bool, "min_healthy_time": tftypes.String, "healthy_deadline": tftypes.String}},
		map[string]tftypes.Value{"enabled": enabled, "min_healthy_time": opt(minHealthy), "healthy_deadline": opt(deadline)})
}

// The action has the same gate and canary, and its progress says what it
// waits for; a node out of service before the restart is named in a warning.
func TestAction_invokeHealthGate(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, ehpcsim.Options{JobDuration: 100 * time.Millisecond, BootTime: 800 * time.Millisecond})
	e.sim.SetNodeFate(ehpcsim.DemoClusterID, "cln-cmp00003", ehpcsim.FateUnhealthy)
	p := e.protoServer(func(o *options) { o.ActionProgressInterval = 100 * time.Millisecond }).mustConfigure(e.simProviderConfig())
	rolling := tftypes.NewValue(rollingType, map[string]tftypes.Value{"batch_size": num(2), "first_batch_size": num(1), "pause": tftypes.NewValue(tftypes.String, nil)})
	inv := p.invoke(context.Background(), actionArgs(map[string]tftypes.Value{"rolling": rolling, "health_gate": healthGateArg(tftypes.NewValue(tftypes.Bool, nil), "", "3s")},
		"cln-cmp00001", "cln-cmp00002", "cln-cmp00003", "cln-cmp00004"), nil)
	jobs := e.sim.Jobs()
	if len(jobs) != 2 || !slices.Equal(jobs[0].NodeIDs, []string{"cln-cmp00001"}) || !slices.Equal(jobs[1].NodeIDs, []string{"cln-cmp00002", "cln-cmp00003"}) {
		t.Fatalf("jobs %+v: want the canary, then the batch with the unhealthy node, and no third", jobs)
	}
	if jobs[1].Started.Sub(jobs[0].Ended) < 800*time.Millisecond-time.Second/2 {
		t.Errorf("batch 2 sent %s after the canary's job ended, before its node was back", jobs[1].Started.Sub(jobs[0].Ended))
	}
	progress := strings.Join(inv.progress, "\n")
	for _, want := range []string{"Batch 1 of 3: Waiting for node cln-cmp00001 to be back in service (health gate)", "Batch 1 of 3: Back in service after ",
		"Batch 2 of 3: Waiting for 2 nodes (cln-cmp00002, cln-cmp00003) to be back in service (health gate)", "not back: cln-cmp00003 (status active, transition none, health "} {
		if !strings.Contains(progress, want) {
			t.Errorf("progress lacks %q:\n%s", want, progress)
		}
	}
	expectOneError(t, "node not back", inv.diags, `Nodes Not Back In Service: Restart job `+jobs[1].ID+` for 2 nodes \(cln-cmp00002, cln-cmp00003\) of cluster [\s\S]*`+
		`1 of 2 back; not back: cln-cmp00003 \(status active, transition none, health unhealthy\)[\s\S]*`+
		`node_ids set to the nodes not restarted yet \(cln-cmp00004\); the nodes of batch 2 \(cln-cmp00002, cln-cmp00003\) did restart, so leave them out`)

	// Out of service before the restart: a warning, and the restart goes on.
	inv = p.invoke(context.Background(), actionArgs(map[string]tftypes.Value{"health_gate": healthGateArg(boolean(false), "", "")}, "cln-cmp00003", "cln-cmp00004"), nil)
	expectNoErrors(t, "gate off", inv.diags)
	e.sim.SetNodeFate(ehpcsim.DemoClusterID, "cln-cmp00003", ehpcsim.FateBack)
	inv = p.invoke(context.Background(), actionArgs(map[string]tftypes.Value{"health_gate": healthGateArg(boolean(true), "", "")}, "cln-cmp00003"), nil)
	expectNoErrors(t, "lone gate", inv.diags)
	var warned []string
	for _, d := range inv.diags {
		warned = append(warned, d.Summary+": "+d.Detail)
	}
	if w := strings.Join(warned, "\n"); !strings.Contains(w, "Nodes Already Out Of Service: Before the restart, this node was out of service: cln-cmp00003 (status active, transition starting, health not reported yet)") {
		t.Errorf("no warning of the node out of service before the restart: %s", w)
	}
}
