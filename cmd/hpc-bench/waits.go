package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// historySize is how many earlier restarts the log of a cluster "in use"
// holds: as many as the provider keeps to estimate from.
const historySize = 20

// site adds a cluster with enough nodes for every case, named after name,
// whose operation log holds history earlier restarts of one node, lasting
// the job duration ± spread, ten minutes apart and done by now.
func (b *bench) site(name string, history int, spread float64) site {
	b.sites++
	s := site{cluster: "ehpc-b" + name, prefix: fmt.Sprintf("cln-%c", 'c'+b.sites)}
	c := ehpcsim.Cluster{ID: s.cluster, Zone: ehpcsim.DemoZone}
	rollingN, _ := b.cfg.rollingShape()
	for i := range max(b.cfg.longN, rollingN) {
		c.Nodes = append(c.Nodes, ehpcsim.Node{ID: s.node(i), Role: "compute"})
	}
	b.sim.AddCluster(c)
	now := b.sim.Now()
	for i := range history {
		took := time.Duration(float64(b.cfg.longJob) * (1 + spread*(2*rand.Float64()-1)))
		b.sim.AddPastRestart(s.cluster, []string{s.node(i % len(c.Nodes))}, now.Add(-time.Duration(history-i)*10*time.Minute), took)
	}
	return s
}

// waitCase is one apply of n resources of one node each, waiting for jobs
// of job (± spread), at -parallelism.
type waitCase struct {
	key     string // how the targets find it
	history string // what the cluster's log held before the case
	job     time.Duration
	spread  float64
	n       int
	par     int

	wall     time.Duration
	requests int
	lags     []time.Duration // from each job's end to Terraform reporting its resource complete
}

func (w waitCase) perRestart() float64 { return float64(w.requests) / float64(w.n) }

// waits measures what waiting for restart jobs costs, on a cluster whose log
// holds no restart (the provider's first apply on it) and on clusters in
// use, whose log holds earlier restarts of the same duration. Within a
// site, the cases run in order, so later ones also find the earlier ones'
// restarts in the log, as the waves of one apply find each other's.
func (b *bench) waits(ctx context.Context, r *report) error {
	j, n := b.cfg.longJob, b.cfg.longN
	none, inUse, varied := "none", fmt.Sprintf("%d restarts of %v", historySize, j), fmt.Sprintf("%d restarts of %v ± 30%%", historySize, j)
	use := b.site("use", historySize, 0)
	plan := []struct {
		s site
		c waitCase
	}{
		{b.site("new1", 0, 0), waitCase{key: "new-all", history: none, job: j, n: n, par: n}},
		{b.site("new2", 0, 0), waitCase{key: "new-10", history: none, job: j, n: n, par: 10}},
		{b.site("new3", 0, 0), waitCase{key: "new-half", history: none, job: j / 2, n: 1, par: 1}},
		{b.site("new4", 0, 0), waitCase{key: "new-twice", history: none, job: 2 * j, n: 1, par: 1}},
		{b.site("new5", 0, 0), waitCase{key: "new-spread", history: none, job: j, spread: 0.3, n: n, par: n}},
		{use, waitCase{key: "use-lone", history: inUse, job: j, n: 1, par: 1}},
		{use, waitCase{key: "use-all", history: inUse + ", and the case above", job: j, n: n, par: n}},
		{use, waitCase{key: "use-10", history: inUse + ", and the cases above", job: j, n: n, par: 10}},
		{use, waitCase{key: "use-half", history: inUse + ", and the cases above", job: j / 2, n: 1, par: 1}},
		{use, waitCase{key: "use-twice", history: inUse + ", and the cases above", job: 2 * j, n: 1, par: 1}},
		{b.site("vary", historySize, 0.3), waitCase{key: "use-spread", history: varied, job: j, spread: 0.3, n: n, par: n}},
	}
	for _, p := range plan {
		c := p.c
		if err := b.wait(ctx, p.s, &c); err != nil {
			return fmt.Errorf("waiting case %s: %w", c.key, err)
		}
		fmt.Fprintf(b.log, "%s: N=%d, %v jobs ± %.0f%%, -parallelism=%d: %d requests, lag median %v, %v\n",
			c.key, c.n, c.job, 100*c.spread, c.par, c.requests, median(c.lags).Round(time.Millisecond), c.wall.Round(time.Millisecond))
		r.waits = append(r.waits, c)
	}
	return nil
}

// wait applies c on s, and reads each job's end from the simulator.
func (b *bench) wait(ctx context.Context, s site, c *waitCase) error {
	b.sim.SetJobDuration(c.job)
	b.sim.SetJobDurationSpread(c.spread)
	defer b.sim.SetJobDuration(0)
	defer b.sim.SetJobDurationSpread(0)
	dir, err := b.dir("wait-"+c.key, s, kindHPCWait, c.n)
	if err != nil {
		return err
	}
	res, err := b.apply(ctx, dir, c.par)
	if err != nil {
		return err
	}
	c.wall, c.requests = res.wall, res.requests
	for id, done := range res.done {
		j, ok := b.sim.Job(id)
		if !ok || j.Ended.IsZero() {
			return fmt.Errorf("resource %s: the simulator has no finished job of that id", id)
		}
		c.lags = append(c.lags, done.Sub(j.Ended))
	}
	if len(c.lags) != c.n {
		return fmt.Errorf("%d of %d resources reported complete", len(c.lags), c.n)
	}
	return nil
}

// waitCaseBy is the case of that key, if it ran.
func (r report) waitCaseBy(key string) (waitCase, bool) {
	i := slices.IndexFunc(r.waits, func(w waitCase) bool { return w.key == key })
	if i < 0 {
		return waitCase{}, false
	}
	return r.waits[i], true
}
