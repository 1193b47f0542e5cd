package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/qingcloud/terraform-provider-hpc/internal/clock"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
	"github.com/qingcloud/terraform-provider-hpc/internal/rollout"
	"github.com/qingcloud/terraform-provider-hpc/internal/torture"
)

// The fault matrix: how the network or the API misbehaves, and what the user
// must see. Whatever happens, no node restarts more often than asked, a
// successful outcome restarted every node exactly once, and a job that exists
// is never lost: it is in state or named in what the user was told (a lost
// request whose job is not found yet stands in state as a batch "unknown" of
// its nodes, and in the message with where to look). Two tables, one per
// shape of restart, each row with one expected outcome; the randomized
// torture test (torture_test.go) walks the paths no row names.

// want is a row's one expected outcome, as the user sees it.
type want struct {
	// ok: the run succeeds, and warning (when set) appears in its output.
	// Otherwise it fails, with output matching pattern (JOB stands for the
	// job id, in a rolling row the job of the last batch sent; TIMEOUT for how
	// the runner names its timeout).
	ok               bool
	warning, pattern string
}

func succeeds() want                 { return want{ok: true} }
func warns(warning string) want      { return want{ok: true, warning: warning} }
func fails(pattern string) want      { return want{pattern: pattern} }
func (w want) String() string        { return fmt.Sprintf("ok=%v %q%q", w.ok, w.warning, w.pattern) }
func (w want) error() (bool, string) { return w.ok, w.pattern }

// restartRow is a restart of one node: one request.
type restartRow struct {
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
	// timeout allowed.
	shortTimeout bool
	want         want
	// action, when set, is how the action ends where the resource ends as
	// want says: it keeps no state, so a job it cannot follow is an error.
	action *want
	// status is what state records after a run that kept the job (resource):
	// successful unless said otherwise.
	status string
	// restarts is how often the node restarts.
	restarts int
	// next: the row's cause is gone after its red run (the simulator's
	// faults), and the pipeline's next plain apply finishes the restart
	// (nextApply), on the resource.
	next bool
}

// rollingRow is a rolling restart of several nodes, whose faults hit a later
// batch than the first (Fault.Skip, FailJobsAfter), where a rollout has state
// of its own to lose.
type rollingRow struct {
	name  string
	sim   ehpcsim.Options
	setup func(e *testEnv)
	// nodes are restarted, listed in reverse so the batches prove the sort.
	nodes []string
	// batchSize and pause are the rolling argument ("" pause: none). The gap
	// from one batch's job's end to the next batch's start must be at least
	// the pause.
	batchSize int
	pause     string
	// stopAt is the batch (from 1) whose job fails and stops the rollout; 0
	// when every batch succeeds. Later batches are never sent.
	stopAt int
	// refused is the batch (from 1) whose request is refused, stopping the
	// rollout with nothing of it sent; 0 when none is.
	refused int
	// faultBatch is the batch (from 1) the row's restart faults hit (0: none
	// do): every restart request the simulator faulted must carry its nodes,
	// so the row tests the batch it says; and the first job named after each
	// time the row's warning is shown must be its job, not another batch's.
	faultBatch int
	want       want
	// status is the status state records after every run, failed or not:
	// that of the last batch sent (successful unless said otherwise).
	status string
	// restarts is how often each node of a batch that was sent restarts (the
	// nodes of batches never sent must not restart at all).
	restarts int
	// next: as restartRow's.
	next bool
}

// faultScenario is either kind of row, as the runners take it: exactly one of
// single and rolling is set.
type faultScenario struct {
	name    string
	sim     ehpcsim.Options
	setup   func(e *testEnv)
	want    want
	status  string
	single  *restartRow
	rolling *rollingRow
}

func (r restartRow) scenario() faultScenario {
	return faultScenario{name: r.name, sim: r.sim, setup: r.setup, want: r.want, status: r.status, single: &r}
}

func (r rollingRow) scenario() faultScenario {
	return faultScenario{name: r.name, sim: r.sim, setup: r.setup, want: r.want, status: r.status, rolling: &r}
}

func (sc faultScenario) restarts() int {
	if sc.rolling != nil {
		return sc.rolling.restarts
	}
	return sc.single.restarts
}

func (sc faultScenario) interrupt() bool { return sc.single != nil && sc.single.interrupt }
func (sc faultScenario) next() bool {
	return sc.single != nil && sc.single.next || sc.rolling != nil && sc.rolling.next
}

// nodes are every node the row restarts.
func (sc faultScenario) nodes() []string {
	if sc.rolling != nil {
		return slices.Sorted(slices.Values(sc.rolling.nodes))
	}
	return []string{sc.single.restartedNode()}
}
func (sc faultScenario) shortTimeout() bool { return sc.single != nil && sc.single.shortTimeout }

// rollingJobDuration is how long each batch's job runs in rolling rows: long
// enough that a batch sent before the previous batch's job ended shows as two
// jobs running at once in the simulator's Started and Ended.
const rollingJobDuration = 300 * time.Millisecond

// batches are the rollout's batches as the provider must cut them: the nodes
// sorted, then batchSize at a time.
func (r rollingRow) batches() [][]string {
	ids := slices.Sorted(slices.Values(r.nodes))
	var out [][]string
	for chunk := range slices.Chunk(ids, r.batchSize) {
		out = append(out, chunk)
	}
	return out
}

// sent is how many batches the rollout must send.
func (r rollingRow) sent() int {
	if r.stopAt > 0 {
		return r.stopAt
	}
	if r.refused > 0 {
		return r.refused - 1
	}
	return len(r.batches())
}

// rollingNodes are the demo cluster's compute nodes in reverse order, for rows
// that restart n of them.
func rollingNodes(n int) []string {
	ids := []string{"cln-cmp00004", "cln-cmp00003", "cln-cmp00002", "cln-cmp00001"}
	return ids[len(ids)-n:]
}

const matrixNode = "cln-cmp00001"

// matrixNamed is the demo node the data-source rows pick by name: the last in
// the listing, so pages smaller than asked must be followed to find it.
const (
	matrixNamedNode = "cln-cmp00004"
	matrixNamedName = "compute-4"
)

