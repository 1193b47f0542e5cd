package provider

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// faultScenario is one row of the fault matrix: how the network or the API
// misbehaves, and what the user must see. Whatever happens, no node restarts
// more often than asked, a successful outcome restarted the node exactly once,
// and a job that exists is never lost: it is in state or named in what the user
// was told.
type faultScenario struct {
	name string
	// sim is the simulator's behaviour from the start (clock, lag, pages, ids).
	sim ehpcsim.Options
	// setup injects faults, earlier jobs and client or provider knobs.
	setup func(e *testEnv)
	// node is the node restarted; matrixNode when empty.
	node string
	// nodesFromData takes node_ids from hpc_cluster_nodes (filtered by the node's
	// name), read in the same apply as the restart, so the listing's paging and
	// its answer's Date are part of the row.
	nodesFromData bool
	// interrupt stops the run (Ctrl-C, or the action's context) as soon as the
	// restart request has reached the API.
	interrupt bool
	// shortTimeout: the job never ends, so the runner waits only the least
	// timeout allowed; TIMEOUT in wantErr stands for how the runner names it.
	shortTimeout bool
	// ok: the run succeeds. Otherwise wantErr must match its output (JOB stands
	// for the job id).
	ok      bool
	wantErr string
	// wantWarn, when set, must appear in the output.
	wantWarn string
	// status is what state records after a run that kept the job (resource):
	// successful unless said otherwise.
	status string
	// actionErr, when set, is the error the action must end with where the
	// resource succeeds with a warning: the action keeps no state, so a job it
	// cannot follow is an error naming the job.
	actionErr string
	// restarts is how often the node restarts.
	restarts int
}

const matrixNode = "cln-cmp00001"

// matrixNamed is the demo node the data-source rows pick by name: the last in
// the listing, so pages smaller than asked must be followed to find it.
const (
	matrixNamedNode = "cln-cmp00004"
	matrixNamedName = "compute-4"
)

func (sc faultScenario) restartedNode() string {
	if sc.node != "" {
		return sc.node
	}
	if sc.nodesFromData {
		return matrixNamedNode
	}
	return matrixNode
}

// longerSettle gives rows whose job shows up late a settle window that covers it,
// as the default 6 s does in production.
func longerSettle(e *testEnv) {
	e.adjustClient(func(c *ehpc.Config) { c.SettleWindow = 4 * time.Second })
}

