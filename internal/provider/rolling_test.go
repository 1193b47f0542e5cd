package provider

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
	"github.com/qingcloud/terraform-provider-hpc/internal/rollout"
	"github.com/qingcloud/terraform-provider-hpc/internal/torture"
)

// Rolling restarts (issue #13): batches of at most batch_size sorted nodes,
// one request each, the next sent only once the previous job succeeded.

const rollCluster = "ehpc-roll0020"

// rollNodes are the 20 compute nodes of rollCluster, sorted.
var rollNodes = func() []string {
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = fmt.Sprintf("cln-r%05d", i+1)
	}
	return ids
}()

// rollBatches are rollNodes in batches of 6: what the provider must send.
var rollBatches = [][]string{rollNodes[0:6], rollNodes[6:12], rollNodes[12:18], rollNodes[18:20]}

func newRollingEnv(t *testing.T, opts ehpcsim.Options) *testEnv {
	t.Helper()
	c := ehpcsim.Cluster{ID: rollCluster, Zone: ehpcsim.DemoZone}
	for i, id := range rollNodes {
		c.Nodes = append(c.Nodes, ehpcsim.Node{ID: id, Name: fmt.Sprintf("compute-%d", i+1), Role: "compute", Status: "active"})
	}
	opts.Clusters = []ehpcsim.Cluster{c}
	return newTestEnv(t, opts)
}

// rollingConfig restarts rollNodes, listed in reverse so that the sorting is
// the provider's, with rolling set to the given HCL object.
func rollingConfig(e *testEnv, rolling string) string {
	reversed := slices.Clone(rollNodes)
	slices.Reverse(reversed)
	return e.providerBlock() + fmt.Sprintf(`
resource "hpc_cluster_node_restart" "test" {
  cluster_id = %q
  node_ids   = ["%s"]
  rolling    = %s
}
`, rollCluster, strings.Join(reversed, `", "`), rolling)
}

// expectJobsRanInBatches checks the simulator's jobs: one per batch, in order,
// with exactly the batch's nodes, each started only after the previous one
// ended (at least gap later), all successful.
func (e *testEnv) expectJobsRanInBatches(batches [][]string, gap time.Duration) simCheck {
	return func() error {
		jobs := e.sim.Jobs()
		if len(jobs) != len(batches) {
			return fmt.Errorf("the simulator ran %d restart jobs, want %d (one per batch)", len(jobs), len(batches))
		}
		for i, j := range jobs {
			if !slices.Equal(j.NodeIDs, batches[i]) {
				return fmt.Errorf("job %d (%s) restarted %v, want batch %v", i+1, j.ID, j.NodeIDs, batches[i])
			}
			if j.Status != ehpc.JobSuccessful {
				return fmt.Errorf("job %d (%s) is %s", i+1, j.ID, j.Status)
			}
			if i > 0 && j.Started.Before(jobs[i-1].Ended.Add(gap)) {
				return fmt.Errorf("job %d (%s) started at %s, before job %d ended at %s plus the pause %s: two batches ran at once",
					i+1, j.ID, j.Started.Format(time.RFC3339Nano), i, jobs[i-1].Ended.Format(time.RFC3339Nano), gap)
			}
		}
		return nil
	}
}

// batchChecks are the state checks of batches that all succeeded.
func batchChecks(batches [][]string) knownvalue.Check {
	var elems []knownvalue.Check
	for _, b := range batches {
		var ids []knownvalue.Check
		for _, id := range b {
			ids = append(ids, knownvalue.StringExact(id))
		}
		elems = append(elems, knownvalue.ObjectExact(map[string]knownvalue.Check{
			"job_id":             jobIDValue,
			"node_ids":           knownvalue.ListExact(ids),
			"status":             knownvalue.StringExact(ehpc.JobSuccessful),
			"sent_at":            knownvalue.Null(), // bookkeeping: kept in private state
			"earlier_job_ids":    knownvalue.Null(),
			"excluded_job_ids":   knownvalue.Null(),
			"job_created_after":  knownvalue.Null(),
			"job_created_before": knownvalue.Null(),
			"health_gate":        knownvalue.StringExact("passed"), // on by default with rolling
		}))
	}
	return knownvalue.ListExact(elems)
}

