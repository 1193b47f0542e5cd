package provider

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/rollout"
)

// What a provider instance keeps of the records it deleted. Terraform
// replaces a resource by deleting its record and creating the new one right
// after, in the same provider instance (destroy before create, its default).
// The create needs the deleted record twice over: its jobs are never a lost
// request's of the new record (rollout.Spec.Replaced), and when the new
// record is the same restart (same zone, cluster, nodes and triggers) and the
// deleted one had work left, the create continues that rollout instead of
// restarting every node (rollout.Continues). That is how the pipeline's next
// plain apply finishes a rollout whose create failed: Terraform tainted it,
// and replaces it.
//
// With create_before_destroy, Terraform creates the new record before it
// deletes the old one, so nothing is known of it yet: the create starts a new
// rollout, as a triggers change does. The docs say not to set it here.

// goneRecord is a record this instance deleted.
type goneRecord struct {
	restart restartKey
	batches []rollout.Batch
	// claimed is set once a create continued this record: one record is
	// continued once.
	claimed bool
}

// restartKey is what makes two records the same declared restart: a change of
// any of it is a new restart of every node.
type restartKey struct {
	zone, cluster, nodes, triggers string
}

// restartKeyOf is the key of a restart of nodeIDs (any order, duplicates
// allowed) with triggers.
func restartKeyOf(ctx context.Context, zone, cluster string, nodeIDs []string, triggers types.Map) restartKey {
	k := restartKey{zone: zone, cluster: cluster}
	ids, _ := json.Marshal(ehpc.NormalizeIDs(nodeIDs))
	k.nodes = string(ids)
	if !triggers.IsNull() && !triggers.IsUnknown() {
		var m map[string]string
		if !triggers.ElementsAs(ctx, &m, false).HasError() && len(m) > 0 {
			b, _ := json.Marshal(m) // keys sorted
			k.triggers = string(b)
		}
	}
	return k
}

// replaced keeps a record being deleted (see ClusterNodeRestartResource.Delete).
func (d *providerData) replaced(k restartKey, batches []rollout.Batch) {
	d.goneMu.Lock()
	defer d.goneMu.Unlock()
	d.gone = append(d.gone, goneRecord{restart: k, batches: batches})
}

// continuation claims the deleted record that a create of restart k
// continues (rollout.Continues decides, in the mode the create's arguments
// give a rollout of that many batches), and returns its batches; nil when
// there is none, and the create starts a rollout of its own.
func (d *providerData) continuation(k restartKey, mode func(n int) rollout.Mode) []rollout.Batch {
	d.goneMu.Lock()
	defer d.goneMu.Unlock()
	for i := range d.gone {
		g := &d.gone[i]
		if !g.claimed && g.restart == k && rollout.Continues(g.batches, mode(len(g.batches))) {
			g.claimed = true
			return slices.Clone(g.batches)
		}
	}
	return nil
}

// replacedIn returns the batches of the records of a cluster this instance
// deleted: their jobs are other restarts', never a lost request's. A record
// the create continues is among them too, which changes nothing: its batches
// are the run's own, and their jobs known already.
func (d *providerData) replacedIn(zone, clusterID string) []rollout.Batch {
	d.goneMu.Lock()
	defer d.goneMu.Unlock()
	var out []rollout.Batch
	for _, g := range d.gone {
		if g.restart.zone == zone && g.restart.cluster == clusterID {
			out = append(out, g.batches...)
		}
	}
	return out
}
