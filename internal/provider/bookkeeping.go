package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/qingcloud/terraform-provider-hpc/internal/rollout"
)

// A record of a restart has two halves. The batches attribute holds what a
// person reads: each batch's nodes, job, status and place at the gate. What
// the engine keeps to finish a rollout exactly once (a batch's earlier jobs,
// when its last request was sent, the window a lost request's job was
// created in, the jobs a replaced record made of its nodes) is bookkeeping
// nobody sets or reads, so it lives in the resource's private state, which
// Terraform keeps beside the record and never prints.
//
// Private state does not reach every replacement: Terraform plans the
// replacement of a tainted record as a new object, with none, and hands the
// destroy of the old record (replaced.go, which the replacement continues
// the rollout from) only that plan's. So the bookkeeping a continuation
// cannot do without is carried in the batches attributes too (carried):
// every batch's, in the record a failed create saves, which Terraform
// taints; and, in any record, that of a batch without a job (never sent, or
// its answer lost), whose window and excluded jobs are what keeps a user's
// terraform taint of it from restarting its nodes twice. A finished record
// carries none: its plans and terraform show print no bookkeeping.
//
// Releases before issue #28 kept the bookkeeping in batches always, under
// the same names: recordFrom takes it from there when private state has
// none, and Read moves a finished record's into private state (a refresh,
// so its plan stays empty).

// bookkeepingKey is the private-state key of a record's bookkeeping.
const bookkeepingKey = "batches"

// batchBookkeeping is one batch's bookkeeping, as private state holds it: the
// names and encodings of the attributes that held it before.
type batchBookkeeping struct {
	EarlierJobIDs    []string `json:"earlier_job_ids,omitempty"`
	SentAt           string   `json:"sent_at,omitempty"`
	JobCreatedAfter  string   `json:"job_created_after,omitempty"`
	JobCreatedBefore string   `json:"job_created_before,omitempty"`
	ExcludedJobIDs   []string `json:"excluded_job_ids,omitempty"`
}

// legacyBookkeeping names the batches attributes that held the bookkeeping
// before it moved into private state.
var legacyBookkeeping = []string{"earlier_job_ids", "sent_at", "job_created_after", "job_created_before", "excluded_job_ids"}

// bookkeepingOf is what a batch keeps beyond what a person reads. The window
// matters only while a request of the batch's nodes has an unknown outcome.
func bookkeepingOf(b rollout.Batch) batchBookkeeping {
	k := batchBookkeeping{EarlierJobIDs: b.Earlier, ExcludedJobIDs: b.Excluded, SentAt: timeText(b.Request.SentAt)}
	if b.JobID == "" && (b.Status == rollout.Unknown || b.Inherited()) {
		k.JobCreatedAfter, k.JobCreatedBefore = timeText(b.Request.From), timeText(b.Request.Until)
	}
	return k
}

// timeText writes a time as the record keeps it: RFC 3339, UTC, whole
// seconds; "" when zero.
func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// apply sets batch i's bookkeeping on b. A time that does not parse is an
// error naming the batch: the record was edited by hand or written by an
// unknown version, and a guess could restart nodes twice.
func (k batchBookkeeping) apply(b *rollout.Batch, i int, diags *diag.Diagnostics) {
	b.Earlier, b.Excluded = k.EarlierJobIDs, k.ExcludedJobIDs
	for _, t := range []struct {
		name, text string
		dst        *time.Time
	}{{"sent_at", k.SentAt, &b.Request.SentAt}, {"job_created_after", k.JobCreatedAfter, &b.Request.From}, {"job_created_before", k.JobCreatedBefore, &b.Request.Until}} {
		if t.text == "" {
			continue
		}
		parsed, err := time.Parse(time.RFC3339, t.text)
		if err != nil {
			diags.AddAttributeError(path.Root("batches").AtListIndex(i), "Unreadable Restart Record",
				fmt.Sprintf("Batch %d's %s %q, kept with the record, is not an RFC 3339 time (%v). The state was edited by hand or written by an unknown version; "+
					"restore it from a backup, or remove the resource from state (terraform state rm) to forget this restart.", i+1, t.name, t.text, err))
			continue
		}
		*t.dst = parsed
	}
}

// privateGetter and privateSetter are the private state of a request and of
// a response.
type privateGetter interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

