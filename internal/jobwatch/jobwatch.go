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

// Source reads the operation log; *ehpc.Client is one.
type Source interface {
	Operations(ctx context.Context, q ehpc.OperationQuery) (*ehpc.OperationList, error)
	Job(ctx context.Context, zone, clusterID, jobID string) (ehpc.Job, bool, error)
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
}

// Poller shares operation-log requests among the waiters of each (zone,
// cluster). One Poller serves one provider instance; it is safe for concurrent
// use and holds no goroutine while nobody waits.
type Poller struct {
	src  Source
	opts Options

	mu     sync.Mutex
	groups map[groupKey]*group
	loops  sync.WaitGroup
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
	joined time.Time
	due    time.Time // guarded by p.mu
	// finished is set (under p.mu) once the waiter was sent a final status.
	finished bool

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
	return &Poller{src: src, opts: opts, groups: map[groupKey]*group{}}
}

// Watch starts following jobID of clusterID in zone. ctx supplies the values
// (loggers) of the requests if this watch starts its group's loop; cancelling
// it does not stop the watch: call Stop.
func (p *Poller) Watch(ctx context.Context, zone, clusterID, jobID string) *Watch {
	now := p.opts.Clock.Now()
	first := p.opts.Schedule.gap(0)
	if p.opts.QuickLook > 0 {
		first = p.opts.QuickLook
	}
	w := &Watch{ch: make(chan Check, 1), p: p, jobID: jobID, joined: now, due: now.Add(first)}
	w.C = w.ch

	p.mu.Lock()
	defer p.mu.Unlock()
	k := groupKey{zone, clusterID}
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
	select {
	case g.wake <- struct{}{}:
	default:
	}
	return w
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
		var next time.Time
		for w := range g.waiters {
			if next.IsZero() || w.due.Before(next) {
				next = w.due
			}
		}
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
// one listing (plus direct queries for jobs the listing does not show).
func (p *Poller) tick(g *group) {
	now := p.opts.Clock.Now()
	var viaList, viaDirect []*Watch
	p.mu.Lock()
	for w := range g.waiters {
		if w.due.After(now.Add(p.opts.Schedule.gap(now.Sub(w.joined)) / 2)) {
			continue
		}
		if w.direct || g.unsupported {
			viaDirect = append(viaDirect, w)
		} else {
			viaList = append(viaList, w)
		}
	}
	p.mu.Unlock()

	results := make(map[*Watch]Check, len(viaList)+len(viaDirect))
	viaDirect = append(viaDirect, p.checkListed(g, viaList, results)...)
	for _, w := range viaDirect {
		if g.ctx.Err() != nil {
			break
		}
		j, found, err := p.src.Job(g.ctx, g.key.zone, g.key.cluster, w.jobID)
		results[w] = Check{Job: j, Found: found, Err: err, Direct: true}
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
		w.due = p.opts.Schedule.next(w.joined, w.due, after)
		if c.Found && c.Job.Done() {
			finished, w.finished = true, true
		}
		w.deliver(c)
	}
	if finished && p.opts.BurstGap > 0 {
		// Jobs are finishing: the others of the burst are likely close behind.
		soon := after.Add(p.opts.BurstGap)
		for w := range g.waiters {
			if !w.finished && w.due.After(soon) {
				w.due = soon
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

// unsupported reports whether the API refused the listing's parameters.
func unsupported(err error) bool {
	switch ehpc.RetCode(err) {
	case ehpc.CodeBadParameter, ehpc.CodeNoSuchAction:
		return true
	}
	return false
}
