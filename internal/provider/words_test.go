package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
	"github.com/qingcloud/terraform-provider-hpc/internal/jobwatch"
	"github.com/qingcloud/terraform-provider-hpc/internal/rollout"
)

// progressLines runs observe on the progress words of a one-batch restart
// and returns the lines it emitted.
func progressLines(t *testing.T, observe func(rollout.Observer, rollout.Batch)) []string {
	t.Helper()
	client, err := ehpc.New(ehpc.Config{AccessKeyID: ehpcsim.DemoAccessKeyID, SecretKey: ehpcsim.DemoSecretKey})
	if err != nil {
		t.Fatal(err)
	}
	d := &providerData{client: client}
	var lines []string
	spec := rollout.Spec{Zone: ehpcsim.DemoZone, ClusterID: ehpcsim.DemoClusterID}
	obs := d.progressWords(spec, 1, func(s string) { lines = append(lines, s) })
	observe(obs, rollout.Batch{Nodes: []string{"cln-cmp00001"}, JobID: "j-adopted"})
	return lines
}

// Progress says what happened, never more: a job found in the log after a lost
// answer was not "requested", and a job that had ended before this run first
// read it did not "finish after 0s".
func TestProgressWordsAreTrue(t *testing.T) {
	done := ehpc.Job{JobID: "j-adopted", Status: ehpc.JobSuccessful, StatusTime: ehpc.Time{Time: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)}}
	lines := progressLines(t, func(obs rollout.Observer, b rollout.Batch) {
		obs.Sent(0, b, &rollout.Note{JobID: b.JobID, Adopted: true, Reason: "its answer was lost in an earlier apply"})
		obs.Checked(0, b, jobwatch.Check{Found: true, Job: done}, 0)
		obs.Waited(0, b, rollout.JobWait{End: rollout.Done, Job: done, Seen: true, Status: done.Status})
	})
	text := strings.Join(lines, "\n")
	for _, bad := range []string{"requested: job", "after 0s", "finished: successful after"} {
		if strings.Contains(text, bad) {
			t.Errorf("progress of an adopted job that had long finished says %q:\n%s", bad, text)
		}
	}
	for _, want := range []string{
		"Restart of node cln-cmp00001 of cluster ehpc-8jqdq0mz (zone jn1a): job j-adopted adopted from the operation log (the answer to its request was lost).",
		"Restart job j-adopted had already finished when this run first read it: successful at 2026-12-01T08:00:00Z by the API's clock.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("progress lacks %q:\n%s", want, text)
		}
	}

	// A job this run requested and saw running finishes after its wait.
	lines = progressLines(t, func(obs rollout.Observer, b rollout.Batch) {
		obs.Sent(0, b, nil)
		obs.Checked(0, b, jobwatch.Check{Found: true, Job: ehpc.Job{JobID: b.JobID, Status: ehpc.JobPending}}, time.Second)
		obs.Waited(0, b, rollout.JobWait{End: rollout.Done, Job: done, Seen: true, Status: done.Status, Elapsed: 12 * time.Second})
	})
	if want := []string{
		"Restart of node cln-cmp00001 of cluster ehpc-8jqdq0mz (zone jn1a) requested: job j-adopted.",
		"Restart job j-adopted finished: successful after 12s.",
	}; strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("progress of a requested job:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// A node still booting has no health yet; a node without a health check never
// has one: the words tell them apart.
func TestNodeStateHealthWords(t *testing.T) {
	booting := ehpc.Node{NodeID: "cln-a", Status: "active", HealthCheck: ehpc.HealthCheck{Enabled: true}}
	unchecked := ehpc.Node{NodeID: "cln-b", Status: "active", TransitionStatus: "starting"}
	for _, c := range []struct {
		node ehpc.Node
		want string
	}{
		{booting, "status active, transition none, health not reported yet"},
		{unchecked, "status active, transition starting, no health check"},
		{ehpc.Node{Status: "active", HealthStatus: "unhealthy", HealthCheck: ehpc.HealthCheck{Enabled: true}}, "status active, transition none, health unhealthy"},
	} {
		if got := nodeState(c.node); got != c.want {
			t.Errorf("nodeState(%+v) = %q, want %q", c.node, got, c.want)
		}
	}
}

// ret_code is what an answer said; when the answer was lost and the job was
// adopted from the operation log, no code was received and ret_code is null,
// while job_id holds the adopted job.
func TestAccRetCodeNullWhenAnswerLost(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{JobDuration: 200 * time.Millisecond})
	e.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{RetCode: 5000, AfterEffect: true})
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{{
			Config: restartConfig(e, `  node_ids = ["cln-cmp00001"]`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(restartAddr, tfjsonpath.New("job_id"), jobIDValue),
				statecheck.ExpectKnownValue(restartAddr, tfjsonpath.New("status"), knownvalue.StringExact("successful")),
				statecheck.ExpectKnownValue(restartAddr, tfjsonpath.New("ret_code"), knownvalue.Null()),
				e.expectRestarts(map[string]int{"cln-cmp00001": 1}),
			},
		}},
	})
}

