package main

import (
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"time"
)

// rollingCase is one rolling restart: n nodes in batches of at most batchSize.
type rollingCase struct {
	n, batchSize int
	batches      int
	wall         time.Duration
	jobTime      time.Duration   // the batches' jobs, end to end, summed: what no provider can save
	gaps         []time.Duration // from each batch's job ending to the next batch's job starting
	requests     int
	loneRequests int // a lone restart of one node, waiting, same job duration: the baseline
	// boot is how long restarted nodes took to be back in service, with the
	// health gate on; 0: the gate off.
	boot time.Duration
}

// scaleCase is n restarts as one resource per node (no wait) and as one
// resource with every node (rolling).
type scaleCase struct {
	n                         int
	eachWall, oneWall         time.Duration
	eachRequests, oneRequests int
}

type report struct {
	cfg             config
	scale           []scaleCase
	wall            map[int]map[string][]time.Duration // N -> kind -> samples
	waits           []waitCase
	rolling         *rollingCase // nil when -rolling=false
	gated           *rollingCase // the same, gated, nodes booting; nil when -rolling=false or -boot-time 0
	planRequests    int
	refreshRequests int
	// largePair is the large case's pair (40 nodes of a 40-node cluster,
	// then of a 2000-node one), largeFull its full rolling restarts.
	largePair, largeFull []largeCase
}

