package provider

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/qingcloud/terraform-provider-hpc/internal/clock"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

const restartAddr = "hpc_cluster_node_restart.test"

func restartConfig(e *testEnv, body string) string {
	return e.providerBlock() + fmt.Sprintf(`
resource "hpc_cluster_node_restart" "test" {
  cluster_id = %q
%s
}
`, ehpcsim.DemoClusterID, body)
}

var jobIDValue = knownvalue.StringRegexp(regex(`^j-[a-z0-9]+$`))

// The whole life of one restart: created once, stable across plans, restarted
// again only by a triggers change, settings changed in place, refresh and destroy
// silent.
func TestAccClusterNodeRestart_lifecycle(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{JobDuration: 300 * time.Millisecond})
	var mark int
	markNow := func() error { mark = e.sim.TotalRequests(); return nil }

	base := `  node_ids   = ["cln-cmp00002", "cln-cmp00001", "cln-cmp00002"]
  triggers   = { kernel = "6.1.0" }`

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{
			{
				Config: restartConfig(e, base),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(restartAddr, plancheck.ResourceActionCreate),
						plancheck.ExpectKnownValue(restartAddr, tfjsonpath.New("zone"), knownvalue.StringExact("jn1a")),
						plancheck.ExpectUnknownValue(restartAddr, tfjsonpath.New("job_id")),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(restartAddr, tfjsonpath.New("job_id"), jobIDValue),
					statecheck.CompareValuePairs(restartAddr, tfjsonpath.New("id"), restartAddr, tfjsonpath.New("job_id"), compare.ValuesSame()),
					statecheck.ExpectKnownValue(restartAddr, tfjsonpath.New("status"), knownvalue.StringExact("successful")),
					statecheck.ExpectKnownValue(restartAddr, tfjsonpath.New("ret_code"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(restartAddr, tfjsonpath.New("zone"), knownvalue.StringExact("jn1a")),
					statecheck.ExpectKnownValue(restartAddr, tfjsonpath.New("wait_for_completion"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(restartAddr, tfjsonpath.New("node_ids"), knownvalue.SetExact([]knownvalue.Check{
						knownvalue.StringExact("cln-cmp00001"), knownvalue.StringExact("cln-cmp00002"),
					})),
					e.expectRestarts(map[string]int{"cln-cmp00001": 1, "cln-cmp00002": 1}),
					simCheck(func() error {
						bodies := e.restartBodies()
						want := `{"cluster_id":"ehpc-8jqdq0mz","node_ids":["cln-cmp00001","cln-cmp00002"],"zone":"jn1a"}`
						if len(bodies) != 1 || bodies[0] != want {
							return fmt.Errorf("restart bodies %q, want exactly [%s]", bodies, want)
						}
						if e.sim.Requests(ehpc.PathOperations) < 1 {
							return fmt.Errorf("the job was never polled")
						}
						return nil
					}),
					simCheck(markNow),
				},
			},
			{
				// Same configuration: nothing to do, and nothing sent.
				Config: restartConfig(e, base),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{e.noRequestsSince(&mark)},
			},
			{
				// A triggers change is the one way to restart again: replace, exactly one more restart.
				Config: restartConfig(e, strings.Replace(base, "6.1.0", "6.1.1", 1)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(restartAddr, plancheck.ResourceActionDestroyBeforeCreate),
						plancheck.ExpectUnknownValue(restartAddr, tfjsonpath.New("job_id")),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					e.expectRestarts(map[string]int{"cln-cmp00001": 2, "cln-cmp00002": 2}),
					statecheck.ExpectKnownValue(restartAddr, tfjsonpath.New("status"), knownvalue.StringExact("successful")),
					simCheck(func() error {
						jobs := e.sim.Jobs()
						if len(jobs) != 2 {
							return fmt.Errorf("simulator has %d jobs, want 2", len(jobs))
						}
						return nil
					}),
					simCheck(markNow),
				},
			},
			{
				// wait_for_completion and timeouts change in place, without any request.
				Config: restartConfig(e, strings.Replace(base, "6.1.0", "6.1.1", 1)+`
  wait_for_completion = false
  timeouts { create = "45m" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(restartAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(restartAddr, tfjsonpath.New("job_id"), jobIDValue),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(restartAddr, tfjsonpath.New("wait_for_completion"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(restartAddr, tfjsonpath.New("status"), knownvalue.StringExact("successful")),
					e.noRequestsSince(&mark),
				},
			},
			{
				// apply -refresh-only sends nothing. (The testing framework allows
				// only a Check function on a refresh step.)
				RefreshState: true,
				Check:        func(*terraform.State) error { return e.noRequestsSince(&mark)() },
			},
		},
		// Destroy forgets the restart without calling the API.
		CheckDestroy: func(*terraform.State) error {
			if got := e.sim.TotalRequests(); got != mark {
				return fmt.Errorf("destroy sent %d requests: %v", got-mark, e.sim.RequestCounts())
			}
			return nil
		},
	})
}

func TestAccClusterNodeRestart_noWait(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{JobDuration: time.Hour})
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{{
			Config: restartConfig(e, `  node_ids = ["cln-cmp00003"]
  wait_for_completion = false`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(restartAddr, tfjsonpath.New("status"), knownvalue.StringExact("pending")),
				statecheck.ExpectKnownValue(restartAddr, tfjsonpath.New("job_id"), jobIDValue),
				e.expectRequests(map[string]int{ehpc.PathRestartNodes: 1}),
				e.expectRestarts(map[string]int{"cln-cmp00003": 1}),
			},
		}},
	})
}

// A failed job keeps its id in state, errors, and leaves the resource tainted, so
// the next apply restarts once more.
func TestAccClusterNodeRestart_jobFailedTaints(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{JobDuration: 100 * time.Millisecond})
	e.sim.FailNextJobs(1)
	cfg := restartConfig(e, `  node_ids = ["cln-cmp00004"]`)
	var firstJob string
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{
			{
				Config:      cfg,
				ExpectError: regex(`(?s)Restart Job Failed.*Restart job j-[a-z0-9]+ for cluster ehpc-8jqdq0mz.*"failed".*tainted`),
			},
			{
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(restartAddr, plancheck.ResourceActionDestroyBeforeCreate),
						priorState(func(values map[string]any, tainted bool) error {
							jobs := e.sim.Jobs()
							if len(jobs) != 1 {
								return fmt.Errorf("want 1 job before the re-apply, have %d", len(jobs))
							}
							firstJob = jobs[0].ID
							if values["job_id"] != firstJob || values["status"] != "failed" || !tainted {
								return fmt.Errorf("prior state job_id=%v status=%v tainted=%v, want %s failed tainted", values["job_id"], values["status"], tainted, firstJob)
							}
							return nil
						}),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(restartAddr, tfjsonpath.New("status"), knownvalue.StringExact("successful")),
					e.expectRestarts(map[string]int{"cln-cmp00004": 2}),
				},
			},
		},
	})
}

// priorState is a plan check on the state the plan started from.
type priorState func(values map[string]any, tainted bool) error

func (f priorState) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	if req.Plan.PriorState == nil || req.Plan.PriorState.Values == nil {
		resp.Error = fmt.Errorf("plan has no prior state")
		return
	}
	for _, r := range req.Plan.PriorState.Values.RootModule.Resources {
		if r.Address == restartAddr {
			resp.Error = f(r.AttributeValues, r.Tainted)
			return
		}
	}
	resp.Error = fmt.Errorf("%s not in prior state", restartAddr)
}

func TestAccClusterNodeRestart_jobNeverFinishes(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{})
	e.sim.HangNextJobs(1)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{{
			Config: restartConfig(e, `  node_ids = ["cln-cmp00001"]
  timeouts { create = "10s" }`),
			ExpectError: wrapped(`(?s)Timed Out Waiting For Restart Job.*Restart job j-[a-z0-9]+ .*within 10s.*"pending".*the next plain apply replaces it.*It waits for batch 1`),
		}, {
			// The timed-out job is in state (tainted): the plan replaces it,
			// which continues the restart (create_timeout_test.go).
			Config: restartConfig(e, `  node_ids = ["cln-cmp00001"]
  timeouts { create = "10s" }`),
			PlanOnly:           true,
			ExpectNonEmptyPlan: true,
		}},
		CheckDestroy: func(*terraform.State) error {
			if n := e.sim.Restarts("cln-cmp00001"); n != 1 {
				return fmt.Errorf("cln-cmp00001 restarted %d times, want 1", n)
			}
			return nil
		},
	})
}

// Plan-time validation: each mistake names the attribute and sends nothing.
func TestAccClusterNodeRestart_validation(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{})
	cases := []struct {
		name   string
		config string
		want   string
	}{
		{"blank cluster_id", e.providerBlock() + `
resource "hpc_cluster_node_restart" "test" {
  cluster_id = "  "
  node_ids   = ["cln-cmp00001"]
}`, `(?s)cluster_id.*must be an id without whitespace`},
		{"node id with space", restartConfig(e, `  node_ids = ["cln-cmp00001", "cln cmp2"]`), `(?s)node_ids.*must be an id without whitespace`},
		{"blank node id", restartConfig(e, `  node_ids = [""]`), `(?s)node_ids.*must be an id without whitespace`},
		{"empty node_ids", restartConfig(e, `  node_ids = []`), `(?s)Empty Node ID Set.*node_ids is empty`},
		{"zone with space", restartConfig(e, `  node_ids = ["cln-cmp00001"]
  zone = "jn 1a"`), `(?s)zone.*zone id without whitespace`},
		{"no zone anywhere", strings.Replace(restartConfig(e, `  node_ids = ["cln-cmp00001"]`), `zone       = "jn1a"`, "", 1), `(?s)Missing Zone.*QINGCLOUD_ZONE.*config\.yaml`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: e.factories(),
				Steps: []resource.TestStep{{
					Config:      c.config,
					PlanOnly:    true,
					ExpectError: regex(c.want),
				}},
			})
		})
	}
	if n := e.sim.TotalRequests(); n != 0 {
		t.Fatalf("validation errors sent %d requests", n)
	}
}

// API errors reach the user with the ret_code, the API's message and the hint.
func TestAccClusterNodeRestart_apiErrors(t *testing.T) {
	cases := []struct {
		name  string
		setup func(e *testEnv)
		body  string
		want  string
	}{
		{"1200 wrong secret", func(e *testEnv) {
			e.clientConfig = func(c *ehpc.Config) { c.SecretKey = "not-the-secret" }
		}, `node_ids = ["cln-cmp00001"]`, `(?s)Restart Request Rejected.*ret_code 1200.*access_key and secret_key`},
		{"1300 skewed clock", func(e *testEnv) {
			e.clientConfig = func(c *ehpc.Config) { c.Clock = clock.Offset(clock.Real(), -5*time.Minute) }
		}, `node_ids = ["cln-cmp00001"]`, `(?s)ret_code 1300.*clock`},
		{"2100 unknown node", nil, `node_ids = ["cln-nosuch01"]`, `(?s)ret_code 2100.*cln-nosuch01.*Check cluster_id, node_ids`},
		{"2500 quota", func(e *testEnv) {
			e.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{RetCode: 2500})
		}, `node_ids = ["cln-cmp00001"]`, `(?s)ret_code 2500.*quota`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEnv(t, ehpcsim.Options{})
			if c.setup != nil {
				c.setup(e)
			}
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: e.factories(),
				Steps: []resource.TestStep{{
					Config:      restartConfig(e, "  "+c.body),
					ExpectError: regex(c.want),
				}},
			})
			if got := e.sim.RestartCounts(); len(got) != 0 {
				t.Fatalf("rejected restart restarted %v", got)
			}
			for _, r := range e.sim.RequestLog() {
				if r.Method == "POST" && r.Path == ehpc.PathRestartNodesAlias {
					t.Fatalf("a rejection must not fall back to the alias path")
				}
			}
		})
	}
}

func TestAccProvider_endpointRule(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{})
	cfg := strings.Replace(restartConfig(e, `  node_ids = ["cln-cmp00001"]`), e.srv.URL, "http://hpc-api.example.com", 1)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{{
			Config:      cfg,
			PlanOnly:    true,
			ExpectError: regex(`(?s)Invalid EHPC API Endpoint.*endpoint.*not a loopback host.*use https://`),
		}},
	})
}

func TestAccProvider_endpointFromEnvironmentChecked(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{})
	e.env[envEndpoint] = "http://192.0.2.10:8080"
	cfg := fmt.Sprintf(`
provider "hpc" {
  access_key = %q
  secret_key = %q
  zone       = "jn1a"
}
resource "hpc_cluster_node_restart" "test" {
  cluster_id = "ehpc-8jqdq0mz"
  node_ids   = ["cln-cmp00001"]
}`, ehpcsim.DemoAccessKeyID, ehpcsim.DemoSecretKey)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{{
			Config:      cfg,
			PlanOnly:    true,
			ExpectError: regex(`(?s)Invalid EHPC API Endpoint.*QINGCLOUD_HPC_ENDPOINT`),
		}},
	})
}