// 20 nodes in batches of 6: the plan lists the four batches, the apply makes
// four restart requests in sorted order, one at a time with the pause between
// them, and state records each; changing rolling afterwards restarts nothing.
func TestAccClusterNodeRestart_rolling(t *testing.T) {
	e := newRollingEnv(t, ehpcsim.Options{JobDuration: 300 * time.Millisecond})
	var mark int
	markNow := func() error { mark = e.sim.TotalRequests(); return nil }
	batch := tfjsonpath.New("batches")

	var planned []plancheck.PlanCheck
	for i, b := range rollBatches {
		var ids []knownvalue.Check
		for _, id := range b {
			ids = append(ids, knownvalue.StringExact(id))
		}
		planned = append(planned,
			plancheck.ExpectKnownValue(restartAddr, batch.AtSliceIndex(i).AtMapKey("node_ids"), knownvalue.ListExact(ids)),
			plancheck.ExpectUnknownValue(restartAddr, batch.AtSliceIndex(i).AtMapKey("job_id")))
		// Nothing else unknown: the engine's bookkeeping is kept in private
		// state, out of the plan.
		for _, name := range legacyBookkeeping {
			planned = append(planned, plancheck.ExpectKnownValue(restartAddr, batch.AtSliceIndex(i).AtMapKey(name), knownvalue.Null()))
		}
	}

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{
			{
				Config:           rollingConfig(e, `{ batch_size = 6, pause = "200ms" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: append(planned, plancheck.ExpectResourceAction(restartAddr, plancheck.ResourceActionCreate))},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(restartAddr, batch, batchChecks(rollBatches)),
					statecheck.ExpectKnownValue(restartAddr, tfjsonpath.New("status"), knownvalue.StringExact(ehpc.JobSuccessful)),
					statecheck.CompareValuePairs(restartAddr, tfjsonpath.New("job_id"), restartAddr, batch.AtSliceIndex(3).AtMapKey("job_id"), compare.ValuesSame()),
					statecheck.CompareValuePairs(restartAddr, tfjsonpath.New("id"), restartAddr, batch.AtSliceIndex(0).AtMapKey("job_id"), compare.ValuesSame()),
					simCheck(func() error {
						if n := e.sim.Requests(ehpc.PathRestartNodes); n != 4 {
							return fmt.Errorf("%d restart requests, want 4 (one per batch)", n)
						}
						return nil
					}),
					e.expectJobsRanInBatches(rollBatches, 200*time.Millisecond),
					simCheck(markNow),
				},
			},
			{
				// rolling shapes the next restart; changing it alone restarts nothing.
				Config: rollingConfig(e, `{ batch_size = 10 }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(restartAddr, plancheck.ResourceActionUpdate),
					e.noRequestsSince(&mark),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(restartAddr, batch, batchChecks(rollBatches)),
					e.noRequestsSince(&mark),
					e.expectRestarts(restartsOnce(rollNodes...)),
				},
			},
			{
				// Removing rolling is the same.
				Config: rollingConfig(e, "null"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(restartAddr, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{e.noRequestsSince(&mark)},
			},
		},
	})
}

func restartsOnce(ids ...string) map[string]int {
	m := map[string]int{}
	for _, id := range ids {
		m[id] = 1
	}
	return m
}

// stateBatches returns the recorded batches' job ids and statuses.
func stateBatches(t *testing.T, st map[string]any) (jobs, statuses []string) {
	t.Helper()
	list, ok := st["batches"].([]any)
	if !ok {
		t.Fatalf("state has no batches: %v", st["batches"])
	}
	for _, v := range list {
		b := v.(map[string]any)
		job, _ := b["job_id"].(string)
		jobs = append(jobs, job)
		statuses = append(statuses, b["status"].(string))
	}
	return jobs, statuses
}