// restartFaults is the matrix of issues #6 and #10, shared by the resource and
// the action runners.
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
		e.adjustClient(func(c *ehpc.Config) { c.Now = func() time.Time { return time.Now().Add(-3 * time.Minute) } })
	}, wantErr: `ret_code 1300[\s\S]*clock`, restarts: 0},
	{name: "2500 quota fails fast", setup: restartFault(ehpcsim.Fault{RetCode: 2500}), wantErr: `ret_code 2500[\s\S]*quota`, restarts: 0},

	// Issue #10: an API slower, laggier and less tidy than the client expects.
	{name: "earlier restart of the same node 20s before, answer lost unprocessed", setup: func(e *testEnv) {
		e.sim.AddPastJob(ehpcsim.DemoClusterID, []string{matrixNode}, e.sim.Now().Add(-20*time.Second), "successful")
		e.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true})
	}, ok: true, wantWarn: "Restart Request Sent Again", restarts: 1},
	{name: "earlier restart 20s before, answer lost after processing", setup: func(e *testEnv) {
		e.sim.AddPastJob(ehpcsim.DemoClusterID, []string{matrixNode}, e.sim.Now().Add(-20*time.Second), "successful")
		e.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, AfterEffect: true})
	}, ok: true, wantWarn: "Restart Job Adopted From Operation Log", restarts: 1},
	{name: "earlier restart 4s before, server clock 40s ahead, answer lost unprocessed", sim: ehpcsim.Options{ClockOffset: 40 * time.Second}, setup: func(e *testEnv) {
		e.sim.AddPastJob(ehpcsim.DemoClusterID, []string{matrixNode}, e.sim.Now().Add(-4*time.Second), "successful")
		e.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true})
	}, ok: true, wantWarn: "Restart Request Sent Again", restarts: 1},
	{name: "server clock 40s ahead, answer lost after processing", sim: ehpcsim.Options{ClockOffset: 40 * time.Second},
		setup: restartFault(ehpcsim.Fault{Drop: true, AfterEffect: true}), ok: true, wantWarn: "Restart Job Adopted From Operation Log", restarts: 1},
	{name: "server clock 45s behind, answer lost unprocessed", sim: ehpcsim.Options{ClockOffset: -45 * time.Second},
		setup: restartFault(ehpcsim.Fault{Drop: true}), ok: true, wantWarn: "Restart Request Sent Again", restarts: 1},
	{name: "slow node listing (7s) in the same apply, answer lost after processing", nodesFromData: true,
		sim: ehpcsim.Options{Latency: map[string]time.Duration{ehpc.PathListNodes: 7 * time.Second}},
		setup: func(e *testEnv) {
			e.adjustClient(func(c *ehpc.Config) { c.RequestTimeout = 15 * time.Second })
			e.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, AfterEffect: true})
		}, ok: true, wantWarn: "Restart Job Adopted From Operation Log", restarts: 1},
	{name: "operation log lists a queue id, answer lost after processing", sim: ehpcsim.Options{QueueIDs: true},
		setup: restartFault(ehpcsim.Fault{Drop: true, AfterEffect: true}), ok: true, wantWarn: "Restart Job Adopted From Operation Log", restarts: 1},
	{name: "operation log 2s behind, answer lost after processing", sim: ehpcsim.Options{OperationLogLag: 2 * time.Second}, setup: func(e *testEnv) {
		longerSettle(e)
		e.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, AfterEffect: true})
	}, ok: true, wantWarn: "Restart Job Adopted From Operation Log", restarts: 1},
	{name: "restart processed 1.5s after the client gave up", setup: func(e *testEnv) {
		longerSettle(e)
		e.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, LateEffect: 1500 * time.Millisecond})
	}, ok: true, wantWarn: "Restart Job Adopted From Operation Log", restarts: 1},
	{name: "node list in pages of 2 without a total", nodesFromData: true, sim: ehpcsim.Options{PageCap: 2, TotalField: "none"}, ok: true, restarts: 1},
	{name: "node list in pages of 2, total named total_sum", nodesFromData: true, sim: ehpcsim.Options{PageCap: 2, TotalField: "total_sum"}, ok: true, restarts: 1},
	{name: "operation log in pages of 1 without a total, after earlier jobs", sim: ehpcsim.Options{PageCap: 1, TotalField: "none"}, setup: func(e *testEnv) {
		for _, n := range []string{"cln-cmp00002", "cln-cmp00003"} {
			e.sim.AddPastJob(ehpcsim.DemoClusterID, []string{n}, e.sim.Now().Add(-time.Minute), "successful")
		}
		e.sim.SetJobDuration(300 * time.Millisecond)
	}, ok: true, restarts: 1},
	{name: "slow answers on every path (700ms)", sim: ehpcsim.Options{Latency: map[string]time.Duration{"*": 700 * time.Millisecond}}, ok: true, restarts: 1},
	{name: "interrupted while the restart is in flight (processed)", interrupt: true,
		setup:   restartFault(ehpcsim.Fault{Delay: 3 * time.Second, AfterEffect: true}),
		wantErr: `JOB[\s\S]*found in the operation log`, status: ehpc.JobPending, restarts: 1},
	{name: "interrupted while the restart is in flight (not processed)", interrupt: true,
		setup:   restartFault(ehpcsim.Fault{Delay: 3 * time.Second}),
		wantErr: `Restart Outcome Unknown[\s\S]*not sent again`, restarts: 0},
	{name: "operation log refuses the key (1200)", setup: func(e *testEnv) {
		e.sim.InjectFault(ehpc.PathOperations, ehpcsim.Fault{RetCode: 1200, Count: 1000})
	}, ok: true, wantWarn: "Cannot Check Restart Job", status: statusUnknown,
		actionErr: `Cannot Check Restart Job[\s\S]*JOB[\s\S]*ret_code 1200`, restarts: 1},
	{name: "job never appears in the operation log", sim: ehpcsim.Options{OperationLogLag: time.Hour}, setup: func(e *testEnv) {
		e.optionsHook = func(o *options) { o.JobMissingAfter = time.Second }
	}, ok: true, wantWarn: "did not appear in the operation log", status: statusUnknown,
		actionErr: `Cannot Check Restart Job[\s\S]*JOB[\s\S]*did not appear`, restarts: 1},
	{name: "endpoint's TLS certificate is not trusted", setup: func(e *testEnv) {
		// The same simulator behind TLS with a certificate no root vouches for,
		// as behind a proxy whose CA this machine lacks.
		srv := httptest.NewTLSServer(e.sim)
		e.t.Cleanup(srv.Close)
		e.srv = srv
	}, wantErr: `Cannot Connect To Endpoint[\s\S]*TLS[\s\S]*nothing was sent`, restarts: 0},
	{name: "endpoint answers with a redirect", setup: restartFault(ehpcsim.Fault{HTTPStatus: http.StatusMovedPermanently}),
		wantErr: `Endpoint Redirects[\s\S]*HTTP 301[\s\S]*not processed`, restarts: 0},
}

