package provider

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/rollout"
)

// outcomeCase is a run's end as the engine reports it, for a rollout of three
// batches stopped at the second, or of one batch.
func outcomeCase(end rollout.End, batches int) rollout.Result {
	nodes := []string{"cln-a", "cln-b", "cln-c"}[:batches]
	bs := rollout.Split(nodes, 1, 0)
	at := min(1, batches-1)
	if at > 0 {
		bs[0].JobID, bs[0].Status = "j-first", ehpc.JobSuccessful
	}
	b := &bs[at]
	sent := time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)
	r := rollout.Result{Batches: bs, At: at, End: end, Timeout: 30 * time.Minute}
	switch end {
	case rollout.Done:
		for i := range bs {
			bs[i].JobID, bs[i].Status = fmt.Sprintf("j-%d", i), ehpc.JobSuccessful
		}
		r.At = len(bs) - 1
	case rollout.Failed, rollout.TimedOut, rollout.Interrupted, rollout.Unreadable:
		b.JobID, b.Status = "j-stopped", map[rollout.End]string{rollout.Failed: ehpc.JobFailed, rollout.Unreadable: rollout.Unknown}[end]
		if b.Status == "" {
			b.Status = ehpc.JobPending
		}
		r.Wait = rollout.JobWait{End: end, Status: b.Status, Seen: true, Elapsed: time.Minute}
		if end == rollout.Unreadable {
			r.Err = errors.New("the key may not read the log")
		}
	case rollout.OutOfTime:
		r.Took = 20 * time.Minute
	case rollout.Rejected:
		r.Err = &ehpc.APIError{RetCode: ehpc.CodeQuotaExceeded, Message: "QuotaExceeded", Path: ehpc.PathRestartNodes}
	case rollout.NotBack:
		b.JobID, b.Status, b.Gate = "j-stopped", ehpc.JobSuccessful, rollout.GateWaiting
		var node ehpc.Node
		_ = json.Unmarshal([]byte(`{"node_id":"`+b.Nodes[0]+`","status":"active","transition_status":"","health_status":"unhealthy","health_check":{"enable":true}}`), &node)
		r.Gate = rollout.GateWait{Held: true, Seen: true, Nodes: []ehpc.Node{node}, Limit: 10 * time.Minute, Elapsed: 10 * time.Minute}
	case rollout.Lost:
		b.Status = rollout.Unknown
		b.Request = ehpc.Request{SentAt: sent, From: sent.Add(-25 * time.Second), Until: sent.Add(85 * time.Second)}
		r.Err = &ehpc.UnknownOutcomeError{ClusterID: "ehpc-x", NodeIDs: b.Nodes, Request: b.Request, Err: errors.New("the log could not be read")}
	}
	return r
}

// Every end on every surface, for a lone restart and a rolling one, is
// worded in one place with its severity and, on create, whether it taints;
// the words say what the user must know.
func TestOutcomeOfEveryEndOnEverySurface(t *testing.T) {
	spec := rollout.Spec{ClusterID: "ehpc-x", Zone: "jn1a", Wait: true, Gate: &rollout.GateSpec{Deadline: 10 * time.Minute}}
	scrub := func(s string) string { return s }
	for _, batches := range []int{1, 3} {
		for _, end := range rollout.Ends {
			for _, s := range []surface{onCreate, onResume, onAction} {
				name := fmt.Sprintf("%d batches, %s, %s", batches, end, []string{"create", "resume", "action"}[s])
				r := outcomeCase(end, batches)
				if s == onResume && batches == 1 && end == rollout.Done {
					continue
				}
				diags := report(r, spec, s, scrub)
				sev := severity(r)
				switch {
				case end == rollout.Done:
					if len(diags) != 0 {
						t.Errorf("%s: diagnostics %v for a rollout that succeeded", name, diags)
					}
					continue
				case len(diags) != 1 || diags[0].Severity() != sev || diags[0].Summary() == "" || diags[0].Detail() == "":
					t.Errorf("%s: diagnostics %v, want one of severity %v", name, diags, sev)
					continue
				}
				d := diags[0].Detail()
				// Green means done: every end but success is an error, on every
				// surface, so a pipeline's exit code tells.
				if sev != diag.SeverityError {
					t.Errorf("%s: severity %v; a run that left a node not restarted or an outcome unknown must fail", name, sev)
				}
				// An update that resumes never taints; a create taints exactly when
				// it errs with a record, and then says so.
				if got, want := tainted(r, s), s == onCreate && sev == diag.SeverityError && recorded(r); got != want {
					t.Errorf("%s: tainted %v, want %v", name, got, want)
				}
				if tainted(r, s) != strings.Contains(d, "Terraform marks it tainted") {
					t.Errorf("%s: tainted %v but the detail says otherwise:\n%s", name, tainted(r, s), d)
				}
				// The pipeline's next step is a plain apply: the words say that
				// it finishes the rollout, and never send anyone to untaint.
				if s != onAction && recorded(r) && (!strings.Contains(d, "the next plain apply") || !strings.Contains(d, "takes up the") || strings.Contains(d, "terraform untaint")) {
					t.Errorf("%s: the detail does not say that the next plain apply takes the rollout up:\n%s", name, d)
				}
				if batches > 1 && !strings.Contains(d, "Rolling restart stopped at batch 2 of 3") {
					t.Errorf("%s: the detail does not say where the rollout stopped:\n%s", name, d)
				}
				if end == rollout.Lost && !strings.Contains(d, "created between 2026-12-05T05:59:35Z and 2026-12-05T06:01:25Z") {
					t.Errorf("%s: the detail does not give the lost request's window:\n%s", name, d)
				}
				// Issue #18, defect 6: the next apply looks in the log first; it
				// never just "sends a new restart".
				if end == rollout.Lost && s != onAction && (strings.Contains(d, "sends a new restart") || !strings.Contains(d, "looks for")) {
					t.Errorf("%s: the detail misstates what the next apply does:\n%s", name, d)
				}
				if end == rollout.NotBack && !strings.Contains(d, r.Stopped().Nodes[0]+" (status active, transition none, health unhealthy)") {
					t.Errorf("%s: the detail does not name the node not back with its state:\n%s", name, d)
				}
				if b := r.Stopped(); b.JobID != "" && !strings.Contains(d, b.JobID) {
					t.Errorf("%s: the detail does not name job %s:\n%s", name, b.JobID, d)
				}
			}
		}
	}
}

