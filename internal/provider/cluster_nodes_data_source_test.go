package provider

import (
	"context"
	"fmt"
	"math/rand"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

const nodesType = "hpc_cluster_nodes"

func nodesConfig(e *testEnv, blocks string) string {
	return e.providerBlock() + blocks
}

func strs(ids ...string) knownvalue.Check {
	checks := make([]knownvalue.Check, len(ids))
	for i, id := range ids {
		checks[i] = knownvalue.StringExact(id)
	}
	return knownvalue.ListExact(checks)
}

// Filters: role (any case), status (sent to the API), name_regex; results sorted,
// every node attribute exported; reading restarts nothing.
func TestAccClusterNodesDataSource_filters(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{})
	cfg := nodesConfig(e, `
data "hpc_cluster_nodes" "all" {
  cluster_id = "ehpc-8jqdq0mz"
}
data "hpc_cluster_nodes" "compute" {
  cluster_id = "ehpc-8jqdq0mz"
  role       = "compute"
  status     = "active"
}
data "hpc_cluster_nodes" "login" {
  cluster_id = "ehpc-8jqdq0mz"
  zone       = "jn1a"
  role       = "LOGIN"
}
data "hpc_cluster_nodes" "named" {
  cluster_id = "ehpc-8jqdq0mz"
  name_regex = "^compute-[24]$"
}
data "hpc_cluster_nodes" "none" {
  cluster_id = "ehpc-8jqdq0mz"
  role       = "gpu"
}
`)
	all := "data.hpc_cluster_nodes.all"
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{{
			Config: cfg,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(all, tfjsonpath.New("id"), knownvalue.StringExact("ehpc-8jqdq0mz")),
				statecheck.ExpectKnownValue(all, tfjsonpath.New("zone"), knownvalue.StringExact("jn1a")),
				statecheck.ExpectKnownValue(all, tfjsonpath.New("ids"), strs("cln-cmp00001", "cln-cmp00002", "cln-cmp00003", "cln-cmp00004", "cln-ctrl0001", "cln-login001")),
				statecheck.ExpectKnownValue(all, tfjsonpath.New("nodes").AtSliceIndex(0), knownvalue.ObjectExact(map[string]knownvalue.Check{
					"node_id":           knownvalue.StringExact("cln-cmp00001"),
					"name":              knownvalue.StringExact("compute-1"),
					"role":              knownvalue.StringExact("compute"),
					"status":            knownvalue.StringExact("active"),
					"private_ip":        knownvalue.StringExact("10.16.0.11"),
					"instance_id":       knownvalue.StringExact("i-cp1a5x7d"),
					"transition_status": knownvalue.StringExact(""),
					"health_status":     knownvalue.StringExact("healthy"),
					"in_service":        knownvalue.Bool(true),
					"stopped":           knownvalue.Bool(false),
				})),
				statecheck.ExpectKnownValue(all, tfjsonpath.New("nodes"), knownvalue.ListSizeExact(6)),
				statecheck.ExpectKnownValue("data.hpc_cluster_nodes.compute", tfjsonpath.New("ids"), strs("cln-cmp00001", "cln-cmp00002", "cln-cmp00003", "cln-cmp00004")),
				statecheck.ExpectKnownValue("data.hpc_cluster_nodes.login", tfjsonpath.New("ids"), strs("cln-login001")),
				statecheck.ExpectKnownValue("data.hpc_cluster_nodes.login", tfjsonpath.New("nodes").AtSliceIndex(0).AtMapKey("role"), knownvalue.StringExact("login")),
				statecheck.ExpectKnownValue("data.hpc_cluster_nodes.named", tfjsonpath.New("ids"), strs("cln-cmp00002", "cln-cmp00004")),
				statecheck.ExpectKnownValue("data.hpc_cluster_nodes.none", tfjsonpath.New("ids"), knownvalue.ListExact([]knownvalue.Check{})),
				statecheck.ExpectKnownValue("data.hpc_cluster_nodes.none", tfjsonpath.New("nodes"), knownvalue.ListExact([]knownvalue.Check{})),
				e.expectRestarts(map[string]int{}),
				simCheck(func() error {
					// Only reads; status travelled as the API's filter.
					for p, n := range e.sim.RequestCounts() {
						if p != ehpc.PathListNodes && n > 0 {
							return fmt.Errorf("%d requests to %s, want only listNodes", n, p)
						}
					}
					statusSent := false
					for _, r := range e.sim.RequestLog() {
						statusSent = statusSent || r.Query.Get("status") == "active"
						if r.Query.Get("role") != "" {
							return fmt.Errorf("role was sent to the API: %v", r.Query)
						}
					}
					if !statusSent {
						return fmt.Errorf("status was never sent as a filter")
					}
					return nil
				}),
			},
		}},
	})
}

