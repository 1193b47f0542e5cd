package provider

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/rollout"
)

// privateMap is a resource's private state, as the framework hands it to the
// provider: keys of JSON values.
type privateMap map[string][]byte

func (p privateMap) GetKey(_ context.Context, key string) ([]byte, diag.Diagnostics) {
	return p[key], nil
}

func (p privateMap) SetKey(_ context.Context, key string, value []byte) diag.Diagnostics {
	p[key] = value
	return nil
}

// recordBatches is a rollout with every fact a later apply needs: earlier
// jobs, send times, a lost request's window, excluded jobs.
func recordBatches() []rollout.Batch {
	at := func(s int) time.Time { return time.Date(2026, 12, 7, 4, 0, s, 0, time.UTC) }
	return []rollout.Batch{
		{Nodes: []string{"cln-a"}, JobID: "j-2", Status: ehpc.JobSuccessful, Earlier: []string{"j-1"}, Request: ehpc.Request{SentAt: at(1)}, Gate: rollout.GatePassed},
		{Nodes: []string{"cln-b"}, Status: rollout.Unknown, Excluded: []string{"j-old"}, Request: ehpc.Request{SentAt: at(2), From: at(0), Until: at(30)}},
		{Nodes: []string{"cln-c"}, Status: rollout.NotSent, Excluded: []string{"j-x", "j-y"}, Request: ehpc.Request{SentAt: at(3), From: at(1), Until: at(40)}},
	}
}

// What a later apply needs of a rollout survives the trip through state and
// private state: every fact of every batch written by record is read back by
// recordFrom as it was (mutant resume-forgets-excluded: a resumed batch that
// lost its excluded jobs may adopt one of the replaced record's), and the
// batches attribute holds no bookkeeping of a batch with a job, which plans
// and terraform show would print.
func TestBatchesSurviveTheTripThroughState(t *testing.T) {
	ctx := context.Background()
	in := recordBatches()
	m, private := recordOf(t, in, false)
	for i, e := range m.Batches.Elements() {
		for _, name := range legacyBookkeeping {
			if v := e.(types.Object).Attributes()[name]; in[i].JobID != "" && !v.IsNull() {
				t.Errorf("batch %d's %s is %v in the batches attribute, want null (it is kept in private state)", i+1, name, v)
			}
		}
	}
	out, legacy, diags := recordFrom(ctx, m.Batches, private)
	if diags.HasError() {
		t.Fatal(diags)
	}
	if legacy {
		t.Error("a record written by this release was read as an earlier release's")
	}
	if !reflect.DeepEqual(out, in) {
		t.Fatalf("read back:\n%+v\nwritten:\n%+v", out, in)
	}
}

// A batch without a job (its answer lost, or never sent with what a replaced
// record left) carries its bookkeeping in the attributes too: a user's
// terraform taint hands the replacement, which continues the rollout, the
// record's attributes and no private state, and without its window and
// excluded jobs its lost request could be settled wrong.
func TestAJoblessBatchCarriesItsBookkeeping(t *testing.T) {
	ctx := context.Background()
	in := recordBatches()
	m, _ := recordOf(t, in, false)
	out, _, diags := recordFrom(ctx, m.Batches, privateMap{})
	if diags.HasError() {
		t.Fatal(diags)
	}
	for i := range in {
		if in[i].JobID == "" && !reflect.DeepEqual(out[i], in[i]) {
			t.Errorf("batch %d read back from the attributes alone:\n%+v\nwritten:\n%+v", i+1, out[i], in[i])
		}
	}
}

// A record written by the release before the bookkeeping moved into private
// state holds it in its batches' attributes: recordFrom reads every fact from
// there (legacy), as it was.
func TestRecordFromReadsAnEarlierReleasesBatches(t *testing.T) {
	ctx := context.Background()
	in := recordBatches()
	elems := make([]attr.Value, len(in))
	for i, b := range in {
		k := bookkeepingOf(b)
		vals := map[string]attr.Value{
			"job_id": optionalString(b.JobID), "status": types.StringValue(b.Status), "health_gate": optionalString(b.Gate),
			"node_ids": listOf(t, b.Nodes), "earlier_job_ids": listOf(t, k.EarlierJobIDs), "excluded_job_ids": listOf(t, k.ExcludedJobIDs),
			"sent_at": optionalString(k.SentAt), "job_created_after": optionalString(k.JobCreatedAfter), "job_created_before": optionalString(k.JobCreatedBefore),
		}
		obj, diags := types.ObjectValue(batchAttrTypes, vals)
		if diags.HasError() {
			t.Fatal(diags)
		}
		elems[i] = obj
	}
	v, diags := types.ListValue(batchType, elems)
	if diags.HasError() {
		t.Fatal(diags)
	}
	out, legacy, diags := recordFrom(ctx, v, privateMap{})
	if diags.HasError() {
		t.Fatal(diags)
	}
	if !legacy {
		t.Error("an earlier release's record was not recognized as one: Read would not move its bookkeeping")
	}
	if !reflect.DeepEqual(out, in) {
		t.Fatalf("read back:\n%+v\nwritten:\n%+v", out, in)
	}
}

// Bookkeeping that does not fit the batches (a hand-edited state) is an
// error naming the record, never a guess.
func TestRecordFromRefusesBookkeepingOfOtherBatches(t *testing.T) {
	ctx := context.Background()
	in := recordBatches()
	m, private := recordOf(t, in, false)
	if diags := keepBookkeeping(ctx, in[:2], private); diags.HasError() {
		t.Fatal(diags)
	}
	_, _, diags := recordFrom(ctx, m.Batches, private)
	if !diags.HasError() || diags[0].Summary() != "Unreadable Restart Record" {
		t.Fatalf("want Unreadable Restart Record, got %v", diags)
	}
}

func listOf(t *testing.T, ids []string) types.List {
	t.Helper()
	if len(ids) == 0 {
		return types.ListNull(types.StringType)
	}
	l, diags := types.ListValueFrom(context.Background(), types.StringType, ids)
	if diags.HasError() {
		t.Fatal(diags)
	}
	return l
}

// A record a failed create saves is tainted, and Terraform hands the destroy
// that its replacement continues from only the record's attributes: they
// carry the bookkeeping too, read back whole without private state.
func TestATaintedRecordCarriesItsBookkeeping(t *testing.T) {
	ctx := context.Background()
	in := recordBatches()
	m, _ := recordOf(t, in, true)
	out, _, diags := recordFrom(ctx, m.Batches, privateMap{})
	if diags.HasError() {
		t.Fatal(diags)
	}
	if !reflect.DeepEqual(out, in) {
		t.Fatalf("read back from the attributes alone:\n%+v\nwritten:\n%+v", out, in)
	}
}

// recordOf is the record of batches as a create writes it, and its private
// state.
func recordOf(t *testing.T, batches []rollout.Batch, tainted bool) (ClusterNodeRestartResourceModel, privateMap) {
	t.Helper()
	var m ClusterNodeRestartResourceModel
	private := privateMap{}
	if diags := m.record(context.Background(), rollout.Result{Batches: batches}, batches, nil, private, tainted); diags.HasError() {
		t.Fatal(diags)
	}
	return m, private
}