// A failed second batch stops the rollout: the third and fourth are never
// sent, the error names the job and both node lists, and the resource is
// tainted. The next plain apply finishes the rollout without restarting the
// first batch again.
func TestAccClusterNodeRestart_rollingFailedBatch(t *testing.T) {
	t.Parallel()
	e, c, out, code := failSecondBatch(t)
	if code == 0 {
		t.Fatalf("apply succeeded with a failed batch:\n%s", out)
	}
	jobs := e.sim.Jobs()
	if len(jobs) != 2 {
		t.Fatalf("the simulator ran %d jobs, want 2: batches after the failed one must not be sent", len(jobs))
	}
	flat := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{
		"Restart Job Failed",
		fmt.Sprintf("Restart job %s for cluster %s finished with status %q", jobs[1].ID, rollCluster, ehpc.JobFailed),
		fmt.Sprintf("Rolling restart stopped at batch 2 of 4 (job %s", jobs[1].ID),
		"Restarted so far: " + strings.Join(rollBatches[0], ", ") + ".",
		"Never restarted: " + strings.Join(slices.Concat(rollBatches[2], rollBatches[3]), ", ") + ".",
		"the next plain apply replaces it, and the replacement continues this rollout",
		fmt.Sprintf("It sends batch 2 again (its job %s failed). It sends batch 3, 4, one after the other.", jobs[1].ID),
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("apply output lacks %q:\n%s", want, out)
		}
	}
	st, tainted := c.stateResource()
	if st == nil || !tainted {
		t.Fatalf("after a failed batch the resource must be in state and tainted; in state: %v, tainted: %v", st != nil, tainted)
	}
	gotJobs, statuses := stateBatches(t, st)
	if want := []string{"successful", "failed", "not_sent", "not_sent"}; !slices.Equal(statuses, want) {
		t.Errorf("batch statuses %v, want %v", statuses, want)
	}
	if want := []string{jobs[0].ID, jobs[1].ID, "", ""}; !slices.Equal(gotJobs, want) {
		t.Errorf("batch jobs %v, want %v", gotJobs, want)
	}
	if st["job_id"] != jobs[1].ID || st["status"] != ehpc.JobFailed || st["id"] != jobs[0].ID {
		t.Errorf("id %v, job_id %v, status %v: want %s, %s, failed", st["id"], st["job_id"], st["status"], jobs[0].ID, jobs[1].ID)
	}

	// The pipeline's next step: a plain apply. Terraform replaces the tainted
	// record, and the replacement continues it at the failed batch.
	if plan := c.mustSucceed("plan", "-input=false"); !regexp.MustCompile(`is tainted, so (it )?must be replaced`).MatchString(plan) { // OpenTofu adds "it"
		t.Errorf("plan output lacks the tainted record's replacement:\n%s", plan)
	}
	out = c.mustSucceed("apply", "-auto-approve", "-input=false")
	if !strings.Contains(strings.Join(strings.Fields(out), " "), "Warning: Unfinished Restart Continued") {
		t.Errorf("the apply does not say it continued the rollout:\n%s", out)
	}
	expectOnlyBatch2Twice(t, e)
	st, tainted = c.stateResource()
	if _, statuses := stateBatches(t, st); tainted || st["status"] != ehpc.JobSuccessful || !slices.Equal(statuses, []string{"successful", "successful", "successful", "successful"}) {
		t.Errorf("after the resumed apply: tainted %v, status %v, batches %v", tainted, st["status"], statuses)
	}
	// The failed job is kept: no job id is ever dropped when its batch is sent again.
	if kept := torture.Batches(st, c.statePrivate())[1].Jobs; !slices.Contains(kept, jobs[1].ID) || len(kept) != 2 {
		t.Errorf("batch 2 keeps the jobs %v, want its failed job %s and the one that succeeded", kept, jobs[1].ID)
	}
	if out := c.mustSucceed("plan", "-input=false", "-detailed-exitcode"); !strings.Contains(out, "No changes") {
		t.Errorf("a finished rollout plans changes:\n%s", out)
	}
}

