package rollout

import (
	"context"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/jobwatch"
)

// The health gate. A restart job's success means the machines were
// restarted, not that the nodes are back (API.md, "Node state and health"):
// they boot, and their health check has to pass. So, with a gate, a batch
// whose job succeeded is held until every node of it is in service
// (ehpc.Node.InService), seen so continuously for the gate's minimum healthy
// time, before the next batch is sent; a batch not back within the gate's
// deadline stops the rollout as a failed job does. The gate only reads (the
// shared node watches of jobwatch), so an interrupted gate is taken up
// again by the next apply, from the batch's Gate in the record.

// GateWait is what the gate saw of a batch's nodes.
type GateWait struct {
	// Nodes are the batch's nodes as last listed (a node the listing lacked is
	// missing); Seen says whether a listing was read at all.
	Nodes []ehpc.Node
	Seen  bool
	// Back is how many of the batch's nodes were in service at the last look.
	Back int
	// BackFor is how long all of them have been seen in service, while they are.
	BackFor time.Duration
	// Limit is how long the gate could wait: the gate's deadline, or less of
	// the run's timeout; ByTimeout says the run's timeout set it.
	Limit     time.Duration
	ByTimeout bool
	// Held is set when the run stopped at the gate (NotBack, or Interrupted
	// while the gate waited).
	Held bool
	// LastErr is the last error listing the nodes; Err the one that ended
	// the gate (a permanent one).
	LastErr, Err error
	Elapsed      time.Duration
}

// gate holds batch i at the health gate until its nodes are back in service
// for the gate's minimum healthy time. jobDone is when this run saw the
// batch's job succeed (zero: an earlier apply did); the nodes' boot counts
// from it. It reports how long the gate took, and false when the run stops
// there (NotBack, or Interrupted).
func (e *Engine) gate(ctx context.Context, spec Spec, r *Result, i int, deadline, jobDone time.Time, obs Observer) (time.Duration, bool) {
	clk := e.clock()
	b := &r.Batches[i]
	start := clk.Now()
	g := GateWait{Limit: spec.Gate.Deadline}
	if left := deadline.Sub(start); left < g.Limit {
		g.Limit, g.ByTimeout = max(left, 0), true
	}
	since := jobDone
	if since.IsZero() {
		since = start.Add(-time.Hour) // an earlier apply's job: the nodes may be back long ago
	}
	w := e.Poller.WatchNodes(ctx, spec.Zone, spec.ClusterID, jobwatch.NodesTarget{IDs: b.Nodes, Since: since})
	defer w.Stop()
	timeout := clk.After(g.Limit)
	var backSince time.Time
	stop := func(end End) (time.Duration, bool) {
		g.Held, g.Elapsed = true, clk.Now().Sub(start)
		r.End, r.Gate, r.Err = end, g, g.Err
		return 0, false
	}
	for {
		select {
		case <-ctx.Done():
			return stop(Interrupted)
		case <-timeout:
			return stop(NotBack)
		case c := <-w.C:
			now := clk.Now()
			g.Elapsed = now.Sub(start)
			switch {
			case c.Err != nil && ehpc.Permanent(c.Err):
				g.Err = c.Err
				return stop(NotBack)
			case c.Err != nil:
				// A flaky listing must not stop a rollout whose nodes are
				// coming back; keep it for the final message.
				g.LastErr = c.Err
				continue
			}
			g.Nodes, g.Seen, g.LastErr = c.Nodes, true, nil
			g.Back = ehpc.InServiceOf(b.Nodes, c.Nodes)
			if g.Back < len(b.Nodes) {
				backSince, g.BackFor = time.Time{}, 0
			} else {
				if backSince.IsZero() {
					backSince = now
				}
				g.BackFor = now.Sub(backSince)
			}
			if obs.Gating != nil {
				obs.Gating(i, *b, g)
			}
			if g.Back == len(b.Nodes) && g.BackFor >= spec.Gate.MinHealthy {
				b.Gate = GatePassed
				r.Gate = g
				return max(g.Elapsed, time.Millisecond), true
			}
			if g.Back == len(b.Nodes) {
				// Confirm they stay back: three more looks across the
				// minimum healthy time, the last at its end.
				w.Want(now.Add(min(spec.Gate.MinHealthy/3+time.Millisecond, backSince.Add(spec.Gate.MinHealthy).Sub(now))))
			}
		}
	}
}