func (r restartRow) restartedNode() string {
	if r.node != "" {
		return r.node
	}
	if r.nodesFromData {
		return matrixNamedNode
	}
	return matrixNode
}

// longerSettle gives rows whose log lags a LogLag that covers it, as the
// default 6 s does in production.
func longerSettle(e *testEnv) {
	e.adjustClient(func(c *ehpc.Config) { c.LogLag = 3 * time.Second })
}

// unknownOutcome is the error of a restart whose answer was lost and whose job
// was not found before the run ended.
const unknownOutcome = `Restart\s+Outcome\s+Unknown[\s\S]*may\s+or\s+may\s+not\s+have\s+happened`

// restartRows is the matrix of issues #6, #10 and #18 for a restart of one
// node, shared by the resource and the action runners.
var restartRows = []restartRow{
	{name: "connection dropped before processing", setup: restartFault(ehpcsim.Fault{Drop: true}), want: warns("Restart Request Sent Again"), restarts: 1},
	{name: "connection dropped after processing", setup: restartFault(ehpcsim.Fault{Drop: true, AfterEffect: true}), want: warns("Restart Job Adopted From Operation Log"), restarts: 1},
	{name: "response slower than client timeout (processed)", setup: restartFault(ehpcsim.Fault{Delay: 3 * time.Second, AfterEffect: true}), want: warns("Restart Job Adopted From Operation Log"), restarts: 1},
	{name: "5100 twice then success", setup: restartFault(ehpcsim.Fault{RetCode: 5100, Count: 2}), want: succeeds(), restarts: 1},
	{name: "429 with Retry-After", setup: restartFault(ehpcsim.Fault{HTTPStatus: http.StatusTooManyRequests, RetryAfter: "1"}), want: succeeds(), restarts: 1},
	{name: "503 with Retry-After", setup: restartFault(ehpcsim.Fault{HTTPStatus: http.StatusServiceUnavailable, RetryAfter: "1"}), want: succeeds(), restarts: 1},
	{name: "ret_code 5000 after processing", setup: restartFault(ehpcsim.Fault{RetCode: 5000, AfterEffect: true}), want: warns("Restart Job Adopted From Operation Log"), restarts: 1},
	{name: "HTML 502 page (not processed)", setup: restartFault(ehpcsim.Fault{HTTPStatus: http.StatusBadGateway}), want: warns("Restart Request Sent Again"), restarts: 1},
	{name: "HTML 502 page (processed)", setup: restartFault(ehpcsim.Fault{HTTPStatus: http.StatusBadGateway, AfterEffect: true}), want: warns("Restart Job Adopted From Operation Log"), restarts: 1},
	{name: "truncated JSON body (processed)", setup: restartFault(ehpcsim.Fault{Truncate: true, AfterEffect: true}), want: warns("Restart Job Adopted From Operation Log"), restarts: 1},
	{name: "operation log failing repeatedly while waiting", setup: func(e *testEnv) {
		e.sim.SetJobDuration(300 * time.Millisecond)
		e.sim.InjectFault(ehpc.PathOperations, ehpcsim.Fault{HTTPStatus: http.StatusBadGateway, Count: 12})
	}, want: succeeds(), restarts: 1},
	{name: "job fails", setup: func(e *testEnv) { e.sim.FailNextJobs(1) }, want: fails(`Restart Job Failed[\s\S]*Restart job JOB [\s\S]*the\s+next\s+plain\s+apply\s+replaces\s+it[\s\S]*sends\s+batch\s+1\s+again`),
		action: &want{pattern: `Restart Job Failed[\s\S]*Restart job JOB `}, status: ehpc.JobFailed, restarts: 1, next: true},
	{name: "job never finishes", setup: func(e *testEnv) { e.sim.HangNextJobs(1) }, shortTimeout: true,
		want: fails(`Timed Out Waiting For Restart Job[\s\S]*Restart job JOB [\s\S]*within TIMEOUT`), status: ehpc.JobPending, restarts: 1, next: true},
	{name: "1300 from clock skew", setup: func(e *testEnv) {
		e.adjustClient(func(c *ehpc.Config) { c.Clock = clock.Offset(clock.Real(), -3*time.Minute) })
	}, want: fails(`ret_code 1300[\s\S]*clock`), restarts: 0},
	{name: "2500 quota fails fast", setup: restartFault(ehpcsim.Fault{RetCode: 2500}), want: fails(`ret_code 2500[\s\S]*quota`), restarts: 0, next: true},

	// Issue #10: an API slower, laggier and less tidy than the client expects.
	{name: "earlier restart of the same node 20s before, answer lost unprocessed", setup: func(e *testEnv) {
		e.sim.AddPastJob(ehpcsim.DemoClusterID, []string{matrixNode}, e.sim.Now().Add(-20*time.Second), "successful")
		e.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true})
	}, want: warns("Restart Request Sent Again"), restarts: 1},
	{name: "earlier restart 20s before, answer lost after processing", setup: func(e *testEnv) {
		e.sim.AddPastJob(ehpcsim.DemoClusterID, []string{matrixNode}, e.sim.Now().Add(-20*time.Second), "successful")
		e.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, AfterEffect: true})
	}, want: warns("Restart Job Adopted From Operation Log"), restarts: 1},
	{name: "earlier restart 4s before, server clock 40s ahead, answer lost unprocessed", sim: ehpcsim.Options{ClockOffset: 40 * time.Second, TimestampValidity: 45 * time.Second}, setup: func(e *testEnv) {
		e.sim.AddPastJob(ehpcsim.DemoClusterID, []string{matrixNode}, e.sim.Now().Add(-4*time.Second), "successful")
		e.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true})
	}, want: warns("Restart Request Sent Again"), restarts: 1},
	{name: "server clock 40s ahead, answer lost after processing", sim: ehpcsim.Options{ClockOffset: 40 * time.Second, TimestampValidity: 45 * time.Second},
		setup: restartFault(ehpcsim.Fault{Drop: true, AfterEffect: true}), want: warns("Restart Job Adopted From Operation Log"), restarts: 1},
	{name: "server clock 5s behind, answer lost unprocessed", sim: ehpcsim.Options{ClockOffset: -5 * time.Second, TimestampValidity: 7 * time.Second},
		setup: restartFault(ehpcsim.Fault{Drop: true}), want: warns("Restart Request Sent Again"), restarts: 1},
	{name: "slow node listing (7s) in the same apply, answer lost after processing", nodesFromData: true,
		sim: ehpcsim.Options{Latency: map[string]time.Duration{ehpc.PathListNodes: 7 * time.Second}},
		setup: func(e *testEnv) {
			e.adjustClient(func(c *ehpc.Config) { c.RequestTimeout = 15 * time.Second })
			e.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, AfterEffect: true})
		}, want: warns("Restart Job Adopted From Operation Log"), restarts: 1},
	{name: "operation log lists a queue id, answer lost after processing", sim: ehpcsim.Options{QueueIDs: true},
		setup: restartFault(ehpcsim.Fault{Drop: true, AfterEffect: true}), want: warns("Restart Job Adopted From Operation Log"), restarts: 1},
	{name: "operation log 2s behind, answer lost after processing", sim: ehpcsim.Options{OperationLogLag: 2 * time.Second}, setup: func(e *testEnv) {
		longerSettle(e)
		e.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, AfterEffect: true})
	}, want: warns("Restart Job Adopted From Operation Log"), restarts: 1},
	{name: "restart processed 1.5s after the client gave up", setup: func(e *testEnv) {
		e.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, LateEffect: 1500 * time.Millisecond})
	}, want: warns("Restart Job Adopted From Operation Log"), restarts: 1},
	{name: "restart processed after its timestamp expired: refused by the API, sent again", setup: func(e *testEnv) {
		e.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, LateEffect: testLease + 2*time.Second})
	}, want: warns("Restart Request Sent Again"), restarts: 1},
	{name: "node list in pages of 2 without a total", nodesFromData: true, sim: ehpcsim.Options{PageCap: 2, TotalField: "none"}, want: succeeds(), restarts: 1},
	{name: "node list in pages of 2, total named total_sum", nodesFromData: true, sim: ehpcsim.Options{PageCap: 2, TotalField: "total_sum"}, want: succeeds(), restarts: 1},
	{name: "operation log in pages of 1 without a total, after earlier jobs", sim: ehpcsim.Options{PageCap: 1, TotalField: "none"}, setup: func(e *testEnv) {
		for _, n := range []string{"cln-cmp00002", "cln-cmp00003"} {
			e.sim.AddPastJob(ehpcsim.DemoClusterID, []string{n}, e.sim.Now().Add(-time.Minute), "successful")
		}
		e.sim.SetJobDuration(300 * time.Millisecond)
	}, want: succeeds(), restarts: 1},
	{name: "slow answers on every path (700ms)", sim: ehpcsim.Options{Latency: map[string]time.Duration{"*": 700 * time.Millisecond}}, want: succeeds(), restarts: 1},

	// Issue #18: what a run leaves when it cannot settle a lost answer.
	{name: "interrupted while the restart is in flight (processed)", interrupt: true,
		setup: restartFault(ehpcsim.Fault{Delay: 3 * time.Second, AfterEffect: true}),
		want:  fails(unknownOutcome + `[\s\S]*created\s+(between|by)`), status: rollout.Unknown, restarts: 1, next: true},
	{name: "interrupted while the restart is in flight (not processed)", interrupt: true,
		setup: restartFault(ehpcsim.Fault{Delay: 3 * time.Second}),
		want:  fails(unknownOutcome + `[\s\S]*not\s+sent\s+again`), status: rollout.Unknown, restarts: 0, next: true},
	{name: "answer lost after processing while the operation log answers without job_set", setup: func(e *testEnv) {
		e.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, AfterEffect: true})
		e.sim.InjectFault(ehpc.PathOperations, ehpcsim.Fault{Body: `{"action":"HpcOperationListOperationResponse","ret_code":0}`, Count: 1000})
	}, want: fails(unknownOutcome + `[\s\S]*the\s+next\s+plain\s+apply\s+replaces\s+it[\s\S]*looks\s+for\s+its\s+job`),
		action: &want{pattern: unknownOutcome}, status: rollout.Unknown, restarts: 1, next: true},
	{name: "operation log refuses the key (1200)", setup: func(e *testEnv) {
		e.sim.InjectFault(ehpc.PathOperations, ehpcsim.Fault{RetCode: 1200, Count: 1000})
	}, want: fails(`Cannot Check Restart Job[\s\S]*JOB[\s\S]*ret_code 1200[\s\S]*It\s+waits\s+for\s+batch\s+1\s+\(job\s+JOB\)`),
		action: &want{pattern: `Cannot Check Restart Job[\s\S]*JOB[\s\S]*ret_code 1200`}, status: rollout.Unknown, restarts: 1, next: true},
	{name: "job not in the operation log within the timeout", sim: ehpcsim.Options{OperationLogLag: time.Hour}, shortTimeout: true,
		want:   fails(`Timed Out Waiting For Restart Job[\s\S]*within\s[\s\S]*?\(not\s+in\s+the\s+operation\s+log\s+yet\)`),
		status: ehpc.JobPending, restarts: 1, next: true},
	{name: "endpoint's TLS certificate is not trusted", setup: func(e *testEnv) {
		// The same simulator behind TLS with a certificate no root vouches for,
		// as behind a proxy whose CA this machine lacks.
		srv := httptest.NewTLSServer(e.sim)
		e.t.Cleanup(srv.Close)
		e.srv = srv
	}, want: fails(`Cannot Connect To Endpoint[\s\S]*TLS[\s\S]*nothing was sent`), restarts: 0},
	{name: "endpoint answers with a redirect", setup: restartFault(ehpcsim.Fault{HTTPStatus: http.StatusMovedPermanently}),
		want: fails(`Endpoint Redirects[\s\S]*HTTP 301[\s\S]*not processed`), restarts: 0},
}

