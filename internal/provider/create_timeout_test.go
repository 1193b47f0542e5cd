package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// A timeouts.create the wait cannot use fails the plan, naming the value, the
// problem and the fix, and nothing is sent; the bounds themselves plan.
func TestAccClusterNodeRestart_createTimeoutValidation(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{})
	cases := []struct {
		value string
		want  string // empty: the plan succeeds
	}{
		{"0s", `(?s)Invalid Create Timeout.*create = "0s".*timeouts.create = "0s" is not a positive duration.*from "10s" to "24h"`},
		{"-5m", `(?s)Invalid Create Timeout.*timeouts.create = "-5m" is not a positive duration.*such as "30m"`},
		{"5s", `(?s)Invalid Create Timeout.*timeouts.create = "5s" is shorter than the least timeout, "10s".*such as "30m" \(did you mean "5m"\?\).*wait_for_completion = false`},
		// No minutes to suggest when they would be out of bounds too.
		{"1500s", ""},
		{"0.1s", `(?s)timeouts.create = "0.1s" is shorter than the least timeout, "10s".*such as "30m"\. To not wait`},
		{"48h", `(?s)Invalid Create Timeout.*timeouts.create = "48h" is longer than the longest timeout, "24h"`},
		{"abc", `(?s)Invalid Create Timeout.*timeouts.create = "abc" is not a duration.*such as "30m" or "1h30m"`},
		{"10s", ""},
		{"24h", ""},
	}
	for _, c := range cases {
		t.Run(c.value, func(t *testing.T) {
			step := resource.TestStep{
				Config: restartConfig(e, fmt.Sprintf(`  node_ids = ["cln-cmp00001"]
  timeouts { create = %q }`, c.value)),
				PlanOnly: true,
			}
			if c.want == "" {
				step.ExpectNonEmptyPlan = true // the restart to create
			} else {
				step.ExpectError = wrapped(c.want)
			}
			resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: e.factories(), Steps: []resource.TestStep{step}})
		})
	}
	if n := e.sim.TotalRequests(); n != 0 {
		t.Fatalf("planning sent %d requests: %v", n, e.sim.RequestCounts())
	}
}

// A timeout unknown at plan passes the plan; once known at apply it is checked
// before the restart is sent, and an invalid one sends nothing and saves nothing.
func TestAccClusterNodeRestart_createTimeoutUnknownAtPlan(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{})
	cfg := restartConfig(e, `  node_ids = ["cln-cmp00001"]
  timeouts { create = terraform_data.timeout.output }`) + `
resource "terraform_data" "timeout" {
  input = "0s"
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{
			{
				Config:             cfg,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(restartAddr, plancheck.ResourceActionCreate),
						plancheck.ExpectUnknownValue(restartAddr, tfjsonpath.New("timeouts").AtMapKey("create")),
					},
				},
				ExpectError: wrapped(`(?s)Invalid Create Timeout.*timeouts.create = "0s" is not a positive duration`),
			},
		},
	})
	if n := e.sim.TotalRequests(); n != 0 {
		t.Fatalf("an invalid timeout sent %d requests: %v", n, e.sim.RequestCounts())
	}
	if got := e.sim.RestartCounts(); len(got) != 0 {
		t.Fatalf("an invalid timeout restarted %v", got)
	}
}

// Create itself refuses an invalid timeouts.create before sending anything, for
// whatever reaches it unchecked (Terraform validates the final configuration
// again at apply, but the provider must not count on it).
func TestClusterNodeRestart_createChecksTimeoutFirst(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, ehpcsim.Options{})
	p := e.protoServer(nil).mustConfigure(e.simProviderConfig())
	typ := p.schema.ResourceSchemas[actionType].ValueType()
	obj, ok := typ.(tftypes.Object)
	if !ok {
		t.Fatalf("resource type is %T", typ)
	}
	for _, value := range []string{"0s", "-5m", "48h", "abc"} {
		timeouts := tftypes.NewValue(obj.AttributeTypes["timeouts"], map[string]tftypes.Value{"create": str(value)})
		unknown := func(name string) tftypes.Value {
			return tftypes.NewValue(obj.AttributeTypes[name], tftypes.UnknownValue)
		}
		vals := map[string]tftypes.Value{
			"cluster_id": str(ehpcsim.DemoClusterID), "node_ids": strSet("cln-cmp00001"), "zone": str(ehpcsim.DemoZone),
			"wait_for_completion": boolean(true), "timeouts": timeouts,
		}
		config := dynamic(t, typ, vals)
		for _, name := range []string{"id", "job_id", "ret_code", "status"} {
			vals[name] = unknown(name)
		}
		prior, err := tfprotov6.NewDynamicValue(typ, tftypes.NewValue(typ, nil)) // none: a create
		if err != nil {
			t.Fatal(err)
		}
		resp, err := p.srv.ApplyResourceChange(context.Background(), &tfprotov6.ApplyResourceChangeRequest{
			TypeName:     actionType,
			PriorState:   &prior,
			PlannedState: dynamic(t, typ, vals),
			Config:       config,
		})
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, d := range resp.Diagnostics {
			if d.Severity == tfprotov6.DiagnosticSeverityError && d.Summary == invalidCreateTimeout &&
				d.Attribute.Equal(tftypes.NewAttributePath().WithAttributeName("timeouts").WithAttributeName("create")) &&
				strings.Contains(d.Detail, fmt.Sprintf("timeouts.create = %q", value)) && strings.Contains(d.Detail, "Nothing was sent") {
				found = true
			}
		}
		if !found {
			t.Errorf("create with timeouts.create = %q: want an %q error on timeouts.create, got %+v", value, invalidCreateTimeout, resp.Diagnostics)
		}
	}
	if n := e.sim.TotalRequests(); n != 0 {
		t.Fatalf("create with an invalid timeout sent %d requests: %v", n, e.sim.RequestCounts())
	}
}

// A job that outlasts timeouts.create fails the apply; the pipeline's next
// step, as the error says, is to apply again, with a longer timeout if the job
// needs it: that apply's replacement of the tainted record waits for the same
// job, never restarting the nodes a second time.
func TestAccClusterNodeRestart_timeoutIsTakenUp(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{})
	e.sim.HangNextJobs(1)
	c := e.newCLI(t)
	config := func(timeout string) string {
		return e.providerBlock() + fmt.Sprintf(`
