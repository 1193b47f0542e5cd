package provider

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
	"github.com/qingcloud/terraform-provider-hpc/internal/torture"
)

// Ctrl-C while waiting for the job: the apply fails (green means done), the
// resource is saved with its job id and status "pending", and Terraform taints
// it, as after any failed create. The next plan reads nothing; the next plain
// apply replaces the record, and the replacement takes the wait up: the job
// failed meanwhile, so that apply fails too, without sending anything, as if
// never interrupted. The apply after it restarts the node again, once.
func TestAccClusterNodeRestart_interruptedWaitIsTakenUp(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{})
	e.sim.HangNextJobs(1)
	c := e.newCLI(t)
	c.write(e.providerBlock() + fmt.Sprintf(`
resource "hpc_cluster_node_restart" "test" {
  cluster_id = %q
  node_ids   = ["cln-cmp00002"]
}
`, ehpcsim.DemoClusterID))
	c.mustSucceed("init", "-input=false")

	// Interrupt once the provider is waiting on the job, as a user pressing
	// Ctrl-C during a long restart would.
	text := c.applyInterrupted(func() bool { return e.sim.Requests(ehpc.PathOperations) >= 2 }, "the provider never polled the job")
	t.Logf("interrupted apply:\n%s", text)
	if !strings.Contains(text, "Error: Wait For Restart Job Interrupted") {
		t.Fatalf("apply output lacks the interruption error:\n%s", text)
	}
	jobs := e.sim.Jobs()
	if len(jobs) != 1 {
		t.Fatalf("simulator has %d jobs, want 1", len(jobs))
	}
	if !strings.Contains(text, jobs[0].ID) {
		t.Errorf("the error does not name job %s:\n%s", jobs[0].ID, text)
	}
	state, tainted := c.stateResource()
	if state == nil || state["job_id"] != jobs[0].ID || state["status"] != ehpc.JobPending || !tainted {
		t.Fatalf("state %v tainted %v, want job %s pending, tainted", state, tainted, jobs[0].ID)
	}

	// The next plan sends nothing.
	before := e.sim.TotalRequests()
	if out, code := c.run("plan", "-input=false", "-detailed-exitcode"); code != 2 || !strings.Contains(out, "must be replaced") {
		t.Fatalf("plan exit %d, want the tainted record's replacement:\n%s", code, out)
	}
	if got := e.sim.TotalRequests(); got != before {
		t.Fatalf("plan sent %d requests", got-before)
	}

	// The job fails meanwhile: the next apply waits for it and fails, sending nothing.
	e.sim.EndHungJobs(true)
	out, code := c.run("apply", "-auto-approve", "-input=false")
	if code == 0 || !wrapped(`(?s)Restart Job Failed.*Restart job `+jobs[0].ID).MatchString(out) {
		t.Fatalf("exit %d, want the failed job %s reported:\n%s", code, jobs[0].ID, out)
	}
	if n := e.sim.Restarts("cln-cmp00002"); n != 1 {
		t.Fatalf("cln-cmp00002 restarted %d times by now, want 1: the apply after an interrupt must not send again", n)
	}

	// The one after restarts the node again, once, and is green.
	out = c.mustSucceed("apply", "-auto-approve", "-input=false")
	if n := e.sim.Restarts("cln-cmp00002"); n != 2 {
		t.Fatalf("cln-cmp00002 restarted %d times, want 2 (the failed restart, then one more):\n%s", n, out)
	}
	if state, tainted := c.stateResource(); state["status"] != ehpc.JobSuccessful || tainted || !slices.Contains(torture.Batches(state, c.statePrivate())[0].Jobs, jobs[0].ID) {
		t.Fatalf("state %v tainted %v, want successful, untainted, the failed job %s kept", state, tainted, jobs[0].ID)
	}
	c.mustSucceed("plan", "-input=false", "-detailed-exitcode")
}
