package provider

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// Terraform 1.8.5 cannot run actions, so the action is tested the way Terraform
// 1.14 drives it: through the provider's tfprotov6 server (GetProviderSchema,
// ConfigureProvider, ValidateActionConfig, PlanAction, InvokeAction and its event
// stream), against the simulator. These run everywhere; the tests on the real CLI
// (cluster_node_restart_action_cli_test.go) only where a Terraform 1.14 is present.

func TestAction_schemaListed(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, ehpcsim.Options{})
	p := e.protoServer(nil)
	s, ok := p.schema.ActionSchemas[actionType]
	if !ok || s.Schema == nil {
		t.Fatalf("GetProviderSchema lists actions %v, want %s", keys(p.schema.ActionSchemas), actionType)
	}
	got := map[string]string{}
	for _, a := range s.Schema.Block.Attributes {
		kind := "optional"
		if a.Required {
			kind = "required"
		}
		got[a.Name] = kind + " " + a.ValueType().String()
	}
	want := map[string]string{
		"cluster_id":          "required tftypes.String",
		"node_ids":            "required tftypes.Set[tftypes.String]",
		"zone":                "optional tftypes.String",
		"wait_for_completion": "optional tftypes.Bool",
		"timeout":             "optional tftypes.String",
		"rolling":             `optional tftypes.Object["batch_size":tftypes.Number, "first_batch_size":tftypes.Number, "pause":tftypes.String]`,
		"health_gate":         `optional tftypes.Object["enabled":tftypes.Bool, "healthy_deadline":tftypes.String, "min_healthy_time":tftypes.String]`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("action attributes\n got %v\nwant %v", got, want)
	}
	found := false
	for _, m := range mustMetadata(t, p).Actions {
		found = found || m.TypeName == actionType
	}
	if !found {
		t.Fatalf("GetMetadata does not list the action")
	}
}

func mustMetadata(t *testing.T, p *protoProvider) *tfprotov6.GetMetadataResponse {
	t.Helper()
	md, err := p.srv.GetMetadata(context.Background(), &tfprotov6.GetMetadataRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return md
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ValidateActionConfig: each mistake names the attribute; nothing is sent.
func TestAction_validate(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, ehpcsim.Options{})
	p := e.protoServer(nil)
	expectNoErrors(t, "valid config", p.validate(actionArgs(map[string]tftypes.Value{
		"zone": str("jn1a"), "timeout": str("10m"), "wait_for_completion": boolean(false),
	}, "cln-cmp00001")))
	// A number of seconds, as the action took before durations (Terraform
	// hands the number 600 to the string attribute as "600"), still works,
	// with a warning that says how to write it now.
	legacy := p.validate(actionArgs(map[string]tftypes.Value{"timeout": str("600")}, "cln-cmp00001"))
	expectNoErrors(t, "timeout = 600", legacy)
	if len(legacy) != 1 || legacy[0].Severity != tfprotov6.DiagnosticSeverityWarning || legacy[0].Summary != "Timeout Without A Unit" ||
		!strings.Contains(legacy[0].Detail, `timeout = 600 is read as 600 seconds`) || !strings.Contains(legacy[0].Detail, `timeout = "10m"`) {
		t.Fatalf("timeout = 600: want one warning that reads it as seconds and suggests \"10m\", got %+v", legacy)
	}
	cases := []struct {
		name string
		vals map[string]tftypes.Value
		want string
	}{
		{"timeout too short", actionArgs(map[string]tftypes.Value{"timeout": str("5s")}, "cln-cmp00001"),
			`^Invalid Action Timeout \[AttributeName\("timeout"\)\]: timeout = "5s" is shorter than the least timeout, "10s".*such as "30m" \(did you mean "5m"\?\)`},
		{"timeout too long", actionArgs(map[string]tftypes.Value{"timeout": str("25h")}, "cln-cmp00001"), `timeout = "25h" is longer than the longest timeout, "24h"`},
		{"timeout too short in seconds", actionArgs(map[string]tftypes.Value{"timeout": str("5")}, "cln-cmp00001"), `timeout = "5s" is shorter than the least timeout`},
		{"timeout without a number", actionArgs(map[string]tftypes.Value{"timeout": str("half an hour")}, "cln-cmp00001"),
			`timeout = "half an hour" is not a duration\. Write a number with a unit \(s, m or h\)`},
		{"empty node_ids", actionArgs(nil), `Empty Node ID Set.*: node_ids is empty.*data\.hpc_cluster_nodes.*filters`},
		{"node id with a space", actionArgs(nil, "cln cmp1"), `node_ids.*must be an id without whitespace`},
		{"blank cluster_id", actionArgs(map[string]tftypes.Value{"cluster_id": str(" ")}, "cln-cmp00001"), `cluster_id.*must be an id without whitespace`},
		{"zone with a space", actionArgs(map[string]tftypes.Value{"zone": str("jn 1a")}, "cln-cmp00001"), `zone.*zone id without whitespace`},
	}
	for _, c := range cases {
		expectOneError(t, c.name, p.validate(c.vals), c.want)
	}
	if n := e.sim.TotalRequests(); n != 0 {
		t.Fatalf("validation sent %d requests", n)
	}
}

// PlanAction refuses a restart with no zone or no credentials from anywhere, and
// plans a good one without calling the API.
func TestAction_plan(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, ehpcsim.Options{})
	p := e.protoServer(nil).mustConfigure(e.simProviderConfig())
	expectNoErrors(t, "plan", p.plan(actionArgs(nil, "cln-cmp00001")))

	noZone := e.simProviderConfig()
	delete(noZone, "zone")
	p2 := e.protoServer(nil).mustConfigure(noZone)
	expectOneError(t, "no zone", p2.plan(actionArgs(nil, "cln-cmp00001")), `(?s)Missing Zone \[.*zone.*\]: No zone is set for this restart: set zone on this action.*QINGCLOUD_ZONE.*zone in the QingCloud config file`)
	expectNoErrors(t, "zone on the action", p2.plan(actionArgs(map[string]tftypes.Value{"zone": str("jn1a")}, "cln-cmp00001")))

	p3 := e.protoServer(nil).mustConfigure(map[string]tftypes.Value{"endpoint": str(e.srv.URL), "zone": str("jn1a")})
	expectOneError(t, "no credentials", p3.plan(actionArgs(nil, "cln-cmp00001")), `(?s)Missing EHPC API Credentials.*QINGCLOUD_ACCESS_KEY.*QINGCLOUD_SECRET_KEY.*qy_access_key_id and qy_secret_access_key`)

	if n := e.sim.TotalRequests(); n != 0 {
		t.Fatalf("planning sent %d requests", n)
	}
}

