package provider

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// Fifty restarts applied with -parallelism=50 share one provider instance's rate
// limiter: the simulator never sees more requests than the bucket allows at any
// moment, and every node restarts exactly once.
func TestAccRateLimiterSharedAcrossParallelRestarts(t *testing.T) {
	const (
		n       = 50
		perHour = 36000 // 10 per second: low enough that the bucket empties during this apply
		burst   = 20
	)
	cluster := ehpcsim.Cluster{ID: "ehpc-load0050", Zone: ehpcsim.DemoZone}
	for i := range n {
		cluster.Nodes = append(cluster.Nodes, ehpcsim.Node{ID: fmt.Sprintf("cln-ld%06d", i), Name: fmt.Sprintf("compute-%d", i), Role: "compute"})
	}
	e := newTestEnv(t, ehpcsim.Options{Clusters: []ehpcsim.Cluster{cluster}, JobDuration: 200 * time.Millisecond})
	c := e.newCLI(t)

	var b strings.Builder
	b.WriteString(strings.Replace(e.providerBlock(), "\n}\n", fmt.Sprintf("\n  api_requests_per_hour = %d\n  api_request_burst     = %d\n}\n", perHour, burst), 1))
	for i, node := range cluster.Nodes {
		fmt.Fprintf(&b, "resource \"hpc_cluster_node_restart\" \"r%d\" {\n  cluster_id = %q\n  node_ids   = [%q]\n}\n", i, cluster.ID, node.ID)
	}
	c.write(b.String())
	c.mustSucceed("init", "-input=false")
	c.mustSucceed("apply", "-auto-approve", "-input=false", "-parallelism=50")

	for _, node := range cluster.Nodes {
		if got := e.sim.Restarts(node.ID); got != 1 {
			t.Errorf("%s restarted %d times, want 1", node.ID, got)
		}
	}
	log := e.sim.RequestLog()
	times := make([]time.Time, len(log))
	for i, r := range log {
		times[i] = r.Time
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	// A token bucket that starts full allows burst + rate×elapsed requests by any
	// moment, elapsed counted from the limiter's first token. The simulator only
	// sees arrivals, each some time after its token: if the first request is the
	// slow one (Terraform 1.14 starts the 50 creates more unevenly than 1.8 does),
	// the next ones look early by as much. latency allows for that (0.5 s worth
	// of tokens on a loaded machine), and one more request for the clocks' gap.
	// Still far below what a missing or per-resource limiter would let through:
	// 50 requests at once, or 40 with two buckets.
	const latency = 500 * time.Millisecond
	rate := float64(perHour) / 3600
	worst := 0.0
	for i, at := range times {
		allowed := float64(burst) + rate*(at.Sub(times[0])+latency).Seconds() + 1
		if float64(i+1) > allowed {
			t.Fatalf("request %d arrived %.2fs after the first: more than the limiter's budget of %.1f", i+1, at.Sub(times[0]).Seconds(), allowed)
		}
		worst = max(worst, float64(i+1)/allowed)
	}
	if len(times) < n {
		t.Fatalf("only %d requests for %d restarts", len(times), n)
	}
	t.Logf("%d requests over %.1fs; peak use of the limiter's budget %.0f%%", len(times), times[len(times)-1].Sub(times[0]).Seconds(), worst*100)
}