// Out of time after a lost answer that proved to have no effect: the words
// say why a request went out, and that it did nothing.
func TestOutOfTimeBeforeAResendSaysWhy(t *testing.T) {
	r := outcomeCase(rollout.OutOfTime, 3)
	r.Err = errors.New("the answer to the restart request was lost, the operation log then showed it had no effect, and it was not sent again")
	diags := report(r, rollout.Spec{ClusterID: "ehpc-x", Zone: "jn1a", Wait: true}, onCreate, func(s string) string { return s })
	want := "Batch 2 of 3 was not sent (the answer to its first request was lost, and the operation log proved that request had no effect, after which too little time was left): less of timeouts.create"
	if len(diags) != 1 || diags[0].Summary() != "Timed Out Before Next Batch" || !strings.Contains(diags[0].Detail(), want) {
		t.Fatalf("diagnostics %v; want Timed Out Before Next Batch saying %q", diags, want)
	}
}

// The next apply's words come from rollout.Plan: a lost batch is looked for
// before anything is sent, a running one waited for, a failed one sent again.
func TestResumeSentences(t *testing.T) {
	batches := []rollout.Batch{
		{JobID: "j-1", Status: ehpc.JobSuccessful},
		{JobID: "j-2", Status: ehpc.JobFailed},
		{Status: rollout.Unknown},
		{JobID: "j-4", Status: ehpc.JobPending},
		{Status: rollout.NotSent},
		{Status: rollout.NotSent},
	}
	got := strings.Join(resumeSentences(batches, rollout.Plan(batches, rollout.Mode{Wait: true})), " ")
	want := "It sends batch 2 again (its job j-2 failed). The answer to the request of batch 3 was lost: it looks for that batch's job in the operation log, " +
		"adopts it if there is one, and sends the batch only once the log proves the request had no effect. It waits for batch 4 (job j-4) without sending it again. " +
		"It sends batch 5, 6, one after the other."
	if got != want {
		t.Fatalf("resumeSentences:\n got: %s\nwant: %s", got, want)
	}
	if got := strings.Join(resumeSentences(batches[3:5], rollout.Plan(batches[3:5], rollout.Mode{Wait: true})), " "); got != "It waits for batch 1 (job j-4) without sending it again. It sends batch 2." {
		t.Fatalf("one batch left to send: %s", got)
	}
	// An older release's record, from before the gate: the settle comes first,
	// then the gate of batch 1 (rollout.GateBefore).
	legacy := []rollout.Batch{{JobID: "j-1", Status: ehpc.JobSuccessful}, {Status: rollout.Unknown}, {Status: rollout.NotSent}}
	got = strings.Join(resumeSentences(legacy, rollout.Plan(legacy, rollout.Mode{Wait: true, Gate: true})), " ")
	want = "The answer to the request of batch 2 was lost: it looks for that batch's job in the operation log and adopts it if there is one; " +
		"then it waits for the nodes of batch 1 (job j-1, successful) to be back in service (health_gate), without restarting them again, " +
		"and sends batch 2 only if the log proved the request had no effect. It sends batch 3."
	if got != want {
		t.Fatalf("a lost request after an ungated batch:\n got: %s\nwant: %s", got, want)
	}
	if got := resumeText(batches[:1], rollout.Mode{Wait: true}); got != "" {
		t.Fatalf("a finished record resumes: %s", got)
	}
	if got := resumeText(batches[3:4], rollout.Mode{}); got != "" {
		t.Fatalf("a job not waited for is taken up: %s", got)
	}
}