func restartFault(f ehpcsim.Fault) func(*testEnv) {
	return func(e *testEnv) { e.sim.InjectFault(ehpc.PathRestartNodes, f) }
}

// matrixClient makes the client's timeouts short enough for the matrix: a 1 s
// request timeout (the slow-response row delays 3 s) and a short settle window.
// Rows adjust it further in their setup.
func matrixClient(e *testEnv) {
	e.adjustClient(func(c *ehpc.Config) {
		c.RequestTimeout = time.Second
		c.SettleWindow = 600 * time.Millisecond
	})
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
// other node touched. Jobs from before the row are history, not restarts.
func checkRestartInvariants(t *testing.T, e *testEnv, sc faultScenario, succeeded bool) {
	t.Helper()
	node := sc.restartedNode()
	counts := e.sim.RestartCounts()
	for other, n := range counts {
		if other != node && n > 0 {
			t.Errorf("node %s restarted %d times; only %s was asked for", other, n, node)
		}
	}
	n := counts[node]
	if n > 1 {
		t.Errorf("%s restarted %d times: a restart must never be sent twice", node, n)
	}
	if succeeded && n != 1 {
		t.Errorf("the outcome was success but %s restarted %d times", node, n)
	}
	if n != sc.restarts {
		t.Errorf("%s restarted %d times, want %d", node, n, sc.restarts)
	}
}

// rowJobID returns the id of the job the row's restart created, or "" when it
// created none. Jobs added as history before the row do not count.
func rowJobID(t *testing.T, e *testEnv) string {
	t.Helper()
	var ids []string
	for _, j := range e.sim.Jobs() {
		if !j.Past {
			ids = append(ids, j.ID)
		}
	}
	switch len(ids) {
	case 0:
		return ""
	case 1:
		return ids[0]
	}
	t.Fatalf("the simulator has %d jobs from this row, want at most 1: %v", len(ids), ids)
	return ""
}

// keptIn lists where the jobs reached the user: each place is a name and the
// text (or value) found there; with several jobs, each place says how many of
// them it names. It is what the matrix's last column prints, and "" when no
// place names any job.
func keptIn(jobIDs []string, places ...[2]string) string {
	if len(jobIDs) == 0 {
		return "(no job)"
	}
	var in []string
	for _, p := range places {
		n := 0
		for _, id := range jobIDs {
			if strings.Contains(p[1], id) {
				n++
			}
		}
		switch {
		case n == 0:
		case len(jobIDs) == 1:
			in = append(in, p[0])
		default:
			in = append(in, fmt.Sprintf("%s (%d of %d jobs)", p[0], n, len(jobIDs)))
		}
	}
	return strings.Join(in, " + ")
}

// matrixRunner runs one scenario of the matrix one way (the resource on the real
// CLI, or the action through the protocol).
type matrixRunner struct {
	name string
	// timeoutText is how this runner's timeout error names a short timeout.
	timeoutText string
	// run restarts the row's node under the scenario's faults. It returns all
	// the user saw, whether the run succeeded, and the places a job id may have
	// been kept in, each a name and the text found there (for keptIn), after
	// checking what is particular to the runner.
	run func(t *testing.T, e *testEnv, sc faultScenario) (out string, ok bool, places [][2]string)
	// wantOK and wantErr give the runner's expectation for a row.
	expect func(sc faultScenario) (ok bool, wantErr string)
}

// runFaultMatrix runs every scenario with r in parallel, checks what holds for
// every runner (outcome, warning, error text, restart counts, the job kept) and
// logs the table.
func runFaultMatrix(t *testing.T, r matrixRunner) {
	table := &matrixTable{}
	t.Run("rows", func(t *testing.T) {
		for _, sc := range restartFaults {
			t.Run(sc.name, func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, sc.sim)
				matrixClient(e)
				if sc.setup != nil {
					sc.setup(e)
				}
				wantOK, wantErr := r.expect(sc)
				out, ok, places := r.run(t, e, sc)
				jobID := rowJobID(t, e)
				var jobIDs []string
				if jobID != "" {
					jobIDs = []string{jobID}
				}
				switch {
				case wantOK && !ok:
					t.Fatalf("%s failed:\n%s", r.name, out)
				case !wantOK && ok:
					t.Fatalf("%s succeeded, want an error matching %q:\n%s", r.name, wantErr, out)
				case ok && sc.wantWarn != "" && !strings.Contains(out, sc.wantWarn):
					t.Errorf("%s output lacks warning %q:\n%s", r.name, sc.wantWarn, out)
				case !ok:
					want := strings.ReplaceAll(wantErr, "JOB", regexp.QuoteMeta(jobID))
					want = strings.ReplaceAll(want, "TIMEOUT", regexp.QuoteMeta(r.timeoutText))
					if !regexp.MustCompile(want).MatchString(out) {
						t.Errorf("%s output does not match %q:\n%s", r.name, want, out)
					}
				}
				for _, id := range jobIDs {
					if keptIn([]string{id}, places...) == "" {
						t.Errorf("job %s exists but is neither in state nor named to the user:\n%s", id, out)
					}
				}
				checkRestartInvariants(t, e, sc, ok)
				outcome := "error"
				switch {
				case ok:
					outcome = "success"
					if sc.wantWarn != "" {
						outcome = "success, warning"
					}
				case sc.interrupt:
					outcome = "interrupted"
				}
				table.add(matrixRow{runner: r.name, scenario: sc.name, outcome: outcome, jobID: keptIn(jobIDs, places...),
					restarts: e.sim.Restarts(sc.restartedNode()), posts: e.sim.Requests(ehpc.PathRestartNodes)})
			})
		}
	})
	t.Log(table.String())
}

