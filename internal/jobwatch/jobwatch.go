// Package jobwatch follows many restart jobs of one cluster with one stream of
// operation-log requests.
//
// Every resource (or action) of a provider instance that waits for a job in the
// same zone and cluster joins the same group. A group has one goroutine that
// wakes at the earliest time any of its waiters is due for a check, makes ONE
// operation-log request for the whole cluster (resource_ids = cluster, newest
// first, 100 a page, further pages only while a waited job may lie beyond), and
// answers every waiter that is due, or nearly due, from that one listing. N
// waiters together cost about as many requests as one.
//
// Each waiter keeps its own pace from its Schedule, measured from when it
// joined: its first check comes about Schedule.First after the job started, and
// the gap after a check at elapsed time e is First + (Factor-1)*e, capped at Max
// (a geometric sequence of waits, expressed in elapsed time so that a check
// answered late is followed by the gap its elapsed time calls for). A waiter
// due within half its own gap is answered by the tick at hand instead of
// costing a request of its own; that answer stands for the check it was due,
// so its next check stays where its own schedule puts it. The group's ticks
// therefore follow the schedule of its earliest waiter, and jobs that started
// apart and last alike are seen done as soon as a lone job would be (with the
// burst look below).
//
// # Learned durations
//
// The geometric sequence knows nothing of how long a restart takes, and a
// real one takes minutes: 20 to 30 checks a wait. The listings the groups
// make anyway show each finished job's create_time and status_time, so the
// Poller learns from them (history.go): per cluster, the durations of the
// newest 20 successful restart jobs it has seen listed, its own waiters' and
// any others', those already in the log when it first listed the cluster
// included. They are kept per node count, and a restart of n nodes is
// estimated from restarts of n nodes once there are three, else from every
// size. The estimate is their 10th, 50th and 90th percentiles (Lo, Mid, Hi),
// which two outliers either side do not move. Failed jobs are not counted.
// The history outlives the groups, so the batches of a rolling restart and
// the later waves of a large apply learn from the earlier ones.
//
// With an estimate whose Lo is at least 2 × First, a new waiter skips the
// quick look and Schedule.plan places its checks: sparse before Lo (every
// Sparse, 30 s, and once at Mid/2 + First), dense across [Lo, Hi], then, if
// the job runs long, waits from Dense (0.5 s) doubling until they meet the
// geometric sequence. A ten-second restart then costs two checks, where the
// sequence takes eight. What a job that ends early costs is bounded, and the
// bounds are tested over generated estimates: ending before Lo, it is seen
// within min(Sparse, Mid/2 + First), so within 30 s however long the
// estimate; ending at half its estimate, within First (1 s); ending x past
// Hi, within max(Dense, x), never more than Max. A check in the estimate's
// window is never answered early by another waiter's tick, but the group may
// hold a tick up to Dense/2 (0.25 s) for such checks due just after it, so a
// wave of restarts sent milliseconds apart shares one check at its end. The
// burst look leaves these checks alone. A job sent well before its wait
// began (a rollout resumed in a later apply) still gets the quick look, and
// its estimate counts from when it was sent. Without an estimate nothing
// differs from the geometric sequence.
//
// Two looks come on top of that schedule. A new waiter gets a quick look
// (QuickLook, 20 ms) after it joins, shared by every waiter that joined before
// it happens, so that a job that finishes at once costs its apply 20 ms, not a
// second. And when a tick sees jobs finish, the waiters still pending are looked
// at again soon (BurstGap, 0.5 s): jobs of one cluster started together tend to
// finish together, and the tick that merged them into step may have come just
// before the later ones finished.
//
// A job that the listing does not show (it disappeared after having been
// listed, or it has not appeared after a grace of a few listings) is asked for
// directly, by job id, from then on. If the API rejects the cluster listing as
// a bad parameter, the group falls back to direct queries.
package jobwatch

import (
	"context"
	"sync"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/clock"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
)

// Source reads the operation log and the nodes; *ehpc.Client is one.
type Source interface {
	Operations(ctx context.Context, q ehpc.OperationQuery) (*ehpc.OperationList, error)
	Job(ctx context.Context, zone, clusterID, jobID string) (ehpc.Job, bool, error)
	LookupNodes(ctx context.Context, clusterID string, f ehpc.NodeFilter, ids []string, idx *ehpc.NodeIndex) ([]ehpc.Node, error)
}