// rollingRows: the nodes in batches, one request per batch through the
// exactly-once path, the next batch sent only once the previous batch's job
// succeeded. The faults hit a batch after the first (Fault.Skip), where an
// earlier batch's job is in the log and a later batch must wait.
var rollingRows = []rollingRow{
	{name: "3 batches: middle batch's answer lost after processing",
		nodes: rollingNodes(3), batchSize: 1, faultBatch: 2,
		setup: restartFault(ehpcsim.Fault{Drop: true, AfterEffect: true, Skip: 1}),
		want:  warns("Restart Job Adopted From Operation Log"), restarts: 1},
	{name: "3 batches: middle batch's answer lost unprocessed",
		nodes: rollingNodes(3), batchSize: 1, faultBatch: 2,
		setup: restartFault(ehpcsim.Fault{Drop: true, Skip: 1}),
		want:  warns("Restart Request Sent Again"), restarts: 1},
	{name: "3 batches, 1s pause: 5100 twice on the middle batch",
		nodes: rollingNodes(3), batchSize: 1, pause: "1s", faultBatch: 2,
		setup: restartFault(ehpcsim.Fault{RetCode: 5100, Count: 2, Skip: 1}),
		want:  succeeds(), restarts: 1},
	{name: "3 batches: 503 with Retry-After on the middle batch",
		nodes: rollingNodes(3), batchSize: 1, faultBatch: 2,
		setup: restartFault(ehpcsim.Fault{HTTPStatus: http.StatusServiceUnavailable, RetryAfter: "1", Skip: 1}),
		want:  succeeds(), restarts: 1},
	{name: "3 batches: operation log 2s behind, last batch's answer lost after processing",
		nodes: rollingNodes(3), batchSize: 1, faultBatch: 3,
		sim: ehpcsim.Options{OperationLogLag: 2 * time.Second}, setup: func(e *testEnv) {
			longerSettle(e)
			e.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, AfterEffect: true, Skip: 2})
		}, want: warns("Restart Job Adopted From Operation Log"), restarts: 1},
	{name: "4 batches: second batch's job fails",
		nodes: rollingNodes(4), batchSize: 1, stopAt: 2,
		setup: func(e *testEnv) { e.sim.FailJobsAfter(1, 1) },
		want: fails(`Restart Job Failed[\s\S]*JOB[\s\S]*Rolling\s+restart\s+stopped\s+at\s+batch\s+2\s+of\s+4\s+\(job\s+JOB,[\s\S]*` +
			`Restarted\s+so\s+far:\s+cln-cmp00001\.\s+Never\s+restarted:\s+cln-cmp00003,\s+cln-cmp00004\.`),
		status: ehpc.JobFailed, restarts: 1, next: true},
	{name: "4 batches: second batch refused, its nodes busy (1400)",
		nodes: rollingNodes(4), batchSize: 1, refused: 2, faultBatch: 2,
		setup: restartFault(ehpcsim.Fault{RetCode: 1400, Skip: 1}),
		want: fails(`Restart Request Rejected[\s\S]*ret_code 1400[\s\S]*Rolling\s+restart\s+stopped\s+at\s+batch\s+2\s+of\s+4\s+\(not\s+sent,[\s\S]*` +
			`Never\s+restarted:\s+cln-cmp00002,\s+cln-cmp00003,\s+cln-cmp00004\.`),
		status: ehpc.JobPending, restarts: 1, next: true},
}