// Health: every node's transition, health and in_service; the health_status
// and in_service filters; a cluster whose health check is off reports no
// health, so its stale "unhealthy" neither shows nor matches; and the
// unhealthy nodes feed a restart of exactly them, which the next read shows
// in their transition.
func TestAccClusterNodesDataSource_health(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{JobDuration: time.Hour})
	off := false
	e.sim.AddCluster(ehpcsim.Cluster{ID: "ehpc-health01", Zone: ehpcsim.DemoZone, Nodes: []ehpcsim.Node{
		{ID: "cln-hl000001", Name: "compute-1", Role: "compute"},
		{ID: "cln-hl000002", Name: "compute-2", Role: "compute", HealthStatus: "unhealthy"},
		{ID: "cln-hl000003", Name: "compute-3", Role: "compute", Status: "stopped"},
		{ID: "cln-hl000004", Name: "login-1", Role: "login", HealthStatus: "unhealthy"},
	}})
	e.sim.AddCluster(ehpcsim.Cluster{ID: "ehpc-nocheck1", Zone: ehpcsim.DemoZone, HealthCheck: &off, Nodes: []ehpcsim.Node{
		{ID: "cln-nc000001", Role: "compute", HealthStatus: "unhealthy"}, {ID: "cln-nc000002", Role: "compute", HealthStatus: "unhealthy"},
	}})
	node := func(id, status, transition string, health knownvalue.Check, in bool) knownvalue.Check {
		return knownvalue.ObjectPartial(map[string]knownvalue.Check{"node_id": knownvalue.StringExact(id), "status": knownvalue.StringExact(status),
			"transition_status": knownvalue.StringExact(transition), "health_status": health, "in_service": knownvalue.Bool(in)})
	}
	healthy, unhealthy := knownvalue.StringExact("healthy"), knownvalue.StringExact("unhealthy")
	cfg := nodesConfig(e, `
data "hpc_cluster_nodes" "all" {
  cluster_id = "ehpc-health01"
}
data "hpc_cluster_nodes" "unhealthy" {
  cluster_id    = "ehpc-health01"
  health_status = "UNHEALTHY"
}
data "hpc_cluster_nodes" "sick_compute" {
  cluster_id = "ehpc-health01"
  role       = "compute"
  in_service = false
}
data "hpc_cluster_nodes" "serving" {
  cluster_id = "ehpc-health01"
  in_service = true
}
data "hpc_cluster_nodes" "nocheck" {
  cluster_id = "ehpc-nocheck1"
}
data "hpc_cluster_nodes" "nocheck_unhealthy" {
  cluster_id    = "ehpc-nocheck1"
  health_status = "unhealthy"
}
resource "hpc_cluster_node_restart" "heal" {
  cluster_id          = "ehpc-health01"
  node_ids            = data.hpc_cluster_nodes.unhealthy.ids
  wait_for_completion = false
}
`)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{{
			Config: cfg,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.hpc_cluster_nodes.all", tfjsonpath.New("nodes"), knownvalue.ListExact([]knownvalue.Check{
					node("cln-hl000001", "active", "", healthy, true),
					node("cln-hl000002", "active", "", unhealthy, false),
					node("cln-hl000003", "stopped", "", healthy, false),
					node("cln-hl000004", "active", "", unhealthy, false),
				})),
				statecheck.ExpectKnownValue("data.hpc_cluster_nodes.unhealthy", tfjsonpath.New("ids"), strs("cln-hl000002", "cln-hl000004")),
				statecheck.ExpectKnownValue("data.hpc_cluster_nodes.sick_compute", tfjsonpath.New("ids"), strs("cln-hl000002", "cln-hl000003")),
				statecheck.ExpectKnownValue("data.hpc_cluster_nodes.serving", tfjsonpath.New("ids"), strs("cln-hl000001")),
				statecheck.ExpectKnownValue("data.hpc_cluster_nodes.nocheck", tfjsonpath.New("nodes"), knownvalue.ListExact([]knownvalue.Check{
					node("cln-nc000001", "active", "", knownvalue.Null(), true), node("cln-nc000002", "active", "", knownvalue.Null(), true),
				})),
				statecheck.ExpectKnownValue("data.hpc_cluster_nodes.nocheck_unhealthy", tfjsonpath.New("ids"), knownvalue.ListExact([]knownvalue.Check{})),
				e.expectRestarts(map[string]int{"cln-hl000001": 0, "cln-hl000002": 1, "cln-hl000003": 0, "cln-hl000004": 1}),
			},
		}, {
			// Read again while the heal's job runs: the same nodes, now in
			// their transition, so the plan is empty.
			Config:           cfg,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.hpc_cluster_nodes.all", tfjsonpath.New("nodes").AtSliceIndex(1), node("cln-hl000002", "restarting", "restarting", unhealthy, false)),
				e.expectRestarts(map[string]int{"cln-hl000002": 1, "cln-hl000004": 1}),
			},
		}},
	})
}