// Ctrl-C after the second batch was sent keeps both jobs in state, untainted;
// the next plan says the apply resumes, and the apply waits for the second
// batch's job without sending it again, then sends the third and fourth.
func TestAccClusterNodeRestart_rollingInterrupted(t *testing.T) {
	t.Parallel()
	e := newRollingEnv(t, ehpcsim.Options{JobDuration: 2 * time.Second})
	c := e.newCLI(t)
	c.write(rollingConfig(e, `{ batch_size = 6 }`))
	c.mustSucceed("init", "-input=false")

	// Interrupt in the wait for batch 2's job: once its job exists and the log
	// was read after that (so its answer had arrived); an interrupt while the
	// answer is in flight loses it, which TestAccClusterNodeRestart_rollingUnknownOutcome covers.
	logReads := -1
	out := c.applyInterrupted(func() bool {
		switch {
		case len(e.sim.Jobs()) < 2:
			return false
		case logReads < 0:
			logReads = e.sim.Requests(ehpc.PathOperations)
			return false
		}
		return e.sim.Requests(ehpc.PathOperations) > logReads
	}, "the second batch was never sent")
	jobs := e.sim.Jobs()
	if len(jobs) != 2 {
		t.Fatalf("the simulator ran %d jobs after the interrupt, want 2", len(jobs))
	}
	flat := strings.Join(strings.Fields(out), " ")
	// The interrupt usually lands in the wait (Wait For Restart Job Interrupted);
	// landing while the answer is in flight (Restart Interrupted) keeps the job
	// the same way, so the test asserts what both say.
	if want := fmt.Sprintf("It waits for batch 2 (job %s) without sending it again. It sends batch 3, 4, one after the other.", jobs[1].ID); !strings.Contains(flat, want) {
		t.Errorf("apply output lacks %q:\n%s", want, out)
	}
	st, tainted := c.stateResource()
	if st == nil || !tainted || !strings.Contains(flat, "Error: Wait For Restart Job Interrupted") && !strings.Contains(flat, "Error: Restart Interrupted") {
		t.Fatalf("an interrupted rollout must fail the apply, in state (tainted, as after any failed create); in state: %v, tainted: %v:\n%s", st != nil, tainted, out)
	}
	gotJobs, statuses := stateBatches(t, st)
	if want := []string{jobs[0].ID, jobs[1].ID, "", ""}; !slices.Equal(gotJobs, want) {
		t.Errorf("batch jobs %v, want %v: both started jobs must be in state", gotJobs, want)
	}
	if want := []string{"successful", "pending", "not_sent", "not_sent"}; !slices.Equal(statuses, want) {
		t.Errorf("batch statuses %v, want %v", statuses, want)
	}
	if st["status"] != ehpc.JobPending || st["job_id"] != jobs[1].ID {
		t.Errorf("status %v, job_id %v: want pending, %s", st["status"], st["job_id"], jobs[1].ID)
	}

	// The in-place resume of an untainted record (one an earlier release
	// left, or one untainted by hand) says the same in the plan.
	c.mustSucceed("untaint", restartAddr)
	plan := strings.Join(strings.Fields(c.mustSucceed("plan", "-input=false")), " ")
	for _, want := range []string{"Unfinished Rolling Restart Resumes", fmt.Sprintf("It waits for batch 2 (job %s) without sending it again.", jobs[1].ID), "It sends batch 3, 4"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan output lacks %q:\n%s", want, plan)
		}
	}

	// The resume interrupted in its turn: Terraform shows the plan's warning
	// again at the end of the apply, so the apply's message says it supersedes
	// it, and what it did.
	resumed := strings.Join(strings.Fields(c.applyInterrupted(func() bool { return len(e.sim.Jobs()) >= 3 }, "the third batch was never sent")), " ")
	t.Logf("the interrupted resume printed the plan's warning %d times", strings.Count(resumed, "Warning: Unfinished Rolling Restart Resumes"))
	for _, want := range []string{
		`This apply stopped before it did all that the plan's "Unfinished Rolling Restart Resumes" warning said; this message says what was done and what is left.`,
		"Rolling restart stopped at batch 3 of 4",
	} {
		if !strings.Contains(resumed, want) {
			t.Errorf("interrupted resume's output lacks %q:\n%s", want, resumed)
		}
	}

	c.mustSucceed("apply", "-auto-approve", "-input=false")
	if got, want := e.sim.RestartCounts(), restartsOnce(rollNodes...); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("restarts per node %v, want every node once", got)
	}
	if err := e.expectJobsRanInBatches(rollBatches, 0)(); err != nil {
		t.Error(err)
	}
	st, _ = c.stateResource()
	if gotJobs, _ := stateBatches(t, st); gotJobs[1] != jobs[1].ID || st["status"] != ehpc.JobSuccessful {
		t.Errorf("after resuming: batch 2 job %s (want %s), status %v", gotJobs[1], jobs[1].ID, st["status"])
	}
}

