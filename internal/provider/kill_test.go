package provider

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// An apply killed outright (SIGKILL: the CI runner gone) saves nothing of
// itself, but Terraform has saved what it did before: a replacement's
// destroy, written by its state hook after that change. So when the
// pipeline's replacement of a tainted rollout is killed while it continues
// the rollout, the record is gone, and the next apply restarts every node,
// the batches that had succeeded too. The docs say so, and the torture's
// kills model it (applyStep); this checks that model against the real CLI.
func TestAccKilledReplacementLeavesNoRecord(t *testing.T) {
	t.Parallel()
	e := newRollingEnv(t, ehpcsim.Options{JobDuration: time.Second})
	c := e.newCLI(t)
	c.write(rollingConfig(e, "{ batch_size = 10 }"))
	c.mustSucceed("init", "-input=false")

	// Batch 1 succeeds, batch 2's job fails: the record is saved, tainted.
	go func() {
		for e.sim.Requests(ehpc.PathRestartNodes) < 1 {
			time.Sleep(5 * time.Millisecond)
		}
		e.sim.FailNextJobs(1)
	}()
	if out, code := c.run("apply", "-auto-approve", "-input=false", "-no-color"); code == 0 || !strings.Contains(out, "Restart Job Failed") {
		t.Fatalf("exit %d, want batch 2's job failed:\n%s", code, out)
	}
	if st, tainted := c.stateResource(); st == nil || !tainted {
		t.Fatalf("after the failed apply: record %v, tainted %v; want a tainted record", st != nil, tainted)
	}

	// The next apply replaces it and sends batch 2 again; Terraform is
	// killed while that job runs.
	e.sim.SetJobDuration(5 * time.Second)
	cmd := c.command("apply", "-auto-approve", "-input=false", "-no-color")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for e.sim.Requests(ehpc.PathRestartNodes) < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the answer is in, the wait has begun
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatalf("the killed apply exited 0:\n%s", out.String())
	} else if _, ok := err.(*exec.ExitError); !ok {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Destruction complete") {
		t.Fatalf("the killed apply had not destroyed the tainted record yet:\n%s", out.String())
	}
	if st, _ := c.stateResource(); st != nil {
		t.Fatalf("after the kill, state holds a record %v; Terraform was expected to have saved only the destroy", st)
	}

	// The next apply is a new restart of every node: batch 1's again too.
	for deadline := time.Now().Add(30 * time.Second); (&tortureRun{sim: e.sim}).pendingJobs() && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	e.sim.SetJobDuration(time.Second)
	c.mustSucceed("apply", "-auto-approve", "-input=false")
	counts := e.sim.RestartCounts()
	for i, n := range rollNodes {
		want := 2 // the failed apply's batch, and the apply after the kill
		if i >= 10 {
			want = 3 // batch 2: failed, sent again by the killed apply, and again
		}
		if counts[n] != want {
			t.Errorf("node %s restarted %d times, want %d (all: %v)", n, counts[n], want, counts)
		}
	}
}