// matrixScenarios are both tables, as the runners take them.
func matrixScenarios() []faultScenario {
	var out []faultScenario
	for _, r := range restartRows {
		out = append(out, r.scenario())
	}
	for _, r := range rollingRows {
		out = append(out, r.scenario())
	}
	return out
}

func restartFault(f ehpcsim.Fault) func(*testEnv) {
	return func(e *testEnv) { e.sim.InjectFault(ehpc.PathRestartNodes, f) }
}

// matrixClient makes the client's request timeout short enough for the
// matrix: 1 s (the slow-response row delays 3 s); the harness shortens the
// lease a lost answer settles by. Rows adjust it further in their setup.
func matrixClient(e *testEnv) {
	e.adjustClient(func(c *ehpc.Config) { c.RequestTimeout = time.Second })
}

// matrixRow is one printed line of the matrix.
type matrixRow struct {
	runner, scenario, outcome, jobID string
	// restarts is the node's restart count, or in a rolling row each node's,
	// in sorted order.
	restarts string
	posts    int
	rolling  bool
	// next is what the next plain apply did, for a row that has one.
	next string
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
	for i, sc := range matrixScenarios() {
		order[sc.name] = i
	}
	sort.SliceStable(m.rows, func(i, j int) bool { return order[m.rows[i].scenario] < order[m.rows[j].scenario] })
	var b strings.Builder
	for _, table := range []struct {
		rolling bool
		title   string
	}{{false, "restarts of one node"}, {true, "rolling restarts (each node's restarts, sorted)"}} {
		fmt.Fprintf(&b, "\n%s\n\n| runner | scenario | outcome | restarts | restart POSTs | job id kept in | next plain apply |\n|---|---|---|---|---|---|---|\n", table.title)
		for _, r := range m.rows {
			if r.rolling == table.rolling {
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %s | %s |\n", r.runner, r.scenario, r.outcome, r.restarts, r.posts, r.jobID, r.next)
			}
		}
	}
	return b.String()
}

// restartsText is the table's restarts column: how often the row's node
// restarted, or each node of a rolling row (in sorted order).
func restartsText(e *testEnv, sc faultScenario) string {
	if sc.rolling == nil {
		return strconv.Itoa(e.sim.Restarts(sc.single.restartedNode()))
	}
	var counts []string
	for _, b := range sc.rolling.batches() {
		for _, n := range b {
			counts = append(counts, strconv.Itoa(e.sim.Restarts(n)))
		}
	}
	return strings.Join(counts, ", ")
}

// checkRestartInvariants asserts the matrix's promises from the simulator's
// counters: at most one restart of the node, exactly one on success, and no
// other node touched. Jobs from before the row are history, not restarts.
// Rolling rows have promises of their own (checkRollingInvariants).
func checkRestartInvariants(t *testing.T, e *testEnv, sc faultScenario, succeeded bool) {
	t.Helper()
	if sc.rolling != nil {
		checkRollingInvariants(t, e, sc, succeeded)
		return
	}
	node := sc.single.restartedNode()
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
	if n != sc.restarts() {
		t.Errorf("%s restarted %d times, want %d", node, n, sc.restarts())
	}
}

