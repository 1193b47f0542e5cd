package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// The health gate at cluster scale (issue #30): what a gated rolling restart
// costs as the cluster grows, with pages of at most 100 nodes (the
// simulator's cap, as the API's). First the same restart, 40 nodes in
// batches of 10, in a cluster of 40 nodes and in one of 2000 (its 40 in the
// middle of the list, so that the gate has to find them); then a full
// rolling restart of clusters of -large-sizes nodes in batches of 50, on
// shortened job and boot times, against its floor: the batches' jobs and
// boots end to end.

const (
	largeSmall   = 40   // the baseline cluster, and how many nodes the pair restarts
	largeBig     = 2000 // the large cluster of the pair
	largeBatch   = 10   // the pair's batch size
	largeFullBat = 50   // the full rollouts' batch size
	largePairJob = 2 * time.Second
	// largeHourly is the provider's default limit: at most 1800 requests in
	// any hour (1500 an hour after a burst of 300).
	largeHourly = 1800
	// largeKeyHourly is what the API allows a key in an hour.
	largeKeyHourly = 2000
)

// largeCase is one gated rolling restart of n nodes of a cluster of size
// nodes, in batches of batch.
type largeCase struct {
	size, n, batch int
	job, boot      time.Duration
	rc             rollingCase
	listNodes      int
}

// floor is what no provider can save: the batches' jobs and boots, end to
// end.
func (lc largeCase) floor() time.Duration {
	return lc.rc.jobTime + time.Duration(lc.rc.batches)*lc.boot
}

// largeSite adds a cluster of n nodes whose ids are random, as the API's
// are ("cln-" and 8 lower-case alphanumerics), so that where a node sits in
// the list cannot be read from its id; it returns them sorted.
func (b *bench) largeSite(name string, n int) (string, []string) {
	cluster := "ehpc-l" + name
	r := rand.New(rand.NewPCG(uint64(n), uint64(len(name))))
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	seen := map[string]bool{}
	c := ehpcsim.Cluster{ID: cluster, Zone: ehpcsim.DemoZone}
	for len(c.Nodes) < n {
		id := []byte("cln-00000000")
		for i := len("cln-"); i < len(id); i++ {
			id[i] = alnum[r.IntN(len(alnum))]
		}
		if seen[string(id)] {
			continue
		}
		seen[string(id)] = true
		c.Nodes = append(c.Nodes, ehpcsim.Node{ID: string(id), Name: fmt.Sprintf("compute-%d", len(c.Nodes)), Role: "compute"})
	}
	b.sim.AddCluster(c)
	ids := make([]string, 0, n)
	for _, node := range c.Nodes {
		ids = append(ids, node.ID)
	}
	slices.Sort(ids)
	return cluster, ids
}

// large runs the pair and the full rollouts.
func (b *bench) large(ctx context.Context, r *report) error {
	for _, size := range []int{largeSmall, largeBig} {
		cluster, ids := b.largeSite(fmt.Sprintf("pair%d", size), size)
		from := (size - largeSmall) / 2
		lc := largeCase{size: size, n: largeSmall, batch: largeBatch, job: largePairJob, boot: largePairJob}
		if err := b.largeRollout(ctx, cluster, ids[from:from+largeSmall], &lc); err != nil {
			return err
		}
		r.largePair = append(r.largePair, lc)
	}
	for _, size := range b.cfg.largeSizes {
		cluster, ids := b.largeSite(fmt.Sprintf("full%d", size), size)
		lc := largeCase{size: size, n: size, batch: largeFullBat, job: b.cfg.largeJob, boot: b.cfg.largeBoot}
		if err := b.largeRollout(ctx, cluster, ids, &lc); err != nil {
			return err
		}
		r.largeFull = append(r.largeFull, lc)
	}
	return nil
}