// Options tunes a Poller. The zero value is the production setting.
type Options struct {
	// Schedule paces each waiter; zero means DefaultSchedule.
	Schedule Schedule
	// Clock drives the loop; nil means the wall clock.
	Clock clock.Clock
	// PageLimit is the page size of a listing (default and API maximum 100).
	PageLimit int
	// MaxPages bounds the pages one tick reads (default 5).
	MaxPages int
	// QuickLook is when a new waiter gets its first, quick look: a job that is
	// already done (they can be) is then seen at once rather than a whole
	// Schedule.First later. New waiters joining together share it. Zero means
	// Schedule.First/50 (20 ms); negative means none.
	QuickLook time.Duration
	// BurstGap is how soon the group looks again, for the waiters still pending,
	// after a tick saw jobs finish: jobs of one cluster started together tend
	// to finish together. Zero means Schedule.First/2; negative means never.
	BurstGap time.Duration
	// MissGrace is how many listings may leave out a job that was never listed
	// before it is asked for directly (default 2).
	MissGrace int
	// Context, if set, gives the loops' requests their values (loggers); its
	// cancellation is ignored. Each loop otherwise uses the context of the waiter
	// that started it, without its cancellation.
	Context context.Context
}

// Check is what one look at the operation log found for one job.
type Check struct {
	Job   ehpc.Job // valid when Found
	Found bool
	// Err is an error reading the log; the waiter decides whether to go on.
	Err error
	// Direct is true when the check asked for the job by id rather than reading
	// the cluster's listing.
	Direct bool
	// Nodes answers a node watch (WatchNodes): its nodes as the cluster's
	// list showed them, in the order asked; a node the look did not find is
	// left out. Nil when Err is set, which is an *ehpc.NodesGoneError naming
	// the watch's nodes when the list shows them gone from the cluster.
	Nodes []ehpc.Node
}

// Poller shares operation-log requests among the waiters of each (zone,
// cluster). One Poller serves one provider instance; it is safe for concurrent
// use and holds no goroutine while nobody waits.
type Poller struct {
	src  Source
	opts Options

	mu     sync.Mutex
	groups map[groupKey]*group
	// history outlives the groups: the batches of a rolling restart, and the
	// waves of a large apply, each start a group of their own.
	history map[groupKey]*history
	loops   sync.WaitGroup
}

type groupKey struct{ zone, cluster string }

type group struct {
	key     groupKey
	ctx     context.Context
	cancel  context.CancelFunc
	wake    chan struct{}
	waiters map[*Watch]struct{}
	// unsupported is set when the API refused the cluster listing; every
	// waiter then asks for its job directly. Touched only by the loop.
	unsupported bool
}

// Watch is one waiter's subscription. Read checks from C until satisfied, then
// call Stop.
type Watch struct {
	// C receives the waiter's checks. It holds at most one: if the waiter falls
	// behind, the newest check replaces an unread one.
	C <-chan Check

	ch     chan Check
	p      *Poller
	g      *group
	jobID  string
	nodes  int
	joined time.Time
	// origin is when the job started, for an estimated schedule: when it
	// joined, unless it follows a job sent well before (a rollout resumed).
	origin time.Time
	next   slot // guarded by p.mu
	// finished is set (under p.mu) once the waiter was sent a final status.
	finished bool
	// nodeIDs are the nodes of a node watch; nil for a job watch.
	nodeIDs []string
	// outSeen is the last check that saw a node of a node watch out of
	// service, for the boot history. Touched only by the loop.
	outSeen time.Time

	// Touched only by the group's loop.
	seen    bool
	created time.Time
	misses  int
	direct  bool
}

