package provider

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// The action on the real CLI. Only Terraform 1.14 and later run actions: with the
// project's pinned Terraform 1.8.5, or with OpenTofu, these tests skip and the
// protocol-level tests (cluster_node_restart_action_test.go) stand in for them.
// `make test` runs them again with the newest Terraform that
// `scripts/tool.sh terraform-latest` finds (make testacc-latest).

var cliVersions sync.Map // CLI path -> cliIdentity

type cliIdentity struct {
	product string // "Terraform" or "OpenTofu"
	version *version.Version
	err     error
}

var cliVersionLine = regexp.MustCompile(`(?m)^(Terraform|OpenTofu) v(\S+)$`)

// identifyCLI asks the CLI at path what it is. `version -json` cannot tell
// OpenTofu from Terraform (both say terraform_version), the plain output's
// "OpenTofu v1.12.6" line can. It is looked for on any line: OpenTofu 1.12 puts
// warnings about its CLI configuration on stdout before it, which /dev/null as
// that configuration also avoids.
func identifyCLI(path string) cliIdentity {
	if id, ok := cliVersions.Load(path); ok {
		return id.(cliIdentity)
	}
	var id cliIdentity
	cmd := exec.Command(path, "version")
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1", "TF_CLI_CONFIG_FILE="+os.DevNull)
	out, err := cmd.Output()
	if m := cliVersionLine.FindStringSubmatch(string(out)); err != nil {
		id.err = fmt.Errorf("%s version: %v", path, err)
	} else if m == nil {
		id.err = fmt.Errorf("%s version: neither Terraform nor OpenTofu:\n%s", path, out)
	} else {
		id.product = m[1]
		id.version, id.err = version.NewVersion(m[2])
	}
	cliVersions.Store(path, id)
	return id
}

// skipUnlessActions skips t, saying plainly why, unless TF_ACC is set and
// TF_ACC_TERRAFORM_PATH is Terraform 1.14 or later. OpenTofu (through 1.12 at
// least) has no actions, whatever its version number, so it is told apart by name.
func skipUnlessActions(t *testing.T) {
	t.Helper()
	tf := terraformPath(t)
	id := identifyCLI(tf)
	if id.err != nil {
		t.Fatal(id.err)
	}
	if id.product != "Terraform" || id.version.LessThan(tfversion.Version1_14_0) {
		t.Skipf("actions need Terraform 1.14 or later; TF_ACC_TERRAFORM_PATH is %s v%s (make testacc-latest runs this with a newer Terraform when one is present)", id.product, id.version)
	}
}

// actionConfig declares the action "now" for nodes of the demo cluster.
func actionConfig(e *testEnv, nodes ...string) string {
	return e.providerBlock() + fmt.Sprintf(`
action "hpc_cluster_node_restart" "now" {
  config {
    cluster_id = %q
    node_ids   = ["%s"]
  }
}
`, ehpcsim.DemoClusterID, strings.Join(nodes, `", "`))
}

const invokeNow = "-invoke=action.hpc_cluster_node_restart.now"

