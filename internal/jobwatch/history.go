package jobwatch

import (
	"slices"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
)

// Estimate is how long a restart job is expected to take on a cluster, from the
// durations (status_time − create_time) of its newest successful restart jobs:
// Lo, Mid and Hi are their 10th, 50th and 90th percentiles. The zero value
// means there is no history to go by.
type Estimate struct {
	Lo, Mid, Hi time.Duration
	// Samples is how many durations it was drawn from.
	Samples int
}

// keepSamples bounds what one size (and the pool) remembers: the newest
// restarts say most about the cluster as it is now (an image or a boot
// setting changed last week makes older ones wrong), and twenty is enough for
// the 10th and 90th percentiles to skip two outliers on either side.
const keepSamples = 20

// minSizeSamples is how many restarts of exactly a job's node count it takes
// to estimate from them alone. With fewer, every size is pooled: restarting
// more nodes at once takes as long as the slowest of them, which grows with
// the count on a real cluster, but a wrong size is better than no estimate,
// and the schedule's dense window catches the difference.
const minSizeSamples = 3

// history is what one cluster's operation log has shown of finished restarts.
// Failed jobs are left out: a restart that fails tends to fail early (a node
// that refused it) or at a timeout, and says nothing about a successful one.
type history struct {
	bySize map[int]*samples
	all    samples
	// boots are the returns to service the node watches saw (nodes.go).
	boots boots
	// nodes is where the cluster's node list showed each node (nodes.go).
	nodes *ehpc.NodeIndex
}

type sample struct {
	job     string
	created time.Time
	took    time.Duration
}

// samples keeps the newest keepSamples durations by create_time, each job once.
type samples struct{ s []sample }

// add records sm unless its job is already there or it is older than every
// kept sample of a full set (it was seen before and has aged out).
func (ss *samples) add(sm sample) {
	for _, x := range ss.s {
		if x.job == sm.job {
			return
		}
	}
	if len(ss.s) == keepSamples {
		oldest := 0
		for i, x := range ss.s {
			if x.created.Before(ss.s[oldest].created) {
				oldest = i
			}
		}
		if !sm.created.After(ss.s[oldest].created) {
			return
		}
		ss.s = slices.Delete(ss.s, oldest, oldest+1)
	}
	ss.s = append(ss.s, sm)
}

func (ss *samples) estimate() Estimate {
	if len(ss.s) == 0 {
		return Estimate{}
	}
	d := make([]time.Duration, len(ss.s))
	for i, x := range ss.s {
		d[i] = x.took
	}
	return Estimate{Lo: percentile(d, 0.1), Mid: percentile(d, 0.5), Hi: percentile(d, 0.9), Samples: len(d)}
}

// percentile is d's p-th quantile by nearest rank, so that with few samples
// the 10th and 90th are the extremes. It sorts d.
func percentile(d []time.Duration, p float64) time.Duration {
	slices.Sort(d)
	return d[int(p*float64(len(d)-1)+0.5)]
}

// learn takes every finished successful restart among jobs.
func (h *history) learn(jobs []ehpc.Job) {
	for _, j := range jobs {
		n, restart := j.RestartedNodes()
		created, ended := j.CreateTime.Time, j.StatusTime.Time
		if !restart || j.Status != ehpc.JobSuccessful || created.IsZero() || ended.Before(created) {
			continue
		}
		sm := sample{job: j.JobID, created: created, took: ended.Sub(created)}
		if h.bySize == nil {
			h.bySize = map[int]*samples{}
		}
		if h.bySize[n] == nil {
			h.bySize[n] = &samples{}
		}
		h.bySize[n].add(sm)
		h.all.add(sm)
	}
}

// estimate is for a restart of nodes nodes: from restarts of that many nodes
// when there are enough of them, else from every size.
func (h *history) estimate(nodes int) Estimate {
	if ss := h.bySize[nodes]; ss != nil && len(ss.s) >= minSizeSamples {
		return ss.estimate()
	}
	return h.all.estimate()
}
