package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/rollout"
)

// A deleted record is continued once, by a create of the same restart
// (zone, cluster, nodes in any order, triggers), and only while it has work
// left; every deleted record's batches are excluded from a create's settle.
// (Mutant continuation-claimed-twice: two creates would both finish it.)
func TestContinuationOfADeletedRecord(t *testing.T) {
	ctx := context.Background()
	triggers := func(v string) types.Map {
		return types.MapValueMust(types.StringType, map[string]attr.Value{"kernel": types.StringValue(v)})
	}
	mode := func(int) rollout.Mode { return rollout.Mode{Wait: true} }
	unfinished := []rollout.Batch{{Nodes: []string{"cln-a"}, JobID: "j-1", Status: ehpc.JobSuccessful}, {Nodes: []string{"cln-b"}, Status: rollout.NotSent}}
	finished := []rollout.Batch{{Nodes: []string{"cln-a", "cln-b"}, JobID: "j-9", Status: ehpc.JobSuccessful}}
	d := &providerData{}
	d.replaced(restartKeyOf(ctx, "jn1a", "ehpc-x", []string{"cln-b", "cln-a"}, triggers("1")), unfinished)
	d.replaced(restartKeyOf(ctx, "jn1a", "ehpc-x", []string{"cln-a", "cln-b"}, triggers("2")), finished)

	if got := d.continuation(restartKeyOf(ctx, "jn1a", "ehpc-x", []string{"cln-a", "cln-b", "cln-a"}, triggers("2")), mode); got != nil {
		t.Errorf("a finished record is continued: %+v", got)
	}
	if got := d.continuation(restartKeyOf(ctx, "jn1a", "ehpc-x", []string{"cln-a", "cln-b"}, triggers("3")), mode); got != nil {
		t.Errorf("a record of other triggers is continued: %+v", got)
	}
	key := restartKeyOf(ctx, "jn1a", "ehpc-x", []string{"cln-a", "cln-b"}, triggers("1"))
	if got := d.continuation(key, mode); len(got) != 2 || got[0].JobID != "j-1" {
		t.Fatalf("the unfinished record of the same restart is not continued: %+v", got)
	}
	if got := d.continuation(key, mode); got != nil {
		t.Errorf("the same record is continued twice: %+v", got)
	}
	if got := d.replacedIn("jn1a", "ehpc-x"); len(got) != 3 {
		t.Errorf("replacedIn = %d batches, want every deleted record's 3", len(got))
	}
}