func median[T ~int64 | ~float64](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// spread is "median (min–max)".
func spread(ds []time.Duration) string {
	return fmt.Sprintf("%.2f (%.2f–%.2f)", median(ds).Seconds(), slices.Min(ds).Seconds(), slices.Max(ds).Seconds())
}

// ratios pairs repetition i of a with repetition i of b (they ran next to each
// other) and gives the median and range of a/b.
func ratios(a, b []time.Duration) (float64, string) {
	var rs []float64
	for i := range min(len(a), len(b)) {
		rs = append(rs, a[i].Seconds()/b[i].Seconds())
	}
	m := median(rs)
	return m, fmt.Sprintf("%.2f (%.2f–%.2f)", m, slices.Min(rs), slices.Max(rs))
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func (r report) markdown() string {
	var b strings.Builder
	c := r.cfg
	if c.runs("wall") {
		fmt.Fprintf(&b, "Terraform CLI against the EHPC simulator on loopback; %d repetitions per case, kinds alternating; "+
			"`-parallelism=%d` for every wall-time case; %d CPUs (%s/%s). Wall time in seconds, median (min–max); "+
			"ratios pair each repetition with its neighbour run.\n\n", c.reps, c.parallelism, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	} else {
		fmt.Fprintf(&b, "Terraform CLI against the EHPC simulator on loopback; cases: %s; %d CPUs (%s/%s).\n",
			strings.Join(slices.Sorted(maps.Keys(c.only)), ", "), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	}

	if len(r.wall) > 0 {
		b.WriteString("| N | hpc, no wait | hpc, wait (jobs done at once) | time_static | terraform_data | no wait ÷ time_static | wait ÷ time_static | no wait ÷ terraform_data | wait ÷ terraform_data |\n")
		b.WriteString("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	}
	sizes := make([]int, 0, len(r.wall))
	for n := range r.wall {
		sizes = append(sizes, n)
	}
	slices.Sort(sizes)
	var targets []string
	for _, n := range sizes {
		w := r.wall[n]
		nw, wt, ts, td := w[kindHPCNoWait.name], w[kindHPCWait.name], w[kindTime.name], w[kindData.name]
		rNoWait, sNoWait := ratios(nw, ts)
		rWait, sWait := ratios(wt, ts)
		_, dNoWait := ratios(nw, td)
		_, dWait := ratios(wt, td)
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", n, spread(nw), spread(wt), spread(ts), spread(td), sNoWait, sWait, dNoWait, dWait)
		if n == 50 {
			targets = append(targets,
				fmt.Sprintf("| wall time ÷ time_static, N=50, no wait | ≤ 0.90 | %.2f | %s |", rNoWait, verdict(rNoWait <= 0.9)),
				fmt.Sprintf("| wall time ÷ time_static, N=50, wait, jobs done at once | ≤ 1.00 | %.2f | %s |", rWait, verdict(rWait <= 1.0)))
		}
	}

	targets = append(targets, r.waitsMarkdown(&b)...)

	if c.runs("refresh") {
		fmt.Fprintf(&b, "\n| over %d existing resources | API requests |\n| --- | ---: |\n| `terraform plan` | %d |\n| `terraform apply -refresh-only` | %d |\n",
			c.longN, r.planRequests, r.refreshRequests)
		targets = append(targets, fmt.Sprintf("| API requests of plan + refresh | 0 | %d | %s |", r.planRequests+r.refreshRequests, verdict(r.planRequests+r.refreshRequests == 0)))
	}

	if rc := r.rolling; rc != nil {
		targets = append(targets, rc.markdown(&b, c.longJob)...)
	}
	if rc := r.gated; rc != nil {
		targets = append(targets, rc.gatedMarkdown(&b, c.longJob)...)
	}
	if len(r.scale) > 0 {
		fmt.Fprintf(&b, "\n| restarts | one resource per node, no wait: apply wall time | requests | one resource, rolling in batches of %d, 1 s jobs: apply wall time | requests |\n"+
			"| ---: | ---: | ---: | ---: | ---: |\n", scaleBatch)
		for _, sc := range r.scale {
			fmt.Fprintf(&b, "| %d | %s | %d | %s | %d |\n", sc.n, secs(sc.eachWall), sc.eachRequests, secs(sc.oneWall), sc.oneRequests)
		}
	}
	targets = append(targets, r.largeMarkdown(&b)...)

	b.WriteString("\n| target | bound | measured | |\n| --- | ---: | ---: | --- |\n")
	for _, t := range targets {
		b.WriteString(t + "\n")
	}
	return b.String()
}

// markdown writes the rolling case's table to b and returns its target rows:
// the apply takes its jobs' time plus at most 2 s a batch (noticing a job's
// end, sending the next restart); no batch waits more than a tenth of a job
// after the one before ended; and a batch, being one restart that waits,
// costs no more requests than a lone restart of the same job duration.
func (rc rollingCase) markdown(b *strings.Builder, job time.Duration) []string {
	perBatch := float64(rc.requests) / float64(rc.batches)
	gapMax := slices.Max(rc.gaps)
	b.WriteString("\n| rolling restart: N, batch size, job duration | batches | apply wall time | jobs, summed | gap between batches median | gap max | API requests | requests per batch | lone restart's requests |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	fmt.Fprintf(b, "| %d, %d, %v | %d | %s | %s | %s | %s | %d | %.2f | %d |\n",
		rc.n, rc.batchSize, job, rc.batches, secs(rc.wall), secs(rc.jobTime), secs(median(rc.gaps)), secs(gapMax), rc.requests, perBatch, rc.loneRequests)

	wallBound := rc.jobTime + time.Duration(rc.batches)*2*time.Second
	return []string{
		fmt.Sprintf("| rolling restart wall time, N=%d in %d batches of %v jobs: jobs summed + 2 s a batch | ≤ %s | %s | %s |",
			rc.n, rc.batches, job, secs(wallBound), secs(rc.wall), verdict(rc.wall <= wallBound)),
		fmt.Sprintf("| rolling restart, largest gap from a batch's job ending to the next batch's starting: a tenth of a job | ≤ %s | %s | %s |",
			secs(job/10), secs(gapMax), verdict(gapMax <= job/10)),
		fmt.Sprintf("| rolling restart, API requests per batch: a lone restart's, %v job | ≤ %d | %.2f | %s |",
			job, rc.loneRequests, perBatch, verdict(perBatch <= float64(rc.loneRequests))),
		fmt.Sprintf("| rolling restart, API requests per batch, log with history | ≤ 4 | %.2f | %s |", perBatch, verdict(perBatch <= 4)),
	}
}

// gatedMarkdown writes the gated rolling case's row to b and returns its
// target rows (issue #19): the apply takes its jobs' time plus the nodes'
// boot plus at most 1 s a batch (noticing the job's end, then the nodes'
// return, then sending), and a batch costs no more than a lone restart's
// requests plus 4 (the nodes' listings).
func (rc rollingCase) gatedMarkdown(b *strings.Builder, job time.Duration) []string {
	perBatch := float64(rc.requests) / float64(rc.batches)
	b.WriteString("\n| rolling restart with the health gate: N, batch size, job duration, boot | batches | apply wall time | jobs + boots, summed | gap between batches median | gap max | API requests | requests per batch | lone restart's requests |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	busy := rc.jobTime + time.Duration(rc.batches)*rc.boot
	fmt.Fprintf(b, "| %d, %d, %v, %v | %d | %s | %s | %s | %s | %d | %.2f | %d |\n",
		rc.n, rc.batchSize, job, rc.boot, rc.batches, secs(rc.wall), secs(busy), secs(median(rc.gaps)), secs(slices.Max(rc.gaps)), rc.requests, perBatch, rc.loneRequests)
	wallBound := busy + time.Duration(rc.batches)*time.Second
	return []string{
		fmt.Sprintf("| gated rolling restart wall time, N=%d in %d batches, %v jobs, %v boot: jobs and boots summed + 1 s a batch | ≤ %s | %s | %s |",
			rc.n, rc.batches, job, rc.boot, secs(wallBound), secs(rc.wall), verdict(rc.wall <= wallBound)),
		fmt.Sprintf("| gated rolling restart, API requests per batch: a lone restart's + 4 | ≤ %d | %.2f | %s |",
			rc.loneRequests+4, perBatch, verdict(perBatch <= float64(rc.loneRequests+4))),
	}
}

// waitsMarkdown writes the waiting cases' table to b and returns their target
// rows (issue #20): with history in the log, 50 restarts cost at most 1.10
// requests each when they wait together and 1.30 in waves of ten, a lone
// restart 4; the median lag stays under half a second; a job that ends at
// half its estimate is seen no more than a second later than without one;
// and without history nothing gets costlier than the geometric schedule was
// (1.18 requests a restart, waiting together, in the run before; how the
// restarts' starts spread on a loaded machine moves it by a request or two).
func (r report) waitsMarkdown(b *strings.Builder) []string {
	if len(r.waits) == 0 {
		return nil
	}
	b.WriteString("\n| waiting for jobs: the cluster's log before | N, job duration, -parallelism | apply wall time | API requests | requests per restart | completion lag median | lag max |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | ---: |\n")
	for _, w := range r.waits {
		job := w.job.String()
		if w.spread > 0 {
			job += fmt.Sprintf(" ± %.0f%%", 100*w.spread)
		}
		fmt.Fprintf(b, "| %s | %d, %s, %d | %s | %d | %.2f | %s | %s |\n", w.history, w.n, job, w.par, secs(w.wall), w.requests, w.perRestart(), secs(median(w.lags)), secs(slices.Max(w.lags)))
	}
	var targets []string
	perRestart := func(key, what string, bound float64) {
		if w, ok := r.waitCaseBy(key); ok {
			targets = append(targets, fmt.Sprintf("| API requests per restart, %s | ≤ %.2f | %.2f | %s |", what, bound, w.perRestart(), verdict(w.perRestart() <= bound)))
		}
	}
	perRestart("use-10", "log with history, N=50, waves of 10 (-parallelism=10)", 1.30)
	perRestart("use-all", "log with history, N=50 waiting together", 1.10)
	perRestart("use-lone", "log with history, a lone restart (the restart included)", 4)
	perRestart("new-all", "no history, N=50 waiting together: the geometric schedule, as before (1.18), within a request or two", 1.24)
	for _, key := range []string{"use-10", "use-all", "use-lone", "new-10", "new-all"} {
		if w, ok := r.waitCaseBy(key); ok {
			m := median(w.lags)
			targets = append(targets, fmt.Sprintf("| completion lag median, %s, N=%d, -parallelism=%d | ≤ 0.50 s | %s | %s |", w.history, w.n, w.par, secs(m), verdict(m <= 500*time.Millisecond)))
		}
	}
	half, ok1 := r.waitCaseBy("use-half")
	today, ok2 := r.waitCaseBy("new-half")
	if ok1 && ok2 {
		bound := median(today.lags) + time.Second
		targets = append(targets, fmt.Sprintf("| lag of a job that ends at half its estimate: without history's + 1 s | ≤ %s | %s | %s |", secs(bound), secs(median(half.lags)), verdict(median(half.lags) <= bound)))
	}
	return targets
}