// Mistakes in rolling fail the plan, naming the argument and the fix, before
// anything is sent.
func TestAccClusterNodeRestart_rollingInvalid(t *testing.T) {
	e := newRollingEnv(t, ehpcsim.Options{})
	step := func(rolling, extra, want string) resource.TestStep {
		return resource.TestStep{
			Config:      strings.Replace(rollingConfig(e, rolling), "  rolling", extra+"  rolling", 1),
			PlanOnly:    true,
			ExpectError: regex(want),
		}
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{
			step(`{ batch_size = 6 }`, "  wait_for_completion = false\n", `Rolling Restart Needs Waiting[\s\S]*wait_for_completion = false cannot be[\s\S]*combined with rolling`),
			// Terraform points at the rolling line (not the resource's first),
			// and the message names the argument and a fix.
			step(`{ batch_size = 0 }`, "", `Invalid Rolling Batch Size[\s\S]*\d+:\s+rolling\s+= \{ batch_size = 0 \}[\s\S]*rolling.batch_size = 0, but a batch must hold at least one node[\s\S]*batch_size = 1 to restart one[\s\S]*node at a time`),
			step(`{ batch_size = 6, pause = "10 minutes" }`, "", `Invalid Rolling Pause[\s\S]*\d+:\s+rolling\s+= \{ batch_size = 6, pause = "10 minutes" \}[\s\S]*"10 minutes" is not a duration`),
			step(`{ batch_size = 6, pause = "2h" }`, "", `Invalid Rolling Pause[\s\S]*outside 0s to "1h"`),
		},
		CheckDestroy: func(*terraform.State) error {
			if n := e.sim.TotalRequests(); n != 0 {
				return fmt.Errorf("%d API requests for plans that must fail first", n)
			}
			return nil
		},
	})
}