// matrixResourceConfig is the row's configuration: the node directly, or picked
// by name from hpc_cluster_nodes, read during the apply (its cluster id comes
// from a terraform_data, unknown until then) so it shares the restart's client.
func matrixResourceConfig(e *testEnv, sc faultScenario) string {
	extra := ""
	if sc.shortTimeout {
		extra = `timeouts { create = "10s" }`
	}
	nodes := fmt.Sprintf("[%q]", sc.restartedNode())
	data := ""
	if sc.nodesFromData {
		data = fmt.Sprintf(`
resource "terraform_data" "cluster" {
  input = %q
}

data "hpc_cluster_nodes" "pick" {
  cluster_id = terraform_data.cluster.output
  name_regex = "^%s$"
}
`, ehpcsim.DemoClusterID, matrixNamedName)
		nodes = "data.hpc_cluster_nodes.pick.ids"
	}
	return e.providerBlock() + data + fmt.Sprintf(`
resource "hpc_cluster_node_restart" "test" {
  cluster_id = %q
  node_ids   = %s
  %s
}
`, ehpcsim.DemoClusterID, nodes, extra)
}

// diagText is the part of the CLI's output from its first diagnostic on, where
// warnings and errors are printed.
func diagText(out string) string {
	i := strings.Index(out, "Warning:")
	if j := strings.Index(out, "Error:"); j >= 0 && (i < 0 || j < i) {
		i = j
	}
	if i < 0 {
		return ""
	}
	return out[i:]
}

func TestAccFaultMatrixResource(t *testing.T) {
	terraformPath(t)
	runFaultMatrix(t, matrixRunner{name: "resource", timeoutText: "10s",
		expect: func(sc faultScenario) (bool, string) { return sc.ok, sc.wantErr },
		run: func(t *testing.T, e *testEnv, sc faultScenario) (string, bool, [][2]string) {
			c := e.newCLI(t)
			c.write(matrixResourceConfig(e, sc))
			c.mustSucceed("init", "-input=false")
			var out string
			code := 1
			if sc.interrupt {
				out = c.applyInterrupted(func() bool { return e.sim.Requests(ehpc.PathRestartNodes) > 0 }, "the restart request never arrived")
			} else {
				out, code = c.run("apply", "-auto-approve", "-input=false")
			}
			state, tainted := c.stateResource()
			jobID := rowJobID(t, e)
			stateJob := ""
			if state != nil {
				stateJob, _ = state["job_id"].(string)
			}
			where := "state"
			if tainted {
				where = "state (tainted)"
			}
			want := sc.status
			if want == "" {
				want = ehpc.JobSuccessful
			}
			switch {
			case jobID == "":
				if state != nil {
					t.Errorf("no job was created, but state holds %v", state)
				}
			case code == 0 || sc.interrupt:
				// Success, a warning, or an interruption: the job is in state,
				// untainted, so the next apply does not restart again.
				if stateJob != jobID || state["status"] != want || tainted {
					t.Errorf("state %v (tainted %v), want job %s with status %s, untainted", state, tainted, jobID, want)
				}
			default:
				// A failed or timed-out job: in state, tainted (the next apply
				// restarts again), and named in the error.
				if stateJob != jobID || !tainted || !strings.Contains(diagText(out), jobID) {
					t.Errorf("state %v (tainted %v), want tainted job %s named in the error:\n%s", state, tainted, jobID, out)
				}
			}
			return out, code == 0, [][2]string{{where, stateJob}, {"message", diagText(out)}}
		}})
}