// One invocation: one restart request, the job id in the first message, "still
// waiting" messages no more often than the interval, the outcome last.
func TestAction_invokeWaitsWithProgress(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, ehpcsim.Options{JobDuration: 600 * time.Millisecond})
	const interval = 150 * time.Millisecond
	p := e.protoServer(func(o *options) { o.ActionProgressInterval = interval }).mustConfigure(e.simProviderConfig())

	started := time.Now()
	inv := p.invoke(context.Background(), actionArgs(nil, "cln-cmp00002", "cln-cmp00001"), nil)
	took := time.Since(started)
	expectNoErrors(t, "invoke", inv.diags)

	jobs := e.sim.Jobs()
	if len(jobs) != 1 {
		t.Fatalf("simulator has %d jobs, want 1", len(jobs))
	}
	job := jobs[0].ID
	msgs := inv.progress
	if len(msgs) < 3 {
		t.Fatalf("progress %q: want requested, at least one waiting, finished", msgs)
	}
	want0 := "Restart of 2 nodes (cln-cmp00001, cln-cmp00002) of cluster ehpc-8jqdq0mz (zone jn1a) requested: job " + job + "."
	if msgs[0] != want0 {
		t.Errorf("first progress %q, want %q", msgs[0], want0)
	}
	waiting := regexp.MustCompile(`^Waiting for restart job ` + job + ` of 2 nodes \(cln-cmp00001, cln-cmp00002\) to finish: (status pending|not in the operation log yet), [0-9.]+m?s elapsed\.$`)
	for _, m := range msgs[1 : len(msgs)-1] {
		if !waiting.MatchString(m) {
			t.Errorf("middle progress %q does not match %s", m, waiting)
		}
	}
	// At most one waiting message per interval of the wait.
	if n, limit := len(msgs)-2, int(took/interval); n > limit {
		t.Errorf("%d waiting messages in %s, want at most %d (one per %s)", n, took, limit, interval)
	}
	last := regexp.MustCompile(`^Restart job ` + job + ` finished: successful after [0-9.]+m?s\.$`)
	if !last.MatchString(msgs[len(msgs)-1]) {
		t.Errorf("last progress %q does not match %s", msgs[len(msgs)-1], last)
	}

	if err := e.expectRestarts(map[string]int{"cln-cmp00001": 1, "cln-cmp00002": 1})(); err != nil {
		t.Error(err)
	}
	if got := e.sim.Requests(ehpc.PathRestartNodes); got != 1 {
		t.Errorf("%d restart requests, want 1", got)
	}
	if bodies := e.restartBodies(); len(bodies) != 1 || bodies[0] != `{"cluster_id":"ehpc-8jqdq0mz","node_ids":["cln-cmp00001","cln-cmp00002"],"zone":"jn1a"}` {
		t.Errorf("restart bodies %q", bodies)
	}
	if e.sim.Requests(ehpc.PathOperations) < 2 {
		t.Errorf("the job was polled %d times", e.sim.Requests(ehpc.PathOperations))
	}

	// A second invocation restarts again: an action keeps no record.
	inv2 := p.invoke(context.Background(), actionArgs(nil, "cln-cmp00001", "cln-cmp00002"), nil)
	expectNoErrors(t, "second invoke", inv2.diags)
	if err := e.expectRestarts(map[string]int{"cln-cmp00001": 2, "cln-cmp00002": 2})(); err != nil {
		t.Error(err)
	}
}