type privateSetter interface {
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

// recordFrom reads a record back: the batches attribute, with each batch's
// bookkeeping from private state, or, for a record written before it moved
// there, from the batches attribute (legacy reports that case). nil for a
// state written before batches were recorded. A record without times
// (written before requests were recorded) is settled by rollout.Engine from
// the batch before it.
func recordFrom(ctx context.Context, v types.List, private privateGetter) (batches []rollout.Batch, legacy bool, diags diag.Diagnostics) {
	if v.IsNull() || v.IsUnknown() {
		return nil, false, diags
	}
	var ms []batchModel
	diags.Append(v.ElementsAs(ctx, &ms, false)...)
	if diags.HasError() {
		return nil, false, diags
	}
	kept, found := privateBookkeeping(ctx, private, len(ms), &diags)
	for i, m := range ms {
		b := rollout.Batch{Nodes: m.NodeIDs, JobID: m.JobID.ValueString(), Status: m.Status.ValueString(), Gate: m.HealthGate.ValueString()}
		k := m.legacy()
		if found {
			k = kept[i]
		} else if k.present() {
			legacy = true
		}
		k.apply(&b, i, &diags)
		batches = append(batches, b)
	}
	return batches, legacy, diags
}

// privateBookkeeping reads the bookkeeping of n batches from private state;
// found is false when private state holds none (a record written before it
// moved there).
func privateBookkeeping(ctx context.Context, private privateGetter, n int, diags *diag.Diagnostics) (kept []batchBookkeeping, found bool) {
	if private == nil {
		return nil, false
	}
	raw, d := private.GetKey(ctx, bookkeepingKey)
	diags.Append(d...)
	if len(raw) == 0 || d.HasError() {
		return nil, false
	}
	if err := json.Unmarshal(raw, &kept); err != nil || len(kept) != n {
		diags.AddAttributeError(path.Root("batches"), "Unreadable Restart Record",
			fmt.Sprintf("The record's private state holds bookkeeping that does not fit its %d batches (%d entries, %v). The state was edited by hand or written by an unknown version; "+
				"restore it from a backup, or remove the resource from state (terraform state rm) to forget this restart.", n, len(kept), err))
		return nil, false
	}
	return kept, true
}

// taintedAfterCreate reports whether Terraform taints the record a create
// saves with diags: whenever they hold an error.
func taintedAfterCreate(diags diag.Diagnostics) bool { return diags.HasError() }

// carried reports whether batch b of a record (tainted: saved by a failed
// create) carries its bookkeeping in the batches attributes too. A
// successful apply leaves every batch a job, so it carries none, as its plan
// showed; Terraform does not hold a failed apply to its plan.
func carried(b rollout.Batch, tainted bool) bool { return tainted || b.JobID == "" }

// bookkeepingValues are the batches attributes that held the bookkeeping
// before it moved into private state: b's when carry is set, else null.
func bookkeepingValues(b rollout.Batch, carry bool, diags *diag.Diagnostics) map[string]attr.Value {
	vals := make(map[string]attr.Value, len(legacyBookkeeping))
	if !carry {
		for _, name := range legacyBookkeeping {
			vals[name] = nullOf(batchAttrTypes[name])
		}
		return vals
	}
	k := bookkeepingOf(b)
	vals["earlier_job_ids"], vals["excluded_job_ids"] = optionalList(k.EarlierJobIDs, diags), optionalList(k.ExcludedJobIDs, diags)
	vals["sent_at"], vals["job_created_after"], vals["job_created_before"] = optionalString(k.SentAt), optionalString(k.JobCreatedAfter), optionalString(k.JobCreatedBefore)
	return vals
}

// optionalList is a list of ids in state, null when empty.
func optionalList(ids []string, diags *diag.Diagnostics) types.List {
	if len(ids) == 0 {
		return types.ListNull(types.StringType)
	}
	l, d := types.ListValueFrom(context.Background(), types.StringType, ids)
	diags.Append(d...)
	return l
}

// keepBookkeeping writes batches' bookkeeping into private state.
func keepBookkeeping(ctx context.Context, batches []rollout.Batch, private privateSetter) diag.Diagnostics {
	kept := make([]batchBookkeeping, len(batches))
	for i, b := range batches {
		kept[i] = bookkeepingOf(b)
	}
	raw, err := json.Marshal(kept)
	if err != nil {
		var diags diag.Diagnostics
		diags.AddError("Restart Record Not Written", "The record's bookkeeping could not be encoded: "+err.Error())
		return diags
	}
	return private.SetKey(ctx, bookkeepingKey, raw)
}

// legacy is the bookkeeping a batch written before issue #28 holds in its
// attributes (nothing for a later one: they are always null).
func (m batchModel) legacy() batchBookkeeping {
	return batchBookkeeping{EarlierJobIDs: m.EarlierJobIDs, ExcludedJobIDs: m.ExcludedJobIDs,
		SentAt: m.SentAt.ValueString(), JobCreatedAfter: m.JobCreatedAfter.ValueString(), JobCreatedBefore: m.JobCreatedBefore.ValueString()}
}

func (k batchBookkeeping) present() bool {
	return len(k.EarlierJobIDs) > 0 || len(k.ExcludedJobIDs) > 0 || k.SentAt != "" || k.JobCreatedAfter != "" || k.JobCreatedBefore != ""
}
