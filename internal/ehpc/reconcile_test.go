package ehpc_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// RestartOnce must end every ambiguous restart with exactly one restart (the
// simulator's counters prove it) or an error that says the outcome is unknown.
func TestRestartOnce(t *testing.T) {
	nodes := []string{"cln-cmp00002", "cln-cmp00001"}
	shortTimeout := func(c *ehpc.Config) { c.RequestTimeout = 500 * time.Millisecond }
	cases := []struct {
		name    string
		faults  []ehpcsim.Fault
		opFault *ehpcsim.Fault
		adopted bool
		resent  bool
		posts   int
		// restarts is how often each node restarted; errText, when set, is
		// what the error must say instead of succeeding.
		restarts int
		errText  string
	}{
		{name: "plain success", posts: 1, restarts: 1},
		{name: "dropped after processing: adopted", faults: []ehpcsim.Fault{{Drop: true, AfterEffect: true}}, adopted: true, posts: 1, restarts: 1},
		{name: "dropped before processing: sent again", faults: []ehpcsim.Fault{{Drop: true}}, resent: true, posts: 2, restarts: 1},
		{name: "slower than the client timeout, processed: adopted", faults: []ehpcsim.Fault{{Delay: 2 * time.Second, AfterEffect: true}}, adopted: true, posts: 1, restarts: 1},
		{name: "5000 after processing: adopted", faults: []ehpcsim.Fault{{RetCode: 5000, AfterEffect: true}}, adopted: true, posts: 1, restarts: 1},
		{name: "HTML 502 before processing: sent again", faults: []ehpcsim.Fault{{HTTPStatus: http.StatusBadGateway}}, resent: true, posts: 2, restarts: 1},
		{name: "truncated body after processing: adopted", faults: []ehpcsim.Fault{{Truncate: true, AfterEffect: true}}, adopted: true, posts: 1, restarts: 1},
		{name: "5100 twice: retried, no settling", faults: []ehpcsim.Fault{{RetCode: 5100, Count: 2}}, posts: 3, restarts: 1},
		{name: "429 with Retry-After: retried", faults: []ehpcsim.Fault{{HTTPStatus: http.StatusTooManyRequests, RetryAfter: "1"}}, posts: 2, restarts: 1},
		{name: "lost twice, no job either time: sent a third time", faults: []ehpcsim.Fault{{Drop: true}, {HTTPStatus: http.StatusBadGateway}}, resent: true, posts: 3, restarts: 1},
		{
			name:   "lost three times, no job ever: unknown, not sent a fourth time",
			faults: []ehpcsim.Fault{{Drop: true}, {Drop: true}, {Drop: true}},
			posts:  3, restarts: 0, errText: "all lost their answers",
		},
		{
			name:    "operation log refuses the key: unknown at once, never resent",
			faults:  []ehpcsim.Fault{{Drop: true, AfterEffect: true}},
			opFault: &ehpcsim.Fault{RetCode: 1200, Count: 10},
			posts:   1, restarts: 1, errText: "operation log could not be read",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, ehpcsim.Options{JobDuration: time.Minute})
			for _, f := range tc.faults {
				h.sim.InjectFault(ehpc.PathRestartNodes, f)
			}
			if tc.opFault != nil {
				h.sim.InjectFault(ehpc.PathOperations, *tc.opFault)
			}
			res, err := h.client(shortTimeout).RestartOnce(testCtx(t), simZone, simCluster, nodes, nil)

			if got := h.sim.Requests(ehpc.PathRestartNodes); got != tc.posts {
				t.Errorf("restart POSTs = %d, want %d", got, tc.posts)
			}
			for _, n := range nodes {
				if got := h.sim.Restarts(n); got != tc.restarts {
					t.Errorf("%s restarted %d times, want %d", n, got, tc.restarts)
				}
			}
			if tc.errText != "" {
				var u *ehpc.UnknownOutcomeError
				if !errors.As(err, &u) {
					t.Fatalf("err = %v (%T), want *UnknownOutcomeError", err, err)
				}
				if !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("error %q does not say %q", err, tc.errText)
				}
				if u.Request.SentAt.IsZero() || u.Request.Until.IsZero() {
					t.Fatalf("the error must carry when the request was sent and where its job may lie: %+v", u.Request)
				}
				return
			}
			if err != nil {
				t.Fatalf("RestartOnce: %v", err)
			}
			jobs := h.sim.Jobs()
			if len(jobs) != 1 || res.JobID != jobs[0].ID {
				t.Fatalf("job id %q, simulator jobs %+v", res.JobID, jobs)
			}
			if res.Adopted != tc.adopted || res.Resent != tc.resent {
				t.Fatalf("adopted=%v resent=%v, want %v %v", res.Adopted, res.Resent, tc.adopted, tc.resent)
			}
			if res.Adopted && res.AdoptedReason == "" {
				t.Fatal("an adopted job must say what was lost")
			}
			if res.Request.SentAt.IsZero() {
				t.Fatal("the result must say when the request that made the job was sent")
			}
		})
	}
}

