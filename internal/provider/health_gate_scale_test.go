package provider

import (
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// The health gate on a node list that changes under it (issue #30), through
// the real CLI.

// Nodes joining and leaving the cluster between the gate's pages and looks,
// with pages of three nodes and a total only every other answer, change
// nothing a user sees: every batch is sent once the one before is back, in
// order, and the apply succeeds.
func TestAccClusterNodeRestart_healthGateShiftingList(t *testing.T) {
	e := newRollingEnv(t, ehpcsim.Options{JobDuration: 200 * time.Millisecond, BootTime: 300 * time.Millisecond,
		NodeChurn: 1, PageCap: 3, TotalField: ehpcsim.TotalSometimes})
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{{
			Config: rollingConfig(e, `{ batch_size = 6 }`),
		}, {
			Config: rollingConfig(e, `{ batch_size = 6 }`),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectEmptyPlan(),
				e.expectJobsRanInBatches(rollBatches, 300*time.Millisecond),
				e.expectRestarts(restartsOnce(rollNodes...)),
			}},
		}},
	})
}

// A node taken out of the cluster while its batch is at the gate stops the
// rollout there, as a node that never comes back does, but at once and
// saying so: the error names the node and what its absence means, the later
// batches are never sent, and the resource is tainted.
func TestAccClusterNodeRestart_healthGateNodeGone(t *testing.T) {
	e := newRollingEnv(t, ehpcsim.Options{JobDuration: 200 * time.Millisecond, BootTime: 2 * time.Second})
	gone := rollNodes[7]
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() { // once batch 2's job exists, its node cln-r00008 leaves the cluster
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			for _, j := range e.sim.Jobs() {
				if slices.Contains(j.NodeIDs, gone) {
					e.sim.RemoveNode(rollCluster, gone)
					return
				}
			}
		}
	}()
	goneErr := flexRegex(`(?s)Nodes Not Back In Service.*succeeded, but its nodes cannot be read to tell whether they are back in service: ` +
		`list nodes: cluster ehpc-roll0020: node cln-r00008 is not in the cluster's node list.*cannot come back into service` +
		`.*Rolling restart stopped at batch 2 of 4.*Terraform marks it tainted`)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{{
			Config:      rollingConfig(e, `{ batch_size = 6 }`),
			ExpectError: goneErr,
		}, {
			Config: rollingConfig(e, `{ batch_size = 6 }`),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(restartAddr19, plancheck.ResourceActionReplace),
				e.expectJobsRanInBatches(rollBatches[:2], 0),
				e.expectRestarts(restartsOnce(rollNodes[:12]...)),
			}},
			ExpectError: flexRegex(`cln-r00008`),
		}},
	})
}