// The demo's pattern: the compute nodes feed a restart; the restart happens once
// and later plans stay empty even though the data source is read again.
func TestAccClusterNodesDataSource_feedsRestart(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{JobDuration: 200 * time.Millisecond})
	cfg := nodesConfig(e, `
data "hpc_cluster_nodes" "compute" {
  cluster_id = "ehpc-8jqdq0mz"
  role       = "compute"
}
resource "hpc_cluster_node_restart" "test" {
  cluster_id = data.hpc_cluster_nodes.compute.id
  node_ids   = slice(data.hpc_cluster_nodes.compute.ids, 0, 2)
}
`)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						// Read at plan time, so the plan shows which nodes restart.
						plancheck.ExpectKnownValue(restartAddr, tfjsonpath.New("node_ids"), knownvalue.SetExact([]knownvalue.Check{
							knownvalue.StringExact("cln-cmp00001"), knownvalue.StringExact("cln-cmp00002"),
						})),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(restartAddr, tfjsonpath.New("status"), knownvalue.StringExact("successful")),
					e.expectRestarts(map[string]int{"cln-cmp00001": 1, "cln-cmp00002": 1}),
				},
			},
			{
				Config:           cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: []statecheck.StateCheck{
					e.expectRestarts(map[string]int{"cln-cmp00001": 1, "cln-cmp00002": 1}),
				},
			},
		},
	})
}

// bigCluster has n compute nodes, added out of order.
func bigCluster(id string, n int) ehpcsim.Cluster {
	c := ehpcsim.Cluster{ID: id, Zone: ehpcsim.DemoZone}
	for i := 1; i <= n; i++ {
		c.Nodes = append(c.Nodes, ehpcsim.Node{
			ID: fmt.Sprintf("cln-big%05d", i), Name: fmt.Sprintf("compute-%d", i), Role: "compute",
			PrivateIP: fmt.Sprintf("10.17.%d.%d", i/250, i%250+1), InstanceID: fmt.Sprintf("i-big%05d", i),
		})
	}
	rand.New(rand.NewSource(1)).Shuffle(len(c.Nodes), func(i, j int) { c.Nodes[i], c.Nodes[j] = c.Nodes[j], c.Nodes[i] })
	return c
}