// Nothing is decided before the API can no longer process the request: a
// request processed late, and a log that shows its job late, are both found,
// and the restart is sent again only after that point.
func TestRestartOnceDecidesOnlyAfterTheLease(t *testing.T) {
	// A 4 s lease: the timestamp is in whole seconds, so a request processed
	// 1.5 s after it arrived may carry one 2.5 s old.
	h := newHarness(t, ehpcsim.Options{OperationLogLag: 300 * time.Millisecond, JobDuration: time.Minute, TimestampValidity: 4 * time.Second})
	h.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, LateEffect: 1500 * time.Millisecond})
	start := time.Now()
	res, err := h.client().RestartOnce(testCtx(t), simZone, simCluster, []string{"cln-cmp00001"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Adopted || h.sim.Restarts("cln-cmp00001") != 1 || h.sim.Requests(ehpc.PathRestartNodes) != 1 {
		t.Fatalf("adopted=%v, restarts=%d, POSTs=%d; want the late job adopted and nothing sent again", res.Adopted, h.sim.Restarts("cln-cmp00001"), h.sim.Requests(ehpc.PathRestartNodes))
	}
	if took := time.Since(start); took < 4*time.Second {
		t.Errorf("settled after %s, before the 4 s lease ended", took)
	}
}

// A restart of the same nodes from before this request must not be mistaken for
// this request's job, and one refused as busy after a lost answer is never
// taken for "not sent".
func TestRestartOnceIgnoresOlderJobsAndBusyResends(t *testing.T) {
	t.Run("older job of the same nodes is not adopted", func(t *testing.T) {
		h := newHarness(t, ehpcsim.Options{})
		past := h.sim.AddPastJob(simCluster, []string{"cln-cmp00003"}, h.sim.Now().Add(-10*time.Minute), "successful")
		h.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true})
		res, err := h.client().RestartOnce(testCtx(t), simZone, simCluster, []string{"cln-cmp00003"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.JobID == past || res.Adopted || !res.Resent {
			t.Fatalf("job %s adopted=%v resent=%v: the old job %s must not be adopted", res.JobID, res.Adopted, res.Resent, past)
		}
	})
	t.Run("a job the caller recorded is not adopted", func(t *testing.T) {
		h := newHarness(t, ehpcsim.Options{})
		mine := h.sim.AddPastJob(simCluster, []string{"cln-cmp00003"}, h.sim.Now(), "failed")
		h.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true})
		res, err := h.client().RestartOnce(testCtx(t), simZone, simCluster, []string{"cln-cmp00003"}, []string{mine})
		if err != nil {
			t.Fatal(err)
		}
		if res.JobID == mine || !res.Resent {
			t.Fatalf("job %s resent=%v: the recorded job %s must not be adopted", res.JobID, res.Resent, mine)
		}
	})
	t.Run("a 1400 on the resend keeps the lost request's outcome unknown", func(t *testing.T) {
		sim := ehpcsim.New(ehpcsim.Options{JobDuration: time.Minute, TimestampValidity: testLease(0)})
		sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, AfterEffect: true})
		// An operation log that lags past its documented bound: it lists
		// nothing until the resend has been refused.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == ehpc.PathOperations && sim.Requests(ehpc.PathRestartNodes) < 2 {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"action":"HpcOperationListOperationResponse","ret_code":0,"total_count":0,"job_set":[]}`))
				return
			}
			sim.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		h := &harness{t: t, sim: sim, srv: srv, lease: testLease(0)}
		_, err := h.client().RestartOnce(testCtx(t), simZone, simCluster, []string{"cln-cmp00004"}, nil)
		var u *ehpc.UnknownOutcomeError
		if !errors.As(err, &u) || ehpc.RetCode(errors.Unwrap(u)) != ehpc.CodePermissionDenied || !strings.Contains(err.Error(), "ret_code 1400") {
			t.Fatalf("err = %v, want the lost request's unknown outcome, naming the 1400", err)
		}
		if n := h.sim.Restarts("cln-cmp00004"); n != 1 {
			t.Fatalf("restarts = %d, want 1", n)
		}
	})
}

// Ctrl-C while a lost answer settles ends the call at once, with the request
// to settle later: nothing is sent again, and nothing waits out the lease.
func TestInterruptedSettleEndsAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault ehpcsim.Fault
		jobs  int
	}{
		{"processed", ehpcsim.Fault{Delay: 5 * time.Second, AfterEffect: true}, 1},
		{"not processed", ehpcsim.Fault{Delay: 5 * time.Second}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, ehpcsim.Options{JobDuration: time.Minute, TimestampValidity: 20 * time.Second})
			h.sim.InjectFault(ehpc.PathRestartNodes, tc.fault)
			ctx, cancel := context.WithCancel(testCtx(t))
			time.AfterFunc(300*time.Millisecond, cancel)
			start := time.Now()
			_, err := h.client().RestartOnce(ctx, simZone, simCluster, []string{"cln-cmp00004"}, nil)
			var u *ehpc.UnknownOutcomeError
			if !errors.As(err, &u) || !strings.Contains(err.Error(), "cancelled") {
				t.Fatalf("err = %v, want an unknown outcome that says the apply was cancelled", err)
			}
			if u.Request.SentAt.IsZero() || u.Request.Until.IsZero() {
				t.Errorf("the error must carry the request to settle later: %+v", u.Request)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("the interrupted restart took %s; it must end at once", d)
			}
			if n := h.sim.Requests(ehpc.PathRestartNodes); n != 1 {
				t.Errorf("restart POSTs = %d, want 1", n)
			}
			time.Sleep(5 * time.Second) // the delayed request ends
			if n := len(h.sim.Jobs()); n != tc.jobs {
				t.Errorf("%d jobs, want %d", n, tc.jobs)
			}
		})
	}
}

// A request recorded without its send time (by an earlier release) is not
// said to have been sent in year 1 (issue #18, defect 6).
func TestUnknownOutcomeWithoutSendTime(t *testing.T) {
	err := &ehpc.UnknownOutcomeError{ClusterID: simCluster, NodeIDs: []string{"cln-cmp00001"}, Err: errors.New("lost")}
	if msg := err.Error(); strings.Contains(msg, "0001-01-01") || !strings.Contains(msg, "sent in an earlier apply") {
		t.Fatalf("%s", msg)
	}
}
