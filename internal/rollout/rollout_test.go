package rollout

import (
	"fmt"
	"slices"
	"testing"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
)

// Next is the one decision of a batch's next step; every combination a record
// can hold has one answer.
func TestNext(t *testing.T) {
	for _, tc := range []struct {
		b       Batch
		waiting bool
		want    Step
	}{
		{Batch{Status: NotSent}, true, Send},
		{Batch{Status: NotSent}, false, Send},
		{Batch{Status: Unknown}, true, Settle},                           // lost answer: look before anything else
		{Batch{Status: Unknown}, false, Settle},                          // even without waiting
		{Batch{JobID: "j-1", Status: Unknown}, true, Wait},               // unreadable job: wait, never resend
		{Batch{JobID: "j-1", Status: ehpc.JobPending}, true, Wait},       // may still run
		{Batch{JobID: "j-1", Status: ehpc.JobPending}, false, Skip},      // not waited for
		{Batch{JobID: "j-1", Status: ehpc.JobFailed}, true, Send},        // sent again (the user asked)
		{Batch{JobID: "j-1", Status: ehpc.JobSuccessful}, true, Skip},    // done
		{Batch{JobID: "j-1", Status: ehpc.JobSuccessful}, false, Skip},   // done
		{Batch{Earlier: []string{"j-0"}, Status: Unknown}, true, Settle}, // resent after failing, lost
		{Batch{Earlier: []string{"j-0"}, Status: NotSent}, true, Send},   // resend proved not processed
		{Batch{JobID: "j-2", Earlier: []string{"j-0"}, Status: ehpc.JobFailed}, true, Send},
	} {
		for _, gate := range []bool{false, true} {
			if got := Next(tc.b, Mode{Wait: tc.waiting, Gate: gate}); got != tc.want {
				t.Errorf("Next(%+v, waiting %v, gate %v) = %s, want %s", tc.b, tc.waiting, gate, got, tc.want)
			}
		}
	}
	// The gate: a batch whose job succeeded in a gated run waits at it until
	// its nodes are back; once passed, or with the gate turned off, it is done.
	for _, tc := range []struct {
		gateState string
		gate      bool
		want      Step
	}{{GateWaiting, true, Gate}, {GateWaiting, false, Skip}, {GatePassed, true, Skip}, {"", true, Skip}} {
		b := Batch{JobID: "j-1", Status: ehpc.JobSuccessful, Gate: tc.gateState}
		if got := Next(b, Mode{Wait: true, Gate: tc.gate}); got != tc.want {
			t.Errorf("Next(gate %q, gated %v) = %s, want %s", tc.gateState, tc.gate, got, tc.want)
		}
	}
}

// Plan: a record whose batches need nothing is finished; one with a batch
// with a step left resumes, or is continued by its replacement.
func TestPlanAndResumes(t *testing.T) {
	done := Batch{JobID: "j-1", Status: ehpc.JobSuccessful, Gate: GatePassed}
	running := Batch{JobID: "j-2", Status: ehpc.JobPending}
	failed := Batch{JobID: "j-3", Status: ehpc.JobFailed}
	lost := Batch{Status: Unknown}
	never := Batch{Status: NotSent}
	held := Batch{JobID: "j-4", Status: ehpc.JobSuccessful, Gate: GateWaiting}
	unreadable := Batch{JobID: "j-5", Status: Unknown}
	for _, tc := range []struct {
		name    string
		batches []Batch
		noWait  bool
		want    []Step
	}{
		{"finished", []Batch{done, done}, false, []Step{Skip, Skip}},
		{"a wait cut short in the last batch is taken up", []Batch{done, running}, false, []Step{Skip, Wait}},
		{"the last batch failed: sent again", []Batch{done, failed}, false, []Step{Skip, Send}},
		{"a lone failed restart: sent again", []Batch{failed}, false, []Step{Send}},
		{"a lone wait cut short", []Batch{running}, false, []Step{Wait}},
		{"not waiting: pending is final", []Batch{running}, true, []Step{Skip}},
		{"a job that could not be read is waited for", []Batch{unreadable}, false, []Step{Wait}},
		{"interrupted in batch 2", []Batch{done, running, never}, false, []Step{Skip, Wait, Send}},
		{"failed batch, then never sent", []Batch{done, failed, never}, false, []Step{Skip, Send, Send}},
		{"lost batch", []Batch{done, lost, never}, false, []Step{Skip, Settle, Send}},
		{"a lone restart whose answer was lost", []Batch{lost}, false, []Step{Settle}},
		{"interrupted at the last batch's gate", []Batch{done, held}, false, []Step{Skip, Gate}},
	} {
		m := Mode{Wait: !tc.noWait, Gate: !tc.noWait}
		got := Plan(tc.batches, m)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: Plan = %v, want %v", tc.name, got, tc.want)
		}
		resumes := slices.ContainsFunc(tc.want, func(s Step) bool { return s != Skip })
		if Resumes(tc.batches, m) != resumes {
			t.Errorf("%s: Resumes = %v, want %v", tc.name, !resumes, resumes)
		}
		if Continues(tc.batches, m) != resumes {
			t.Errorf("%s: Continues = %v, want %v: a replacement continues exactly what a resume would take up", tc.name, !resumes, resumes)
		}
	}
	if Continues(nil, Mode{Wait: true}) {
		t.Error("Continues with no replaced record")
	}
}