// listOffsets returns the offset of every listNodes request, checking each asked
// for a page of 100 of the cluster.
func listOffsets(e *testEnv, clusterID string) ([]string, error) {
	var offsets []string
	for _, r := range e.sim.RequestLog() {
		if r.Path != ehpc.PathListNodes {
			continue
		}
		if r.Query.Get("limit") != "100" || r.Query.Get("cluster_id") != clusterID {
			return nil, fmt.Errorf("listNodes query %v: want limit=100 and cluster_id=%s", r.Query, clusterID)
		}
		offsets = append(offsets, r.Query.Get("offset"))
	}
	return offsets, nil
}

// 250 nodes are read completely through the real CLI: every read pages 0, 100,
// 200 and stops at total_count.
func TestAccClusterNodesDataSource_paging(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{})
	e.sim.AddCluster(bigCluster("ehpc-big00001", 250))
	addr := "data.hpc_cluster_nodes.big"
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{{
			Config: nodesConfig(e, `
data "hpc_cluster_nodes" "big" {
  cluster_id = "ehpc-big00001"
}
output "count" {
  value = length(data.hpc_cluster_nodes.big.ids)
}
`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("ids"), knownvalue.ListSizeExact(250)),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("ids").AtSliceIndex(0), knownvalue.StringExact("cln-big00001")),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("ids").AtSliceIndex(249), knownvalue.StringExact("cln-big00250")),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("nodes").AtSliceIndex(124).AtMapKey("name"), knownvalue.StringExact("compute-125")),
				statecheck.ExpectKnownOutputValue("count", knownvalue.Int64Exact(250)),
				simCheck(func() error {
					offsets, err := listOffsets(e, "ehpc-big00001")
					if err != nil {
						return err
					}
					// The CLI reads the data source more than once per step (plan,
					// apply, the check plan); every read is exactly three pages.
					got := strings.Join(offsets, ",")
					if len(offsets) == 0 || len(offsets)%3 != 0 || strings.Repeat("0,100,200,", len(offsets)/3) != got+"," {
						return fmt.Errorf("listNodes offsets %s, want repetitions of 0,100,200", got)
					}
					return nil
				}),
			},
		}},
	})
}

// Plan-time mistakes name the attribute and send nothing.
func TestAccClusterNodesDataSource_validation(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{})
	cases := []struct{ name, body, want string }{
		{"bad regexp", `cluster_id = "ehpc-8jqdq0mz"
  name_regex = "compute-[0-9"`, `(?s)Invalid Regular Expression.*name_regex is not a valid regular expression: error parsing regexp: missing closing \]: .\[0-9.`},
		{"blank role", `cluster_id = "ehpc-8jqdq0mz"
  role = " "`, `(?s)role.*must not be blank`},
		{"blank status", `cluster_id = "ehpc-8jqdq0mz"
  status = ""`, `(?s)status.*must not be blank`},
		{"cluster id with space", `cluster_id = "ehpc 8jqdq0mz"`, `(?s)cluster_id.*must be an id without whitespace`},
		{"zone with space", `cluster_id = "ehpc-8jqdq0mz"
  zone = "jn 1a"`, `(?s)zone.*zone id without whitespace`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: e.factories(),
				Steps: []resource.TestStep{{
					Config:      nodesConfig(e, "data \"hpc_cluster_nodes\" \"test\" {\n  "+c.body+"\n}\n"),
					PlanOnly:    true,
					ExpectError: flexRegex(c.want),
				}},
			})
		})
	}
	t.Run("no zone anywhere", func(t *testing.T) {
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: e.factories(),
			Steps: []resource.TestStep{{
				Config:      strings.Replace(e.providerBlock(), `zone       = "jn1a"`, "", 1) + `data "hpc_cluster_nodes" "test" { cluster_id = "ehpc-8jqdq0mz" }`,
				PlanOnly:    true,
				ExpectError: flexRegex(`(?s)Missing Zone.*set zone on this data source.*QINGCLOUD_ZONE.*config\.yaml`),
			}},
		})
	})
	if n := e.sim.TotalRequests(); n != 0 {
		t.Fatalf("validation errors sent %d requests", n)
	}
}