// The heal example restarts what a restart can heal: against a cluster with
// an unhealthy, a stopped and a healthy compute node, it restarts only the
// unhealthy one (the API would refuse the whole request for the stopped one);
// while it boots the plan stays empty, and once it is back the next apply
// drops the record and restarts nothing.
func TestAccHealExampleSkipsStoppedNodes(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("..", "..", "examples", "data-sources", "hpc_cluster_nodes", "heal", "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	const boot = 4 * time.Second
	e := newTestEnv(t, ehpcsim.Options{JobDuration: 300 * time.Millisecond, BootTime: boot, Clusters: []ehpcsim.Cluster{{ID: ehpcsim.DemoClusterID, Zone: ehpcsim.DemoZone, Nodes: []ehpcsim.Node{
		{ID: "cln-login001", Role: "login", HealthStatus: "unhealthy"},
		{ID: "cln-cmp00001", Role: "compute"},
		{ID: "cln-cmp00002", Role: "compute", HealthStatus: "unhealthy"},
		{ID: "cln-cmp00003", Role: "compute", Status: "stopped"},
	}}}})
	cfg := e.providerBlock() + string(example)
	restarts := map[string]int{"cln-login001": 0, "cln-cmp00001": 0, "cln-cmp00002": 1, "cln-cmp00003": 0}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{{
			Config: cfg,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("hpc_cluster_node_restart.heal[0]", tfjsonpath.New("node_ids"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("cln-cmp00002")})),
				e.expectRestarts(restarts),
			},
		}, {
			PreConfig: func() { time.Sleep(boot + time.Second) }, // back in service
			Config:    cfg,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction("hpc_cluster_node_restart.heal[0]", plancheck.ResourceActionDestroy),
			}},
			ConfigStateChecks: []statecheck.StateCheck{e.expectRestarts(restarts)},
		}},
	})
}

// A 1400 that names a node the API will not restart because it is not active
// says so, and does not advise waiting for a running job: the next apply
// would fail the same way.
func TestAccStoppedNodeRefusalSaysStart(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{Clusters: []ehpcsim.Cluster{{ID: ehpcsim.DemoClusterID, Zone: ehpcsim.DemoZone, Nodes: []ehpcsim.Node{
		{ID: "cln-cmp00001", Role: "compute"}, {ID: "cln-cmp00003", Role: "compute", Status: "stopped"},
	}}}})
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{{
			Config:      restartConfig(e, `  node_ids = ["cln-cmp00001", "cln-cmp00003"]`),
			ExpectError: regex(`(?s)Restart Refused: Node Not Active.*ret_code 1400.*cln-cmp00003.*is stopped.*applying again fails the same\s+way.*Start it.*stopped = false`),
		}},
	})
	if got := e.sim.Requests(ehpc.PathRestartNodes); got != 1 {
		t.Errorf("%d restart requests, want 1", got)
	}
}

// The data source tells stopped nodes from those out of service for a while,
// and filters on it.
func TestAccClusterNodesDataSource_stopped(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{Clusters: []ehpcsim.Cluster{{ID: ehpcsim.DemoClusterID, Zone: ehpcsim.DemoZone, Nodes: []ehpcsim.Node{
		{ID: "cln-cmp00001", Role: "compute"}, {ID: "cln-cmp00002", Role: "compute", HealthStatus: "unhealthy"},
		{ID: "cln-cmp00003", Role: "compute", Status: "stopped"}, {ID: "cln-cmp00004", Role: "compute", Status: "suspended"},
	}}}})
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{{
			Config: nodesConfig(e, fmt.Sprintf(`
data "hpc_cluster_nodes" "stopped" {
  cluster_id = %[1]q
  stopped    = true
}
data "hpc_cluster_nodes" "healable" {
  cluster_id = %[1]q
  in_service = false
  stopped    = false
}
`, ehpcsim.DemoClusterID)),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.hpc_cluster_nodes.stopped", tfjsonpath.New("ids"), strs("cln-cmp00003", "cln-cmp00004")),
				statecheck.ExpectKnownValue("data.hpc_cluster_nodes.stopped", tfjsonpath.New("nodes").AtSliceIndex(0).AtMapKey("stopped"), knownvalue.Bool(true)),
				statecheck.ExpectKnownValue("data.hpc_cluster_nodes.healable", tfjsonpath.New("ids"), strs("cln-cmp00002")),
				statecheck.ExpectKnownValue("data.hpc_cluster_nodes.healable", tfjsonpath.New("nodes").AtSliceIndex(0).AtMapKey("stopped"), knownvalue.Bool(false)),
			},
		}},
	})
}
