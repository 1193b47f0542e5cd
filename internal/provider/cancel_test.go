package provider

import (
	"fmt"
	"strings"
	"testing"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// Ctrl-C while waiting for the job: Terraform stops the provider, the resource
// is saved with its job id, status "pending" and a warning, untainted, so the next
// plan restarts nothing.
func TestAccClusterNodeRestart_interruptedWait(t *testing.T) {
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

	if !strings.Contains(text, "Wait For Restart Job Interrupted") {
		t.Fatalf("apply output lacks the interruption warning:\n%s", text)
	}
	jobs := e.sim.Jobs()
	if len(jobs) != 1 {
		t.Fatalf("simulator has %d jobs, want 1", len(jobs))
	}
	if !strings.Contains(text, jobs[0].ID) {
		t.Errorf("the warning does not name job %s:\n%s", jobs[0].ID, text)
	}
	state, tainted := c.stateResource()
	if state == nil {
		t.Fatalf("the interrupted restart is not in state; the next apply would restart again:\n%s", text)
	}
	if state["job_id"] != jobs[0].ID || state["status"] != ehpc.JobPending || tainted {
		t.Fatalf("state job_id=%v status=%v tainted=%v, want %s pending untainted", state["job_id"], state["status"], tainted, jobs[0].ID)
	}

	// The next plan restarts nothing and sends nothing.
	before := e.sim.TotalRequests()
	c.mustSucceed("plan", "-input=false", "-detailed-exitcode")
	if got := e.sim.TotalRequests(); got != before {
		t.Fatalf("plan sent %d requests", got-before)
	}
	if n := e.sim.Restarts("cln-cmp00002"); n != 1 {
		t.Fatalf("cln-cmp00002 restarted %d times, want 1", n)
	}
}