// API errors name the ret_code, the API's message and the hint.
func TestAccClusterNodesDataSource_apiErrors(t *testing.T) {
	cases := []struct {
		name, clusterID string
		setup           func(e *testEnv)
		want            string
	}{
		{"2100 unknown cluster", "ehpc-nosuch00", nil, `(?s)Cannot List Cluster Nodes.*cluster ehpc-nosuch00 in zone jn1a.*ret_code 2100.*not found.*Check cluster_id and zone: the API knows no cluster ehpc-nosuch00 in zone jn1a`},
		{"connection refused", "ehpc-8jqdq0mz", func(e *testEnv) {
			e.srv.Close()
		}, `(?s)Cannot List Cluster Nodes.*connection refused.*No answer came from the API: check endpoint \(http://127\.0\.0\.1:[0-9]+.*QINGCLOUD_HPC_ENDPOINT\) and that this machine can reach it`},
		{"1200 wrong secret", "ehpc-8jqdq0mz", func(e *testEnv) {
			e.clientConfig = func(c *ehpc.Config) { c.SecretKey = "not-the-secret" }
		}, `(?s)Cannot List Cluster Nodes.*ret_code 1200.*access_key and secret_key`},
		{"2500 quota", "ehpc-8jqdq0mz", func(e *testEnv) {
			e.sim.InjectFault(ehpc.PathListNodes, ehpcsim.Fault{RetCode: 2500, Count: 100})
		}, `(?s)Cannot List Cluster Nodes.*ret_code 2500.*quota`},
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
					Config:      nodesConfig(e, fmt.Sprintf("data \"hpc_cluster_nodes\" \"test\" {\n  cluster_id = %q\n}\n", c.clusterID)),
					ExpectError: flexRegex(c.want),
				}},
			})
		})
	}
}