// checkRollingInvariants asserts a rolling row's promises from the simulator's
// jobs: each node of a batch sent restarted sc.restarts times and never more
// than once (every node exactly once on success); the nodes of batches never
// sent, and nodes not asked for, not at all; one job per batch sent, never two,
// in the batches' sorted order; each batch's job started only after the
// previous batch's job ended, and the pause after; and every job ended
// successful but the one that stops the rollout, which failed.
func checkRollingInvariants(t *testing.T, e *testEnv, sc faultScenario, succeeded bool) {
	t.Helper()
	r := sc.rolling
	batches := r.batches()
	counts := e.sim.RestartCounts()
	asked := map[string]bool{}
	for i, b := range batches {
		want := 0
		if i < r.sent() {
			want = sc.restarts()
		}
		for _, n := range b {
			asked[n] = true
			switch c := counts[n]; {
			case c > 1:
				t.Errorf("%s (batch %d) restarted %d times: a restart must never be sent twice", n, i+1, c)
			case succeeded && c != 1:
				t.Errorf("the outcome was success but %s (batch %d) restarted %d times", n, i+1, c)
			case c != want:
				t.Errorf("%s (batch %d) restarted %d times, want %d", n, i+1, c, want)
			}
		}
	}
	for n, c := range counts {
		if !asked[n] && c > 0 {
			t.Errorf("node %s restarted %d times; only %v were asked for", n, c, r.nodes)
		}
	}

	jobs := rowJobs(e)
	perBatch := map[string]int{}
	for _, j := range jobs {
		perBatch[strings.Join(j.NodeIDs, " ")]++
	}
	for i, b := range batches {
		if n := perBatch[strings.Join(b, " ")]; n > 1 {
			t.Errorf("batch %d (%v) has %d jobs: a batch's job must never run twice", i+1, b, n)
		}
	}
	if len(jobs) != r.sent() {
		t.Errorf("%d restart jobs, want one per batch sent (%d of %d): %v", len(jobs), r.sent(), len(batches), jobs)
	}
	var pause time.Duration
	if r.pause != "" {
		pause, _ = time.ParseDuration(r.pause)
	}
	for i, j := range jobs {
		if i >= len(batches) {
			break
		}
		if !slices.Equal(j.NodeIDs, batches[i]) {
			t.Errorf("job %d (%s) restarted %v, want batch %d: %v", i+1, j.ID, j.NodeIDs, i+1, batches[i])
		}
		want := ehpc.JobSuccessful
		if i+1 == r.stopAt {
			want = ehpc.JobFailed
		}
		if j.Status != want {
			t.Errorf("batch %d's job %s is %s, want %s", i+1, j.ID, j.Status, want)
		}
		if i == 0 {
			continue
		}
		switch prev := jobs[i-1]; {
		case prev.Ended.IsZero():
			t.Errorf("batch %d's job %s started while batch %d's job %s had not ended: two batches' jobs ran at once", i+1, j.ID, i, prev.ID)
		case j.Started.Before(prev.Ended):
			t.Errorf("batch %d's job %s started %s before batch %d's job %s ended: two batches' jobs ran at once",
				i+1, j.ID, prev.Ended.Sub(j.Started), i, prev.ID)
		case j.Started.Sub(prev.Ended) < pause:
			t.Errorf("batch %d's job %s started %s after batch %d's job ended, before the pause of %s", i+1, j.ID, j.Started.Sub(prev.Ended), i, pause)
		}
	}
}

// checkFaultedBatch asserts that every restart request the simulator faulted
// in a rolling row carried the nodes of the batch the row's fault is meant to
// hit (at least one did).
func checkFaultedBatch(t *testing.T, e *testEnv, sc faultScenario) {
	t.Helper()
	if sc.rolling == nil || sc.rolling.faultBatch == 0 {
		return
	}
	want := sc.rolling.batches()[sc.rolling.faultBatch-1]
	faulted := 0
	for _, req := range e.sim.RequestLog() {
		if req.Path != ehpc.PathRestartNodes || req.Note == "" {
			continue
		}
		faulted++
		var body struct {
			NodeIDs []string `json:"node_ids"`
		}
		if err := json.Unmarshal(req.Body, &body); err != nil || !slices.Equal(body.NodeIDs, want) {
			t.Errorf("a faulted restart request (%s) carried %s, want batch %d's nodes %v", req.Note, req.Body, sc.rolling.faultBatch, want)
		}
	}
	if faulted == 0 {
		t.Errorf("no restart request was faulted; the row's fault should hit batch %d", sc.rolling.faultBatch)
	}
}

// checkWarnedJob asserts that each time a rolling row's warning is shown, the
// first job named after it is the job of the batch the fault hit.
func checkWarnedJob(t *testing.T, e *testEnv, sc faultScenario, out string) {
	t.Helper()
	if sc.rolling == nil || sc.rolling.faultBatch == 0 || sc.want.warning == "" {
		return
	}
	jobs := rowJobs(e)
	if len(jobs) < sc.rolling.faultBatch {
		t.Errorf("warning %q is about batch %d, but only %d jobs exist", sc.want.warning, sc.rolling.faultBatch, len(jobs))
		return
	}
	want := jobs[sc.rolling.faultBatch-1].ID
	for _, after := range strings.Split(out, sc.want.warning)[1:] {
		first, at := "", len(after)
		for _, j := range jobs {
			if i := strings.Index(after, j.ID); i >= 0 && i < at {
				first, at = j.ID, i
			}
		}
		if first != want {
			t.Errorf("warning %q names job %q first, want batch %d's job %s:\n%s", sc.want.warning, first, sc.rolling.faultBatch, want, out)
		}
	}
}

// rowJobs returns the jobs the row's restarts created, in creation order. Jobs
// added as history before the row do not count.
func rowJobs(e *testEnv) []ehpcsim.Job {
	var jobs []ehpcsim.Job
	for _, j := range e.sim.Jobs() {
		if !j.Past {
			jobs = append(jobs, j)
		}
	}
	return jobs
}