// New returns a Poller reading from src.
func New(src Source, opts Options) *Poller {
	if opts.Schedule == (Schedule{}) {
		opts.Schedule = DefaultSchedule
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.PageLimit <= 0 || opts.PageLimit > 100 {
		opts.PageLimit = 100
	}
	if opts.MaxPages <= 0 {
		opts.MaxPages = 5
	}
	if opts.QuickLook == 0 {
		opts.QuickLook = opts.Schedule.First / 50
	}
	if opts.BurstGap == 0 {
		opts.BurstGap = opts.Schedule.First / 2
	}
	if opts.MissGrace <= 0 {
		opts.MissGrace = 2
	}
	return &Poller{src: src, opts: opts, groups: map[groupKey]*group{}, history: map[groupKey]*history{}}
}

// Target is the job a waiter follows.
type Target struct {
	JobID string
	// Nodes is how many nodes the job restarts: its duration is estimated
	// from restarts of as many nodes (see Estimate).
	Nodes int
	// Sent is when its restart request was sent, on the Poller's clock. Zero
	// means just now; a job sent well before (a rollout resumed in a later
	// apply) may be done already, so it gets the quick look whatever the
	// estimate says, and its schedule counts from Sent.
	Sent time.Time
}

// Watch starts following job t of clusterID in zone. ctx supplies the values
// (loggers) of the requests if this watch starts its group's loop; cancelling
// it does not stop the watch: call Stop.
func (p *Poller) Watch(ctx context.Context, zone, clusterID string, t Target) *Watch {
	now := p.opts.Clock.Now()
	w := &Watch{ch: make(chan Check, 1), p: p, jobID: t.JobID, nodes: t.Nodes, joined: now, origin: now}
	if !t.Sent.IsZero() && now.Sub(t.Sent) > p.opts.Schedule.First {
		w.origin = t.Sent
	}
	w.C = w.ch
	p.join(ctx, w, groupKey{zone, clusterID})
	return w
}

// join adds w to the group of k, starting its loop if it has none.
func (p *Poller) join(ctx context.Context, w *Watch, k groupKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w.next = p.firstLocked(w, k)
	g := p.groups[k]
	if g == nil {
		base := p.opts.Context
		if base == nil {
			base = ctx
		}
		gctx, cancel := context.WithCancel(context.WithoutCancel(base))
		g = &group{key: k, ctx: gctx, cancel: cancel, wake: make(chan struct{}, 1), waiters: map[*Watch]struct{}{}}
		p.groups[k] = g
		p.loops.Add(1)
		go p.run(g)
	}
	w.g = g
	g.waiters[w] = struct{}{}
	g.poke()
}

// poke wakes g's loop to work out its next tick again.
func (g *group) poke() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// Stop leaves the group. The last waiter to leave stops the group's loop and
// cancels its request in flight. Stop may be called more than once.
func (w *Watch) Stop() {
	p := w.p
	p.mu.Lock()
	defer p.mu.Unlock()
	g := w.g
	if _, ok := g.waiters[w]; !ok {
		return
	}
	delete(g.waiters, w)
	if len(g.waiters) == 0 {
		if p.groups[g.key] == g {
			delete(p.groups, g.key)
		}
		g.cancel()
	}
}

// Groups returns how many groups (and so loops) are running; for tests.
func (p *Poller) Groups() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.groups)
}

// Wait blocks until every loop has ended; for tests, after all watches stopped.
func (p *Poller) Wait() { p.loops.Wait() }

func (p *Poller) run(g *group) {
	defer p.loops.Done()
	for {
		p.mu.Lock()
		if len(g.waiters) == 0 {
			p.mu.Unlock()
			return
		}
		next := tickTime(g.waiters)
		p.mu.Unlock()

		if d := next.Sub(p.opts.Clock.Now()); d > 0 {
			select {
			case <-g.ctx.Done():
				return
			case <-g.wake:
				continue // someone joined: the earliest due time may have changed
			case <-p.opts.Clock.After(d):
			}
		}
		if g.ctx.Err() != nil {
			return
		}
		p.tick(g)
	}
}

// tick answers every waiter of g that is due, or due within half its gap, with
// one listing of the log (plus direct queries for jobs the listing does not
// show) and one of the nodes, each only when a waiter needs it.
func (p *Poller) tick(g *group) {
	now := p.opts.Clock.Now()
	var viaList, viaDirect, viaNodes []*Watch
	p.mu.Lock()
	for w := range g.waiters {
		switch {
		case !w.answeredBy(now):
			continue
		case w.nodeIDs != nil:
			viaNodes = append(viaNodes, w)
		case w.direct || g.unsupported:
			viaDirect = append(viaDirect, w)
		default:
			viaList = append(viaList, w)
		}
	}
	p.mu.Unlock()

	results := make(map[*Watch]Check, len(viaList)+len(viaDirect)+len(viaNodes))
	p.checkNodes(g, viaNodes, results)
	viaDirect = append(viaDirect, p.checkListed(g, viaList, results)...)
	for _, w := range viaDirect {
		if g.ctx.Err() != nil {
			break
		}
		j, found, err := p.src.Job(g.ctx, g.key.zone, g.key.cluster, w.jobID)
		results[w] = Check{Job: j, Found: found, Err: err, Direct: true}
		if found {
			p.learn(g.key, []ehpc.Job{j})
		}
	}
	if g.ctx.Err() != nil {
		return // everyone left; a cancelled request answers no one
	}

	p.answer(g, results)
}

