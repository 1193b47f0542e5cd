package provider

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
	"github.com/qingcloud/terraform-provider-hpc/internal/rollout"
	"github.com/qingcloud/terraform-provider-hpc/internal/torture"
)

// upgradeDir holds one state per release, written by that release's provider
// with the configuration beside it (NAME.tfstate and NAME.tf). Fixtures are
// never edited, only added: see its README.md.
const upgradeDir = "testdata/upgrade"

// fixtureProvider is the provider address in the fixtures, as Terraform writes
// it; under OpenTofu the test rewrites its host (see providerAddress).
const fixtureProvider = "registry.terraform.io/qingcloud/hpc"

// upgradeFixtureConfig is the configuration each new fixture is written with: a
// resource with every argument set, so its state has every attribute.
const upgradeFixtureConfig = `
resource "hpc_cluster_node_restart" "upgrade" {
  cluster_id          = "ehpc-8jqdq0mz"
  node_ids            = ["cln-cmp00002", "cln-cmp00001"]
  zone                = "jn1a"
  triggers            = { kernel = "6.1.0", reason = "upgrade fixture" }
  wait_for_completion = true

  timeouts {
    create = "45m"
  }
}
`

// TestAccWriteUpgradeFixture adds the state of this version to testdata/upgrade,
// by a real apply against the simulator. Run it once per release, with Terraform
// (not OpenTofu), naming the release:
//
//	HPC_WRITE_UPGRADE_FIXTURE=v0.2.0 TF_ACC=1 TF_ACC_TERRAFORM_PATH=... go test -run TestAccWriteUpgradeFixture ./internal/provider/
//
// It refuses to overwrite a fixture: they are never edited.
func TestAccWriteUpgradeFixture(t *testing.T) {
	name := os.Getenv("HPC_WRITE_UPGRADE_FIXTURE")
	if name == "" {
		t.Skip("set HPC_WRITE_UPGRADE_FIXTURE=<release> to add this version's state to " + upgradeDir)
	}
	if providerAddress() != fixtureProvider {
		t.Fatalf("write fixtures with Terraform, not with TF_ACC_PROVIDER_HOST=%s", os.Getenv("TF_ACC_PROVIDER_HOST"))
	}
	statePath := filepath.Join(upgradeDir, name+".tfstate")
	configPath := filepath.Join(upgradeDir, name+".tf")
	for _, p := range []string{statePath, configPath} {
		if _, err := os.Stat(p); err == nil {
			t.Fatalf("%s exists: fixtures are never edited, only added", p)
		}
	}
	e := newTestEnv(t, ehpcsim.Options{JobDuration: 100 * time.Millisecond})
	c := e.newCLI(t)
	c.write(e.providerBlock() + upgradeFixtureConfig)
	c.mustSucceed("init", "-input=false")
	c.mustSucceed("apply", "-auto-approve", "-input=false")
	state, err := os.ReadFile(filepath.Join(c.dir, "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(state), fixtureProvider) {
		t.Fatalf("the state does not name provider %s:\n%s", fixtureProvider, state)
	}
	if err := os.WriteFile(configPath, []byte(strings.TrimPrefix(upgradeFixtureConfig, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(statePath, state, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s and %s; add a line for them to %s/README.md", statePath, configPath, upgradeDir)
}

// A state written by an earlier release, read by this one with the
// configuration that wrote it, plans nothing and sends nothing: upgrading the
// provider never restarts a node. One subtest per fixture, so a release only
// adds files.
func TestAccUpgrade_fixturesPlanNothing(t *testing.T) {
	terraformPath(t)
	states, err := filepath.Glob(filepath.Join(upgradeDir, "*.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	if len(states) == 0 {
		t.Fatalf("no fixtures in %s", upgradeDir)
	}
	for _, statePath := range states {
		name := strings.TrimSuffix(filepath.Base(statePath), ".tfstate")
		t.Run(name, func(t *testing.T) {
			state, err := os.ReadFile(statePath)
			if err != nil {
				t.Fatal(err)
			}
			config, err := os.ReadFile(strings.TrimSuffix(statePath, ".tfstate") + ".tf")
			if err != nil {
				t.Fatalf("fixture %s has no configuration beside it: %v", name, err)
			}
			if !strings.Contains(string(state), `"`+fixtureProvider+`"`) && !strings.Contains(string(state), `\"`+fixtureProvider+`\"`) {
				t.Fatalf("fixture %s does not name provider %s", name, fixtureProvider)
			}
			// OpenTofu registers the provider under its own registry host.
			state = []byte(strings.ReplaceAll(string(state), fixtureProvider, providerAddress()))

			e := newTestEnv(t, ehpcsim.Options{})
			c := e.newCLI(t)
			c.write(e.providerBlock() + string(config))
			if err := os.WriteFile(filepath.Join(c.dir, "terraform.tfstate"), state, 0o600); err != nil {
				t.Fatal(err)
			}
			c.mustSucceed("init", "-input=false")
			out, code := c.run("plan", "-input=false", "-detailed-exitcode")
			if code != 0 {
				t.Fatalf("plan on the %s state exited %d, want 0 (no changes):\n%s", name, code, out)
			}
			out = c.mustSucceed("apply", "-auto-approve", "-input=false")
			if !strings.Contains(out, "0 added, 0 changed, 0 destroyed") {
				t.Fatalf("apply on the %s state changed something:\n%s", name, out)
			}
			if n := e.sim.TotalRequests(); n != 0 {
				t.Fatalf("plan and apply on the %s state sent %d requests: %v", name, n, e.sim.RequestCounts())
			}
			if got := e.sim.RestartCounts(); len(got) != 0 {
				t.Fatalf("plan and apply on the %s state restarted %v", name, got)
			}
		})
	}
}

// unfinishedDir holds states of rolling restarts that a release left
// unfinished, each with its configuration (NAME.tf) and the simulator's jobs
// at the time (NAME.jobs.json), so a later release can be tested resuming
// them against a simulator that knows those jobs. Never edited, only added.
const unfinishedDir = "testdata/upgrade/unfinished"

// unfinishedFixtureConfig restarts the demo cluster's four compute nodes one
// at a time.
const unfinishedFixtureConfig = `
resource "hpc_cluster_node_restart" "test" {
  cluster_id = "ehpc-8jqdq0mz"
  node_ids   = ["cln-cmp00004", "cln-cmp00003", "cln-cmp00002", "cln-cmp00001"]
  zone       = "jn1a"
  rolling    = { batch_size = 1 }
}
`

// TestAccWriteUnfinishedRolloutFixtures adds two states of this version to
// testdata/upgrade/unfinished, each a rolling restart left unfinished by a
// real apply against the simulator:
//
//   - NAME-interrupted: Ctrl-C while batch 2's job runs (batch 1 successful,
//     batch 2 pending, batches 3 and 4 never sent);
//
//   - NAME-unknown: then an apply that resumed it, waited for batch 2 and lost
//     the answer to batch 3's request (not processed) while the operation log
//     could not be read (batch 3 unknown without a job, batch 4 never sent).
//
//     HPC_WRITE_UPGRADE_FIXTURE=v0.2.0 TF_ACC=1 TF_ACC_TERRAFORM_PATH=... go test -run TestAccWriteUnfinishedRolloutFixtures ./internal/provider/
func TestAccWriteUnfinishedRolloutFixtures(t *testing.T) {
	name := os.Getenv("HPC_WRITE_UPGRADE_FIXTURE")
	if name == "" {
		t.Skip("set HPC_WRITE_UPGRADE_FIXTURE=<release> to add this version's unfinished rollouts to " + unfinishedDir)
	}
	if providerAddress() != fixtureProvider {
		t.Fatalf("write fixtures with Terraform, not with TF_ACC_PROVIDER_HOST=%s", os.Getenv("TF_ACC_PROVIDER_HOST"))
	}
	for _, kind := range []string{"interrupted", "unknown"} {
		for _, ext := range []string{".tf", ".tfstate", ".jobs.json"} {
			if p := filepath.Join(unfinishedDir, name+"-"+kind+ext); fileExists(p) {
				t.Fatalf("%s exists: fixtures are never edited, only added", p)
			}
		}
	}
	e := newTestEnv(t, ehpcsim.Options{JobDuration: 3 * time.Second})
	e.adjustClient(func(c *ehpc.Config) { c.RequestTimeout = time.Second })
	c := e.newCLI(t)
	c.write(e.providerBlock() + unfinishedFixtureConfig)
	c.mustSucceed("init", "-input=false")
	c.applyInterrupted(func() bool { return len(e.sim.Jobs()) >= 2 }, "the second batch was never sent")
	if st, tainted := c.stateResource(); st == nil || tainted {
		t.Fatalf("the interrupted rollout is not in state untainted: %v (tainted %v)", st, tainted)
	}
	writeUnfinishedFixture(t, e, c, name+"-interrupted")

	// Batch 2's job is over by now, so the resume reads the log once for it;
	// then batch 3's request is lost before it is processed, and every later
	// read of the log fails.
	for !allJobsEnded(e.sim.Jobs()) {
		time.Sleep(100 * time.Millisecond)
	}
	e.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true})
	e.sim.InjectFault(ehpc.PathOperations, ehpcsim.Fault{HTTPStatus: 502, Count: 1000, Skip: 1})
	out, code := c.run("apply", "-auto-approve", "-input=false")
	st, tainted := c.stateResource()
	if code == 0 || st == nil || tainted {
		t.Fatalf("want a failed resume, in state untainted; exit %d, tainted %v, state %v:\n%s", code, tainted, st, out)
	}
	if _, statuses := stateBatches(t, st); statuses[2] != rollout.Unknown {
		t.Fatalf("batch 3 is %q, want unknown:\n%s", statuses[2], out)
	}
	writeUnfinishedFixture(t, e, c, name+"-unknown")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func allJobsEnded(jobs []ehpcsim.Job) bool {
	for _, j := range jobs {
		if j.Ended.IsZero() {
			return false
		}
	}
	return true
}

// writeUnfinishedFixture writes c's state, configuration and e's jobs as name.
func writeUnfinishedFixture(t *testing.T, e *testEnv, c *cli, name string) {
	t.Helper()
	writeFixtureIn(t, unfinishedDir, e, c, name, unfinishedFixtureConfig)
}

// A rolling restart that the release before the rollout engine left
// unfinished resumes after the upgrade, against a simulator that knows that
// release's jobs: the plan says what the apply does, the apply restarts only
// the batches never restarted, no job id is lost, and the next plan is empty.
// One subtest per fixture, and one more where the lost request of the
// "unknown" fixture did make a job, which must be adopted, not sent again.
func TestAccUpgrade_unfinishedRolloutsResume(t *testing.T) {
	terraformPath(t)
	states, err := filepath.Glob(filepath.Join(unfinishedDir, "*.tfstate"))
	if err != nil || len(states) == 0 {
		t.Fatalf("no fixtures in %s (%v)", unfinishedDir, err)
	}
	for _, statePath := range states {
		name := strings.TrimSuffix(filepath.Base(statePath), ".tfstate")
		for _, lostJobMade := range []bool{false, true} {
			if lostJobMade && !strings.HasSuffix(name, "-unknown") {
				continue
			}
			sub := name
			if lostJobMade {
				sub += "-lost-request-made-a-job"
			}
			t.Run(sub, func(t *testing.T) { resumeFixture(t, strings.TrimSuffix(statePath, ".tfstate"), lostJobMade) })
		}
	}
}

func resumeFixture(t *testing.T, base string, lostJobMade bool) {
	state, config, jobs := readFixture(t, base)
	e := newTestEnv(t, ehpcsim.Options{JobDuration: 200 * time.Millisecond})
	for _, j := range jobs {
		j.Status = ehpc.JobSuccessful // long over by the time anyone upgrades
		e.sim.RestorePastJob(j)
	}
	// In the state, every batch with a job, and the lost one without.
	before := fixtureBatches(t, state)
	lost := -1
	for i, b := range before {
		if b.Status == rollout.Unknown && b.JobID == "" {
			lost = i
		}
	}
	madeByLost := ""
	if lostJobMade {
		// The lost request was processed after all: a job of its nodes,
		// created after the previous batch's.
		madeByLost = "j-lostreq001"
		e.sim.RestorePastJob(ehpcsim.Job{ID: madeByLost, ClusterID: ehpcsim.DemoClusterID, NodeIDs: before[lost].Nodes,
			Created: jobs[len(jobs)-1].Created.Add(2 * time.Second), Status: ehpc.JobSuccessful})
	}
	c := fixtureCLI(t, e, state, config)
	plan := strings.Join(strings.Fields(c.mustSucceed("plan", "-input=false")), " ")
	if !strings.Contains(plan, "Unfinished Rolling Restart Resumes") || !strings.Contains(plan, "update in-place") {
		t.Fatalf("the plan does not resume the rollout:\n%s", plan)
	}
	if lost >= 0 && !strings.Contains(plan, fmt.Sprintf("The answer to the request of batch %d was lost: it looks for that batch's job", lost+1)) {
		t.Errorf("the plan does not say it looks for batch %d's job first:\n%s", lost+1, plan)
	}
	out := c.mustSucceed("apply", "-auto-approve", "-input=false")

	// Only the nodes of batches never restarted restart, once; no earlier job
	// is sent again.
	want := map[string]int{}
	for i, b := range before {
		if b.JobID == "" && (!lostJobMade || i != lost) {
			for _, n := range b.Nodes {
				want[n] = 1
			}
		}
	}
	if err := e.expectRestarts(want)(); err != nil {
		t.Errorf("%v\n%s", err, out)
	}
	st, tainted := c.stateResource()
	after := fixtureBatches(t, mustJSON(t, map[string]any{"resources": []any{map[string]any{"instances": []any{map[string]any{"attributes": st}}}}}))
	for i, b := range after {
		switch {
		case b.Status != ehpc.JobSuccessful:
			t.Errorf("batch %d is %s after the resume", i+1, b.Status)
		case before[i].JobID != "" && b.JobID != before[i].JobID:
			t.Errorf("batch %d's job %s became %s: a recorded job must never be replaced", i+1, before[i].JobID, b.JobID)
		case lostJobMade && i == lost && b.JobID != madeByLost:
			t.Errorf("batch %d's lost request made job %s, but the record holds %s", i+1, madeByLost, b.JobID)
		}
	}
	if tainted || st["status"] != ehpc.JobSuccessful {
		t.Errorf("after the resume: tainted %v, status %v", tainted, st["status"])
	}
	if out, code := c.run("plan", "-input=false", "-detailed-exitcode"); code != 0 {
		t.Errorf("the plan after the resume exits %d, want 0 (no changes):\n%s", code, out)
	}
}

// fixtureBatches reads the batches of the one resource in a state file.
func fixtureBatches(t *testing.T, state []byte) []rollout.Batch {
	t.Helper()
	var st struct {
		Resources []struct {
			Instances []struct {
				Attributes struct {
					Batches []struct {
						JobID   *string  `json:"job_id"`
						NodeIDs []string `json:"node_ids"`
						Status  string   `json:"status"`
					} `json:"batches"`
				} `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(state, &st); err != nil || len(st.Resources) != 1 || len(st.Resources[0].Instances) != 1 {
		t.Fatalf("state: %v\n%s", err, state)
	}
	var out []rollout.Batch
	for _, b := range st.Resources[0].Instances[0].Attributes.Batches {
		x := rollout.Batch{Nodes: b.NodeIDs, Status: b.Status}
		if b.JobID != nil {
			x.JobID = *b.JobID
		}
		out = append(out, x)
	}
	return out
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// redDir holds the records the release before "green means done" (issue #27)
// left after a red run: a create whose batch 2 failed (tainted), and a create
// whose batch 2's answer was lost while the operation log could not be read
// (that release exited 0 with a warning and left it untainted, status
// unknown). Written by that release itself; see testdata/upgrade/README.md.
const redDir = "testdata/upgrade/red"

// The pipeline's next plain apply of the new release finishes each record
// without restarting a batch that succeeded: the tainted one through its
// replacement, which continues it; the untainted one through a resume, which
// settles the lost request first (both ways: it made no job, or it made one).
func TestAccUpgrade_redRunsFinish(t *testing.T) {
	terraformPath(t)
	for _, tc := range []struct {
		fixture     string
		lostJobMade bool
		plan        []string
	}{
		{"dev-38698e1-failed-tainted", false, []string{"is tainted, so", "must be replaced"}}, // OpenTofu: "so it must be"
		{"dev-38698e1-lost-untainted", false, []string{"Unfinished Rolling Restart Resumes", "The answer to the request of batch 2 was lost: it looks for that batch's job"}},
		{"dev-38698e1-lost-untainted", true, []string{"Unfinished Rolling Restart Resumes"}},
	} {
		name := tc.fixture
		if tc.lostJobMade {
			name += "-lost-request-made-a-job"
		}
		t.Run(name, func(t *testing.T) { finishRedFixture(t, filepath.Join(redDir, tc.fixture), tc.lostJobMade, tc.plan) })
	}
}

func finishRedFixture(t *testing.T, base string, lostJobMade bool, planWords []string) {
	state, config, jobs := readFixture(t, base)
	e := newTestEnv(t, ehpcsim.Options{JobDuration: 200 * time.Millisecond})
	for _, j := range jobs {
		e.sim.RestorePastJob(j) // a failed job stays failed
	}
	before := fixtureBatches(t, state)
	if lostJobMade {
		e.sim.RestorePastJob(ehpcsim.Job{ID: "j-lostreq001", ClusterID: ehpcsim.DemoClusterID, NodeIDs: before[1].Nodes,
			Created: jobs[len(jobs)-1].Created.Add(2 * time.Second), Status: ehpc.JobSuccessful})
	}
	c := fixtureCLI(t, e, state, config)
	plan := strings.Join(strings.Fields(c.mustSucceed("plan", "-input=false")), " ")
	for _, w := range planWords {
		if !strings.Contains(plan, w) {
			t.Errorf("the plan lacks %q:\n%s", w, plan)
		}
	}
	out, code := c.run("apply", "-auto-approve", "-input=false")
	if code != 0 {
		t.Fatalf("the next plain apply failed:\n%s", out)
	}
	// Batch 1 succeeded under the old release: never again. Batch 2 restarts
	// once (unless its lost request made a job, which is adopted), and the
	// batches never sent once each.
	want := map[string]int{}
	for i, b := range before[1:] {
		if i == 0 && lostJobMade {
			continue
		}
		for _, n := range b.Nodes {
			want[n] = 1
		}
	}
	if err := e.expectRestarts(want)(); err != nil {
		t.Errorf("%v\n%s", err, out)
	}
	st, tainted := c.stateResource()
	if tainted || st["status"] != ehpc.JobSuccessful || st["id"] != before[0].JobID {
		t.Errorf("after the apply: tainted %v, status %v, id %v (want %s, the first job, kept)", tainted, st["status"], st["id"], before[0].JobID)
	}
	after, _ := st["batches"].([]any)
	first, _ := after[0].(map[string]any)
	if first["job_id"] != before[0].JobID {
		t.Errorf("batch 1's job %s became %v", before[0].JobID, first["job_id"])
	}
	if second := torture.Batches(st, c.statePrivate())[1]; before[1].JobID != "" && !slices.Contains(second.Jobs, before[1].JobID) {
		t.Errorf("batch 2's failed job %s is no longer recorded: %+v", before[1].JobID, second)
	}
	if out, code := c.run("plan", "-input=false", "-detailed-exitcode"); code != 0 {
		t.Errorf("the plan after the apply exits %d, want 0 (no changes):\n%s", code, out)
	}
}

// fixtureCLI is a working directory of the CLI holding a fixture's
// configuration and state (its provider address made this run's), initialized.
func fixtureCLI(t *testing.T, e *testEnv, state, config []byte) *cli {
	t.Helper()
	c := e.newCLI(t)
	c.write(e.providerBlock() + string(config))
	state = []byte(strings.ReplaceAll(string(state), fixtureProvider, providerAddress()))
	if err := os.WriteFile(filepath.Join(c.dir, "terraform.tfstate"), state, 0o600); err != nil {
		t.Fatal(err)
	}
	c.mustSucceed("init", "-input=false")
	return c
}

// readFixture reads a fixture's state, configuration and the simulator's jobs
// when it was written.
func readFixture(t *testing.T, base string) (state, config []byte, jobs []ehpcsim.Job) {
	t.Helper()
	state, err := os.ReadFile(base + ".tfstate")
	if err != nil {
		t.Fatal(err)
	}
	if config, err = os.ReadFile(base + ".tf"); err != nil {
		t.Fatal(err)
	}
	if raw, err := os.ReadFile(base + ".jobs.json"); err != nil || json.Unmarshal(raw, &jobs) != nil {
		t.Fatalf("reading %s.jobs.json: %v", base, err)
	}
	return state, config, jobs
}

// recordsDir holds the records the release before issue #28 wrote, when a
// batch's bookkeeping (earlier jobs, send time, a lost request's window,
// excluded jobs) was still in the batches attribute: the later release
// moves it into private state on its first read, and must neither restart
// a node nor lose a job while doing so (TestAccUpgrade_recordsFinish).
const recordsDir = "testdata/upgrade/records"

// recordsFixtureTriggers is the configuration of the lost-replaced record:
// the rolling restart of unfinishedFixtureConfig, its triggers changed.
const recordsFixtureTriggers = `
resource "hpc_cluster_node_restart" "test" {
  cluster_id = "ehpc-8jqdq0mz"
  node_ids   = ["cln-cmp00004", "cln-cmp00003", "cln-cmp00002", "cln-cmp00001"]
  zone       = "jn1a"
  rolling    = { batch_size = 1 }
  triggers   = { image = "2" }
}
`

// recordKinds are the records TestAccWriteRecordFixtures writes, each after
// a real apply of the rolling restart of unfinishedFixtureConfig:
//
//   - failed-tainted: batch 2's job failed; tainted.
//   - finished: then the next plain apply finished it (batch 2's failed job
//     among its earlier jobs).
//   - lost-tainted: a new rollout whose batch 2 request was processed but
//     its answer lost while the operation log answered 502; tainted, batch
//     2 unknown without a job, with its window (its job is in jobs.json).
//   - lost-replaced: then triggers changed, and the replacement's batch 2
//     request was lost unprocessed, the log down again: batch 2 unknown
//     with its window, and the replaced record's job of its node excluded.
var recordKinds = []string{"failed-tainted", "finished", "lost-tainted", "lost-replaced"}

// TestAccWriteRecordFixtures adds this version's records to
// testdata/upgrade/records (see recordKinds):
//
//	HPC_WRITE_UPGRADE_FIXTURE=v0.2.0 TF_ACC=1 TF_ACC_TERRAFORM_PATH=... go test -run TestAccWriteRecordFixtures ./internal/provider/
func TestAccWriteRecordFixtures(t *testing.T) {
	name := os.Getenv("HPC_WRITE_UPGRADE_FIXTURE")
	if name == "" {
		t.Skip("set HPC_WRITE_UPGRADE_FIXTURE=<release> to add this version's records to " + recordsDir)
	}
	if providerAddress() != fixtureProvider {
		t.Fatalf("write fixtures with Terraform, not with TF_ACC_PROVIDER_HOST=%s", os.Getenv("TF_ACC_PROVIDER_HOST"))
	}
	for _, kind := range recordKinds {
		for _, ext := range []string{".tf", ".tfstate", ".jobs.json"} {
			if p := filepath.Join(recordsDir, name+"-"+kind+ext); fileExists(p) {
				t.Fatalf("%s exists: fixtures are never edited, only added", p)
			}
		}
	}
	write := func(e *testEnv, c *cli, kind, config string) {
		t.Helper()
		writeFixtureIn(t, recordsDir, e, c, name+"-"+kind, config)
	}
	expect := func(c *cli, wantTainted bool, batch int, status string) {
		t.Helper()
		st, tainted := c.stateResource()
		if st == nil || tainted != wantTainted {
			t.Fatalf("want the record in state, tainted %v; got %v (tainted %v)", wantTainted, st, tainted)
		}
		if _, statuses := stateBatches(t, st); statuses[batch] != status {
			t.Fatalf("batch %d is %q, want %q: %v", batch+1, statuses[batch], status, st)
		}
	}

	e := newTestEnv(t, ehpcsim.Options{JobDuration: 300 * time.Millisecond})
	e.sim.FailJobsAfter(1, 1)
	c := e.newCLI(t)
	c.write(e.providerBlock() + unfinishedFixtureConfig)
	c.mustSucceed("init", "-input=false")
	if out, code := c.run("apply", "-auto-approve", "-input=false"); code == 0 {
		t.Fatalf("batch 2's job was to fail:\n%s", out)
	}
	expect(c, true, 1, ehpc.JobFailed)
	write(e, c, "failed-tainted", unfinishedFixtureConfig)
	c.mustSucceed("apply", "-auto-approve", "-input=false")
	expect(c, false, 1, ehpc.JobSuccessful)
	write(e, c, "finished", unfinishedFixtureConfig)

	e = newTestEnv(t, ehpcsim.Options{JobDuration: 300 * time.Millisecond})
	e.adjustClient(func(c *ehpc.Config) { c.RequestTimeout = time.Second })
	c = e.newCLI(t)
	c.write(e.providerBlock() + unfinishedFixtureConfig)
	c.mustSucceed("init", "-input=false")
	loseRestartWithLog(t, e, 2, true)
	if out, code := c.run("apply", "-auto-approve", "-input=false"); code == 0 {
		t.Fatalf("batch 2's answer was to be lost:\n%s", out)
	}
	expect(c, true, 1, rollout.Unknown)
	write(e, c, "lost-tainted", unfinishedFixtureConfig)

	e.sim.ClearFaults()
	c.write(e.providerBlock() + recordsFixtureTriggers)
	loseRestartWithLog(t, e, 4, false)
	if out, code := c.run("apply", "-auto-approve", "-input=false"); code == 0 {
		t.Fatalf("the replacement's batch 2 answer was to be lost:\n%s", out)
	}
	expect(c, true, 1, rollout.Unknown)
	write(e, c, "lost-replaced", recordsFixtureTriggers)
}

// loseRestartWithLog drops the answer to the nth restart request of e's
// simulator (counting from its start), after processing it or not, and
// from its arrival on makes the operation log answer 502, so that the
// request's outcome stays unknown.
func loseRestartWithLog(t *testing.T, e *testEnv, n int, processed bool) {
	t.Helper()
	seen := e.sim.Requests(ehpc.PathRestartNodes)
	e.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, AfterEffect: processed, Delay: time.Second, Skip: n - seen - 1})
	go func() {
		deadline := time.Now().Add(time.Minute)
		for e.sim.Requests(ehpc.PathRestartNodes) < n && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		e.sim.InjectFault(ehpc.PathOperations, ehpcsim.Fault{HTTPStatus: 502, Count: 100000})
	}()
}

// writeFixtureIn writes c's state, config and e's jobs as dir/name.
func writeFixtureIn(t *testing.T, dir string, e *testEnv, c *cli, name, config string) {
	t.Helper()
	state, err := os.ReadFile(filepath.Join(c.dir, "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := json.MarshalIndent(e.sim.Jobs(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for ext, data := range map[string][]byte{".tf": []byte(strings.TrimPrefix(config, "\n")), ".tfstate": state, ".jobs.json": append(jobs, '\n')} {
		if err := os.WriteFile(filepath.Join(dir, name+ext), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %s/%s.*", dir, name)
}

// The records the release before issue #28 wrote (bookkeeping in batches)
// are read by this one with their configuration, against a simulator that
// knows their jobs, and the pipeline's next plain apply finishes each: the
// finished one plans nothing and sends nothing; the others restart only the
// batches never restarted (a lost request's job, when it made one, is
// adopted, never doubled); no job id is lost; and afterwards the bookkeeping
// is in private state, so neither the plan nor terraform show prints it.
func TestAccUpgrade_recordsFinish(t *testing.T) {
	terraformPath(t)
	states, err := filepath.Glob(filepath.Join(recordsDir, "*.tfstate"))
	if err != nil || len(states) == 0 {
		t.Fatalf("no fixtures in %s (%v)", recordsDir, err)
	}
	for _, statePath := range states {
		base := strings.TrimSuffix(statePath, ".tfstate")
		name := filepath.Base(base)
		t.Run(name, func(t *testing.T) { finishRecord(t, base, false) })
		if strings.HasSuffix(name, "-lost-replaced") {
			// Its lost request was not processed; here it was after all.
			t.Run(name+"-lost-request-made-a-job", func(t *testing.T) { finishRecord(t, base, true) })
		}
	}
}

func finishRecord(t *testing.T, base string, lostJobMade bool) {
	state, config, jobs := readFixture(t, base)
	e := newTestEnv(t, ehpcsim.Options{JobDuration: 200 * time.Millisecond})
	for _, j := range jobs {
		if j.Status != ehpc.JobSuccessful && j.Status != ehpc.JobFailed {
			j.Status = ehpc.JobSuccessful // long over by the time anyone upgrades
		}
		e.sim.RestorePastJob(j)
	}
	attrs, tainted := fixtureInstance(t, state)
	before := torture.Batches(attrs, nil) // the bookkeeping is in the attributes
	lost := -1
	for i, b := range before {
		if b.Status == rollout.Unknown && b.JobID == "" {
			lost = i
		}
	}
	if lostJobMade {
		from, err := time.Parse(time.RFC3339, before[lost].Created[0])
		if err != nil {
			t.Fatal(err)
		}
		e.sim.RestorePastJob(ehpcsim.Job{ID: "j-lostreq001", ClusterID: ehpcsim.DemoClusterID, NodeIDs: before[lost].Nodes,
			Created: from.Add(time.Second), Status: ehpc.JobSuccessful})
	}
	madeByLost := ""
	if lost >= 0 {
		madeByLost = jobInWindow(t, e.sim.Jobs(), before[lost])
	}

	c := fixtureCLI(t, e, state, config)
	plan, code := c.run("plan", "-input=false", "-detailed-exitcode")
	finished := !tainted && allSuccessful(before)
	switch {
	case finished && code != 0:
		t.Fatalf("the finished record plans changes (exit %d):\n%s", code, plan)
	case !finished && code != 2:
		t.Fatalf("the unfinished record plans no change (exit %d):\n%s", code, plan)
	}
	// A tainted record's replacement shows its bookkeeping going away: the
	// record carries it in its attributes (taintedAfterCreate). Any other
	// plan prints none.
	if tainted && !regexp.MustCompile(`is tainted, so (it )?must be replaced`).MatchString(plan) {
		t.Errorf("the plan does not replace the tainted record:\n%s", plan)
	}
	for _, name := range legacyBookkeeping {
		if !tainted && strings.Contains(plan, name) {
			t.Errorf("the plan prints the bookkeeping %s:\n%s", name, plan)
		}
	}
	out, code := c.run("apply", "-auto-approve", "-input=false")
	if code != 0 {
		t.Fatalf("the next plain apply failed:\n%s", out)
	}

	// Only the batches never restarted restart, once each.
	want := map[string]int{}
	for i, b := range before {
		if b.Status == ehpc.JobSuccessful || b.Status == ehpc.JobPending || i == lost && madeByLost != "" {
			continue
		}
		for _, n := range b.Nodes {
			want[n] = 1
		}
	}
	if err := e.expectRestarts(want)(); err != nil {
		t.Errorf("%v\n%s", err, out)
	}
	if finished && e.sim.TotalRequests() != 0 {
		t.Errorf("plan and apply of a finished record sent %v", e.sim.RequestCounts())
	}

	st, tainted := c.stateResource()
	if tainted || st["status"] != ehpc.JobSuccessful || st["id"] != attrs["id"] {
		t.Errorf("after the apply: tainted %v, status %v, id %v (want %v, the first job, kept)", tainted, st["status"], st["id"], attrs["id"])
	}
	after := torture.Batches(st, c.statePrivate())
	for i, b := range before {
		for _, id := range b.Jobs {
			if !slices.Contains(after[i].Jobs, id) {
				t.Errorf("batch %d's job %s is lost: the record keeps %v", i+1, id, after[i].Jobs)
			}
		}
		if i == lost && madeByLost != "" && after[i].JobID != madeByLost {
			t.Errorf("batch %d's lost request made job %s, but the record holds %s", i+1, madeByLost, after[i].JobID)
		}
	}
	for i, x := range st["batches"].([]any) {
		for _, name := range legacyBookkeeping {
			if v := x.(map[string]any)[name]; v != nil {
				t.Errorf("batch %d still holds %s = %v in state; it belongs in private state", i+1, name, v)
			}
		}
	}
	shown := c.mustSucceed("show", "-no-color")
	for _, name := range legacyBookkeeping {
		if strings.Contains(shown, name) {
			t.Errorf("terraform show prints the bookkeeping %s:\n%s", name, shown)
		}
	}
	if out, code := c.run("plan", "-input=false", "-detailed-exitcode"); code != 0 {
		t.Errorf("the plan after the apply exits %d, want 0 (no changes):\n%s", code, out)
	}
}

// fixtureInstance reads the attributes of the one resource instance in a
// state file, and whether it is tainted.
func fixtureInstance(t *testing.T, state []byte) (map[string]any, bool) {
	t.Helper()
	var st struct {
		Resources []struct {
			Instances []struct {
				Status     string         `json:"status"`
				Attributes map[string]any `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(state, &st); err != nil || len(st.Resources) != 1 || len(st.Resources[0].Instances) != 1 {
		t.Fatalf("state: %v\n%s", err, state)
	}
	in := st.Resources[0].Instances[0]
	return in.Attributes, in.Status == "tainted"
}

func allSuccessful(batches []torture.Batch) bool {
	for _, b := range batches {
		if b.Status != ehpc.JobSuccessful {
			return false
		}
	}
	return len(batches) > 0
}

// jobInWindow is the job a lost request of batch b may have made: one of
// exactly its nodes created in its recorded window; "" when there is none.
func jobInWindow(t *testing.T, jobs []ehpcsim.Job, b torture.Batch) string {
	t.Helper()
	from, err1 := time.Parse(time.RFC3339, b.Created[0])
	until, err2 := time.Parse(time.RFC3339, b.Created[1])
	if err1 != nil || err2 != nil {
		t.Fatalf("batch %v keeps no window: %v %v", b, err1, err2)
	}
	for _, j := range jobs {
		if slices.Equal(j.NodeIDs, b.Nodes) && !j.Created.Before(from) && !j.Created.After(until) {
			return j.ID
		}
	}
	return ""
}
