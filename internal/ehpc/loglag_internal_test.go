package ehpc

import (
	"strings"
	"testing"
	"time"
)

// The lag a settle allows: the assumed one, or twice the one measured, never
// more than maxLogLagUsed; a measurement past that says so.
func TestLogLagUsed(t *testing.T) {
	c := &Client{cfg: Config{LogLag: 6 * time.Second}}
	for _, tc := range []struct {
		measured, used   time.Duration
		widened, capped  bool
		exceeded         bool
		says, doesNotSay string
	}{
		{measured: 0, used: 6 * time.Second},
		{measured: 2 * time.Second, used: 6 * time.Second},
		// A lower bound under the assumed lag still widens: the true lag may be twice it.
		{measured: 4 * time.Second, used: 8 * time.Second, widened: true},
		{measured: 44 * time.Second, used: 88 * time.Second, widened: true, exceeded: true, says: "waits 1m28s for a job to appear instead (twice what it measured)"},
		{measured: 20 * time.Minute, used: maxLogLagUsed, widened: true, exceeded: true, capped: true, says: "the most it waits; twice the lag measured would be 40m0s"},
	} {
		l := c.logLagFor(tc.measured, "j-x", "ehpc-y")
		if l.Used != tc.used || l.Widened() != tc.widened || l.Capped != tc.capped || l.Exceeded() != tc.exceeded {
			t.Errorf("measured %s: %+v (widened %v, exceeded %v); want used %s, widened %v, exceeded %v, capped %v",
				tc.measured, l, l.Widened(), l.Exceeded(), tc.used, tc.widened, tc.exceeded, tc.capped)
		}
		if tc.says != "" && !strings.Contains(l.String(), tc.says) {
			t.Errorf("measured %s: %q does not say %q", tc.measured, l.String(), tc.says)
		}
	}
}

// Only a listing that would have shown the job measures its lag: asked for
// by id with the filter honoured, or the newest of its cluster reaching back
// past it (by a margin: the stamps are different machines' clocks); the
// lag is from the answer to the last such listing.
func TestLagMeasuredOnlyByListingsThatWouldHaveShownTheJob(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	job := func(id string, created time.Time) Job { return Job{JobID: id, CreateTime: Time{Time: created}} }
	ours := job("j-ours", at(0))
	byID := OperationQuery{Zone: "z", JobIDs: []string{"j-ours"}}
	newest := OperationQuery{Zone: "z", ResourceIDs: []string{"ehpc-c"}, Reverse: true, Limit: 2}
	const margin = 25 * time.Second
	for _, tc := range []struct {
		name   string
		misses []func(m *lagMeter)
		want   time.Duration
	}{
		{"by id, none listed", []func(*lagMeter){
			func(m *lagMeter) { m.listed(byID, at(10), &OperationList{}, margin) },
			func(m *lagMeter) { m.listed(byID, at(20), &OperationList{}, margin) },
		}, 20 * time.Second},
		{"by id, filter ignored", []func(*lagMeter){
			func(m *lagMeter) { m.listed(byID, at(20), &OperationList{Jobs: []Job{job("j-other", at(1))}}, margin) },
		}, 0},
		{"another zone", []func(*lagMeter){
			func(m *lagMeter) {
				m.listed(OperationQuery{Zone: "w", JobIDs: []string{"j-ours"}}, at(20), &OperationList{}, margin)
			},
		}, 0},
		{"sent before the answer", []func(*lagMeter){
			func(m *lagMeter) { m.listed(byID, at(-1), &OperationList{}, margin) },
		}, 0},
		{"newest of the cluster, all of them", []func(*lagMeter){
			func(m *lagMeter) {
				m.listed(newest, at(30), &OperationList{TotalKnown: true, TotalCount: 1, Jobs: []Job{job("j-a", at(-90))}}, margin)
			},
		}, 30 * time.Second},
		{"newest of the cluster, reaching back past it", []func(*lagMeter){
			func(m *lagMeter) {
				m.listed(newest, at(30), &OperationList{Jobs: []Job{job("j-a", at(-10)), job("j-b", at(-30))}}, margin)
			},
		}, 30 * time.Second},
		{"newest of the cluster, not reaching back by the margin", []func(*lagMeter){
			func(m *lagMeter) {
				m.listed(newest, at(30), &OperationList{Jobs: []Job{job("j-a", at(5)), job("j-b", at(-10))}}, margin)
			},
		}, 0},
		{"a later page, or filtered", []func(*lagMeter){
			func(m *lagMeter) {
				q := newest
				q.Offset = 2
				m.listed(q, at(30), &OperationList{}, margin)
			},
			func(m *lagMeter) {
				q := newest
				q.Status = []string{JobPending}
				m.listed(q, at(30), &OperationList{}, margin)
			},
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &lagMeter{}
			m.answered("z", "ehpc-c", ours.JobID, at(0))
			for _, miss := range tc.misses {
				miss(m)
			}
			got, id, _, grew := m.listed(byID, at(60), &OperationList{Jobs: []Job{ours}}, margin)
			if got != tc.want || grew != (tc.want > 0) || tc.want > 0 && id != ours.JobID {
				t.Fatalf("measured %s on %q (grew %v), want %s", got, id, grew, tc.want)
			}
		})
	}
}
