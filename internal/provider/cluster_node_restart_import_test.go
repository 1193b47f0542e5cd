package provider

import (
	"fmt"
	"testing"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// Import is refused with the provider's own reason and advice, both by
// `terraform import` and by an import block at plan time, and nothing reaches
// the API: importing a restart must never be a way to restart.
func TestAccClusterNodeRestart_importRefused(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{})
	c := e.newCLI(t)
	resourceBlock := fmt.Sprintf(`
resource "hpc_cluster_node_restart" "test" {
  cluster_id = %q
  node_ids   = ["cln-cmp00001"]
}
`, ehpcsim.DemoClusterID)
	c.write(e.providerBlock() + resourceBlock)
	c.mustSucceed("init", "-input=false")

	want := flexRegex(`(?s)Restart Cannot Be Imported.*records a restart, an event that happened once, not an object that exists in the API, ` +
		`so there is nothing to import as "j-he18e4khem2" and nothing was sent to the API\. ` +
		`Remove the import block .* declare the resource instead: creating it restarts its node_ids once\. ` +
		`A restart that already happened cannot be recorded without restarting again`)
	check := func(what, out string, code int) {
		t.Helper()
		t.Logf("%s:\n%s", what, out)
		if code == 0 {
			t.Fatalf("%s succeeded:\n%s", what, out)
		}
		if !want.MatchString(out) {
			t.Fatalf("%s output lacks the provider's reason:\n%s", what, out)
		}
		if n := e.sim.TotalRequests(); n != 0 {
			t.Fatalf("%s sent %d requests: %v", what, n, e.sim.RequestCounts())
		}
	}

	out, code := c.run("import", "-input=false", "hpc_cluster_node_restart.test", "j-he18e4khem2")
	check("terraform import", out, code)

	c.write(e.providerBlock() + resourceBlock + `
import {
  to = hpc_cluster_node_restart.test
  id = "j-he18e4khem2"
}
`)
	out, code = c.run("plan", "-input=false")
	check("terraform plan with an import block", out, code)
	if st, _ := c.stateResource(); st != nil {
		t.Fatalf("a refused import left %s in state: %v", restartAddr, st)
	}
}
