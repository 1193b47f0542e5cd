package provider

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// faultScenario is one row of the fault matrix: how the network or the API
// misbehaves, and what the user must see. Whatever happens, no node restarts
// twice, a successful outcome restarted every node exactly once, and a job that
// exists is never lost: it is in state or named in the error.
type faultScenario struct {
	name  string
	setup func(e *testEnv)
	// shortTimeout: the job never ends, so the runner waits only briefly (the
	// resource 2s, the action its least timeout); TIMEOUT in wantErr stands for
	// how the runner's error names that timeout.
	shortTimeout bool
	// ok: the apply succeeds. Otherwise wantErr must match its output.
	ok      bool
	wantErr string
	// wantWarn, when set, must appear in the output of a successful apply.
	wantWarn string
	// restarts is how often the node restarts (1 for every success).
	restarts int
}

const matrixNode = "cln-cmp00001"

// restartFaults is the matrix issue #6 asks for, shared by the resource and the
// action runners.
var restartFaults = []faultScenario{
	{name: "connection dropped before processing", setup: restartFault(ehpcsim.Fault{Drop: true}), ok: true, wantWarn: "Restart Request Sent Again", restarts: 1},
	{name: "connection dropped after processing", setup: restartFault(ehpcsim.Fault{Drop: true, AfterEffect: true}), ok: true, wantWarn: "Restart Job Adopted From Operation Log", restarts: 1},
	{name: "response slower than client timeout (processed)", setup: restartFault(ehpcsim.Fault{Delay: 3 * time.Second, AfterEffect: true}), ok: true, wantWarn: "Restart Job Adopted From Operation Log", restarts: 1},
	{name: "5100 twice then success", setup: restartFault(ehpcsim.Fault{RetCode: 5100, Count: 2}), ok: true, restarts: 1},
	{name: "429 with Retry-After", setup: restartFault(ehpcsim.Fault{HTTPStatus: http.StatusTooManyRequests, RetryAfter: "1"}), ok: true, restarts: 1},
	{name: "503 with Retry-After", setup: restartFault(ehpcsim.Fault{HTTPStatus: http.StatusServiceUnavailable, RetryAfter: "1"}), ok: true, restarts: 1},
	{name: "ret_code 5000 after processing", setup: restartFault(ehpcsim.Fault{RetCode: 5000, AfterEffect: true}), ok: true, wantWarn: "Restart Job Adopted From Operation Log", restarts: 1},
	{name: "HTML 502 page (not processed)", setup: restartFault(ehpcsim.Fault{HTTPStatus: http.StatusBadGateway}), ok: true, wantWarn: "Restart Request Sent Again", restarts: 1},
	{name: "HTML 502 page (processed)", setup: restartFault(ehpcsim.Fault{HTTPStatus: http.StatusBadGateway, AfterEffect: true}), ok: true, wantWarn: "Restart Job Adopted From Operation Log", restarts: 1},
	{name: "truncated JSON body (processed)", setup: restartFault(ehpcsim.Fault{Truncate: true, AfterEffect: true}), ok: true, wantWarn: "Restart Job Adopted From Operation Log", restarts: 1},
	{name: "operation log failing repeatedly while waiting", setup: func(e *testEnv) {
		e.sim.SetJobDuration(300 * time.Millisecond)
		e.sim.InjectFault(ehpc.PathOperations, ehpcsim.Fault{HTTPStatus: http.StatusBadGateway, Count: 12})
	}, ok: true, restarts: 1},
	{name: "job fails", setup: func(e *testEnv) { e.sim.FailNextJobs(1) }, wantErr: `Restart Job Failed[\s\S]*Restart job JOB `, restarts: 1},
	{name: "job never finishes", setup: func(e *testEnv) { e.sim.HangNextJobs(1) }, shortTimeout: true, wantErr: `Timed Out Waiting For Restart Job[\s\S]*Restart job JOB [\s\S]*within TIMEOUT`, restarts: 1},
	{name: "1300 from clock skew", setup: func(e *testEnv) {
		e.clientConfig = func(c *ehpc.Config) { c.Now = func() time.Time { return time.Now().Add(-3 * time.Minute) } }
	}, wantErr: `ret_code 1300[\s\S]*clock`, restarts: 0},
	{name: "2500 quota fails fast", setup: restartFault(ehpcsim.Fault{RetCode: 2500}), wantErr: `ret_code 2500[\s\S]*quota`, restarts: 0},
}

