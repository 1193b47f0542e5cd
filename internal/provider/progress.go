package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/jobwatch"
	"github.com/qingcloud/terraform-provider-hpc/internal/rollout"
)

// progressWords puts a rollout's progress into words, the same on both
// surfaces: the action sends each line to Terraform as a progress event, and
// the resource, which Terraform shows only as "Still creating... [10m0s
// elapsed]", logs it at INFO, where TF_LOG_PROVIDER=INFO shows it. A line
// says what was sent, what is waited for (the pause, a lost answer settling,
// a job, with its status and the time so far, at most every progress
// interval while it runs), and how each wait ended. Lines of a rollout of
// several batches begin "Batch 2 of 5: ".
func (d *providerData) progressWords(spec rollout.Spec, n int, emit func(string)) rollout.Observer {
	interval := d.opts.ActionProgressInterval
	if interval <= 0 {
		interval = defaultProgressInterval
	}
	prefix := func(i int) string {
		if n < 2 {
			return ""
		}
		return fmt.Sprintf("Batch %d of %d: ", i+1, n)
	}
	var lastReport time.Duration
	// looked: batches whose job this run saw unfinished, or requested itself;
	// a job first seen finished had ended before this run looked, and how
	// long this run's wait took says nothing about it.
	looked := map[int]bool{}
	gateReport := time.Duration(-1)                    // when the gate last had a line; -1: its first look has one
	notes := ending{spec: spec, scrub: d.client.Scrub} // only for note(), which reads no surface
	return rollout.Observer{
		Pausing: func(i int, b rollout.Batch, pause time.Duration) {
			emit(prefix(i) + fmt.Sprintf("Waiting %s (rolling.pause) before restarting %s.", shortDuration(pause), nodesPhrase(b.Nodes)))
		},
		Settling: func(i int, b rollout.Batch) { emit(prefix(i) + settlingWords(b)) },
		Sent: func(i int, b rollout.Batch, note *rollout.Note) {
			lastReport = 0
			emit(prefix(i) + sentWords(spec, b, note))
			looked[i] = note == nil || !note.Adopted
			if note != nil {
				// The same exactly-once settling on both surfaces; say so where it showed.
				d := notes.note(*note)
				emit(prefix(i) + d.Summary() + ": " + d.Detail())
			}
		},
		Gating: func(i int, b rollout.Batch, g rollout.GateWait) {
			if spec.Gate != nil && g.Back == len(b.Nodes) && g.BackFor >= spec.Gate.MinHealthy {
				emit(prefix(i) + fmt.Sprintf("Back in service after %s: %s.", roundElapsed(g.Elapsed), nodesPhrase(b.Nodes)))
				return
			}
			if gateReport >= 0 && g.Elapsed-gateReport < interval {
				return // at most a line an interval, the first look's included
			}
			gateReport = g.Elapsed
			emit(prefix(i) + fmt.Sprintf("Waiting for %s to be back in service (health gate), %s elapsed: %s.", nodesPhrase(b.Nodes), roundElapsed(g.Elapsed), nodesState(b, g, d.client.Scrub)))
		},
		Checked: func(i int, b rollout.Batch, c jobwatch.Check, elapsed time.Duration) {
			if !c.Found || !c.Job.Done() {
				looked[i] = true
			}
			if c.Found && c.Job.Done() || elapsed-lastReport < interval {
				return // the outcome is told once the wait ends
			}
			lastReport = elapsed
			status := "not in the operation log yet"
			if c.Found {
				status = "status " + c.Job.Status
			}
			msg := fmt.Sprintf("Waiting for restart job %s of %s to finish: %s, %s elapsed.", b.JobID, nodesPhrase(b.Nodes), status, roundElapsed(elapsed))
			if c.Err != nil {
				msg += " The last check failed and will be retried: " + d.client.Scrub(c.Err.Error())
			}
			emit(prefix(i) + msg)
		},
		Waited: func(i int, b rollout.Batch, w rollout.JobWait) {
			gateReport = -1
			elapsed := roundElapsed(w.Elapsed)
			switch w.End {
			case rollout.Done, rollout.Failed:
				if !looked[i] {
					emit(prefix(i) + fmt.Sprintf("Restart job %s had already finished when this run first read it: %s%s.", b.JobID, w.Status, statusAt(w.Job)))
					break
				}
				emit(prefix(i) + fmt.Sprintf("Restart job %s finished: %s after %s.", b.JobID, w.Status, elapsed))
			case rollout.Unreadable:
				emit(prefix(i) + fmt.Sprintf("Cannot read the status of restart job %s after %s.", b.JobID, elapsed))
			case rollout.TimedOut:
				last := "last status " + w.Status
				if !w.Seen {
					last = "the job was not in the operation log yet"
				}
				emit(prefix(i) + fmt.Sprintf("Stopped waiting for restart job %s after %s: timeout reached, %s.", b.JobID, elapsed, last))
			}
			// An interrupted wait says nothing: Terraform no longer reads progress.
		},
	}
}

// sentWords say how batch b got its job: requested now, requested again
// after the log proved an earlier request had no effect, or found in the
// operation log after an answer was lost, when nothing was requested.
func sentWords(spec rollout.Spec, b rollout.Batch, note *rollout.Note) string {
	what := fmt.Sprintf("Restart of %s of cluster %s (zone %s)", nodesPhrase(b.Nodes), spec.ClusterID, spec.Zone)
	switch {
	case note == nil:
		return what + " requested: job " + b.JobID + "."
	case note.Adopted:
		return what + ": job " + b.JobID + " adopted from the operation log (the answer to its request was lost)."
	}
	return what + " requested again: job " + b.JobID + "."
}

// statusAt says when a job reached its status by the API's clock, when the
// log says.
func statusAt(j ehpc.Job) string {
	if j.StatusTime.IsZero() {
		return ""
	}
	return " at " + j.StatusTime.UTC().Format(time.RFC3339) + " by the API's clock"
}

// infoLine logs a resource's progress line at INFO, with the cluster and
// zone as fields for log tools.
func infoLine(ctx context.Context, spec rollout.Spec) func(string) {
	return func(msg string) {
		tflog.Info(ctx, msg, map[string]any{"cluster_id": spec.ClusterID, "zone": spec.Zone})
	}
}

// settlingWords say what a batch's settling reads the log for: its own lost
// request, or the one a replaced record left unknown.
func settlingWords(b rollout.Batch) string {
	if b.Inherited() {
		return fmt.Sprintf("The restart this resource replaced requested a restart of %s whose outcome is unknown: reading the cluster's operation log until "+
			"that request can no longer make a job, so that this restart never takes one of its jobs for its own.", nodesPhrase(b.Nodes))
	}
	return fmt.Sprintf("The answer to the restart request of %s was lost: reading the cluster's operation log until it shows "+
		"whether that request made a job, before anything is sent again.", nodesPhrase(b.Nodes))
}