// `terraform apply -invoke` restarts the nodes once, with the progress messages
// in the CLI's output; neither plan -invoke nor an apply without -invoke sends
// anything.
func TestAccAction_invoke(t *testing.T) {
	skipUnlessActions(t)
	e := newTestEnv(t, ehpcsim.Options{JobDuration: 600 * time.Millisecond})
	// Frequent "still waiting" messages, so a sub-second job shows some.
	e.optionsHook = func(o *options) { o.ActionProgressInterval = 100 * time.Millisecond }
	c := e.newCLI(t)
	c.write(actionConfig(e, "cln-cmp00003", "cln-cmp00001"))
	c.mustSucceed("init", "-input=false")

	c.mustSucceed("plan", "-input=false", invokeNow)
	if n := e.sim.TotalRequests(); n != 0 {
		t.Fatalf("plan -invoke sent %d requests, want none: %v", n, e.sim.RequestCounts())
	}

	out := c.mustSucceed("apply", "-auto-approve", "-input=false", invokeNow)
	t.Logf("apply -invoke:\n%s", out)
	if err := e.expectRestarts(map[string]int{"cln-cmp00001": 1, "cln-cmp00003": 1})(); err != nil {
		t.Fatal(err)
	}
	if n := e.sim.Requests(ehpc.PathRestartNodes); n != 1 {
		t.Fatalf("simulator saw %d restart requests, want 1", n)
	}
	jobs := e.sim.Jobs()
	if len(jobs) != 1 || jobs[0].Status != ehpc.JobSuccessful {
		t.Fatalf("simulator jobs %+v, want one successful", jobs)
	}
	job := jobs[0].ID
	if got := strings.Join(jobs[0].NodeIDs, ","); got != "cln-cmp00001,cln-cmp00003" {
		t.Errorf("the job restarted %s, want cln-cmp00001,cln-cmp00003", got)
	}
	// Terraform prints each progress event as "Action <addr> (triggered by CLI): <message>".
	const action = `Action action\.hpc_cluster_node_restart\.now \(triggered by CLI\): `
	for _, want := range []string{
		action + `Restart of 2 nodes \(cln-cmp00001, cln-cmp00003\) of cluster ehpc-8jqdq0mz \(zone jn1a\) requested: job ` + job + `\.`,
		action + `Waiting for restart job ` + job + ` of 2 nodes \(cln-cmp00001, cln-cmp00003\) to finish: (status pending|not in the operation log yet), [0-9.]+m?s elapsed\.`,
		action + `Restart job ` + job + ` finished: successful after [0-9.]+m?s\.`,
		`Action complete: action\.hpc_cluster_node_restart\.now`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("apply -invoke output lacks %s", want)
		}
	}

	// The action is not part of the configuration's desired state: an ordinary
	// apply does not run it.
	before := e.sim.TotalRequests()
	c.mustSucceed("apply", "-auto-approve", "-input=false")
	if got := e.sim.TotalRequests(); got != before {
		t.Fatalf("apply without -invoke sent %d requests: %v", got-before, e.sim.RequestCounts())
	}
}

// A failed job fails `terraform apply -invoke`, naming the job.
func TestAccAction_invokeJobFailed(t *testing.T) {
	skipUnlessActions(t)
	e := newTestEnv(t, ehpcsim.Options{JobDuration: 100 * time.Millisecond})
	e.sim.FailNextJobs(1)
	c := e.newCLI(t)
	c.write(actionConfig(e, "cln-cmp00002"))
	c.mustSucceed("init", "-input=false")

	out, code := c.run("apply", "-auto-approve", "-input=false", invokeNow)
	t.Logf("apply -invoke (exit %d):\n%s", code, out)
	if code == 0 {
		t.Fatal("apply -invoke succeeded although the restart job failed")
	}
	jobs := e.sim.Jobs()
	if len(jobs) != 1 || jobs[0].Status != ehpc.JobFailed {
		t.Fatalf("simulator jobs %+v, want one failed", jobs)
	}
	// Terraform 1.14 wraps the action's error diagnostic in its own, "Error when
	// invoking action", whose detail is "<summary>: <detail>".
	for _, want := range []string{
		`Error: Error when invoking action Restart Job Failed: Restart job ` + jobs[0].ID +
			` for node cln-cmp00002 of cluster ehpc-8jqdq0mz finished with status "failed"`,
		`Action action.hpc_cluster_node_restart.now (triggered by CLI): Restart job ` + jobs[0].ID + ` finished: failed after`,
		`Action failed: action.hpc_cluster_node_restart.now (triggered by CLI) - Restart Job Failed`,
	} {
		if !strings.Contains(flatten(out), want) {
			t.Errorf("apply -invoke output lacks %q", want)
		}
	}
	if err := e.expectRestarts(map[string]int{"cln-cmp00002": 1})(); err != nil {
		t.Fatal(err)
	}
}

// rollingActionConfig declares the action "now" restarting the four compute
// nodes of the demo cluster, listed out of order, in batches of two.
func rollingActionConfig(e *testEnv, pause string) string {
	return e.providerBlock() + fmt.Sprintf(`
action "hpc_cluster_node_restart" "now" {
  config {
    cluster_id = %q
    node_ids   = ["cln-cmp00004", "cln-cmp00002", "cln-cmp00003", "cln-cmp00001"]
    rolling = {
      batch_size = 2
      pause      = %q
    }
  }
}
`, ehpcsim.DemoClusterID, pause)
}