func restartFault(f ehpcsim.Fault) func(*testEnv) {
	return func(e *testEnv) { e.sim.InjectFault(ehpc.PathRestartNodes, f) }
}

// matrixClient makes the client's timeouts short enough for the matrix: a 1 s
// request timeout (the slow-response row delays 3 s) and a short settle window.
func matrixClient(e *testEnv) {
	prev := e.clientConfig
	e.clientConfig = func(c *ehpc.Config) {
		c.RequestTimeout = time.Second
		c.SettleWindow = 600 * time.Millisecond
		if prev != nil {
			prev(c)
		}
	}
}

// matrixRow is one printed line of the matrix.
type matrixRow struct {
	runner, scenario, outcome, jobID string
	restarts, posts                  int
}

type matrixTable struct {
	mu   sync.Mutex
	rows []matrixRow
}

func (m *matrixTable) add(r matrixRow) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rows = append(m.rows, r)
}

func (m *matrixTable) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	order := map[string]int{}
	for i, sc := range restartFaults {
		order[sc.name] = i
	}
	sort.SliceStable(m.rows, func(i, j int) bool { return order[m.rows[i].scenario] < order[m.rows[j].scenario] })
	var b strings.Builder
	b.WriteString("\n| runner | scenario | outcome | restarts of the node | restart POSTs | job id kept in |\n|---|---|---|---|---|---|\n")
	for _, r := range m.rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %d | %s |\n", r.runner, r.scenario, r.outcome, r.restarts, r.posts, r.jobID)
	}
	return b.String()
}

// checkRestartInvariants asserts the matrix's promises from the simulator's
// counters: at most one restart of the node, exactly one on success, and no
// other node touched.
func checkRestartInvariants(t *testing.T, e *testEnv, sc faultScenario, succeeded bool) {
	t.Helper()
	counts := e.sim.RestartCounts()
	for node, n := range counts {
		if node != matrixNode && n > 0 {
			t.Errorf("node %s restarted %d times; only %s was asked for", node, n, matrixNode)
		}
	}
	n := counts[matrixNode]
	if n > 1 {
		t.Errorf("%s restarted %d times: a restart must never be sent twice", matrixNode, n)
	}
	if succeeded && n != 1 {
		t.Errorf("the outcome was success but %s restarted %d times", matrixNode, n)
	}
	if n != sc.restarts {
		t.Errorf("%s restarted %d times, want %d", matrixNode, n, sc.restarts)
	}
}

// onlyJobID returns the simulator's single job id, or "" when it has none.
func onlyJobID(t *testing.T, e *testEnv) string {
	t.Helper()
	jobs := e.sim.Jobs()
	switch len(jobs) {
	case 0:
		return ""
	case 1:
		return jobs[0].ID
	}
	t.Fatalf("the simulator has %d jobs, want at most 1: %+v", len(jobs), jobs)
	return ""
}

// matrixRunner runs one scenario of the matrix one way (the resource on the real
// CLI, or the action through the protocol).
type matrixRunner struct {
	name string
	// timeoutText is how this runner's timeout error names a short timeout.
	timeoutText string
	// run restarts matrixNode under the scenario's faults. It returns all the
	// user saw, whether the operation succeeded, and where the job id was kept,
	// after checking what is particular to the runner (state, progress).
	run func(t *testing.T, e *testEnv, sc faultScenario) (out string, ok bool, kept string)
}