// Issue #31, defect 2: the promise is about the nodes, not the record's
// history. A batch that succeeded without a gate (resumed after rolling was
// removed, or written before the gate existed) is gated before a later batch
// is sent, when the gate is on; never when nothing is sent after it, or the
// gate is off.
func TestAnUngatedSuccessIsGatedBeforeTheNextSend(t *testing.T) {
	ungated := Batch{JobID: "j-1", Status: ehpc.JobSuccessful}
	never, lost := Batch{Status: NotSent}, Batch{Status: Unknown}
	running := Batch{JobID: "j-2", Status: ehpc.JobPending}
	gated, plain := Mode{Wait: true, Gate: true}, Mode{Wait: true}
	for _, tc := range []struct {
		name    string
		batches []Batch
		m       Mode
		want    []Step
	}{
		{"before a batch never sent", []Batch{ungated, never}, gated, []Step{Gate, Send}},
		// Gated if the settle finds no job: Run settles first (a look sends
		// nothing), then gates batch 1 before it sends batch 2 (GateBefore).
		{"before a lost request, which may be sent again", []Batch{ungated, lost}, gated, []Step{Gate, Settle}},
		{"before a batch whose job runs: nothing is sent", []Batch{ungated, running}, gated, []Step{Skip, Wait}},
		{"the last batch", []Batch{ungated, ungated}, gated, []Step{Skip, Skip}},
		{"gate off", []Batch{ungated, never}, plain, []Step{Skip, Send}},
	} {
		if got := Plan(tc.batches, tc.m); !slices.Equal(got, tc.want) {
			t.Errorf("%s: Plan = %v, want %v", tc.name, got, tc.want)
		}
		if got, want := GateBefore(tc.batches, 1, tc.m), tc.m.Gate; got != want { // were batch 2 sent
			t.Errorf("%s: GateBefore the second batch = %v, want %v", tc.name, got, want)
		}
	}
}

// Summary: the last batch sent stands for the rollout, "pending" while a later
// one was never sent, and a lost request counts as sent.
func TestSummary(t *testing.T) {
	for _, tc := range []struct {
		batches     []Batch
		job, status string
		sent        bool
		first       string
	}{
		{[]Batch{{Status: NotSent}, {Status: NotSent}}, "", NotSent, false, ""},
		{[]Batch{{JobID: "j-1", Status: ehpc.JobSuccessful}, {Status: NotSent}}, "j-1", ehpc.JobPending, true, "j-1"},
		{[]Batch{{JobID: "j-1", Status: ehpc.JobSuccessful}, {JobID: "j-2", Status: ehpc.JobSuccessful}}, "j-2", ehpc.JobSuccessful, true, "j-1"},
		{[]Batch{{JobID: "j-1", Status: ehpc.JobSuccessful}, {Status: Unknown}, {Status: NotSent}}, "", Unknown, true, "j-1"},
		{[]Batch{{Earlier: []string{"j-0"}, Status: Unknown}, {Status: NotSent}}, "", Unknown, true, "j-0"},
		{[]Batch{{Status: Unknown}}, "", Unknown, true, ""},
	} {
		job, _, status, sent := Summary(tc.batches)
		if job != tc.job || status != tc.status || sent != tc.sent || FirstJob(tc.batches) != tc.first {
			t.Errorf("Summary(%+v) = %q %q %v, first %q; want %q %q %v, first %q", tc.batches, job, status, sent, FirstJob(tc.batches), tc.job, tc.status, tc.sent, tc.first)
		}
	}
}

func TestSplit(t *testing.T) {
	ids := []string{"a", "b", "c", "d", "e"}
	for _, tc := range []struct {
		size, first int
		want        string
	}{
		{0, 0, "[[a b c d e]]"}, {2, 0, "[[a b] [c d] [e]]"}, {5, 0, "[[a b c d e]]"}, {9, 0, "[[a b c d e]]"}, {1, 0, "[[a] [b] [c] [d] [e]]"},
		// The canary: a smaller first batch, then batch_size.
		{2, 1, "[[a] [b c] [d e]]"}, {9, 1, "[[a] [b c d e]]"}, {2, 2, "[[a b] [c d] [e]]"}, {2, 3, "[[a b] [c d] [e]]"}, {1, 1, "[[a] [b] [c] [d] [e]]"},
	} {
		var got [][]string
		for _, b := range Split(ids, tc.size, tc.first) {
			if b.Status != NotSent {
				t.Errorf("a new batch is %q", b.Status)
			}
			got = append(got, b.Nodes)
		}
		if fmt.Sprint(got) != tc.want {
			t.Errorf("Split(size %d, first %d) = %v, want %s", tc.size, tc.first, got, tc.want)
		}
	}
}