// Without credentials the data source fails naming every way to set them.
func TestAccClusterNodesDataSource_missingCredentials(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{})
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
provider "hpc" {
  endpoint = %q
  zone     = "jn1a"
}
data "hpc_cluster_nodes" "test" {
  cluster_id = "ehpc-8jqdq0mz"
}`, e.srv.URL),
			PlanOnly:    true,
			ExpectError: regex(`(?s)Missing EHPC API Credentials.*QINGCLOUD_ACCESS_KEY.*QINGCLOUD_SECRET_KEY.*qy_access_key_id`),
		}},
	})
	if n := e.sim.TotalRequests(); n != 0 {
		t.Fatalf("sent %d requests without credentials", n)
	}
}

// readNodes reads the data source once through the protocol server.
func (p *protoProvider) readNodes(vals map[string]tftypes.Value) (map[string]tftypes.Value, []*tfprotov6.Diagnostic) {
	p.t.Helper()
	typ := p.schema.DataSourceSchemas[nodesType].ValueType()
	resp, err := p.srv.ReadDataSource(context.Background(), &tfprotov6.ReadDataSourceRequest{TypeName: nodesType, Config: dynamic(p.t, typ, vals)})
	if err != nil {
		p.t.Fatal(err)
	}
	if resp.State == nil {
		return nil, resp.Diagnostics
	}
	v, err := resp.State.Unmarshal(typ)
	if err != nil {
		p.t.Fatal(err)
	}
	var out map[string]tftypes.Value
	if err := v.As(&out); err != nil {
		p.t.Fatal(err)
	}
	return out, resp.Diagnostics
}

func stringList(t *testing.T, v tftypes.Value) []string {
	t.Helper()
	var elems []tftypes.Value
	if err := v.As(&elems); err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(elems))
	for i, e := range elems {
		if err := e.As(&out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// One read of 250 nodes costs exactly the three requests the paging implies.
func TestClusterNodesDataSource_onePagedRead(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, ehpcsim.Options{})
	e.sim.AddCluster(bigCluster("ehpc-big00001", 250))
	p := e.protoServer(nil).mustConfigure(e.simProviderConfig())
	out, diags := p.readNodes(map[string]tftypes.Value{"cluster_id": str("ehpc-big00001"), "name_regex": str(`^compute-1\d\d$`)})
	expectNoErrors(t, "read", diags)
	ids := stringList(t, out["ids"])
	if len(ids) != 100 || ids[0] != "cln-big00100" || ids[99] != "cln-big00199" {
		t.Fatalf("ids: %d, from %v to %v; want cln-big00100..cln-big00199", len(ids), ids[0], ids[len(ids)-1])
	}
	offsets, err := listOffsets(e, "ehpc-big00001")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(offsets, ","); got != "0,100,200" {
		t.Fatalf("listNodes offsets %s, want 0,100,200", got)
	}
	if err := e.expectRequests(map[string]int{ehpc.PathListNodes: 3})(); err != nil {
		t.Fatal(err)
	}
}

// The provider sorts and filters what the API returns itself: an API that
// ignores the status filter or returns nodes in any order gives the same result.
func TestClusterNodesDataSource_sortsAndRechecksStatus(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, ehpcsim.Options{})
	e.sim.InjectFault(ehpc.PathListNodes, ehpcsim.Fault{Body: `{"action":"HpcClusterGetClusterNodesResponse","ret_code":0,"total_count":4,"hpc_app_nodes_set":[
  {"node_id":"cln-z","name":"compute-z","role":"compute","status":"active","private_ip":"10.0.0.4","instance_id":"i-z","cpu":8},
  {"node_id":"cln-b","name":"compute-b","role":"Compute","status":"restarting","private_ip":"10.0.0.2","instance_id":"i-b"},
  {"node_id":"cln-a","name":"compute-a","role":"compute","status":"ACTIVE","private_ip":"10.0.0.1","instance_id":"i-a"},
  {"node_id":"cln-l","name":"login-1","role":"login","status":"active","private_ip":"10.0.0.9","instance_id":"i-l"}]}`})
	p := e.protoServer(nil).mustConfigure(e.simProviderConfig())
	out, diags := p.readNodes(map[string]tftypes.Value{"cluster_id": str("ehpc-8jqdq0mz"), "role": str("compute"), "status": str("active")})
	expectNoErrors(t, "read", diags)
	if got := strings.Join(stringList(t, out["ids"]), ","); got != "cln-a,cln-z" {
		t.Fatalf("ids %s, want cln-a,cln-z", got)
	}
	var zone, id string
	_ = out["zone"].As(&zone)
	_ = out["id"].As(&id)
	if zone != "jn1a" || id != "ehpc-8jqdq0mz" {
		t.Fatalf("zone %q id %q", zone, id)
	}
}

// flexRegex compiles pattern with every space matching any run of white space:
// the CLI wraps diagnostics at its own width (Terraform and OpenTofu differ), so
// a phrase may be split across lines.
func flexRegex(pattern string) *regexp.Regexp {
	return regexp.MustCompile(strings.ReplaceAll(pattern, " ", `\s+`))
}

// A filter that matches nothing, feeding node_ids, fails the plan with a message
// that points at the filter, and nothing is restarted.
func TestAccClusterNodesDataSource_emptyFeedsRestart(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{})
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{{
			Config: nodesConfig(e, `
data "hpc_cluster_nodes" "gpu" {
  cluster_id = "ehpc-8jqdq0mz"
  role       = "gpu"
}
resource "hpc_cluster_node_restart" "test" {
  cluster_id = data.hpc_cluster_nodes.gpu.cluster_id
  node_ids   = data.hpc_cluster_nodes.gpu.ids
}
`),
			ExpectError: flexRegex(`(?s)Empty Node ID Set.*node_ids is empty, so there is no node to restart; nothing was sent to the API\. ` +
				`When it comes from data\.hpc_cluster_nodes\.<name>\.ids, that data source's filters \(role, status, name_regex, health_status, in_service\) matched no node of the cluster`),
		}},
	})
	if err := e.expectRequests(map[string]int{ehpc.PathListNodes: 1})(); err != nil {
		t.Fatal(err)
	}
}