resource "hpc_cluster_node_restart" "test" {
  cluster_id = %q
  node_ids   = ["cln-cmp00001", "cln-cmp00002"]
  timeouts { create = %q }
}
`, ehpcsim.DemoClusterID, timeout)
	}
	c.write(config("10s"))
	c.mustSucceed("init", "-input=false")
	out, code := c.run("apply", "-auto-approve", "-input=false")
	if code == 0 {
		t.Fatalf("apply succeeded, want a timeout:\n%s", out)
	}
	job := rowJobID(t, e)
	want := wrapped(`(?s)Timed Out Waiting For Restart Job.*with ` + restartAddr + `,.*Restart job ` + job + ` for cluster ehpc-8jqdq0mz did not finish within 10s.*` +
		`the next plain apply replaces it, and the replacement continues this rollout.*It waits for batch 1 \(job ` + job + `\) without sending it again`)
	if !want.MatchString(out) || strings.Contains(out, "untaint") {
		t.Fatalf("the timeout error does not say that the next apply waits for the same job; want %q in:\n%s", want, out)
	}
	if state, tainted := c.stateResource(); state == nil || state["job_id"] != job || !tainted {
		t.Fatalf("state %v tainted %v, want job %s tainted", state, tainted, job)
	}

	c.write(config("45m"))
	e.sim.EndHungJobs(false)
	mark := e.sim.Requests(ehpc.PathRestartNodes)
	out = c.mustSucceed("apply", "-auto-approve", "-input=false")
	if !wrapped("Unfinished Restart Continued").MatchString(out) {
		t.Errorf("the apply does not say it continued the restart:\n%s", out)
	}
	if n := e.sim.Requests(ehpc.PathRestartNodes) - mark; n != 0 {
		t.Fatalf("the next apply sent %d restart requests, want none: it waits for the same job", n)
	}
	if err := e.expectRestarts(map[string]int{"cln-cmp00001": 1, "cln-cmp00002": 1})(); err != nil {
		t.Fatal(err)
	}
	state, tainted := c.stateResource()
	if state == nil || state["job_id"] != job || state["id"] != job || state["status"] != ehpc.JobSuccessful || tainted {
		t.Fatalf("state %v tainted %v, want job %s successful, untainted", state, tainted, job)
	}
	c.mustSucceed("plan", "-input=false", "-detailed-exitcode")
}

// wrapped matches pattern in Terraform's output, where a space may have become a
// line break.
func wrapped(pattern string) *regexp.Regexp {
	return regexp.MustCompile(strings.ReplaceAll(pattern, " ", `\s+`))
}