// The action rolls the same way and reports each batch; a failed batch stops
// it, and the error names what to invoke to finish.
func TestAction_invokeRolling(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, ehpcsim.Options{JobDuration: 100 * time.Millisecond})
	p := e.protoServer(nil).mustConfigure(e.simProviderConfig())
	rolling := rollingArg(num(2), tftypes.NewValue(tftypes.String, nil))
	nodes := []string{"cln-cmp00004", "cln-cmp00002", "cln-cmp00003", "cln-cmp00001"}

	expectOneError(t, "rolling without waiting", p.validate(actionArgs(map[string]tftypes.Value{"rolling": rolling, "wait_for_completion": boolean(false)}, nodes...)),
		`Rolling Restart Needs Waiting \[AttributeName\("wait_for_completion"\)\]: wait_for_completion = false cannot be combined with rolling`)

	inv := p.invoke(context.Background(), actionArgs(map[string]tftypes.Value{"rolling": rolling}, nodes...), nil)
	expectNoErrors(t, "rolling invocation", inv.diags)
	jobs := e.sim.Jobs()
	if len(jobs) != 2 || !slices.Equal(jobs[0].NodeIDs, []string{"cln-cmp00001", "cln-cmp00002"}) || !slices.Equal(jobs[1].NodeIDs, []string{"cln-cmp00003", "cln-cmp00004"}) {
		t.Fatalf("jobs %+v: want two batches of two sorted nodes", jobs)
	}
	if jobs[1].Started.Before(jobs[0].Ended) {
		t.Errorf("batch 2 started before batch 1 ended")
	}
	progress := strings.Join(inv.progress, "\n")
	for _, want := range []string{
		fmt.Sprintf("Batch 1 of 2: Restart of 2 nodes (cln-cmp00001, cln-cmp00002) of cluster %s (zone %s) requested: job %s.", ehpcsim.DemoClusterID, ehpcsim.DemoZone, jobs[0].ID),
		fmt.Sprintf("Batch 2 of 2: Restart job %s finished: successful", jobs[1].ID),
	} {
		if !strings.Contains(progress, want) {
			t.Errorf("progress lacks %q:\n%s", want, progress)
		}
	}

	e.sim.Reset()
	e.sim.SetJobDuration(100 * time.Millisecond)
	e.sim.FailJobsAfter(1, 1)
	one := rollingArg(num(1), str("0s"))
	inv = p.invoke(context.Background(), actionArgs(map[string]tftypes.Value{"rolling": one}, "cln-cmp00003", "cln-cmp00001", "cln-cmp00002"), nil)
	jobs = e.sim.Jobs()
	if len(jobs) != 2 {
		t.Fatalf("%d jobs: the batch after the failed one must not be sent", len(jobs))
	}
	expectOneError(t, "failed batch", inv.diags, `Restart Job Failed: Restart job `+jobs[1].ID+` for node cln-cmp00002 of cluster [\s\S]*`+
		`Rolling restart stopped at batch 2 of 3 \(job `+jobs[1].ID+`[\s\S]*Restarted so far: cln-cmp00001\. Never restarted: cln-cmp00003\.[\s\S]*`+
		`node_ids set to the nodes not restarted yet \(cln-cmp00002, cln-cmp00003\)`)
}

// Ctrl-C during the last batch's wait: every batch was sent, but the last
// one's job was not seen to succeed, so the apply fails, and the next plain
// apply waits for that job (sending nothing) and is green.
func TestAccClusterNodeRestart_rollingInterruptedInLastBatch(t *testing.T) {
	t.Parallel()
	e := newRollingEnv(t, ehpcsim.Options{JobDuration: 2 * time.Second})
	c := e.newCLI(t)
	c.write(rollingConfig(e, `{ batch_size = 10 }`))
	c.mustSucceed("init", "-input=false")

	out := c.applyInterrupted(func() bool { return len(e.sim.Jobs()) >= 2 }, "the last batch was never sent")
	jobs := e.sim.Jobs()
	if want := fmt.Sprintf("It waits for batch 2 (job %s) without sending it again.", jobs[1].ID); !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
		t.Errorf("the interrupted apply does not say the next apply waits for the last batch; want %q:\n%s", want, out)
	}
	st, tainted := c.stateResource()
	if _, statuses := stateBatches(t, st); !tainted || !slices.Equal(statuses, []string{"successful", "pending"}) || st["status"] != ehpc.JobPending {
		t.Fatalf("tainted %v, batches %v, status %v: want tainted, [successful pending], pending", tainted, statuses, st["status"])
	}
	c.mustSucceed("apply", "-auto-approve", "-input=false")
	if n := len(e.sim.Jobs()); n != 2 {
		t.Errorf("%d jobs, want 2: the next apply waits for the last batch's job, never sending it again", n)
	}
	st, tainted = c.stateResource()
	if _, statuses := stateBatches(t, st); tainted || !slices.Equal(statuses, []string{"successful", "successful"}) {
		t.Errorf("after the next apply: tainted %v, batches %v", tainted, statuses)
	}
	c.mustSucceed("plan", "-input=false", "-detailed-exitcode")
}