// With the default 30 s interval a short job reports only the request and the
// outcome.
func TestAction_invokeShortJobNoWaitingNoise(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, ehpcsim.Options{JobDuration: 300 * time.Millisecond})
	p := e.protoServer(nil).mustConfigure(e.simProviderConfig())
	inv := p.invoke(context.Background(), actionArgs(map[string]tftypes.Value{"zone": str("jn1a"), "timeout": str("1m")}, "cln-cmp00003"), nil)
	expectNoErrors(t, "invoke", inv.diags)
	if len(inv.progress) != 2 ||
		!regexp.MustCompile(`^Restart of node cln-cmp00003 of cluster ehpc-8jqdq0mz \(zone jn1a\) requested: job j-[a-z0-9]+\.$`).MatchString(inv.progress[0]) ||
		!strings.Contains(inv.progress[1], "finished: successful") {
		t.Fatalf("progress %q: want requested, finished", inv.progress)
	}
}

func TestAction_invokeNoWait(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, ehpcsim.Options{JobDuration: time.Hour})
	p := e.protoServer(nil).mustConfigure(e.simProviderConfig())
	inv := p.invoke(context.Background(), actionArgs(map[string]tftypes.Value{"wait_for_completion": boolean(false)}, "cln-cmp00004"), nil)
	expectNoErrors(t, "invoke", inv.diags)
	job := e.sim.Jobs()[0].ID
	want := []string{
		"Restart of node cln-cmp00004 of cluster ehpc-8jqdq0mz (zone jn1a) requested: job " + job + ".",
		"Not waiting for job " + job + " (wait_for_completion = false); follow it in the cluster's operation log.",
	}
	if fmt.Sprint(inv.progress) != fmt.Sprint(want) {
		t.Fatalf("progress\n got %q\nwant %q", inv.progress, want)
	}
	if err := e.expectRequests(map[string]int{ehpc.PathRestartNodes: 1})(); err != nil {
		t.Fatal(err)
	}
}

func TestAction_invokeJobFailed(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, ehpcsim.Options{JobDuration: 100 * time.Millisecond})
	e.sim.FailNextJobs(1)
	p := e.protoServer(nil).mustConfigure(e.simProviderConfig())
	inv := p.invoke(context.Background(), actionArgs(nil, "cln-cmp00001"), nil)
	job := e.sim.Jobs()[0].ID
	expectOneError(t, "failed job", inv.diags, `^Restart Job Failed: Restart job `+job+` for node cln-cmp00001 of cluster ehpc-8jqdq0mz finished with status "failed".*operation log`)
	if last := inv.progress[len(inv.progress)-1]; !strings.HasPrefix(last, "Restart job "+job+" finished: failed after ") {
		t.Errorf("last progress %q: want the failed outcome", last)
	}
	if err := e.expectRestarts(map[string]int{"cln-cmp00001": 1})(); err != nil {
		t.Error(err)
	}
}