// Every way listing can fail says why and what to do, in the data source's terms:
// never "check node_ids", which the data source does not have.
func TestClusterNodesDataSource_errorsSayWhatToDo(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, clusterID string
		setup           func(e *testEnv)
		want            string
	}{
		{"2100 unknown cluster", "ehpc-nosuch00", nil,
			`ret_code 2100: [^.]*not found[^.]*\. Check cluster_id and zone: the API knows no cluster ehpc-nosuch00 in zone jn1a \(the zone is the provider's unless the data source sets zone`},
		{"1100 bad parameter", "", func(e *testEnv) { e.sim.InjectFault(ehpc.PathListNodes, ehpcsim.Fault{RetCode: 1100}) },
			`ret_code 1100.*The API refused a parameter of the listing: check cluster_id, zone and status\.$`},
		{"1200 wrong secret", "", func(e *testEnv) { e.clientConfig = func(c *ehpc.Config) { c.SecretKey = "not-the-secret" } },
			`ret_code 1200.*\. Check that access_key and secret_key are a valid key pair`},
		{"1400 permission denied", "", func(e *testEnv) { e.sim.InjectFault(ehpc.PathListNodes, ehpcsim.Fault{RetCode: 1400}) },
			`ret_code 1400.*The key pair may not list cluster ehpc-8jqdq0mz, or the cluster is in a state that forbids it`},
		{"2500 quota", "", func(e *testEnv) { e.sim.InjectFault(ehpc.PathListNodes, ehpcsim.Fault{RetCode: 2500, Count: 100}) },
			`ret_code 2500.*quota is used up`},
		{"5100 busy", "", func(e *testEnv) { e.sim.InjectFault(ehpc.PathListNodes, ehpcsim.Fault{RetCode: 5100, Count: 100}) },
			`ret_code 5100.*The API is busy; try again later\.$`},
		{"HTTP 404 page", "", func(e *testEnv) {
			e.sim.InjectFault(ehpc.PathListNodes, ehpcsim.Fault{HTTPStatus: 404, Body: "404 page not found", Count: 100})
		}, `HTTP 404.*The endpoint answered with an HTTP error, not an EHPC API error: check that endpoint \(http://127`},
		{"HTTP 429", "", func(e *testEnv) {
			e.sim.InjectFault(ehpc.PathListNodes, ehpcsim.Fault{HTTPStatus: 429, Body: "slow down", Count: 100})
		}, `HTTP 429.*turned the requests away as too many: wait a minute`},
		{"HTML from a gateway", "", func(e *testEnv) {
			e.sim.InjectFault(ehpc.PathListNodes, ehpcsim.Fault{HTTPStatus: 502, Body: "<html>Bad Gateway</html>", Count: 100})
		}, `unusable response \(HTTP 502\).*A gateway in front of the API failed: try again later, and if it persists check that endpoint \(http://127[^)]*\) is the EHPC API\.$`},
		{"HTML page with HTTP 200", "", func(e *testEnv) {
			e.sim.InjectFault(ehpc.PathListNodes, ehpcsim.Fault{Body: "<html>Please log in</html>"})
		}, `unusable response \(HTTP 200\).*did not come from the EHPC API as expected: check that endpoint \(http://127[^)]*\) is the EHPC API itself, not a proxy, a login page or another service`},
		{"connection refused", "", func(e *testEnv) { e.srv.Close() },
			`connection refused.*No answer came from the API: check endpoint \(http://127[^;]*; or QINGCLOUD_HPC_ENDPOINT\)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, ehpcsim.Options{})
			if c.setup != nil {
				c.setup(e)
			}
			clusterID := c.clusterID
			if clusterID == "" {
				clusterID = ehpcsim.DemoClusterID
			}
			p := e.protoServer(nil).mustConfigure(e.simProviderConfig())
			_, diags := p.readNodes(map[string]tftypes.Value{"cluster_id": str(clusterID)})
			got := expectOneError(t, "read", diags, `^Cannot List Cluster Nodes: Listing the nodes of cluster `+clusterID+` in zone jn1a failed: `)
			if !regexp.MustCompile(c.want).MatchString(got) {
				t.Fatalf("error\n  %s\ndoes not match %q", got, c.want)
			}
			t.Log(got)
			if strings.Contains(got, "node_ids") {
				t.Fatalf("a data source error tells the user to check node_ids, which it has not:\n  %s", got)
			}
		})
	}
}

// How often the data source reads, command by command, on the real CLI: the
// data source page states these numbers, so they are asserted here.
func TestAccClusterNodesDataSource_readsPerCommand(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{})
	c := e.newCLI(t)
	// first, when its input changes, is a resource with a change pending, whose
	// output is unknown until applied.
	config := func(trigger, first, clusterID, extra string) string {
		return e.providerBlock() + fmt.Sprintf(`
resource "terraform_data" "first" {
  input = %q
}
data "hpc_cluster_nodes" "compute" {
  cluster_id = %s
  role       = "compute"
  %s
}
resource "hpc_cluster_node_restart" "test" {
  cluster_id = data.hpc_cluster_nodes.compute.cluster_id
  node_ids   = slice(data.hpc_cluster_nodes.compute.ids, 0, 1)
  triggers   = { v = %q }
}
`, first, clusterID, extra, trigger)
	}
	const literal = `"ehpc-8jqdq0mz"`
	c.write(config("1", "a", literal, ""))
	c.mustSucceed("init", "-input=false")
	// Each read is one listNodes request: the demo cluster fits in one page.
	reads := func(want int, args ...string) {
		t.Helper()
		before := e.sim.Requests(ehpc.PathListNodes)
		c.mustSucceed(args...)
		n := e.sim.Requests(ehpc.PathListNodes) - before
		t.Logf("terraform %s: %d listNodes", strings.Join(args, " "), n)
		if n != want {
			t.Errorf("terraform %s sent %d listNodes requests, want %d", strings.Join(args, " "), n, want)
		}
	}
	reads(0, "validate")
	reads(1, "plan", "-input=false")
	reads(1, "apply", "-auto-approve", "-input=false") // read while planning, not again while applying
	reads(1, "plan", "-input=false")
	reads(1, "apply", "-auto-approve", "-input=false") // no changes
	reads(1, "apply", "-refresh-only", "-auto-approve", "-input=false")
	reads(1, "plan", "-refresh=false", "-input=false")
	c.write(config("2", "a", literal, ""))
	reads(1, "plan", "-input=false", "-out=tfplan")
	reads(0, "apply", "-input=false", "tfplan") // a saved plan keeps what its plan read
	reads(1, "destroy", "-auto-approve", "-input=false")

	// A data source that depends on a resource with changes pending, or whose
	// arguments are unknown until apply, is read while applying instead of while
	// planning: still once per apply.
	c.write(config("3", "b", literal, "depends_on = [terraform_data.first]"))
	reads(0, "plan", "-input=false")
	reads(1, "apply", "-auto-approve", "-input=false")
	restarts := e.sim.Requests(ehpc.PathRestartNodes)
	c.write(config("3", "c", `"ehpc-8jqdq0mz${substr(terraform_data.first.output, 0, 0)}"`, ""))
	reads(0, "plan", "-input=false")
	reads(1, "apply", "-auto-approve", "-input=false")
	// The price of a read moved to apply, which the page warns about: the
	// restart it feeds sees cluster_id and node_ids unknown at plan, which forces
	// replacement, so the same nodes restart again with nothing else changed.
	if n := e.sim.Requests(ehpc.PathRestartNodes) - restarts; n != 1 {
		t.Errorf("the apply with a deferred read sent %d restart requests, want 1", n)
	}
}