// `terraform apply -invoke` of a rolling restart sends one request per batch,
// in sorted node order, each only after the previous batch's job succeeded and
// the pause passed, and reports each batch's progress as "Batch i of n: ...".
func TestAccAction_invokeRolling(t *testing.T) {
	skipUnlessActions(t)
	const pause = 400 * time.Millisecond
	e := newTestEnv(t, ehpcsim.Options{JobDuration: 600 * time.Millisecond})
	// Frequent "still waiting" messages, so each sub-second job shows some.
	e.optionsHook = func(o *options) { o.ActionProgressInterval = 100 * time.Millisecond }
	c := e.newCLI(t)
	c.write(rollingActionConfig(e, pause.String()))
	c.mustSucceed("init", "-input=false")

	out := c.mustSucceed("apply", "-auto-approve", "-input=false", invokeNow)
	t.Logf("apply -invoke:\n%s", out)

	// What the API saw: two requests, the sorted nodes cut in two, one job after
	// the other.
	if n := e.sim.Requests(ehpc.PathRestartNodes); n != 2 {
		t.Fatalf("simulator saw %d restart requests, want 2 (one per batch)", n)
	}
	jobs := e.sim.Jobs()
	if len(jobs) != 2 {
		t.Fatalf("simulator jobs %+v, want two", jobs)
	}
	for i, want := range []string{"cln-cmp00001,cln-cmp00002", "cln-cmp00003,cln-cmp00004"} {
		if got := strings.Join(jobs[i].NodeIDs, ","); got != want {
			t.Errorf("job %d (%s) restarted %s, want %s", i+1, jobs[i].ID, got, want)
		}
		if jobs[i].Status != ehpc.JobSuccessful || jobs[i].Ended.IsZero() {
			t.Errorf("job %d (%s) is %s (ended %v), want successful and ended", i+1, jobs[i].ID, jobs[i].Status, jobs[i].Ended)
		}
	}
	if gap := jobs[1].Started.Sub(jobs[0].Ended); gap < pause {
		t.Errorf("batch 2's job started %v after batch 1's ended (%v to %v), want at least the pause, %v: the jobs overlapped or the pause was skipped",
			gap, jobs[0].Ended, jobs[1].Started, pause)
	}
	if err := e.expectRestarts(map[string]int{"cln-cmp00001": 1, "cln-cmp00002": 1, "cln-cmp00003": 1, "cln-cmp00004": 1})(); err != nil {
		t.Fatal(err)
	}

	// What the operator saw: every message of a batch, in order, each batch's
	// after the previous batch's end.
	const action = `Action action\.hpc_cluster_node_restart\.now \(triggered by CLI\): `
	at := 0
	for i, job := range jobs {
		batch := fmt.Sprintf(`Batch %d of 2: `, i+1)
		nodes := regexp.QuoteMeta(strings.Join(job.NodeIDs, ", "))
		for _, want := range []string{
			action + batch + `Restart of 2 nodes \(` + nodes + `\) of cluster ehpc-8jqdq0mz \(zone jn1a\) requested: job ` + job.ID + `\.`,
			action + batch + `Waiting for restart job ` + job.ID + ` of 2 nodes \(` + nodes + `\) to finish: (status pending|not in the operation log yet), [0-9.]+m?s elapsed\.`,
			action + batch + `Restart job ` + job.ID + ` finished: successful after [0-9.]+m?s\.`,
		} {
			loc := regexp.MustCompile(want).FindStringIndex(out[at:])
			if loc == nil {
				t.Fatalf("apply -invoke output lacks %s after the messages before it", want)
			}
			at += loc[1]
		}
	}
	if !strings.Contains(out, "Action complete: action.hpc_cluster_node_restart.now") {
		t.Error("apply -invoke output lacks Action complete")
	}
}

// flatten joins the lines Terraform wraps in its diagnostics ("│ " borders and
// hard line breaks), so a sentence can be matched whole.
func flatten(out string) string {
	var b strings.Builder
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "│"))
		if line == "" {
			continue
		}
		b.WriteString(line)
		b.WriteByte(' ')
	}
	return b.String()
}