// largeRollout applies one gated rolling restart of nodes (sorted) of
// cluster, and checks it as the rolling case is checked.
func (b *bench) largeRollout(ctx context.Context, cluster string, nodes []string, lc *largeCase) error {
	b.sim.SetJobDuration(lc.job)
	b.sim.SetBootTime(lc.boot)
	defer b.sim.SetJobDuration(0)
	defer b.sim.SetBootTime(0)
	listed := make([]string, len(nodes))
	for i, id := range nodes {
		listed[len(nodes)-1-i] = fmt.Sprintf("%q", id) // reversed: the provider sorts them
	}
	dir, err := b.writeDir(fmt.Sprintf("large-%d-%d", lc.size, lc.n), b.hpcProvider()+fmt.Sprintf(`
resource "hpc_cluster_node_restart" "rolling" {
  cluster_id  = %q
  node_ids    = [%s]
  rolling     = { batch_size = %d }
  health_gate = { enabled = true }
}
`, cluster, strings.Join(listed, ", "), lc.batch))
	if err != nil {
		return err
	}
	first, listBefore := len(b.sim.Jobs()), b.sim.Requests(ehpc.PathListNodes)
	res, err := b.apply(ctx, dir, b.cfg.parallelism)
	if err != nil {
		return fmt.Errorf("gated rolling restart of %d nodes of a %d-node cluster: %w", lc.n, lc.size, err)
	}
	lc.rc, err = checkRolling(b.sim.Jobs()[first:], nodes, lc.batch)
	if err != nil {
		return fmt.Errorf("gated rolling restart of %d nodes of a %d-node cluster: %w", lc.n, lc.size, err)
	}
	if slices.Min(lc.rc.gaps) < lc.boot-time.Second {
		return fmt.Errorf("gated rolling restart of %d nodes of a %d-node cluster: a batch was sent %v after the one before ended, before its nodes were back (boot %v)",
			lc.n, lc.size, slices.Min(lc.rc.gaps), lc.boot)
	}
	lc.rc.wall, lc.rc.requests, lc.rc.boot = res.wall, res.requests, lc.boot
	lc.listNodes = b.sim.Requests(ehpc.PathListNodes) - listBefore
	fmt.Fprintf(b.log, "large: %d of %d nodes in batches of %d, %v jobs, %v boot: %d requests (%d listNodes), %v (floor %v)\n",
		lc.n, lc.size, lc.batch, lc.job, lc.boot, res.requests, lc.listNodes, res.wall.Round(time.Millisecond), lc.floor().Round(time.Millisecond))
	return nil
}

// largeMarkdown writes the cases' table to b and returns their target rows:
// the pair's large cluster costs at most 1.5 times the requests of its small
// one; a full rolling restart of 2000 nodes stays within the provider's
// default hourly limit, with a wall time within 10 % of its floor.
func (r report) largeMarkdown(b *strings.Builder) []string {
	if len(r.largePair)+len(r.largeFull) == 0 {
		return nil
	}
	b.WriteString("\n| gated rolling restart: cluster nodes, nodes restarted, batch size, job, boot | batches | API requests | of which listNodes | share of the key's hourly 2000 | apply wall time | floor: jobs + boots | wall ÷ floor |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, lc := range append(slices.Clone(r.largePair), r.largeFull...) {
		fmt.Fprintf(b, "| %d, %d, %d, %v, %v | %d | %d | %d | %.1f %% | %s | %s | %.3f |\n",
			lc.size, lc.n, lc.batch, lc.job, lc.boot, lc.rc.batches, lc.rc.requests, lc.listNodes,
			100*float64(lc.rc.requests)/largeKeyHourly, secs(lc.rc.wall), secs(lc.floor()), lc.rc.wall.Seconds()/lc.floor().Seconds())
	}
	var targets []string
	if len(r.largePair) == 2 {
		small, big := r.largePair[0], r.largePair[1]
		bound := 1.5 * float64(small.rc.requests)
		targets = append(targets, fmt.Sprintf("| gated rolling restart of %d nodes in batches of %d, API requests in a %d-node cluster: 1.5 × in a %d-node one (%d) | ≤ %.1f | %d | %s |",
			big.n, big.batch, big.size, small.size, small.rc.requests, bound, big.rc.requests, verdict(float64(big.rc.requests) <= bound)))
	}
	for _, lc := range r.largeFull {
		if lc.size < largeBig {
			continue
		}
		bound := lc.floor() + lc.floor()/10
		targets = append(targets,
			fmt.Sprintf("| gated full rolling restart of %d nodes in batches of %d, %v jobs, %v boot: API requests within the default hourly limit | ≤ %d | %d | %s |",
				lc.n, lc.batch, lc.job, lc.boot, largeHourly, lc.rc.requests, verdict(lc.rc.requests <= largeHourly)),
			fmt.Sprintf("| the same, apply wall time: within 10 %% of the floor (jobs and boots summed, %s) | ≤ %s | %s | %s |",
				secs(lc.floor()), secs(bound), secs(lc.rc.wall), verdict(lc.rc.wall <= bound)))
	}
	return targets
}
