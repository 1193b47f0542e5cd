package ehpc_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// RestartNodesOnce must end every ambiguous restart with exactly one restart (the
// simulator's counters prove it) or an error that says the outcome is unknown.
func TestRestartNodesOnce(t *testing.T) {
	nodes := []string{"cln-cmp00002", "cln-cmp00001"}
	settle := func(c *ehpc.Config) {
		c.SettleWindow = 300 * time.Millisecond
		c.RequestTimeout = 500 * time.Millisecond
	}
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
		{name: "5100 twice: retried, no reconciliation", faults: []ehpcsim.Fault{{RetCode: 5100, Count: 2}}, posts: 3, restarts: 1},
		{name: "429 with Retry-After: retried", faults: []ehpcsim.Fault{{HTTPStatus: http.StatusTooManyRequests, RetryAfter: "1"}}, posts: 2, restarts: 1},
		{
			name:   "ambiguous twice, no job either time: unknown",
			faults: []ehpcsim.Fault{{Drop: true}, {HTTPStatus: http.StatusBadGateway}},
			posts:  2, restarts: 0, errText: "sent again after",
		},
		{
			name:    "operation log unreadable: unknown, never resent",
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
			c := h.client(settle)
			res, err := c.RestartNodesOnce(testCtx(t), simZone, simCluster, nodes)

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
				if u.SentAt.IsZero() {
					t.Fatal("the error must carry when the request was sent")
				}
				return
			}
			if err != nil {
				t.Fatalf("RestartNodesOnce: %v", err)
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
		})
	}
}

// A restart of the same nodes from before this request must not be mistaken for
// this request's job, and two matching jobs are refused rather than guessed.
func TestRestartNodesOnceIgnoresOlderAndAmbiguousJobs(t *testing.T) {
	t.Run("older job of the same nodes is not adopted", func(t *testing.T) {
		clock := time.Now()
		h := newHarness(t, ehpcsim.Options{Now: func() time.Time { return clock }})
		c := h.client(func(c *ehpc.Config) {
			c.SettleWindow = 200 * time.Millisecond
			c.Now = func() time.Time { return clock }
		})
		if _, err := c.RestartNodes(testCtx(t), simZone, simCluster, []string{"cln-cmp00003"}); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(10 * time.Minute) // the first job is long finished
		h.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true})
		res, err := c.RestartNodesOnce(testCtx(t), simZone, simCluster, []string{"cln-cmp00003"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Adopted || !res.Resent {
			t.Fatalf("adopted=%v resent=%v: the old job must not be adopted", res.Adopted, res.Resent)
		}
		if n := h.sim.Restarts("cln-cmp00003"); n != 2 {
			t.Fatalf("restarts = %d, want 2 (the earlier one and this one)", n)
		}
	})
	t.Run("a 1400 on the resend means the first took effect", func(t *testing.T) {
		sim := ehpcsim.New(ehpcsim.Options{JobDuration: time.Minute})
		sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true, AfterEffect: true})
		// An operation log that lags: it lists nothing until the resend has
		// been refused, as a real log might right after a restart.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == ehpc.PathOperations && sim.Requests(ehpc.PathRestartNodes) < 2 {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"action":"HpcOperationListOperationResponse","ret_code":0,"total_count":0,"job_set":[]}`))
				return
			}
			sim.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		h := &harness{t: t, sim: sim, srv: srv}
		c := h.client(func(c *ehpc.Config) { c.SettleWindow = 200 * time.Millisecond })
		res, err := c.RestartNodesOnce(testCtx(t), simZone, simCluster, []string{"cln-cmp00004"})
		if err != nil {
			t.Fatalf("RestartNodesOnce: %v", err)
		}
		if !res.Adopted {
			t.Fatalf("want the job adopted after the 1400, got %+v", res)
		}
		if n := h.sim.Restarts("cln-cmp00004"); n != 1 {
			t.Fatalf("restarts = %d, want 1", n)
		}
		if n := h.sim.Requests(ehpc.PathRestartNodes); n != 2 {
			t.Fatalf("restart POSTs = %d, want 2 (the lost one and the resend refused with 1400)", n)
		}
	})
}