// triggerConfig is a terraform_data whose creation and every change of input
// runs the action, as examples/actions/hpc_cluster_node_restart/trigger does.
func triggerConfig(e *testEnv, input string) string {
	return e.providerBlock() + fmt.Sprintf(`
resource "terraform_data" "kernel" {
  input = %q

  lifecycle {
    action_trigger {
      events  = [after_create, after_update]
      actions = [action.hpc_cluster_node_restart.compute]
    }
  }
}

action "hpc_cluster_node_restart" "compute" {
  config {
    cluster_id = %q
    node_ids   = ["cln-cmp00001", "cln-cmp00002"]
  }
}
`, input, ehpcsim.DemoClusterID)
}

// An action_trigger runs the action once when the terraform_data is created and
// once each time it is updated; never on an unchanged apply, never on a plan
// (plugin-testing also plans after every apply), never on destroy.
func TestAccAction_trigger(t *testing.T) {
	skipUnlessActions(t)
	e := newTestEnv(t, ehpcsim.Options{JobDuration: 100 * time.Millisecond})
	const data = "terraform_data.kernel"
	restarts := func(n int) simCheck {
		return e.expectRestarts(map[string]int{"cln-cmp00001": n, "cln-cmp00002": n})
	}
	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_14_0)},
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{
			{
				// Create: the action runs once, after the terraform_data exists.
				Config: triggerConfig(e, "6.1.0-27"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(data, plancheck.ResourceActionCreate),
					restarts(0),
				}},
				ConfigStateChecks: []statecheck.StateCheck{restarts(1)},
			},
			{
				// Unchanged: nothing to apply, nothing restarted.
				Config: triggerConfig(e, "6.1.0-27"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				ConfigStateChecks: []statecheck.StateCheck{restarts(1)},
			},
			{
				// A plan of a change that will run the action runs nothing yet.
				Config:             triggerConfig(e, "6.1.0-28"),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				// Update: once more, and only once.
				Config: triggerConfig(e, "6.1.0-28"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(data, plancheck.ResourceActionUpdate),
					restarts(1), // the plan-only step above restarted nothing
				}},
				ConfigStateChecks: []statecheck.StateCheck{restarts(2)},
			},
			{
				// A failed job fails the apply that triggered it, naming the job.
				PreConfig:   func() { e.sim.FailNextJobs(1) },
				Config:      triggerConfig(e, "6.1.0-29"),
				ExpectError: regex(`(?s)Restart Job Failed.*Restart job j-[a-z0-9]+ for 2 nodes \(cln-cmp00001,\s+cln-cmp00002\)\s+of\s+cluster\s+ehpc-8jqdq0mz\s+finished\s+with\s+status\s+"failed"`),
			},
		},
		CheckDestroy: func(*terraform.State) error {
			// 3: create, update and the failed update; destroy triggers nothing.
			return restarts(3)()
		},
	})
}

// Ctrl-C during an invocation's wait fails the apply with the action's own
// error, every time: Terraform 1.14 and 1.15 took the stream that plugin-go
// cut short after the stop for a success, and exited 0 (see ProtocolServer).
func TestAccAction_interruptedFails(t *testing.T) {
	skipUnlessActions(t)
	e := newTestEnv(t, ehpcsim.Options{JobDuration: time.Minute})
	c := e.newCLI(t)
	for i, node := range []string{"cln-cmp00001", "cln-cmp00002", "cln-cmp00003"} {
		c.write(actionConfig(e, node))
		if i == 0 {
			c.mustSucceed("init", "-input=false")
		}
		out, code := c.interrupted(func() bool { return e.sim.Restarts(node) == 1 }, "the restart was never sent", invokeNow)
		flat := strings.Join(strings.Fields(out), " ")
		if code == 0 || !strings.Contains(flat, "Restart Action Cancelled") || strings.Contains(flat, "Apply complete!") {
			t.Fatalf("interrupted invocation %d of %s: exit code %d, want the action's Restart Action Cancelled error and a non-zero exit:\n%s", i+1, node, code, out)
		}
	}
}
