package jobwatch

import (
	"fmt"
	"testing"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
)

// restartJob is a finished restart of nodes nodes of ehpc-h, created at
// created and lasting took, as the operation log lists it.
func restartJob(id string, nodes int, created time.Time, took time.Duration, status string) ehpc.Job {
	ids := ehpc.IDList{"ehpc-h", "ehpcq-queue01"}
	for i := range nodes {
		ids = append(ids, fmt.Sprintf("cln-%04d", i))
	}
	return ehpc.Job{
		JobID: id, JobAction: ehpc.JobActionRestart, Status: status, ResourceIDs: ids,
		CreateTime: ehpc.Time{Time: created}, StatusTime: ehpc.Time{Time: created.Add(took)},
	}
}

func TestHistoryEstimatesFromSuccessfulRestartsOfTheSameSize(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	var h history
	var jobs []ehpc.Job
	// Nine restarts of one node, 10 s, one an outlier at 300 s.
	for i := range 9 {
		took := 10 * time.Second
		if i == 4 {
			took = 300 * time.Second
		}
		jobs = append(jobs, restartJob(fmt.Sprintf("j-one%d", i), 1, t0.Add(time.Duration(i)*time.Minute), took, ehpc.JobSuccessful))
	}
	// Neither a failed restart, nor another action, nor a job still running
	// says how long a restart takes.
	jobs = append(jobs,
		restartJob("j-failed", 1, t0, time.Second, ehpc.JobFailed),
		restartJob("j-pending", 1, t0, 0, ehpc.JobPending),
		ehpc.Job{JobID: "j-other", JobAction: "HpcClusterAddNodes", Status: ehpc.JobSuccessful, CreateTime: ehpc.Time{Time: t0}, StatusTime: ehpc.Time{Time: t0.Add(time.Hour)}})
	h.learn(jobs)
	h.learn(jobs) // the next listing shows them again
	if got := h.estimate(1); got != (Estimate{Lo: 10 * time.Second, Mid: 10 * time.Second, Hi: 10 * time.Second, Samples: 9}) {
		t.Fatalf("estimate for one node = %+v, want 10 s from the 9 restarts, the outlier outside the 10th–90th percentiles", got)
	}
	// Two restarts of ten nodes are too few to go by alone: every size is pooled.
	h.learn([]ehpc.Job{
		restartJob("j-ten0", 10, t0.Add(time.Hour), 20*time.Second, ehpc.JobSuccessful),
		restartJob("j-ten1", 10, t0.Add(time.Hour+time.Minute), 20*time.Second, ehpc.JobSuccessful),
	})
	if got := h.estimate(10); got.Mid != 10*time.Second || got.Samples != 11 {
		t.Fatalf("estimate for ten nodes from two of them = %+v, want the pool of 11 (median 10 s)", got)
	}
	// A third makes ten nodes a size of its own.
	h.learn([]ehpc.Job{restartJob("j-ten2", 10, t0.Add(time.Hour+2*time.Minute), 22*time.Second, ehpc.JobSuccessful)})
	if got := h.estimate(10); got != (Estimate{Lo: 20 * time.Second, Mid: 20 * time.Second, Hi: 22 * time.Second, Samples: 3}) {
		t.Fatalf("estimate for ten nodes = %+v, want 20 s from its own three", got)
	}
	if got := h.estimate(3); got.Samples != 12 {
		t.Fatalf("a size never seen draws on every size: %+v", got)
	}
}

// Only the newest restarts count: a cluster whose restarts got slower (a new
// image) is estimated by how it restarts now, and an old job listed again
// after it aged out does not come back.
func TestHistoryKeepsTheNewest(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	var h history
	for i := range keepSamples {
		h.learn([]ehpc.Job{restartJob(fmt.Sprintf("j-old%d", i), 1, t0.Add(time.Duration(i)*time.Minute), 10*time.Second, ehpc.JobSuccessful)})
	}
	for i := range keepSamples {
		h.learn([]ehpc.Job{restartJob(fmt.Sprintf("j-new%d", i), 1, t0.Add(time.Hour+time.Duration(i)*time.Minute), 40*time.Second, ehpc.JobSuccessful)})
	}
	h.learn([]ehpc.Job{restartJob("j-old3", 1, t0.Add(3*time.Minute), 10*time.Second, ehpc.JobSuccessful)})
	if got := h.estimate(1); got != (Estimate{Lo: 40 * time.Second, Mid: 40 * time.Second, Hi: 40 * time.Second, Samples: keepSamples}) {
		t.Fatalf("estimate = %+v, want the newest %d restarts' 40 s", got, keepSamples)
	}
}