// A create that sent nothing, yet carries what the record it replaced left
// behind, keeps a record: refused, it is tainted (so the next apply replaces
// it and knows the old jobs) and says so without claiming jobs were sent;
// cancelled, the same, and the replacement sends the restart.
func TestOutcomeOfACreateThatCarriesTheReplacedRecord(t *testing.T) {
	spec := rollout.Spec{ClusterID: "ehpc-x", Zone: "jn1a", Wait: true}
	carried := []rollout.Batch{{Nodes: []string{"cln-a"}, Status: rollout.NotSent, Excluded: []string{"j-old"},
		Request: ehpc.Request{SentAt: time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)}}}
	refused := rollout.Result{Batches: carried, End: rollout.Rejected, Err: &rollout.InheritedError{SentAt: carried[0].Request.SentAt, Err: errors.New("the log could not be read")}}
	diags := report(refused, spec, onCreate, func(s string) string { return s })
	if !recorded(refused) || !tainted(refused, onCreate) || len(diags) != 1 {
		t.Fatalf("recorded %v, tainted %v, diagnostics %v", recorded(refused), tainted(refused, onCreate), diags)
	}
	d := diags[0].Detail()
	for _, want := range []string{"was not sent: the record this resource replaced requested a restart of exactly these nodes at 2026-12-05T06:00:00Z", "the log could not be read",
		"Nothing was sent, yet the record is saved in state", "Terraform marks it tainted"} {
		if diags[0].Summary() != "Restart Not Sent" || !strings.Contains(d, want) {
			t.Errorf("summary %q, detail lacks %q:\n%s", diags[0].Summary(), want, d)
		}
	}
	if strings.Contains(d, "jobs sent") {
		t.Errorf("the detail claims jobs were sent:\n%s", d)
	}
	cancelled := rollout.Result{Batches: carried, End: rollout.Cancelled}
	diags = report(cancelled, spec, onCreate, func(s string) string { return s })
	if !tainted(cancelled, onCreate) || len(diags) != 1 || diags[0].Severity() != diag.SeverityError || diags[0].Summary() != "Restart Cancelled" ||
		!strings.Contains(diags[0].Detail(), "the replacement takes up the restart where it stopped: It sends batch 1") {
		t.Fatalf("diagnostics %v", diags)
	}
}

// An adopted job beside others of its window names them without claiming
// whose they are: one may be another tool's, or an older record's of these
// very nodes, and one may be the request's own.
func TestAdoptedJobNamesTheOthersOfItsWindow(t *testing.T) {
	spec := rollout.Spec{ClusterID: "ehpc-x", Zone: "jn1a", Wait: true}
	batches := []rollout.Batch{{Nodes: []string{"cln-a"}, Status: ehpc.JobSuccessful, JobID: "j-new", Earlier: []string{"j-a", "j-b"}}}
	for _, tc := range []struct {
		others []string
		want   string
	}{
		{nil, "it was adopted as this restart."},
		{[]string{"j-a"}, "it was adopted as this restart. Job j-a restarted exactly these nodes in that time too: a restart this record did not know of (another tool's, or that of a record older than the one it replaced). Any of these jobs may be this request's"},
		{[]string{"j-a", "j-b"}, "it was adopted as this restart. Jobs j-a, j-b restarted exactly these nodes"},
	} {
		res := rollout.Result{Batches: batches, End: rollout.Done, Notes: []rollout.Note{{JobID: "j-new", Adopted: true, Reason: "its answer was lost", Others: tc.others}}}
		diags := report(res, spec, onCreate, func(s string) string { return s })
		if len(diags) == 0 || diags[0].Summary() != "Restart Job Adopted From Operation Log" {
			t.Fatalf("diagnostics %v", diags)
		}
		d := strings.Join(strings.Fields(diags[0].Detail()), " ")
		if !strings.Contains(d, tc.want) || strings.HasSuffix(d, " ") || (tc.others == nil && strings.Contains(d, "in that time too")) {
			t.Errorf("others %v: detail lacks %q:\n%s", tc.others, tc.want, d)
		}
	}
}