// A batch whose answer is lost while the operation log cannot be read is
// recorded as unknown, never as not sent, with the window its job lies in, and
// the apply fails. The next plain apply replaces the tainted record, and the
// replacement looks for that batch's job first and adopts it: no node
// restarts twice.
func TestAccClusterNodeRestart_rollingUnknownOutcome(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, ehpcsim.Options{OperationLogLag: 2 * time.Second, JobDuration: 3 * time.Second})
	e.adjustClient(func(c *ehpc.Config) { c.RequestTimeout = time.Second })
	// The second batch's request is processed but its answer is lost, and the
	// log fails from then on.
	e.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, AfterEffect: true, Skip: 1})
	c := e.newCLI(t)
	c.write(restartConfig(e, `  node_ids   = ["cln-cmp00003", "cln-cmp00002", "cln-cmp00001"]
  rolling    = { batch_size = 1 }`))
	c.mustSucceed("init", "-input=false")
	go func() {
		for e.sim.Requests(ehpc.PathRestartNodes) < 2 {
			time.Sleep(5 * time.Millisecond)
		}
		e.sim.InjectFault(ehpc.PathOperations, ehpcsim.Fault{HTTPStatus: http.StatusBadGateway, Count: 1000})
	}()

	out, code := c.run("apply", "-auto-approve", "-input=false")
	flat := strings.Join(strings.Fields(out), " ")
	if code == 0 || !strings.Contains(flat, "Error: Restart Outcome Unknown") || !strings.Contains(flat, "its request's outcome is unknown, node cln-cmp00002") {
		t.Fatalf("exit %d; want the error Restart Outcome Unknown naming batch 2:\n%s", code, out)
	}
	st, tainted := c.stateResource()
	jobs, statuses := stateBatches(t, st)
	if want := []string{"successful", rollout.Unknown, "not_sent"}; !tainted || !slices.Equal(statuses, want) || jobs[1] != "" {
		t.Fatalf("batches %v %v (tainted %v), want statuses %v, no job for batch 2, tainted", jobs, statuses, tainted, want)
	}
	if lost := torture.Batches(st, c.statePrivate())[1]; lost.Created[0] == "" || lost.Created[1] == "" {
		t.Fatalf("batch 2 keeps no window to settle it by: %+v", lost)
	}

	if !strings.Contains(flat, "The answer to the request of batch 2 was lost: it looks for that batch's job in the operation log") {
		t.Errorf("the error does not say the next apply looks for batch 2's job:\n%s", out)
	}
	e.sim.ClearFaults()
	out = c.mustSucceed("apply", "-auto-approve", "-input=false")
	if !strings.Contains(strings.Join(strings.Fields(out), " "), "Restart Job Adopted From Operation Log") {
		t.Errorf("the next apply did not adopt batch 2's job:\n%s", out)
	}
	if got, want := e.sim.RestartCounts(), restartsOnce("cln-cmp00001", "cln-cmp00002", "cln-cmp00003"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("restarts per node %v, want each once", got)
	}
	st, _ = c.stateResource()
	if jobs, statuses := stateBatches(t, st); jobs[1] != e.sim.Jobs()[1].ID || !slices.Equal(statuses, []string{"successful", "successful", "successful"}) {
		t.Errorf("after resuming: batches %v %v", jobs, statuses)
	}
}

// timeout bounds the whole rollout, not each batch: with 4s jobs and 10s in
// all, the third batch is not sent, since less is left than a batch takes.
func TestAction_invokeRollingTimeoutBoundsRollout(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, ehpcsim.Options{JobDuration: 4 * time.Second})
	p := e.protoServer(nil).mustConfigure(e.simProviderConfig())
	one := rollingArg(num(1), tftypes.NewValue(tftypes.String, nil))
	inv := p.invoke(context.Background(), actionArgs(map[string]tftypes.Value{"rolling": one, "timeout": str("10s")}, "cln-cmp00001", "cln-cmp00002", "cln-cmp00003"), nil)
	if n := len(e.sim.Jobs()); n != 2 {
		t.Fatalf("%d jobs, want 2: the third batch does not fit in what is left of the timeout", n)
	}
	expectOneError(t, "rollout out of time", inv.diags, `Timed Out Before Next Batch: Batch 3 of 3 was not sent: less of the action's timeout \(10s\) was left than batch 2 took[\s\S]*`+
		`Never restarted: cln-cmp00003\.[\s\S]*node_ids set to the nodes not restarted yet \(cln-cmp00003\)`)
}