// answer hands each waiter its check and schedules its next one.
func (p *Poller) answer(g *group, results map[*Watch]Check) {
	after := p.opts.Clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	finished := false
	for w, c := range results {
		if _, ok := g.waiters[w]; !ok {
			continue
		}
		w.next = w.plan(w.next.at, after, p.estimateForLocked(g.key, w))
		if c.Found && c.Job.Done() || w.nodeIDs != nil && allInService(w.nodeIDs, c) {
			finished, w.finished = true, true
		}
		w.deliver(c)
	}
	if finished && p.opts.BurstGap > 0 {
		// Jobs are finishing: the others of the burst are likely close behind.
		soon := after.Add(p.opts.BurstGap)
		for w := range g.waiters {
			if !w.finished && !w.next.guided && w.next.at.After(soon) {
				w.next = slot{at: soon}
			}
		}
	}
}

// checkListed answers the waiters in viaList from one listing of the cluster,
// into results, and returns those that must now be asked for by id: every one
// when the API refuses the listing, else those the listing no longer or never
// showed.
func (p *Poller) checkListed(g *group, viaList []*Watch, results map[*Watch]Check) (viaDirect []*Watch) {
	if len(viaList) == 0 {
		return nil
	}
	listed, err := p.list(g, viaList)
	if err != nil && len(listed) == 0 && unsupported(err) {
		// The API does not take this listing: ask for each job by id instead.
		g.unsupported = true
		return viaList
	}
	for _, w := range viaList {
		if j, ok := listed[w.jobID]; ok {
			w.seen, w.misses, w.created = true, 0, j.CreateTime.Time
			results[w] = Check{Job: j, Found: true}
			continue
		}
		if err != nil {
			results[w] = Check{Err: err}
			continue
		}
		w.misses++
		if w.seen || w.misses >= p.opts.MissGrace {
			// Dropped out of the listing, or never showed up in it: from now
			// on ask for this job by id.
			w.direct = true
			viaDirect = append(viaDirect, w)
			continue
		}
		results[w] = Check{} // not listed yet
	}
	return viaDirect
}

// deliver hands c to the waiter without ever blocking the loop: an unread
// older check is replaced.
func (w *Watch) deliver(c Check) {
	for {
		select {
		case w.ch <- c:
			return
		default:
		}
		select {
		case <-w.ch:
		default:
		}
	}
}

// list reads the cluster's operation log, newest first, until every waited job
// is found or cannot be further back. It returns the jobs found among those
// waited for, and the error of the first page that failed (if any).
func (p *Poller) list(g *group, ws []*Watch) (map[string]ehpc.Job, error) {
	want := make(map[string]*Watch, len(ws))
	for _, w := range ws {
		want[w.jobID] = w
	}
	found := make(map[string]ehpc.Job, len(ws))
	offset := 0
	for page := 0; page < p.opts.MaxPages; page++ {
		l, err := p.src.Operations(g.ctx, ehpc.OperationQuery{
			Zone:        g.key.zone,
			ResourceIDs: []string{g.key.cluster},
			Reverse:     true,
			Limit:       p.opts.PageLimit,
			Offset:      offset,
		})
		if err != nil {
			return found, err
		}
		p.learn(g.key, l.Jobs)
		for _, j := range l.Jobs {
			if _, ok := want[j.JobID]; ok {
				found[j.JobID] = j
			}
		}
		// Pages are walked by what came back: a server may serve fewer entries
		// than the limit, so a short page is not the end unless it is empty or the
		// listing's total says so.
		offset += len(l.Jobs)
		if len(found) == len(want) || len(l.Jobs) == 0 || (l.TotalKnown && offset >= l.TotalCount) {
			break
		}
		// Page on only if a missing job may be older than this page's oldest:
		// one never listed yet, or one listed before and created no later.
		oldest := l.Jobs[len(l.Jobs)-1].CreateTime.Time
		more := false
		for id, w := range want {
			if _, ok := found[id]; ok {
				continue
			}
			if !w.seen || oldest.IsZero() || !w.created.After(oldest) {
				more = true
				break
			}
		}
		if !more {
			break
		}
	}
	return found, nil
}