// rowJobIDs returns the ids of the jobs the row created: at most one (checked
// by rowJobID), or one per batch sent in a rolling row.
func rowJobIDs(t *testing.T, e *testEnv, sc faultScenario) []string {
	t.Helper()
	if sc.rolling == nil {
		if id := rowJobID(t, e); id != "" {
			return []string{id}
		}
		return nil
	}
	var ids []string
	for _, j := range rowJobs(e) {
		ids = append(ids, j.ID)
	}
	return ids
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
	// run restarts the row's node (or a rolling row's nodes) under the
	// scenario's faults. It returns all the user saw, whether the run
	// succeeded, and the places a job id may have been kept in, each a name and
	// the text found there (for keptIn), after checking what is particular to
	// the runner; and, for a row with a next apply, the apply to run once the
	// row's run is checked (nil: none), which says what it did.
	run func(t *testing.T, e *testEnv, sc faultScenario) (out string, ok bool, places [][2]string, next func() string)
	// wantOK and wantErr give the runner's expectation for a row.
	expect func(sc faultScenario) (ok bool, wantErr string)
}

// runFaultMatrix runs every scenario with r in parallel, checks what holds for
// every runner (outcome, warning, error text, restart counts, the job kept) and
// logs the table.
func runFaultMatrix(t *testing.T, r matrixRunner) {
	table := &matrixTable{}
	t.Run("rows", func(t *testing.T) {
		for _, sc := range matrixScenarios() {
			t.Run(sc.name, func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, sc.sim)
				matrixClient(e)
				if sc.rolling != nil {
					e.sim.SetJobDuration(rollingJobDuration)
				}
				if sc.setup != nil {
					sc.setup(e)
				}
				wantOK, wantErr := r.expect(sc)
				out, ok, places, nextRun := r.run(t, e, sc)
				jobIDs := rowJobIDs(t, e, sc)
				jobID := ""
				if len(jobIDs) > 0 {
					jobID = jobIDs[len(jobIDs)-1]
				}
				switch {
				case wantOK && !ok:
					t.Fatalf("%s failed:\n%s", r.name, out)
				case !wantOK && ok:
					t.Fatalf("%s succeeded, want an error matching %q:\n%s", r.name, wantErr, out)
				case ok && sc.want.warning != "" && !strings.Contains(out, sc.want.warning):
					t.Errorf("%s output lacks warning %q:\n%s", r.name, sc.want.warning, out)
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
				if ok {
					checkWarnedJob(t, e, sc, out)
				}
				checkFaultedBatch(t, e, sc)
				checkRestartInvariants(t, e, sc, ok)
				restarts, posts := restartsText(e, sc), e.sim.Requests(ehpc.PathRestartNodes)
				next := ""
				if nextRun != nil {
					next = nextRun()
				}
				outcome := "error"
				switch {
				case ok:
					outcome = "success"
					if sc.want.warning != "" {
						outcome = "success, warning"
					}
				case sc.interrupt():
					outcome = "interrupted"
				}
				table.add(matrixRow{runner: r.name, scenario: sc.name, outcome: outcome, jobID: keptIn(jobIDs, places...),
					restarts: restarts, posts: posts, rolling: sc.rolling != nil, next: next})
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
	if sc.shortTimeout() {
		extra = `timeouts { create = "10s" }`
	}
	nodes := ""
	if sc.single != nil {
		nodes = fmt.Sprintf("[%q]", sc.single.restartedNode())
	}
	if r := sc.rolling; r != nil {
		quoted := make([]string, len(r.nodes))
		for i, n := range r.nodes {
			quoted[i] = strconv.Quote(n)
		}
		nodes = "[" + strings.Join(quoted, ", ") + "]"
		extra = fmt.Sprintf("rolling = { batch_size = %d }", r.batchSize)
		if r.pause != "" {
			extra = fmt.Sprintf("rolling = { batch_size = %d, pause = %q }", r.batchSize, r.pause)
		}
	}
	data := ""
	if sc.single != nil && sc.single.nodesFromData {
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
		expect: func(sc faultScenario) (bool, string) { return sc.want.error() },
		run: func(t *testing.T, e *testEnv, sc faultScenario) (string, bool, [][2]string, func() string) {
			c := e.newCLI(t)
			c.write(matrixResourceConfig(e, sc))
			c.mustSucceed("init", "-input=false")
			var out string
			code := 1
			if sc.interrupt() {
				out = c.applyInterrupted(func() bool { return e.sim.Requests(ehpc.PathRestartNodes) > 0 }, "the restart request never arrived")
			} else {
				out, code = c.run("apply", "-auto-approve", "-input=false")
			}
			state, tainted := c.stateResource()
			where := "state"
			if tainted {
				where = "state (tainted)"
			}
			if sc.rolling != nil {
				inState := checkRollingState(t, e, sc, state, tainted, code == 0)
				places := [][2]string{{where, inState}, {"message", diagText(out)}}
				return out, code == 0, places, nextApply(t, e, c, sc, code == 0)
			}
			jobID := rowJobID(t, e)
			stateJob := ""
			if state != nil {
				stateJob, _ = state["job_id"].(string)
			}
			want := sc.status
			if want == "" {
				want = ehpc.JobSuccessful
			}
			switch {
			case state != nil && state["status"] == rollout.Unknown && state["job_id"] == nil:
				// A lost request the run could not settle: a red run, whose
				// record Terraform taints, as a batch of unknown outcome with
				// the window its job, if any, lies in; the next apply's
				// replacement settles it.
				if !tainted || code == 0 || want != rollout.Unknown {
					t.Errorf("state %v (tainted %v, exit %d): a lost request must fail the run, and the row expects status %s", state, tainted, code, want)
				}
				if jobID != "" && lostWindowCovers(recordText(state, c.statePrivate()), e.sim, jobID) {
					stateJob = jobID + " (in the lost request's window)"
				}
			case jobID == "":
				if state != nil {
					t.Errorf("no job was created, but state holds %v", state)
				}
			case code == 0:
				// Success: the job is in state, untainted.
				if stateJob != jobID || state["status"] != want || tainted {
					t.Errorf("state %v (tainted %v), want job %s with status %s, untainted", state, tainted, jobID, want)
				}
			default:
				// Any other end: in state, tainted (the next apply's
				// replacement continues it), and named in the error.
				if stateJob != jobID || !tainted || state["status"] != want || !strings.Contains(diagText(out), jobID) {
					t.Errorf("state %v (tainted %v), want tainted job %s with status %s named in the error:\n%s", state, tainted, jobID, want, out)
				}
			}
			window := ""
			if jobID != "" && lostWindowCovers(diagText(out), e.sim, jobID) {
				window = jobID
			}
			places := [][2]string{{where, stateJob}, {"message", diagText(out)}, {"message (the lost request's window)", window}}
			return out, code == 0, places, nextApply(t, e, c, sc, code == 0)
		}})
}

// nextApply is the pipeline's next step after a row's red run: the cause
// gone (the simulator's faults cleared, a hung job ended, the log caught up),
// a plain apply of the same configuration. Green means done, and the red run
// is finished without restarting what restarted: that apply exits 0, every
// node of the row then has exactly one successful restart and no other that
// did not fail (counting the red run's), and a plan after it is empty. It
// says what the apply did, for the table; nil for a row without a next apply.
func nextApply(t *testing.T, e *testEnv, c *cli, sc faultScenario, green bool) func() string {
	t.Helper()
	switch {
	case !sc.next():
		return nil
	case green:
		t.Errorf("the row has a next apply, but its run exited 0")
		return nil
	}
	return func() string { return runNextApply(t, e, c, sc) }
}

func runNextApply(t *testing.T, e *testEnv, c *cli, sc faultScenario) string {
	t.Helper()
	e.sim.ClearFaults()
	e.sim.FailNextJobs(0)
	e.sim.FailJobsAfter(0, 0)
	e.sim.HangNextJobs(0)
	e.sim.EndHungJobs(false)
	e.sim.SetOperationLogLag(0)
	before := e.sim.Requests(ehpc.PathRestartNodes)
	out, code := c.run("apply", "-auto-approve", "-input=false")
	if code != 0 {
		t.Errorf("the next plain apply failed:\n%s", out)
		return "error"
	}
	for _, n := range sc.nodes() {
		var ok, kept []string
		for _, j := range rowJobs(e) {
			if !slices.Contains(j.NodeIDs, n) {
				continue
			}
			if j.Status == ehpc.JobSuccessful {
				ok = append(ok, j.ID)
			}
			if j.Status != ehpc.JobFailed {
				kept = append(kept, j.ID)
			}
		}
		if len(ok) != 1 || len(kept) != 1 {
			t.Errorf("after the next plain apply, node %s has successful restarts %v and restarts that did not fail %v; want exactly one of each", n, ok, kept)
		}
	}
	if plan, code := c.run("plan", "-detailed-exitcode", "-input=false"); code != 0 {
		t.Errorf("the plan after the next plain apply is not empty (exit %d):\n%s", code, plan)
	}
	words := "exit 0"
	if _, tainted := c.stateResource(); tainted {
		t.Errorf("the next plain apply left the record tainted")
	}
	if strings.Contains(out, "must be replaced") {
		words += ", replaced (continued)"
	}
	return fmt.Sprintf("%s, %d restart POSTs, every node restarted once", words, e.sim.Requests(ehpc.PathRestartNodes)-before)
}

// checkRollingState asserts what state records after a rolling row: nothing
// when no job exists; otherwise every batch in order with its nodes, the job
// of each batch sent and a null job with status not_sent for the others, id
// the first batch's job, job_id the last batch sent's, status sc.status
// (successful unless said otherwise), and tainted exactly when the apply
// failed. It returns the job ids the batches in state hold.
func checkRollingState(t *testing.T, e *testEnv, sc faultScenario, state map[string]any, tainted, ok bool) string {
	t.Helper()
	jobs := rowJobs(e)
	switch {
	case len(jobs) == 0:
		if state != nil {
			t.Errorf("no job was created, but state holds %v", state)
		}
		return ""
	case state == nil:
		t.Errorf("%d jobs were created, but state holds nothing", len(jobs))
		return ""
	}
	want := sc.status
	if want == "" {
		want = ehpc.JobSuccessful
	}
	first, last := jobs[0].ID, jobs[len(jobs)-1].ID
	if state["id"] != first || state["job_id"] != last || state["status"] != want || tainted == ok {
		t.Errorf("state has id %v, job_id %v, status %v (tainted %v); want id %s (first batch), job_id %s (last batch sent), status %s, tainted %v",
			state["id"], state["job_id"], state["status"], tainted, first, last, want, !ok)
	}
	batches := sc.rolling.batches()
	recorded, _ := state["batches"].([]any)
	if len(recorded) != len(batches) {
		t.Errorf("state has %d batches, want %d: %v", len(recorded), len(batches), state["batches"])
	}
	var inState []string
	for i, raw := range recorded {
		if i >= len(batches) {
			break
		}
		b, _ := raw.(map[string]any)
		var nodes []string
		ids, _ := b["node_ids"].([]any)
		for _, id := range ids {
			s, _ := id.(string)
			nodes = append(nodes, s)
		}
		var wantJob any
		wantStatus := rollout.NotSent
		if i < len(jobs) {
			wantJob, wantStatus = jobs[i].ID, jobs[i].Status
		}
		if !slices.Equal(nodes, batches[i]) || b["job_id"] != wantJob || b["status"] != wantStatus {
			t.Errorf("state's batch %d is %v; want nodes %v, job %v, status %s", i+1, b, batches[i], wantJob, wantStatus)
		}
		if id, _ := b["job_id"].(string); id != "" {
			inState = append(inState, id)
		}
	}
	return strings.Join(inState, " ")
}

// The same matrix for the action, through the provider's tfprotov6 server. An
// action keeps no state: the job must be named in its progress messages or its
// error.
func TestFaultMatrixAction(t *testing.T) {
	runFaultMatrix(t, matrixRunner{name: "action", timeoutText: "the action's timeout",
		expect: func(sc faultScenario) (bool, string) {
			if sc.single != nil && sc.single.action != nil {
				return sc.single.action.error()
			}
			return sc.want.error()
		},
		run: func(t *testing.T, e *testEnv, sc faultScenario) (string, bool, [][2]string, func() string) {
			p := e.protoServer(nil).mustConfigure(e.simProviderConfig())
			extra := map[string]tftypes.Value{}
			if sc.shortTimeout() {
				extra["timeout"] = str(shortDuration(minWaitTimeout))
			}
			var node string
			var nodes []string
			if sc.single != nil {
				node = sc.single.restartedNode()
				nodes = []string{node}
			}
			if sc.rolling != nil {
				nodes = sc.rolling.nodes
				extra["rolling"] = rollingValue(*sc.rolling)
			}
			if sc.single != nil && sc.single.nodesFromData {
				// The same provider instance reads the nodes first, as Terraform
				// does when a data source feeds the action in one run.
				ids := p.readNodeIDs(map[string]tftypes.Value{"cluster_id": str(ehpcsim.DemoClusterID), "name_regex": str("^" + matrixNamedName + "$")})
				if len(ids) != 1 || ids[0] != node {
					t.Fatalf("hpc_cluster_nodes read %v, want [%s]", ids, node)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if sc.interrupt() {
				go func() {
					for e.sim.Requests(ehpc.PathRestartNodes) == 0 && ctx.Err() == nil {
						time.Sleep(5 * time.Millisecond)
					}
					cancel()
				}()
			}
			inv := p.invoke(ctx, actionArgs(extra, nodes...), nil)
			progress := strings.Join(inv.progress, "\n")
			var errText, warnText, window string
			for _, d := range inv.diags {
				line := "\n" + d.Summary + ": " + d.Detail
				if d.Severity == tfprotov6.DiagnosticSeverityError {
					errText += line
				} else {
					warnText += line
				}
			}
			if sc.single != nil {
				if id := rowJobID(t, e); id != "" && lostWindowCovers(errText, e.sim, id) {
					window = id
				}
			}
			ok := len(errorsOf(inv.diags)) == 0
			if ok && !strings.Contains(progress, "finished: successful") && !strings.Contains(progress, "had already finished when this run first read it: successful") {
				t.Errorf("no successful outcome reported:\n%s", progress)
			}
			if sc.rolling != nil {
				checkRollingProgress(t, e, sc, inv.progress)
			}
			return progress + warnText + errText, ok, [][2]string{{"progress", progress}, {"warning", warnText}, {"error", errText}, {"error (the lost request's window)", window}}, nil
		}})
}

// rollingValue is a rolling row's rolling argument for the action.
func rollingValue(r rollingRow) tftypes.Value {
	pause := tftypes.NewValue(tftypes.String, nil)
	if r.pause != "" {
		pause = str(r.pause)
	}
	return rollingArg(num(int64(r.batchSize)), pause)
}

// checkRollingProgress asserts the action reported each batch sent as it went,
// in order, under "Batch i of n: ": its request with its job, then its job's
// end; and nothing under a batch never sent.
func checkRollingProgress(t *testing.T, e *testEnv, sc faultScenario, progress []string) {
	t.Helper()
	n := len(sc.rolling.batches())
	jobs := rowJobs(e)
	find := func(from int, prefix, text string) int {
		for i := from; i < len(progress); i++ {
			if strings.HasPrefix(progress[i], prefix) && strings.Contains(progress[i], text) {
				return i
			}
		}
		return -1
	}
	at := 0
	for i, j := range jobs {
		prefix := fmt.Sprintf("Batch %d of %d: ", i+1, n)
		// A job adopted from the log was not requested; one first read
		// finished ended before the run looked (progressWords).
		for _, texts := range [][]string{{"requested: job " + j.ID + ".", "requested again: job " + j.ID + ".", "job " + j.ID + " adopted from the operation log"},
			{"Restart job " + j.ID + " finished: " + j.Status, "Restart job " + j.ID + " had already finished when this run first read it: " + j.Status}} {
			text, k := texts[0], -1
			for _, text = range texts {
				if k = find(at, prefix, text); k >= 0 {
					break
				}
			}
			if k < 0 {
				t.Errorf("no progress %q...%q after message %d:\n%s", prefix, text, at, strings.Join(progress, "\n"))
				continue
			}
			at = k + 1
		}
	}
	for i := len(jobs); i < n; i++ {
		if k := find(0, fmt.Sprintf("Batch %d of %d: ", i+1, n), ""); k >= 0 {
			t.Errorf("progress about batch %d, never sent: %q", i+1, progress[k])
		}
	}
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

// recordText writes a record's batches as text, each with its window when
// its bookkeeping (kept in private state) holds one.
func recordText(state map[string]any, private []byte) string {
	var b strings.Builder
	for _, x := range torture.Batches(state, private) {
		fmt.Fprintf(&b, "[%s status:%s", strings.Join(x.Nodes, " "), x.Status)
		if x.Created[0] != "" && x.Created[1] != "" {
			fmt.Fprintf(&b, " job_created_after:%s job_created_before:%s", x.Created[0], x.Created[1])
		}
		b.WriteString("] ")
	}
	return b.String()
}

// lostWindowCovers reports whether text (a message, or state's batches) gives a
// lost request's window that holds the creation of the simulator's job id, and
// names its nodes: the job is then accounted for as the request's, to be
// settled by the next apply. The window is "created between A and B",
// job_created_after A and job_created_before B, or, while the server's clock
// is not bounded, "created by B ..., after the request was sent at A" (the
// simulator's clock is the client's in these rows, give or take a second).
func lostWindowCovers(text string, sim *ehpcsim.Simulator, id string) bool {
	j, ok := sim.Job(id)
	if !ok {
		return false
	}
	text = strings.Join(strings.Fields(text), " ") // the CLI wraps its messages
	for _, n := range j.NodeIDs {
		if !strings.Contains(text, n) {
			return false
		}
	}
	re := regexp.MustCompile(`(?:created between |job_created_after:)(\S+?)(?: and |\s+job_created_before:)(\S+?)[.\s\]]`)
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		from, err1 := time.Parse(time.RFC3339, m[1])
		until, err2 := time.Parse(time.RFC3339, m[2])
		if err1 == nil && err2 == nil && !j.Created.Before(from) && !j.Created.After(until) {
			return true
		}
	}
	re = regexp.MustCompile(`created by (\S+) by the API's clock, after the request was sent at (\S+) `)
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		until, err1 := time.Parse(time.RFC3339, m[1])
		sent, err2 := time.Parse(time.RFC3339, m[2])
		if err1 == nil && err2 == nil && !j.Created.Before(sent.Add(-time.Second)) && !j.Created.After(until) {
			return true
		}
	}
	return false
}