// The same matrix for the action, through the provider's tfprotov6 server. An
// action keeps no state: the job must be named in its progress messages or its
// error.
func TestFaultMatrixAction(t *testing.T) {
	runFaultMatrix(t, matrixRunner{name: "action", timeoutText: "the action's timeout",
		expect: func(sc faultScenario) (bool, string) {
			if sc.actionErr != "" {
				return false, sc.actionErr
			}
			return sc.ok, sc.wantErr
		},
		run: func(t *testing.T, e *testEnv, sc faultScenario) (string, bool, [][2]string) {
			p := e.protoServer(nil).mustConfigure(e.simProviderConfig())
			var extra map[string]tftypes.Value
			if sc.shortTimeout {
				extra = map[string]tftypes.Value{"timeout": num(minActionTimeout)}
			}
			node := sc.restartedNode()
			if sc.nodesFromData {
				// The same provider instance reads the nodes first, as Terraform
				// does when a data source feeds the action in one run.
				ids := p.readNodeIDs(map[string]tftypes.Value{"cluster_id": str(ehpcsim.DemoClusterID), "name_regex": str("^" + matrixNamedName + "$")})
				if len(ids) != 1 || ids[0] != node {
					t.Fatalf("hpc_cluster_nodes read %v, want [%s]", ids, node)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if sc.interrupt {
				go func() {
					for e.sim.Requests(ehpc.PathRestartNodes) == 0 && ctx.Err() == nil {
						time.Sleep(5 * time.Millisecond)
					}
					cancel()
				}()
			}
			inv := p.invoke(ctx, actionArgs(extra, node), nil)
			progress := strings.Join(inv.progress, "\n")
			var errText, warnText string
			for _, d := range inv.diags {
				line := "\n" + d.Summary + ": " + d.Detail
				if d.Severity == tfprotov6.DiagnosticSeverityError {
					errText += line
				} else {
					warnText += line
				}
			}
			ok := len(errorsOf(inv.diags)) == 0
			if ok && !strings.Contains(progress, "finished: successful") {
				t.Errorf("no successful outcome reported:\n%s", progress)
			}
			return progress + warnText + errText, ok, [][2]string{{"progress", progress}, {"warning", warnText}, {"error", errText}}
		}})
}

// readNodeIDs reads hpc_cluster_nodes with vals and returns its ids.
func (p *protoProvider) readNodeIDs(vals map[string]tftypes.Value) []string {
	p.t.Helper()
	s, ok := p.schema.DataSourceSchemas["hpc_cluster_nodes"]
	if !ok {
		p.t.Fatal("GetProviderSchema does not list hpc_cluster_nodes")
	}
	resp, err := p.srv.ReadDataSource(context.Background(), &tfprotov6.ReadDataSourceRequest{
		TypeName: "hpc_cluster_nodes",
		Config:   dynamic(p.t, s.ValueType(), vals),
	})
	if err != nil {
		p.t.Fatal(err)
	}
	for _, d := range resp.Diagnostics {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			p.t.Fatalf("ReadDataSource: %s: %s", d.Summary, d.Detail)
		}
	}
	state, err := resp.State.Unmarshal(s.ValueType())
	if err != nil {
		p.t.Fatal(err)
	}
	var obj map[string]tftypes.Value
	if err := state.As(&obj); err != nil {
		p.t.Fatal(err)
	}
	var list []tftypes.Value
	if err := obj["ids"].As(&list); err != nil {
		p.t.Fatal(err)
	}
	ids := make([]string, len(list))
	for i, v := range list {
		if err := v.As(&ids[i]); err != nil {
			p.t.Fatal(err)
		}
	}
	return ids
}
