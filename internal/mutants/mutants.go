// Package mutants is the restart path's mutation test (issue #31): small,
// realistic bugs, each applied alone to a copy of the module, each run
// against the unit suites and the torture test (Run; make mutants). A mutant
// that a suite does not kill is a bug users could ship and no test would see.
//
// A mutant names the exact text it replaces. When that text is no longer in
// its file (the code moved on), the mutant is reported STALE rather than
// silently skipped, and TestMutantsApply fails in go test ./..., so the set is
// kept up to date with the code it mutates.
package mutants

// Mutant is one small bug of the restart path: in File (slash-separated,
// from the module's root), Old, which must occur exactly once, becomes New.
type Mutant struct {
	Name     string
	File     string
	Old, New string
	// Bug is the bug it models, in one sentence.
	Bug string
}

// All are the mutants of the restart path: the ones issue #31 found the
// torture test blind to first, then the rest by package.
var All = []Mutant{
	// The list.
	{
		Name: "settle-keeps-listed-before-send",
		File: "internal/ehpc/settle.go",
		Old:  `c.mine.has(j.JobID) || req.origin == &c.seen && c.seen.before(j.JobID, req.seq):`,
		New:  `c.mine.has(j.JobID):`,
		Bug:  "Settle forgets to exclude jobs the client listed before the lost request was sent, so another tool's restart of the same nodes can be adopted.",
	},
	{
		Name: "gate-skipped-for-last-batch",
		File: "internal/rollout/engine.go",
		Old:  "\tb.finished(w.Status, spec)\n",
		New:  "\tif i < len(r.Batches)-1 {\n\t\tb.finished(w.Status, spec)\n\t} else {\n\t\tb.Status = w.Status\n\t}\n",
		Bug:  "The health gate is held only between batches, so a rollout reports Done while its last batch's nodes are still down.",
	},
	{
		Name: "resume-forgets-excluded",
		File: "internal/provider/bookkeeping.go",
		Old:  `b.Earlier, b.Excluded = k.EarlierJobIDs, k.ExcludedJobIDs`,
		New:  `b.Earlier = k.EarlierJobIDs`,
		Bug:  "Reading a record back from state drops excluded_job_ids, so a resumed batch may adopt a job of the record it replaced.",
	},
	{
		Name: "adopt-oldest-candidate",
		File: "internal/ehpc/settle.go",
		Old:  `newest == nil || jobs[i].CreateTime.After(newest.CreateTime.Time)`,
		New:  `newest == nil || jobs[i].CreateTime.Before(newest.CreateTime.Time)`,
		Bug:  "Of several candidates in a lost request's window, the oldest is adopted instead of the newest.",
	},
	{
		Name: "split-drops-remainder",
		File: "internal/rollout/rollout.go",
		Old:  `for chunk := range slices.Chunk(ids, max(size, 1)) {`,
		New:  `for chunk := range slices.Chunk(ids[:len(ids)/max(size, 1)*max(size, 1)], max(size, 1)) {`,
		Bug:  "Split drops the nodes that do not fill a whole batch, so a node is never restarted and the rollout still says successful.",
	},
	{
		Name: "inherit-skips-lost-request",
		File: "internal/rollout/rollout.go",
		Old:  `if x.lost() || x.Inherited() {`,
		New:  `if x.Inherited() {`,
		Bug:  "A replacement does not inherit the replaced record's lost request, so its own send may take that request's job for its own.",
	},
	{
		Name: "listing-without-list-is-empty",
		File: "internal/ehpc/operations.go",
		Old:  `func (r *operationResponse) listed() bool      { return r.JobSet != nil }`,
		New:  `func (r *operationResponse) listed() bool      { if r.JobSet == nil { r.JobSet = &[]Job{} }; return true }`,
		Bug:  "An operation-log answer without its job_set is read as an empty log, which proves a lost request had no effect and sends it again.",
	},
	{
		Name: "settle-ignores-recorded-jobs",
		File: "internal/ehpc/settle.go",
		Old:  `case contains(known, j.JobID) || c.mine.has(j.JobID) ||`,
		New:  `case c.mine.has(j.JobID) ||`,
		Bug:  "Settle ignores the jobs the caller recorded for other requests, so a lost request can adopt an earlier batch's or a replaced record's job.",
	},

	// internal/rollout
	{
		Name: "next-gate-held-is-done",
		File: "internal/rollout/rollout.go",
		Old:  "\tcase b.Status == ehpc.JobSuccessful && b.Gate == GateWaiting && m.Gate:\n\t\treturn Gate\n",
		New:  "",
		Bug:  "Next treats a batch held at the health gate as done, so a resume sends the next batch while this one's nodes are down.",
	},
	{
		Name: "next-lost-sent-again",
		File: "internal/rollout/rollout.go",
		Old:  "\tcase b.lost():\n\t\treturn Settle\n\tcase b.JobID == \"\" || b.Status == ehpc.JobFailed:\n\t\treturn Send\n",
		New:  "\tcase b.JobID == \"\" || b.Status == ehpc.JobFailed:\n\t\treturn Send\n\tcase b.lost():\n\t\treturn Settle\n",
		Bug:  "Next checks for a missing job before a lost answer, so a request whose answer was lost is sent again without settling: a double restart.",
	},
	{
		Name: "next-failed-waited-for",
		File: "internal/rollout/rollout.go",
		Old:  `case b.JobID == "" || b.Status == ehpc.JobFailed:`,
		New:  `case b.JobID == "":`,
		Bug:  "A failed batch is waited for instead of sent again, so the next apply never finishes the rollout.",
	},
	{
		Name: "stepat-gate-only-for-gated-records",
		File: "internal/rollout/rollout.go",
		Old:  `return Next(p, m) == Skip && p.Status == ehpc.JobSuccessful && p.Gate != GatePassed`,
		New:  `return Next(p, m) == Skip && p.Status == ehpc.JobSuccessful && p.Gate != GatePassed && p.Gate != ""`,
		Bug:  "A batch that succeeded without a gate (resumed without rolling, or a record from before the gate) is not gated before the next batch is sent (#31 defect 2 back).",
	},
	{
		Name: "settle-then-send-ungated",
		File: "internal/rollout/engine.go",
		Old:  "\t\tif !GateBefore(r.Batches, i, spec.Mode()) {\n",
		New:  "\t\tif true {\n",
		Bug:  "A lost request settled with no job is sent at once (or one adopted is waited for and the apply goes green), though the batch before it succeeded without a gate and its node is down (#31 defect 2 back, for a settle).",
	},
	{
		Name: "resumes-ignores-waits",
		File: "internal/rollout/rollout.go",
		Old:  `return slices.ContainsFunc(Plan(batches, m), func(s Step) bool { return s != Skip })`,
		New:  `return slices.ContainsFunc(Plan(batches, m), func(s Step) bool { return s == Send || s == Settle })`,
		Bug:  "Resumes counts only sends and settles as work, so a job whose wait was cut short, or a batch held at the gate, is left as it is: green without done.",
	},
	{
		Name: "continues-only-unsent",
		File: "internal/rollout/rollout.go",
		Old:  `return len(replaced) > 0 && Resumes(replaced, m)`,
		New:  `return len(replaced) > 0 && Unfinished(replaced)`,
		Bug:  "A tainted record whose batches all have jobs (one failed, or timed out) is not continued, so its replacement restarts every node again.",
	},
	{
		Name: "summary-successful-before-last-batch",
		File: "internal/rollout/rollout.go",
		Old:  `if status == ehpc.JobSuccessful && last < len(batches)-1 {`,
		New:  `if status == ehpc.JobSuccessful && last < len(batches)-2 {`,
		Bug:  "Summary reports successful while the last batch was never sent (off by one), so the record's status says every node restarted.",
	},
	{
		Name: "retire-drops-failed-job",
		File: "internal/rollout/engine.go",
		Old:  "\t\tb.Earlier = append(b.Earlier, b.JobID)\n",
		New:  "",
		Bug:  "A failed batch sent again drops its failed job's id, so the record loses a job and a later settle may adopt it.",
	},
	{
		Name: "lost-forgets-excluded",
		File: "internal/rollout/engine.go",
		Old:  "\t\tb.Status, b.Request = Unknown, lost.Request\n",
		New:  "\t\tb.Status, b.Request, b.Excluded = Unknown, lost.Request, nil\n",
		Bug:  "A batch whose answer is lost drops the jobs it inherited as excluded, so the next apply's settle may adopt the replaced record's job.",
	},
	{
		Name: "failed-job-counted-done",
		File: "internal/rollout/engine.go",
		Old:  "\t\t\t\tif c.Job.Status == ehpc.JobFailed {\n\t\t\t\t\tw.End = Failed\n\t\t\t\t}\n",
		New:  "",
		Bug:  "The wait ends Done on any finished job, so a failed restart is reported as a success.",
	},
	{
		Name: "transient-log-error-ends-wait",
		File: "internal/rollout/engine.go",
		Old:  "\t\tcase c.Err != nil && ehpc.Permanent(c.Err):\n\t\t\tw.End, w.Err = Unreadable, c.Err",
		New:  "\t\tcase c.Err != nil:\n\t\t\tw.End, w.Err = Unreadable, c.Err",
		Bug:  "A transient operation-log error ends the wait as unreadable, so a restart under way fails on a flaky log.",
	},
	{
		Name: "send-without-time-left",
		File: "internal/rollout/engine.go",
		Old:  `return lastTook > 0 && deadline.Sub(clk.Now()) < lastTook`,
		New:  `return lastTook > 0 && deadline.Sub(clk.Now()) < 0`,
		Bug:  "A batch is sent with less of the timeout left than the batch before it took, only to time out and leave its job running.",
	},
	{
		Name: "resend-without-time-left",
		File: "internal/ehpc/restart.go",
		Old:  "\t\t\tif err := check(); err != nil {\n",
		New:  "\t\t\tif err := check(); err != nil && false {\n",
		Bug:  "After a lost answer's settle (a minute and a half), the batch is sent again however little of the timeout is left, only to time out while its nodes restart (torture seed 2255).",
	},
	{
		Name: "legacy-window-unbounded",
		File: "internal/rollout/engine.go",
		Old:  "\treturn prev.CreateTime.Add(-e.Client.ClockMargin()), nil\n",
		New:  "\t_ = prev\n\treturn time.Time{}, nil\n",
		Bug:  "A lost request recorded by a release that kept no window is settled with no lower bound, so an older restart of the same nodes can be adopted.",
	},
	{
		Name: "legacy-bound-unread-is-none",
		File: "internal/rollout/engine.go",
		Old:  "\t\treturn time.Time{}, err\n",
		New:  "\t\treturn time.Time{}, nil\n",
		Bug:  "While the log cannot show the batch before a lost request an older release recorded, the request is settled with no lower bound, so another tool's restart from hours before can be adopted (torture seed 1799003115).",
	},
	{
		Name: "gate-passes-on-first-node",
		File: "internal/rollout/gate.go",
		Old:  `if g.Back == len(b.Nodes) && g.BackFor >= spec.Gate.MinHealthy {`,
		New:  `if g.Back > 0 && g.BackFor >= spec.Gate.MinHealthy {`,
		Bug:  "The health gate passes once any node of the batch is back, so the next batch is sent while others are still down.",
	},

	// internal/ehpc
	{
		Name: "window-from-late",
		File: "internal/ehpc/settle.go",
		Old:  `return sentAt.Add(lower - c.cfg.ClockMargin).Truncate(time.Second)`,
		New:  `return sentAt.Add(lower + c.cfg.ClockMargin).Truncate(time.Second)`,
		Bug:  "The window's lower end adds the clock margin instead of taking it off, so a lost request's own job can fall before the window and the restart is sent again.",
	},
	{
		Name: "window-until-without-validity",
		File: "internal/ehpc/settle.go",
		Old:  `Until: t.last.Add(c.cfg.RequestValidity + c.cfg.ClockMargin)`,
		New:  `Until: t.last.Add(c.cfg.ClockMargin)`,
		Bug:  "The window of a lost request ends a clock margin after its send, forgetting that the API may process it until its timestamp is 60 s old, so a slow backend's job is missed and the restart sent again.",
	},
	{
		Name: "settle-decides-before-deadline",
		File: "internal/ehpc/settle.go",
		Old:  "\t\tcase !looked.Before(deadline):\n",
		New:  "\t\tcase true:\n",
		Bug:  "Settle decides on its first listing instead of one after the deadline, while the API may still process the lost request.",
	},
	{
		Name: "newest-skips-undated",
		File: "internal/ehpc/settle.go",
		Old:  "\t\tcase jobs[i].CreateTime.IsZero():\n\t\t\treturn nil\n",
		New:  "\t\tcase jobs[i].CreateTime.IsZero():\n\t\t\tcontinue\n",
		Bug:  "Of several candidates, one without a create_time is passed over instead of leaving the outcome unknown, so a dated job of another restart may be adopted while the request's own one is undated.",
	},
	{
		Name: "restarts-superset-of-nodes",
		File: "internal/ehpc/settle.go",
		Old:  "\t\tif strings.HasPrefix(r, nodeIDPrefix) {\n\t\t\treturn false\n\t\t}\n",
		New:  "",
		Bug:  "A job that restarted more nodes than the request is taken for its job.",
	},
	{
		Name: "restarts-subset-of-nodes",
		File: "internal/ehpc/settle.go",
		Old:  "\t\tif !seen {\n\t\t\treturn false\n\t\t}\n",
		New:  "\t\t_ = seen\n",
		Bug:  "A job that restarted only some of the request's nodes is taken for its job.",
	},
	{
		Name: "resend-without-settle",
		File: "internal/ehpc/restart.go",
		Old:  `job, serr := c.Settle(ctx, zone, clusterID, ids, u.Request, known)`,
		New:  `var job *Job; var serr error`,
		Bug:  "RestartOnce retries a restart whose answer was lost without reading the operation log first: a double restart whenever the first was processed.",
	},
	{
		Name: "resend-busy-is-rejection",
		File: "internal/ehpc/restart.go",
		Old:  "\t\tcase RetCode(err) == CodePermissionDenied:\n",
		New:  "\t\tcase false:\n",
		Bug:  "A resend refused with 1400 (nodes busy) is reported as not sent, though the nodes may be busy restarting because of the lost request.",
	},
	{
		Name: "own-jobs-not-kept",
		File: "internal/ehpc/restart.go",
		Old:  "\t\tc.mine.add(res.JobID)\n",
		New:  "",
		Bug:  "The client forgets the jobs its own requests made, so a lost request of another resource in the same provider adopts one (#31 defect 1 back).",
	},
	{
		Name: "adopted-job-not-kept",
		File: "internal/ehpc/settle.go",
		Old:  "\t\tif c.mine.claim(job.JobID) {\n",
		New:  "\t\tif true {\n",
		Bug:  "A job adopted by one settle is not kept as this client's, so another lost request of the same nodes in the same provider adopts it too.",
	},
	{
		Name: "failed-job-never-done",
		File: "internal/ehpc/operations.go",
		Old:  `func (j Job) Done() bool { return j.Status == JobSuccessful || j.Status == JobFailed }`,
		New:  `func (j Job) Done() bool { return j.Status == JobSuccessful }`,
		Bug:  "A failed job is not a finished one, so its wait runs to the timeout and the failure is reported as a timeout.",
	},
	{
		Name: "in-transition-is-in-service",
		File: "internal/ehpc/nodes.go",
		Old:  `return strings.EqualFold(strings.TrimSpace(string(n.Status)), NodeActive) && strings.TrimSpace(string(n.TransitionStatus)) == "" &&`,
		New:  `return strings.EqualFold(strings.TrimSpace(string(n.Status)), NodeActive) &&`,
		Bug:  "A node still in a transition (restarting) counts as in service, so the health gate passes before it is back.",
	},

	// internal/provider
	{
		Name: "not-back-is-green",
		File: "internal/provider/restart.go",
		Old:  "\tif res.End == rollout.Done {\n\t\treturn diag.SeverityInvalid\n",
		New:  "\tif res.End == rollout.Done || res.End == rollout.NotBack {\n\t\treturn diag.SeverityInvalid\n",
		Bug:  "A rollout whose nodes did not come back is not an error, so the apply is green while a node is down.",
	},
	{
		Name: "continuation-ignores-triggers",
		File: "internal/provider/replaced.go",
		Old:  "\t\t\tk.triggers = string(b)\n",
		New:  "\t\t\t_ = b\n",
		Bug:  "The continuation key ignores triggers, so a triggers change on an unfinished record continues it instead of restarting every node.",
	},
	{
		Name: "continuation-claimed-twice",
		File: "internal/provider/replaced.go",
		Old:  `if !g.claimed && g.restart == k &&`,
		New:  `if g.restart == k &&`,
		Bug:  "A replaced record can be continued by two creates of the same restart in one provider, which then both finish the same batches.",
	},
	{
		Name: "delete-keeps-no-record",
		File: "internal/provider/cluster_node_restart_resource.go",
		Old:  `if batches, _, diags := recordFrom(ctx, m.Batches, req.Private); !diags.HasError() &&`,
		New:  `if batches, _, diags := recordFrom(ctx, m.Batches, req.Private); diags.HasError() &&`,
		Bug:  "Delete keeps nothing of a readable record, so its replacement neither continues its rollout nor excludes its jobs.",
	},
	{
		Name: "legacy-bookkeeping-ignored",
		File: "internal/provider/bookkeeping.go",
		Old:  `k := m.legacy()`,
		New:  `k := batchBookkeeping{}`,
		Bug:  "A record written by an earlier release loses its bookkeeping on upgrade: an unknown request's window and earlier jobs are forgotten.",
	},
	{
		Name: "bookkeeping-not-kept",
		File: "internal/provider/cluster_node_restart_resource.go",
		Old:  `diags.Append(keepBookkeeping(ctx, res.Batches, private)...)`,
		New:  `_ = private`,
		Bug:  "A record's bookkeeping is never written to private state, so the next apply cannot settle a lost request or keep earlier jobs.",
	},
	{
		Name: "failed-create-records-nothing",
		File: "internal/provider/cluster_node_restart_resource.go",
		Old:  "\tif !recorded(res) {\n",
		New:  "\tif res.End != rollout.Done {\n",
		Bug:  "A create that fails saves no state, so the job ids it made are lost and the next apply restarts every node again.",
	},
	{
		Name: "gate-default-follows-config",
		File: "internal/provider/health_gate.go",
		Old:  `func (a restartArgs) rolls(n int) bool { return !a.Rolling.IsNull() || n > 1 }`,
		New:  `func (a restartArgs) rolls(n int) bool { return !a.Rolling.IsNull() }`,
		Bug:  "The gate's default follows the configuration, not the rollout: with rolling removed, a recorded rollout's next batch is sent without the gate.",
	},

	// internal/jobwatch
	{
		Name: "deliver-drops-final-check",
		File: "internal/jobwatch/jobwatch.go",
		Old:  "\t\tcase w.ch <- c:\n\t\t\treturn\n\t\tdefault:\n\t\t}\n\t\tselect {\n\t\tcase <-w.ch:\n\t\tdefault:\n\t\t}\n",
		New:  "\t\tcase w.ch <- c:\n\t\tdefault:\n\t\t}\n\t\treturn\n",
		Bug:  "A check handed to a waiter whose last check is unread is dropped instead of replacing it, so a waiter can miss its job's final status.",
	},
}
