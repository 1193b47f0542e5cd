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
	// moment; one more absorbs the gap between the limiter and the simulator's clock.
	rate := float64(perHour) / 3600
	worst := 0.0
	for i, at := range times {
		allowed := float64(burst) + rate*at.Sub(times[0]).Seconds() + 1
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
