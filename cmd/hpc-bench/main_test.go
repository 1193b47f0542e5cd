package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// TestSmoke runs the whole harness once, at N=1, when HPC_BENCH_SMOKE=1 (it needs
// the Terraform CLI and the time provider in .tools/bin: make bench installs them).
func TestSmoke(t *testing.T) {
	if os.Getenv("HPC_BENCH_SMOKE") != "1" {
		t.Skip("set HPC_BENCH_SMOKE=1 to run the benchmark harness once at N=1")
	}
	root, _ := filepath.Abs("../..")
	cfg, err := parseFlags([]string{"-quick", "-root", root,
		"-terraform", filepath.Join(root, ".tools/bin/terraform"),
		"-time-provider", filepath.Join(root, ".tools/bin/terraform-provider-time")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := run(ctx, cfg, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| 1 |", "time_static", "terraform_data", "`terraform plan` | 0 |"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// batchJobs makes the jobs of a rolling restart as the simulator reports
// them: each batch's job lasts 10 s and starts gaps[i] after the one before
// ended.
func batchJobs(batches [][]string, gaps ...time.Duration) []ehpcsim.Job {
	at := time.Date(2025, 1, 2, 3, 4, 30, 0, time.UTC)
	var jobs []ehpcsim.Job
	for i, nodes := range batches {
		if i > 0 {
			at = at.Add(gaps[i-1])
		}
		jobs = append(jobs, ehpcsim.Job{ID: "j-batch" + string(rune('a'+i)), NodeIDs: nodes, Status: "successful", Started: at, Ended: at.Add(10 * time.Second)})
		at = at.Add(10 * time.Second)
	}
	return jobs
}

func TestCheckRolling(t *testing.T) {
	nodes := []string{"cln-a", "cln-b", "cln-c", "cln-d", "cln-e"}
	rc, err := checkRolling(batchJobs([][]string{{"cln-a", "cln-b"}, {"cln-c", "cln-d"}, {"cln-e"}}, 300*time.Millisecond, 100*time.Millisecond), nodes, 2)
	if err != nil {
		t.Fatal(err)
	}
	if rc.batches != 3 || rc.jobTime != 30*time.Second || len(rc.gaps) != 2 || rc.gaps[0] != 300*time.Millisecond || rc.gaps[1] != 100*time.Millisecond {
		t.Fatalf("%+v", rc)
	}

	for _, tc := range []struct {
		name    string
		jobs    []ehpcsim.Job
		wantErr string
	}{
		{"overlap", batchJobs([][]string{{"cln-a", "cln-b"}, {"cln-c", "cln-d"}, {"cln-e"}}, 0, -time.Millisecond),
			"batches overlapped: batch 3 (job j-batchc) started 1ms before batch 2 (job j-batchb) ended"},
		{"unsorted within a batch", batchJobs([][]string{{"cln-b", "cln-a"}, {"cln-c", "cln-d"}, {"cln-e"}}, 0, 0),
			"batches left sorted node order: restart 1 of 5 was cln-b, want cln-a"},
		{"unsorted batches", batchJobs([][]string{{"cln-c", "cln-d"}, {"cln-a", "cln-b"}, {"cln-e"}}, 0, 0),
			"restart 1 of 5 was cln-c, want cln-a"},
		{"batch too large", batchJobs([][]string{{"cln-a", "cln-b", "cln-c"}, {"cln-d", "cln-e"}}, 0),
			"batch 1 (job j-batcha) restarted 3 nodes, more than the batch size 2"},
		{"node missing", batchJobs([][]string{{"cln-a", "cln-b"}, {"cln-c", "cln-d"}}, 0),
			"2 batches restarted 4 of the 5 nodes"},
		{"node twice", batchJobs([][]string{{"cln-a", "cln-b"}, {"cln-b", "cln-c"}, {"cln-d", "cln-e"}}, 0, 0),
			"restart 3 of 5 was cln-b, want cln-c"},
		{"no jobs", nil, "0 batches restarted 0 of the 5 nodes"},
	} {
		if _, err := checkRolling(tc.jobs, nodes, 2); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantErr)
		}
	}
	jobs := batchJobs([][]string{{"cln-a", "cln-b"}, {"cln-c", "cln-d"}, {"cln-e"}}, 0, 0)
	jobs[1].Status, jobs[1].Ended = "pending", time.Time{}
	if _, err := checkRolling(jobs, nodes, 2); err == nil || err.Error() != "batch 2 (job j-batchb) is pending" {
		t.Errorf("pending batch: %v", err)
	}
}

// The rolling rows' bounds come from the case itself: its jobs' time and
// batch count, the job duration, the lone restart's requests.
func TestRollingReport(t *testing.T) {
	rc := rollingCase{n: 50, batchSize: 10, batches: 5, wall: 55 * time.Second, jobTime: 50 * time.Second,
		gaps: []time.Duration{200 * time.Millisecond, 300 * time.Millisecond, 1100 * time.Millisecond, 400 * time.Millisecond}, requests: 45, loneRequests: 9}
	r := report{cfg: config{longJob: 10 * time.Second, longN: 50}, rolling: &rc}
	out := r.markdown()
	for _, want := range []string{
		"| 50, 10, 10s | 5 | 55.00 s | 50.00 s | 0.35 s | 1.10 s | 45 | 9.00 | 9 |",
		"| rolling restart wall time, N=50 in 5 batches of 10s jobs: jobs summed + 2 s a batch | ≤ 60.00 s | 55.00 s | met |",
		"a tenth of a job | ≤ 1.00 s | 1.10 s | **missed** |",
		"| rolling restart, API requests per batch: a lone restart's, 10s job | ≤ 9 | 9.00 | met |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// The gated row: jobs and boots summed plus 1 s a batch, and a lone
	// restart's requests plus 4 a batch.
	gated := rc
	gated.boot, gated.wall, gated.requests = 5*time.Second, 79*time.Second, 66
	r.gated = &gated
	out = r.markdown()
	for _, want := range []string{
		"| 50, 10, 10s, 5s | 5 | 79.00 s | 75.00 s |",
		"| gated rolling restart wall time, N=50 in 5 batches, 10s jobs, 5s boot: jobs and boots summed + 1 s a batch | ≤ 80.00 s | 79.00 s | met |",
		"| gated rolling restart, API requests per batch: a lone restart's + 4 | ≤ 13 | 13.20 | **missed** |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	r.rolling, r.gated = nil, nil
	if out := r.markdown(); strings.Contains(out, "rolling") {
		t.Errorf("-rolling=false, yet:\n%s", out)
	}
}

func TestRollingShape(t *testing.T) {
	for _, tc := range []struct{ longN, nodes, batch int }{{50, 50, 10}, {12, 12, 2}, {9, 9, 1}, {1, 2, 1}} {
		if n, b := (config{longN: tc.longN}).rollingShape(); n != tc.nodes || b != tc.batch {
			t.Errorf("-n %d: %d nodes in batches of %d, want %d in %d", tc.longN, n, b, tc.nodes, tc.batch)
		}
	}
	if c, err := parseFlags(nil); err != nil || !c.rolling {
		t.Fatalf("rolling by default: %+v %v", c, err)
	}
	if c, err := parseFlags([]string{"-rolling=false"}); err != nil || c.rolling {
		t.Fatalf("-rolling=false: %+v %v", c, err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
