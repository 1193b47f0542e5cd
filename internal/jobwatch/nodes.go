package jobwatch

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
)

// Node watches. A restart job's success means the machines were restarted,
// not that the nodes are back: they boot, and their health check must pass
// (API.md, "Node state and health"). A node watch follows a set of nodes of a
// cluster until they are in service, with the same discipline as a job watch:
// every node watch of the cluster that is due at a tick is answered from ONE
// look at the cluster's nodes, whatever the number of batches and resources
// waiting. A look reads only the windows of the cluster's list that hold the
// watched nodes (ehpc.Client.LookupNodes), placed by where the Poller's
// earlier looks at the cluster saw them (one ehpc.NodeIndex per cluster, kept
// with its history), so it costs the same in a cluster of 40 nodes and of
// 2000; a node gone from the cluster fails the watches that follow it, by
// name, and no other. It is paced by the same Schedule, from
// the end of the nodes' restart job; and a tick that sees one watch's nodes
// all in service looks again soon for the others (the burst look).
//
// The Poller learns boot times, as it learns job durations, but from its own
// node watches, since no field of the API dates a node's return to health:
// each watch whose nodes it saw all in service gives the interval between the
// last check that saw one out of service and the first that saw none, counted
// from the job's end. The estimate's Lo and Hi are the 10th percentile of
// those intervals' starts and the 90th of their ends, so the dense checks of
// the next watch fall in the window where nodes came back, and it narrows
// with every batch. The same three-sample rule as for jobs keeps the newest
// twenty per cluster.

// NodesTarget is the nodes a node watch follows.
type NodesTarget struct {
	// IDs are the nodes, all of which must be in service.
	IDs []string
	// Since is when their restart job ended, on the Poller's clock: the boot
	// estimate counts from it. Zero means now.
	Since time.Time
}

// WatchNodes starts following nodes of clusterID in zone until the caller has
// seen enough (see Want for the checks a minimum healthy time needs), then
// Stop. Each check carries the nodes as listed (Check.Nodes) or the error of
// the listing.
func (p *Poller) WatchNodes(ctx context.Context, zone, clusterID string, t NodesTarget) *Watch {
	now := p.opts.Clock.Now()
	w := &Watch{ch: make(chan Check, 1), p: p, nodeIDs: slices.Clone(t.IDs), nodes: len(t.IDs), joined: now, origin: now}
	if w.nodeIDs == nil {
		w.nodeIDs = []string{}
	}
	if !t.Since.IsZero() && t.Since.Before(now) {
		w.origin = t.Since
	}
	w.C = w.ch
	p.join(ctx, w, groupKey{zone, clusterID})
	return w
}

// Want asks for w's next check at at, instead of when its schedule puts it:
// a health gate confirming that nodes stayed in service for its minimum
// healthy time asks for the checks that time needs. The check is not answered
// early by another watch's tick.
func (w *Watch) Want(at time.Time) {
	p := w.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := w.g.waiters[w]; !ok {
		return
	}
	w.next = slot{at: at, guided: true}
	w.finished = false
	w.g.poke()
}

// checkNodes answers the node watches in ws from one look at the cluster's
// nodes, into results, and learns from those it sees come back.
func (p *Poller) checkNodes(g *group, ws []*Watch, results map[*Watch]Check) {
	if len(ws) == 0 {
		return
	}
	var ids []string
	for _, w := range ws {
		ids = append(ids, w.nodeIDs...)
	}
	nodes, err := p.src.LookupNodes(g.ctx, g.key.cluster, ehpc.NodeFilter{Zone: g.key.zone}, ids, p.nodeIndex(g.key))
	now := p.opts.Clock.Now()
	byID := make(map[string]ehpc.Node, len(nodes))
	for _, n := range nodes {
		byID[n.NodeID] = n
	}
	var gone *ehpc.NodesGoneError
	if errors.As(err, &gone) {
		err = nil // only the watches of the gone nodes fail
	}
	for _, w := range ws {
		if err != nil {
			results[w] = Check{Err: err}
			continue
		}
		if lost := goneOf(gone, w.nodeIDs); lost != nil {
			results[w] = Check{Err: lost}
			continue
		}
		c := Check{Nodes: make([]ehpc.Node, 0, len(w.nodeIDs))}
		for _, id := range w.nodeIDs {
			if n, ok := byID[id]; ok {
				c.Nodes = append(c.Nodes, n)
			}
		}
		results[w] = c
		if !allInService(w.nodeIDs, c) {
			w.outSeen = now
			continue
		}
		if !w.outSeen.IsZero() {
			p.learnBoot(g.key, w.outSeen.Sub(w.origin), now.Sub(w.origin))
			w.outSeen = time.Time{} // one sample a watch: later checks confirm, they do not time a boot
		}
	}
}

// goneOf is gone narrowed to the nodes of ids, or nil when none of them is
// gone.
func goneOf(gone *ehpc.NodesGoneError, ids []string) error {
	if gone == nil {
		return nil
	}
	var lost []string
	for _, id := range gone.IDs {
		if slices.Contains(ids, id) {
			lost = append(lost, id)
		}
	}
	if lost == nil {
		return nil
	}
	return &ehpc.NodesGoneError{ClusterID: gone.ClusterID, IDs: lost}
}

// nodeIndex is where the Poller's looks saw the nodes of cluster k.
func (p *Poller) nodeIndex(k groupKey) *ehpc.NodeIndex {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.historyLocked(k).nodes
}

// LookupNodes is one look at nodes of clusterID outside any watch (a check
// before a rollout), from the windows where the Poller's looks saw them, so
// that it costs a window and teaches the gate's first look where they are.
func (p *Poller) LookupNodes(ctx context.Context, zone, clusterID string, ids []string) ([]ehpc.Node, error) {
	return p.src.LookupNodes(ctx, clusterID, ehpc.NodeFilter{Zone: zone}, ids, p.nodeIndex(groupKey{zone, clusterID}))
}

// allInService reports whether c shows every one of ids in service.
func allInService(ids []string, c Check) bool {
	return c.Err == nil && ehpc.InServiceOf(ids, c.Nodes) == len(ids)
}

func (p *Poller) learnBoot(k groupKey, lo, hi time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.historyLocked(k).boots.add(boot{lo: max(lo, 0), hi: hi})
}

// BootEstimate is what the Poller has learned of how long nodes of clusterID
// take, from the end of their restart job, to be in service.
func (p *Poller) BootEstimate(zone, clusterID string) Estimate {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.estimateForLocked(groupKey{zone, clusterID}, &Watch{nodeIDs: []string{}})
}

// boot is one watch's return to service: between lo and hi after its job
// ended.
type boot struct{ lo, hi time.Duration }

// boots keeps the newest keepSamples returns to service.
type boots struct{ b []boot }

func (bs *boots) add(b boot) {
	if len(bs.b) == keepSamples {
		bs.b = bs.b[1:] // added in time order: the first is the oldest
	}
	bs.b = append(bs.b, b)
}

func (bs *boots) estimate() Estimate {
	if len(bs.b) == 0 {
		return Estimate{}
	}
	var los, his, mids []time.Duration
	for _, b := range bs.b {
		los, his, mids = append(los, b.lo), append(his, b.hi), append(mids, (b.lo+b.hi)/2)
	}
	return Estimate{Lo: percentile(los, 0.1), Mid: percentile(mids, 0.5), Hi: percentile(his, 0.9), Samples: len(bs.b)}
}