// Credentials and zone from the environment; the provider block wins where both
// are set.
func TestAccProvider_environmentAndPrecedence(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{})
	e.env[envEndpoint] = e.srv.URL
	e.env[envAccessKey] = ehpcsim.DemoAccessKeyID
	e.env[envSecretKey] = "wrong-secret-overridden-by-config"
	e.env[envZone] = "zz9z"
	cfg := fmt.Sprintf(`
provider "hpc" {
  secret_key = %q
  zone       = "jn1a"
}
resource "hpc_cluster_node_restart" "test" {
  cluster_id = "ehpc-8jqdq0mz"
  node_ids   = ["cln-cmp00002"]
}`, ehpcsim.DemoSecretKey)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{{
			Config: cfg,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(restartAddr, tfjsonpath.New("zone"), knownvalue.StringExact("jn1a")),
				e.expectRestarts(map[string]int{"cln-cmp00002": 1}),
			},
		}},
	})
}

// Without credentials, validate and plan work; apply fails naming every way to set them.
func TestAccProvider_missingCredentials(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{})
	cfg := fmt.Sprintf(`
provider "hpc" {
  endpoint = %q
  zone     = "jn1a"
}
resource "hpc_cluster_node_restart" "test" {
  cluster_id = "ehpc-8jqdq0mz"
  node_ids   = ["cln-cmp00001"]
}`, e.srv.URL)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{
			{Config: cfg, PlanOnly: true, ExpectNonEmptyPlan: true},
			{Config: cfg, ExpectError: regex(`(?s)Missing EHPC API Credentials.*access_key.*QINGCLOUD_ACCESS_KEY.*secret_key.*QINGCLOUD_SECRET_KEY`)},
		},
	})
	if n := e.sim.TotalRequests(); n != 0 {
		t.Fatalf("sent %d requests without credentials", n)
	}
}

func TestAccProvider_unknownConfigValue(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{})
	cfg := fmt.Sprintf(`
resource "terraform_data" "zone" {
  input = "jn1a"
}
provider "hpc" {
  endpoint   = %q
  access_key = %q
  secret_key = %q
  zone       = terraform_data.zone.output
}
resource "hpc_cluster_node_restart" "test" {
  cluster_id = "ehpc-8jqdq0mz"
  node_ids   = ["cln-cmp00001"]
}`, e.srv.URL, ehpcsim.DemoAccessKeyID, ehpcsim.DemoSecretKey)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{{
			Config:      cfg,
			ExpectError: regex(`(?s)Unknown EHPC Provider zone.*QINGCLOUD_ZONE`),
		}},
	})
}