// firstLocked is w's first check. A waiter whose estimate guides it and whose
// job was just sent starts on its estimated schedule: the job is not expected
// to be done for a while, so a quick look would be wasted. Any other starts
// with the quick look, as a job that is already done (they can be) is then
// seen at once, or else a gap into the geometric sequence.
func (p *Poller) firstLocked(w *Watch, k groupKey) slot {
	est := p.estimateForLocked(k, w)
	if w.origin.Equal(w.joined) && p.opts.Schedule.guides(est) {
		return w.plan(w.joined, w.joined, est)
	}
	if p.opts.QuickLook > 0 {
		return slot{at: w.joined.Add(p.opts.QuickLook)}
	}
	return slot{at: w.joined.Add(p.opts.Schedule.gap(0))}
}

// plan is w's check after the one due at due, made at at. An estimate counts
// from when the job started; without one, the geometric sequence counts from
// when the waiter joined, as it always did, a resumed job included.
func (w *Watch) plan(due, at time.Time, est Estimate) slot {
	s := w.p.opts.Schedule
	if s.guides(est) {
		return s.after(w.origin, due, at, est)
	}
	return s.after(w.joined, due, at, est)
}

// answeredBy reports whether a tick at now answers w's next check: one due
// by then, or due a little after, within the check's early tolerance (half
// the geometric gap at now, or what an estimate allowed). Called under p.mu.
func (w *Watch) answeredBy(now time.Time) bool {
	early := w.next.early
	if !w.next.guided {
		early = w.p.opts.Schedule.gap(now.Sub(w.joined)) / 2
	}
	return !w.next.at.After(now.Add(early))
}

// tickTime is when the group's next tick is due: the earliest check, held as
// long as every check it would answer allows (their late), so that checks due
// a moment apart share one tick. Checks without a late tolerance are never
// held: without estimates, ticks come exactly when the earliest waiter is due.
func tickTime(ws map[*Watch]struct{}) time.Time {
	var hold time.Time
	for w := range ws {
		if d := w.next.at.Add(w.next.late); hold.IsZero() || d.Before(hold) {
			hold = d
		}
	}
	var at time.Time
	for w := range ws {
		if !w.next.at.After(hold) && w.next.at.After(at) {
			at = w.next.at
		}
	}
	return at
}

// learn records the finished restarts among jobs, listed for cluster k.
func (p *Poller) learn(k groupKey, jobs []ehpc.Job) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.historyLocked(k).learn(jobs)
}

// historyLocked is cluster k's history, new if it has none yet.
func (p *Poller) historyLocked(k groupKey) *history {
	h := p.history[k]
	if h == nil {
		h = &history{nodes: ehpc.NewNodeIndex()}
		p.history[k] = h
	}
	return h
}

// Estimate is what the Poller has learned of restarts of nodes nodes in
// clusterID: from every restart its listings of the cluster have shown
// finished, its waiters' and others'.
func (p *Poller) Estimate(zone, clusterID string, nodes int) Estimate {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.estimateLocked(groupKey{zone, clusterID}, nodes)
}

// estimateForLocked is what w's schedule goes by: the job durations of its
// node count for a job watch, the boot times for a node watch.
func (p *Poller) estimateForLocked(k groupKey, w *Watch) Estimate {
	if w.nodeIDs != nil {
		if h := p.history[k]; h != nil {
			return h.boots.estimate()
		}
		return Estimate{}
	}
	return p.estimateLocked(k, w.nodes)
}

func (p *Poller) estimateLocked(k groupKey, nodes int) Estimate {
	if h := p.history[k]; h != nil {
		return h.estimate(nodes)
	}
	return Estimate{}
}

// unsupported reports whether the API refused the listing's parameters.
func unsupported(err error) bool {
	switch ehpc.RetCode(err) {
	case ehpc.CodeBadParameter, ehpc.CodeNoSuchAction:
		return true
	}
	return false
}