// A rolling value known only at apply is checked again before anything is
// sent: a batch size below 1 must never become one batch of every node.
func TestAction_invokeRollingCheckedBeforeSending(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, ehpcsim.Options{})
	p := e.protoServer(nil).mustConfigure(e.simProviderConfig())
	for _, tc := range []struct {
		size  int64
		pause string
		want  string
	}{
		{0, "0s", `Invalid Rolling Batch Size \[AttributeName\("rolling"\)\]: rolling\.batch_size = 0, but a batch must hold at least one node`},
		{2, "10 minutes", `Invalid Rolling Pause \[AttributeName\("rolling"\)\]: rolling\.pause = "10 minutes" is not a duration`},
	} {
		// InvokeAction straight away, as for a value unknown at plan.
		v := rollingArg(num(tc.size), str(tc.pause))
		inv := p.invoke(context.Background(), actionArgs(map[string]tftypes.Value{"rolling": v}, "cln-cmp00001", "cln-cmp00002"), nil)
		expectOneError(t, tc.want, inv.diags, tc.want)
	}
	if n := e.sim.Requests(ehpc.PathRestartNodes); n != 0 {
		t.Fatalf("%d restart requests for invalid rolling values", n)
	}
}

// A failed rollout whose rolling was changed before the next apply: the
// replacement would continue batches that the plan shows cut otherwise, so
// it sends nothing and says how to finish (rolling as it was) or start over
// (triggers), saving the record as it was. Put back, the next apply finishes
// it: only the failed batch restarts twice.
func TestAccClusterNodeRestart_rollingCutDifferently(t *testing.T) {
	t.Parallel()
	e, c, out, code := failSecondBatch(t)
	if code == 0 {
		t.Fatalf("apply succeeded with a failed batch:\n%s", out)
	}
	before, _ := c.stateResource()
	posts := e.sim.Requests(ehpc.PathRestartNodes)

	c.write(rollingConfig(e, `{ batch_size = 10 }`))
	out, code = c.run("apply", "-auto-approve", "-input=false")
	flat := strings.Join(strings.Fields(out), " ")
	if code == 0 || !strings.Contains(flat, "Error: Rollout Cut Differently") || !strings.Contains(flat, "Set rolling back to how it was") {
		t.Fatalf("exit %d; want the error Rollout Cut Differently:\n%s", code, out)
	}
	if n := e.sim.Requests(ehpc.PathRestartNodes) - posts; n != 0 {
		t.Fatalf("the refused apply sent %d restart requests", n)
	}
	after, tainted := c.stateResource()
	if !tainted || fmt.Sprint(after["batches"]) != fmt.Sprint(before["batches"]) {
		t.Fatalf("the record changed or is not kept tainted (%v):\nbefore %v\nafter  %v", tainted, before["batches"], after["batches"])
	}

	c.write(rollingConfig(e, `{ batch_size = 6 }`))
	c.mustSucceed("apply", "-auto-approve", "-input=false")
	expectOnlyBatch2Twice(t, e)
	c.mustSucceed("plan", "-input=false", "-detailed-exitcode")
}

// failSecondBatch applies a rolling restart of rollNodes in batches of 6
// whose second batch's job fails, and returns what the apply printed.
func failSecondBatch(t *testing.T) (*testEnv, *cli, string, int) {
	t.Helper()
	e := newRollingEnv(t, ehpcsim.Options{JobDuration: 200 * time.Millisecond})
	e.sim.FailJobsAfter(1, 1)
	c := e.newCLI(t)
	c.write(rollingConfig(e, `{ batch_size = 6 }`))
	c.mustSucceed("init", "-input=false")
	out, code := c.run("apply", "-auto-approve", "-input=false")
	return e, c, out, code
}

// expectOnlyBatch2Twice checks that every node restarted once, but batch 2's,
// whose job failed and which was sent again.
func expectOnlyBatch2Twice(t *testing.T, e *testEnv) {
	t.Helper()
	want := restartsOnce(rollNodes...)
	for _, id := range rollBatches[1] {
		want[id] = 2
	}
	if got := e.sim.RestartCounts(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("restarts per node %v, want %v: only the failed batch may restart twice", got, want)
	}
}
