package ehpc_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
	"github.com/qingcloud/terraform-provider-hpc/internal/memnet"
)

// A restarted node is in service again only once it is active, out of its
// transition, and healthy where its health check is on: the simulator walks
// it through the states API.md describes, each fate its own way, and the
// client reads them through every spelling of health_check the simulator
// uses (an object, an object in a string, null, missing, enable false).
func TestNodeComesBackInService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		off := false
		sim := ehpcsim.New(ehpcsim.Options{JobDuration: 10 * time.Second, BootTime: 5 * time.Second, FlapPeriod: 20 * time.Second, Clusters: []ehpcsim.Cluster{
			{ID: "ehpc-health01", Zone: simZone, Nodes: []ehpcsim.Node{{ID: "cln-back0001"}, {ID: "cln-flap0001", AfterRestart: ehpcsim.FateFlapping},
				{ID: "cln-never001", AfterRestart: ehpcsim.FateNeverBack}, {ID: "cln-sick0001", AfterRestart: ehpcsim.FateUnhealthy}}},
			{ID: "ehpc-nocheck1", Zone: simZone, HealthCheck: &off, Nodes: []ehpcsim.Node{{ID: "cln-nock0001", HealthStatus: "unhealthy"}, {ID: "cln-nock0002", HealthStatus: "unhealthy"}, {ID: "cln-nock0003"}}},
		}})
		network := memnet.New()
		srv := &http.Server{Handler: sim}
		go func() { _ = srv.Serve(network) }()
		defer func() { network.Close(); _ = srv.Close() }()
		c, err := ehpc.New(ehpc.Config{Endpoint: "http://127.0.0.1:80", AccessKeyID: simKey, SecretKey: simSecret, HTTPClient: network.Client()})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		inService := func(cluster string) map[string]bool {
			t.Helper()
			nodes, err := c.ListNodes(ctx, cluster, ehpc.NodeFilter{Zone: simZone})
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]bool{}
			for _, n := range nodes {
				out[n.NodeID] = n.InService()
			}
			return out
		}
		for cluster, ids := range map[string][]string{"ehpc-health01": {"cln-back0001", "cln-flap0001", "cln-never001", "cln-sick0001"}, "ehpc-nocheck1": {"cln-nock0001", "cln-nock0002", "cln-nock0003"}} {
			if _, err := c.RestartNodes(ctx, simZone, cluster, ids); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		for _, step := range []struct {
			at              time.Duration
			health, nocheck map[string]bool
		}{
			{2 * time.Second, // restarting
				map[string]bool{"cln-back0001": false, "cln-flap0001": false, "cln-never001": false, "cln-sick0001": false},
				map[string]bool{"cln-nock0001": false, "cln-nock0002": false, "cln-nock0003": false}},
			{12 * time.Second, // active but still starting, no health yet: without a check too, the transition says not back
				map[string]bool{"cln-back0001": false, "cln-flap0001": false, "cln-never001": false, "cln-sick0001": false},
				map[string]bool{"cln-nock0001": false, "cln-nock0002": false, "cln-nock0003": false}},
			{16 * time.Second, // booted: healthy, but for the fates; without a check, back whatever health says
				map[string]bool{"cln-back0001": true, "cln-flap0001": true, "cln-never001": false, "cln-sick0001": false},
				map[string]bool{"cln-nock0001": true, "cln-nock0002": true, "cln-nock0003": true}},
			{36 * time.Second, // the flapping node's unhealthy spell
				map[string]bool{"cln-back0001": true, "cln-flap0001": false, "cln-never001": false, "cln-sick0001": false}, nil},
			{56 * time.Second,
				map[string]bool{"cln-back0001": true, "cln-flap0001": true, "cln-never001": false, "cln-sick0001": false}, nil},
		} {
			time.Sleep(time.Until(start.Add(step.at)))
			for cluster, want := range map[string]map[string]bool{"ehpc-health01": step.health, "ehpc-nocheck1": step.nocheck} {
				if want == nil {
					continue
				}
				if got := inService(cluster); !equalMaps(got, want) {
					t.Errorf("%s after %s: in service %v, want %v (nodes: %+v)", cluster, step.at, got, want, sim.Nodes(cluster))
				}
			}
		}
	})
}

func equalMaps(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// health_check in every spelling: only a clear "no check" stops health_status
// from counting; anything unreadable counts as a check, so a sick node is
// never taken for one whose health is not reported.
func TestHealthCheckSpellings(t *testing.T) {
	for body, want := range map[string]bool{
		`{}`: false, `{"health_check":null}`: false, `{"health_check":""}`: false, `{"health_check":"null"}`: false,
		`{"health_check":{"enable":false}}`: false, `{"health_check":{"enable":0}}`: false, `{"health_check":{"enable":"false"}}`: false,
		`{"health_check":"{\"enable\":false}"}`: false,
		`{"health_check":{"enable":true}}`:      true, `{"health_check":{"enable":1}}`: true, `{"health_check":"{\"enable\":true}"}`: true,
		`{"health_check":{"check_cmd":"appctl check"}}`: true, `{"health_check":"on"}`: true, `{"health_check":[1]}`: true, `{"health_check":{"enable":null}}`: true,
	} {
		var n ehpc.Node
		if err := json.Unmarshal([]byte(body), &n); err != nil {
			t.Errorf("%s: %v", body, err)
			continue
		}
		if n.HealthReported() != want {
			t.Errorf("%s: health reported %v, want %v", body, n.HealthReported(), want)
		}
	}
}

// A node whose status stays active while a transition runs (QingCloud's
// resources often keep their status during an operation) is not in service
// (mutant in-transition-is-in-service): API.md, transition_status non-empty
// while an operation is in progress.
func TestNodeInATransitionIsNotInService(t *testing.T) {
	for _, raw := range []string{
		`{"node_id":"cln-a","status":"active","transition_status":"restarting","health_status":"healthy","health_check":{"enable":true}}`,
		`{"node_id":"cln-a","status":"active","transition_status":"starting"}`,
	} {
		var n ehpc.Node
		if err := json.Unmarshal([]byte(raw), &n); err != nil {
			t.Fatal(err)
		}
		if n.InService() {
			t.Errorf("%s: in service, want not while its transition runs", raw)
		}
	}
}
