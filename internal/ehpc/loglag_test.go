package ehpc_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
	"github.com/qingcloud/terraform-provider-hpc/internal/jobwatch"
	"github.com/qingcloud/terraform-provider-hpc/internal/memnet"
)

// These tests run on fake time (a synctest bubble, the simulator on an
// in-memory network), with the documented bounds unshortened: a 60 s lease,
// a 6 s log lag, a 25 s clock margin; and a log that lags 45 s, as measured
// in issue #31 to double-restart 6 torture seeds in 1,000.
const slowLogLag = 45 * time.Second

// lateLoss is a restart request whose connection drops at once and that the
// API processes 55 s later, still inside its 60 s lease: its job is created
// at the end of the lease, and a 45 s lag shows it 100 s after the send,
// past the 91 s the documented bounds wait.
var lateLoss = ehpcsim.Fault{Drop: true, LateEffect: 55 * time.Second}

// inBubble runs f with a client of a simulator whose log lags lag, both on
// the bubble's fake time.
func inBubble(t *testing.T, lag time.Duration, f func(t *testing.T, sim *ehpcsim.Simulator, c *ehpc.Client, warns *logRecorder)) {
	synctest.Test(t, func(t *testing.T) {
		// Jobs end 5 s after they start and the nodes are back at once, so a
		// restart sent again after a wrong "no job" is accepted: a double
		// restart, not a refusal.
		sim := ehpcsim.New(ehpcsim.Options{OperationLogLag: lag, JobDuration: 5 * time.Second})
		net := memnet.New()
		srv := &http.Server{Handler: sim}
		go func() { _ = srv.Serve(net) }()
		defer func() { // also after a t.Fatal: the bubble ends only once its goroutines have
			net.Close()
			_ = srv.Close()
		}()
		warns := &logRecorder{}
		c := newClient(t, "http://127.0.0.1:80", nil, func(cfg *ehpc.Config) {
			cfg.HTTPClient = net.Client()
			cfg.Warn = warns.log
		})
		f(t, sim, c, warns)
	})
}

// waitForJob follows job id the way the provider does (the coalescing
// poller, on its default schedule) until the log shows it.
func waitForJob(t *testing.T, c *ehpc.Client, id string) {
	t.Helper()
	p := jobwatch.New(c, jobwatch.Options{Clock: c.Clock()})
	w := p.Watch(context.Background(), simZone, simCluster, jobwatch.Target{JobID: id, Nodes: 1})
	defer func() { w.Stop(); p.Wait() }()
	timeout := time.After(10 * time.Minute)
	for {
		select {
		case ch := <-w.C:
			if ch.Found {
				return
			}
		case <-timeout:
			t.Fatalf("job %s never appeared in the log", id)
		}
	}
}

// A log that lags 45 s, seen on one restart of this client whose answer
// arrived, widens the settling of a later lost answer: its job, made at the
// end of the lease and listed 100 s after the send, is adopted, not taken
// for "no job" at 91 s and sent again.
func TestSettleWaitsForTheLogLagMeasured(t *testing.T) {
	inBubble(t, slowLogLag, func(t *testing.T, sim *ehpcsim.Simulator, c *ehpc.Client, warns *logRecorder) {
		ctx := context.Background()
		first, err := c.RestartNodes(ctx, simZone, simCluster, []string{"cln-cmp00001"})
		if err != nil {
			t.Fatal(err)
		}
		waitForJob(t, c, first.JobID)
		l := c.LogLag()
		if l.Measured < 40*time.Second || l.Measured > slowLogLag || l.Used != 2*l.Measured || l.JobID != first.JobID {
			t.Fatalf("measured %+v; want a lag between 40 s and the log's 45 s, on job %s, allowed twice over", l, first.JobID)
		}
		if text := warns.text(); !strings.Contains(text, "before it decides that a request whose answer was lost made no job") ||
			!strings.Contains(text, "assumed_log_lag=6s") || !strings.Contains(text, "measured_log_lag="+l.Measured.Round(time.Second).String()) {
			t.Errorf("the measured lag must be told with the assumed one and what the provider does about it:\n%s", text)
		}

		sim.InjectFault(ehpc.PathRestartNodes, lateLoss)
		res, err := c.RestartOnce(ctx, simZone, simCluster, []string{"cln-cmp00002"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if n := sim.Restarts("cln-cmp00002"); n != 1 || !res.Adopted || res.Resent {
			t.Fatalf("cln-cmp00002 restarted %d times (adopted=%v, resent=%v): the lost request's job must be adopted, not sent again", n, res.Adopted, res.Resent)
		}
		if n := sim.Requests(ehpc.PathRestartNodes); n != 2 {
			t.Errorf("%d restart requests, want 2 (one per restart)", n)
		}
	})
}

// Without a measurement the documented lag applies: a lost answer is decided
// 60 + 6 + 25 s after the send, not later, and no warning is given. (So the
// same late request is resent, the case the guide says is unprotected: the
// lag is first seen on the request whose answer is lost.)
func TestSettleWithoutMeasurementUsesTheDocumentedLag(t *testing.T) {
	for _, tc := range []struct {
		name string
		lag  time.Duration
	}{{"log in time", 0}, {"slow log never measured", slowLogLag}} {
		t.Run(tc.name, func(t *testing.T) {
			inBubble(t, tc.lag, func(t *testing.T, sim *ehpcsim.Simulator, c *ehpc.Client, warns *logRecorder) {
				sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Drop: true})
				start := time.Now()
				res, err := c.RestartOnce(context.Background(), simZone, simCluster, []string{"cln-cmp00001"}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !res.Resent {
					t.Fatalf("%+v: a request dropped before the API saw it must be sent again", res)
				}
				if resent := res.Request.SentAt.Sub(start.Truncate(time.Second)); resent < 91*time.Second || resent > 93*time.Second {
					t.Errorf("sent again %s after the first request; want the documented 60 s + 6 s + 25 s", resent)
				}
				if l := c.LogLag(); l.Measured != 0 || l.Used != 6*time.Second || l.Widened() {
					t.Errorf("%+v: nothing was measured, the documented 6 s applies", l)
				}
				if text := warns.text(); text != "" {
					t.Errorf("no warning without a measurement:\n%s", text)
				}
			})
		})
	}
}

// A log in time measures no lag worth telling: jobs that appear within the
// assumed bound leave the settle's wait as documented.
func TestLogLagWithinTheAssumedOneChangesNothing(t *testing.T) {
	inBubble(t, 2*time.Second, func(t *testing.T, _ *ehpcsim.Simulator, c *ehpc.Client, warns *logRecorder) {
		res, err := c.RestartNodes(context.Background(), simZone, simCluster, []string{"cln-cmp00001"})
		if err != nil {
			t.Fatal(err)
		}
		waitForJob(t, c, res.JobID)
		if l := c.LogLag(); l.Measured == 0 || l.Measured > 2*time.Second || l.Used != 6*time.Second {
			t.Errorf("%+v: a lag of at most 2 s measured, and the documented 6 s still applies", l)
		}
		if text := warns.text(); text != "" {
			t.Errorf("no warning for a log within its bound:\n%s", text)
		}
	})
}
