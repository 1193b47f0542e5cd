package torture

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// CheckShared checks resources of the same nodes applied together, through
// one provider instance per command, as Terraform applies the resources of
// one configuration: runs holds each resource's observations, one per
// apply, the applies of a step at the same index. Their requests interleave
// in the simulator's log and cannot be told apart by what they send, so
// these invariants are the ones that need no attribution of a request to a
// resource:
//   - one record per job: no job made in a command is held by the records
//     of two resources after it (a settle that took a job another request of
//     the same provider instance made). A later command may: to its provider
//     instance, the other resource's restart of exactly the same nodes is
//     another tool's, which a lost answer's settle may adopt (documented:
//     missed, never doubled);
//   - at most once: no node restarted successfully more often than the
//     declared restarts of the resources that hold it (their Gen);
//   - never lost: every job a request made was recorded by some resource at
//     some point, or named to the user;
//   - green means done: after a resource's last apply, if it exited 0,
//     every node of it is in a batch of its record whose job succeeded.
//
// acts are the action's invocations in those commands: each is one more
// declared restart, its messages count for never lost, a job it claims as
// its own (requested, or adopted from the log) that its command made is in
// no resource's record after that command, and one that exited 0 claimed a
// job of every node (successful, when it waited).
func CheckShared(jobs []ehpcsim.Job, runs [][]Observation, acts []Invocation, nodes []string) []Violation {
	var out []Violation
	add := func(inv, format string, args ...any) {
		out = append(out, Violation{Invariant: inv, Detail: fmt.Sprintf(format, args...)})
	}
	recorded := map[string]bool{}
	var messages strings.Builder
	for k := 0; ; k++ {
		holder := map[string]int{}
		seen := false
		first, end := -1, -1 // the command's requests: the applies of step k
		for _, obs := range runs {
			if k < len(obs) {
				if first < 0 || obs[k].FirstRequest < first {
					first = obs[k].FirstRequest
				}
				end = max(end, obs[k].EndRequest)
			}
		}
		madeNow := func(id string) bool {
			j, ok := findJob(jobs, id)
			return ok && j.Request >= first && j.Request < end
		}
		for ri, obs := range runs {
			if k >= len(obs) {
				continue
			}
			seen = true
			messages.WriteString(obs[k].Messages)
			for _, b := range obs[k].Batches() {
				for _, id := range b.Jobs {
					recorded[id] = true
					if other, ok := holder[id]; ok && other != ri && madeNow(id) {
						add("one record per job", "after apply %d (%s), job %s is in the records of resources %d and %d", k+1, obs[k].Label, id, other+1, ri+1)
					}
					holder[id] = ri
				}
			}
		}
		for _, a := range acts {
			if a.Step != k {
				continue
			}
			for _, id := range a.Claimed() {
				if ri, ok := holder[id]; ok && madeNow(id) {
					add("one record per job", "in command %d, job %s is claimed by the action and held by resource %d's record", k+1, id, ri+1)
				}
			}
		}
		if !seen {
			break
		}
	}
	declared := len(acts)
	for _, obs := range runs {
		if len(obs) > 0 {
			declared += obs[len(obs)-1].Gen
		}
	}
	for _, n := range nodes {
		var ok []string
		for _, j := range jobs {
			if !foreign(j) && j.Status == "successful" && slices.Contains(j.NodeIDs, n) {
				ok = append(ok, j.ID)
			}
		}
		if len(ok) > declared {
			add("at most once", "node %s restarted successfully by %d jobs %v, but the resources declared %d restarts of it", n, len(ok), ok, declared)
		}
	}
	for _, a := range acts {
		messages.WriteString(a.Messages)
		if a.Failed {
			continue
		}
		for _, n := range nodes {
			if !slices.ContainsFunc(a.Claimed(), func(id string) bool {
				j, found := findJob(jobs, id)
				return found && slices.Contains(j.NodeIDs, n) && (!a.Wait || j.Status == "successful")
			}) {
				add("green means done", "the action in command %d exited 0, but claimed no job that restarted node %s (waiting: %v); it printed:\n%s", a.Step+1, n, a.Wait, indent(a.Messages))
			}
		}
	}
	all := messages.String()
	for _, j := range jobs {
		unknownNamed := strings.Contains(all, "may or may not have happened") && mentionsAll(all, j.NodeIDs)
		if !foreign(j) && !recorded[j.ID] && !strings.Contains(all, j.ID) && !unknownNamed {
			add("never lost", "job %s (%v, %s) was never in a record nor named to the user", j.ID, j.NodeIDs, j.Status)
		}
	}
	for ri, obs := range runs {
		if len(obs) == 0 || obs[len(obs)-1].Failed {
			continue
		}
		last := obs[len(obs)-1]
		for _, n := range nodes {
			if !slices.ContainsFunc(last.Batches(), func(b Batch) bool {
				j, found := findJob(jobs, b.JobID)
				return slices.Contains(b.Nodes, n) && found && j.Status == "successful"
			}) {
				add("green means done", "resource %d's last apply (%s) exited 0, but no successful job of its record restarted node %s; state %v", ri+1, last.Label, n, last.State)
			}
		}
	}
	return out
}

// Invocation is one run of the action in command Step of a shared run (the
// resources' applies at that index): what it printed, progress and
// diagnostics alike, and whether it ended in an error.
type Invocation struct {
	Step     int
	Wait     bool
	Failed   bool
	Messages string
}

// claimedRE matches the progress line that names a batch's job: the one it
// requested, requested again, or adopted from the log. Other jobs a message
// names (the others of a lost request's window) are not claimed.
var claimedRE = regexp.MustCompile(`(?:requested(?: again)?: job (j-[0-9a-z]+)\.|: job (j-[0-9a-z]+) adopted from the operation log)`)

// Claimed are the jobs the invocation claims as its own, in order.
func (a Invocation) Claimed() []string {
	var ids []string
	for _, m := range claimedRE.FindAllStringSubmatch(a.Messages, -1) {
		ids = append(ids, m[1]+m[2])
	}
	return ids
}