// runFaultMatrix runs every scenario with r in parallel, checks what holds for
// every runner (outcome, warning, error text, restart counts) and logs the table.
func runFaultMatrix(t *testing.T, r matrixRunner) {
	table := &matrixTable{}
	t.Run("rows", func(t *testing.T) {
		for _, sc := range restartFaults {
			t.Run(sc.name, func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, ehpcsim.Options{})
				matrixClient(e)
				sc.setup(e)
				out, ok, kept := r.run(t, e, sc)
				jobID := onlyJobID(t, e)
				switch {
				case sc.ok && !ok:
					t.Fatalf("%s failed:\n%s", r.name, out)
				case !sc.ok && ok:
					t.Fatalf("%s succeeded, want an error matching %q:\n%s", r.name, sc.wantErr, out)
				case ok && sc.wantWarn != "" && !strings.Contains(out, sc.wantWarn):
					t.Errorf("%s output lacks warning %q:\n%s", r.name, sc.wantWarn, out)
				case !ok:
					want := strings.ReplaceAll(sc.wantErr, "JOB", regexp.QuoteMeta(jobID))
					want = strings.ReplaceAll(want, "TIMEOUT", regexp.QuoteMeta(r.timeoutText))
					if !regexp.MustCompile(want).MatchString(out) {
						t.Errorf("%s output does not match %q:\n%s", r.name, want, out)
					}
				}
				if jobID == "" {
					kept = "(no job)"
				}
				checkRestartInvariants(t, e, sc, ok)
				outcome := "error"
				if ok {
					outcome = "success"
				}
				table.add(matrixRow{runner: r.name, scenario: sc.name, outcome: outcome, jobID: kept,
					restarts: e.sim.Restarts(matrixNode), posts: e.sim.Requests(ehpc.PathRestartNodes)})
			})
		}
	})
	t.Log(table.String())
}

func TestFaultMatrixResource(t *testing.T) {
	terraformPath(t)
	runFaultMatrix(t, matrixRunner{name: "resource", timeoutText: "10s", run: func(t *testing.T, e *testEnv, sc faultScenario) (string, bool, string) {
		extra := ""
		if sc.shortTimeout {
			extra = `timeouts { create = "10s" }`
		}
		c := e.newCLI(t)
		c.write(e.providerBlock() + fmt.Sprintf(`
resource "hpc_cluster_node_restart" "test" {
  cluster_id = %q
  node_ids   = [%q]
  %s
}
`, ehpcsim.DemoClusterID, matrixNode, extra))
		c.mustSucceed("init", "-input=false")
		out, code := c.run("apply", "-auto-approve", "-input=false")
		state, tainted := c.stateResource(restartAddr)
		jobID := onlyJobID(t, e)
		switch {
		case code == 0:
			if state == nil || state["job_id"] != jobID || state["status"] != ehpc.JobSuccessful || tainted {
				t.Errorf("state %v (tainted %v), want job %s successful", state, tainted, jobID)
			}
			return out, true, "state"
		case jobID != "":
			// A job exists: it must be in state (tainted, so the next apply
			// restarts again) and named in the error.
			if state == nil || state["job_id"] != jobID || !tainted {
				t.Errorf("state %v (tainted %v), want tainted job %s", state, tainted, jobID)
			}
			if !strings.Contains(out, jobID) {
				t.Errorf("the error does not name job %s:\n%s", jobID, out)
			}
			return out, false, "state + error"
		default:
			if state != nil {
				t.Errorf("no job was created, but state holds %v", state)
			}
			return out, false, ""
		}
	}})
}

// The same matrix for the action, through the provider's tfprotov6 server
// (Terraform 1.8 cannot run actions). The job id must be named in the progress
// messages or the error, since an action keeps no state.
func TestFaultMatrixAction(t *testing.T) {
	runFaultMatrix(t, matrixRunner{name: "action", timeoutText: "the action's timeout", run: func(t *testing.T, e *testEnv, sc faultScenario) (string, bool, string) {
		p := e.protoServer(nil).mustConfigure(e.simProviderConfig())
		var extra map[string]tftypes.Value
		if sc.shortTimeout {
			extra = map[string]tftypes.Value{"timeout": num(minActionTimeout)}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		inv := p.invoke(ctx, restartArgs(extra, matrixNode), nil)
		text := strings.Join(inv.progress, "\n")
		for _, d := range inv.diags {
			text += "\n" + d.Summary + ": " + d.Detail
		}
		ok := len(errorsOf(inv.diags)) == 0
		if ok && !strings.Contains(text, "finished: successful") {
			t.Errorf("no successful outcome reported:\n%s", text)
		}
		jobID := onlyJobID(t, e)
		if jobID != "" && !strings.Contains(text, jobID) {
			t.Errorf("job %s is named neither in progress nor in the error:\n%s", jobID, text)
		}
		if ok {
			return text, true, "progress"
		}
		return text, false, "progress + error"
	}})
}