// The timeout bounds the wait (10 s is the least it accepts, so this test takes
// that long; it runs in parallel with the others).
func TestAction_invokeTimeout(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, ehpcsim.Options{})
	e.sim.HangNextJobs(1)
	p := e.protoServer(func(o *options) { o.ActionProgressInterval = 3 * time.Second }).mustConfigure(e.simProviderConfig())
	started := time.Now()
	inv := p.invoke(context.Background(), actionArgs(map[string]tftypes.Value{"timeout": str(shortDuration(minWaitTimeout))}, "cln-cmp00001"), nil)
	if took := time.Since(started); took < 10*time.Second || took > 20*time.Second {
		t.Errorf("invoke took %s, want about the 10s timeout", took)
	}
	job := e.sim.Jobs()[0].ID
	expectOneError(t, "timeout", inv.diags, `^Timed Out Waiting For Restart Job: Restart job `+job+` for cluster ehpc-8jqdq0mz did not finish within the action's timeout of 10s \(last status "pending"\)\. `+
		`The restart was accepted and job `+job+` may still be running: follow it in the cluster's operation log\. `+
		`Do not invoke the action again to wait for it: every invocation sends a new restart.*raise timeout`)
	if last := inv.progress[len(inv.progress)-1]; !strings.HasPrefix(last, "Stopped waiting for restart job "+job+" after ") {
		t.Errorf("last progress %q: want the timeout outcome", last)
	}
	if n := len(inv.progress) - 2; n < 2 || n > 4 {
		t.Errorf("%d waiting messages over 10s at a 3s interval, want 2 to 4: %q", n, inv.progress)
	}
	if err := e.expectRestarts(map[string]int{"cln-cmp00001": 1})(); err != nil {
		t.Error(err)
	}
}

// Cancelling Terraform (the invoke's context) while waiting is an error naming the
// job, and sends nothing more.
func TestAction_invokeCancelled(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, ehpcsim.Options{})
	e.sim.HangNextJobs(1)
	p := e.protoServer(nil).mustConfigure(e.simProviderConfig())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inv := p.invoke(ctx, actionArgs(nil, "cln-cmp00001"), func(msg string) {
		if strings.Contains(msg, "requested") {
			time.AfterFunc(200*time.Millisecond, cancel)
		}
	})
	job := e.sim.Jobs()[0].ID
	expectOneError(t, "cancelled", inv.diags, `^Restart Action Cancelled: The action was cancelled while waiting for restart job `+job+` \(cluster ehpc-8jqdq0mz\).*may still be running`)
	if len(inv.progress) != 1 {
		t.Errorf("progress %q: want only the request", inv.progress)
	}
	if got := e.sim.Requests(ehpc.PathRestartNodes); got != 1 {
		t.Errorf("%d restart requests, want 1", got)
	}
}

// API errors reach the user with the ret_code, message and hint; nothing is
// reported as requested.
func TestAction_invokeAPIErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		setup func(e *testEnv)
		nodes []string
		want  string
	}{
		{"2100 unknown node", nil, []string{"cln-nosuch01"}, `^Restart Request Rejected: .*ret_code 2100.*cln-nosuch01.*Check cluster_id, node_ids`},
		{"1200 wrong secret", func(e *testEnv) {
			e.clientConfig = func(c *ehpc.Config) { c.SecretKey = "not-the-secret" }
		}, []string{"cln-cmp00001"}, `^Restart Request Rejected: .*ret_code 1200.*access_key and secret_key`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, ehpcsim.Options{})
			if c.setup != nil {
				c.setup(e)
			}
			p := e.protoServer(nil).mustConfigure(e.simProviderConfig())
			inv := p.invoke(context.Background(), actionArgs(nil, c.nodes...), nil)
			msg := expectOneError(t, c.name, inv.diags, c.want)
			if strings.Contains(msg, ehpcsim.DemoSecretKey) {
				t.Errorf("error leaks the secret: %s", msg)
			}
			if len(inv.progress) != 0 {
				t.Errorf("progress %q: want none for a rejected restart", inv.progress)
			}
			if got := e.sim.RestartCounts(); len(got) != 0 {
				t.Errorf("rejected restart restarted %v", got)
			}
		})
	}
}

func TestAction_invokeMissingCredentials(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, ehpcsim.Options{})
	p := e.protoServer(nil).mustConfigure(map[string]tftypes.Value{"endpoint": str(e.srv.URL), "zone": str("jn1a")})
	inv := p.invoke(context.Background(), actionArgs(nil, "cln-cmp00001"), nil)
	expectOneError(t, "no credentials", inv.diags, `(?s)^Missing EHPC API Credentials: .*access_key.*QINGCLOUD_ACCESS_KEY.*secret_key.*QINGCLOUD_SECRET_KEY.*config\.yaml \(it does not exist`)
	if n := e.sim.TotalRequests(); n != 0 {
		t.Fatalf("sent %d requests without credentials", n)
	}
}

func TestNodesPhrase(t *testing.T) {
	for ids, want := range map[string]string{
		"a":           "node a",
		"a b":         "2 nodes (a, b)",
		"a b c d e f": "6 nodes (a, b, c, d, e, and 1 more)",
	} {
		if got := nodesPhrase(strings.Fields(ids)); got != want {
			t.Errorf("nodesPhrase(%s) = %q, want %q", ids, got, want)
		}
	}
}
