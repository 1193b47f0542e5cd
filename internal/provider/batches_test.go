package provider

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/rollout"
)

// What a later apply needs of a rollout survives the trip through state:
// every fact of every batch written by batchesValue is read back by
// batchesFrom as it was (mutant resume-forgets-excluded: a resumed batch that
// lost its excluded jobs may adopt one of the replaced record's).
func TestBatchesSurviveTheTripThroughState(t *testing.T) {
	at := func(s int) time.Time { return time.Date(2026, 12, 7, 4, 0, s, 0, time.UTC) }
	in := []rollout.Batch{
		{Nodes: []string{"cln-a"}, JobID: "j-2", Status: ehpc.JobSuccessful, Earlier: []string{"j-1"}, Request: ehpc.Request{SentAt: at(1)}, Gate: rollout.GatePassed},
		{Nodes: []string{"cln-b"}, Status: rollout.Unknown, Excluded: []string{"j-old"}, Request: ehpc.Request{SentAt: at(2), From: at(0), Until: at(30)}},
		{Nodes: []string{"cln-c"}, Status: rollout.NotSent, Excluded: []string{"j-x", "j-y"}, Request: ehpc.Request{SentAt: at(3), From: at(1), Until: at(40)}},
	}
	v, diags := batchesValue(in, nil)
	if diags.HasError() {
		t.Fatal(diags)
	}
	out, diags := batchesFrom(context.Background(), v)
	if diags.HasError() {
		t.Fatal(diags)
	}
	if !reflect.DeepEqual(out, in) {
		t.Fatalf("read back:\n%+v\nwritten:\n%+v", out, in)
	}
}
