package provider

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
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
