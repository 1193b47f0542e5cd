package provider

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflogtest"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// A paced apply says so (issue #22): five restarts of one node each, against
// a limit of one request a second after a burst of two, end with one warning
// kind, on the resources whose request waited, naming the settings and the
// cheaper shape; restarts that were not held back say nothing.
func TestAccPacedApplySaysSo(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, ehpcsim.Options{})
	c := e.newCLI(t)
	var res strings.Builder
	for i := 1; i <= 4; i++ {
		fmt.Fprintf(&res, "resource \"hpc_cluster_node_restart\" \"n%d\" {\n  cluster_id = %q\n  node_ids = [\"cln-cmp0000%d\"]\n  wait_for_completion = false\n}\n", i, ehpcsim.DemoClusterID, i)
	}
	fmt.Fprintf(&res, "resource \"hpc_cluster_node_restart\" \"n5\" {\n  cluster_id = %q\n  node_ids = [\"cln-login001\"]\n  wait_for_completion = false\n}\n", ehpcsim.DemoClusterID)
	c.write(strings.Replace(e.providerBlock(), "zone       =", "api_requests_per_hour = 3600\n  api_request_burst = 2\n  zone       =", 1) + res.String())
	c.mustSucceed("init", "-input=false")
	start := time.Now()
	out := strings.Join(strings.Fields(c.mustSucceed("apply", "-auto-approve", "-input=false")), " ")
	if took := time.Since(start); took < 2*time.Second {
		t.Fatalf("the apply took %s; five requests at one a second after a burst of two take three", took)
	}
	for _, want := range []string{
		"Warning: API Requests Paced",
		"api_requests_per_hour = 3600 after a burst of api_request_burst = 2",
		"restart many nodes with one resource",
		"docs/guides/large-clusters.md",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("apply output lacks %q:\n%s", want, out)
		}
	}
	if got := len(regexp.MustCompile(`held this restart's API requests back for [1-9]\d*s in all \(1 requests\)`).FindAllString(out, -1)) +
		strings.Count(out, "more similar warning"); got == 0 {
		t.Errorf("no warning says how long a restart was held back:\n%s", out)
	}
	if n := e.sim.Requests(ehpc.PathRestartNodes); n != 5 {
		t.Errorf("%d restart requests, want 5", n)
	}
}

// While requests are paced, a line at INFO says how long, why and the two
// settings, at most every 10 s however many requests wait.
func TestPacingLogsAtInfo(t *testing.T) {
	var buf bytes.Buffer
	ctx := tflogtest.RootLogger(context.Background(), &buf)
	p := newPacing(types.Int64Value(1200), types.Int64Null())
	for range 5 {
		p.paced(ctx, 2*time.Second)
	}
	entries, err := tflogtest.MultilineJSONDecode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("%d log lines for 5 paced requests, want 1: %v", len(entries), entries)
	}
	line := entries[0]
	if line["@level"] != "info" || line["api_requests_per_hour"] != float64(1200) || line["api_request_burst"] != float64(defaultRequestBurst) ||
		line["waited"] != "2s" || !strings.Contains(fmt.Sprint(line["why"]), "2000 requests an hour") {
		t.Fatalf("log line %v", line)
	}
	if total, requests := p.total, p.requests; total != 10*time.Second || requests != 5 {
		t.Fatalf("tally %s over %d requests, want 10s over 5", total, requests)
	}
}
