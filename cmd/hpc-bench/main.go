// Command bench measures what a user of terraform-provider-hpc feels: how long
// `terraform apply` takes beyond the restart itself, and how many API requests
// (quota) it burns. It runs the real Terraform CLI against the EHPC simulator,
// served in this process on loopback so that its counters and job times can be
// read directly, and prints a markdown table.
//
// Baselines, measured in the same run, alternating with our provider:
// `time_static` from HashiCorp's time provider (a plugin-framework provider that
// calls no API, so it carries the same plugin and RPC costs as ours) and the
// built-in `terraform_data` (Terraform's own floor, which no external provider
// can reach). A rolling restart (one resource, its nodes in batches) is
// compared with a lone restart of one node, measured right before it.
//
// Waiting for jobs is measured on clusters of its own (see waits.go): one
// whose operation log holds no restart, and one whose log holds earlier
// restarts, since the provider learns how long restarts take from the log.
//
// Run it with `make bench`; flags: go run ./cmd/hpc-bench -h.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

const hpcSource = "registry.example.com/qingcloud/hpc"

// site is a cluster of the simulator whose nodes a case restarts.
type site struct{ cluster, prefix string }

// mainSite serves the cases that do not wait for jobs, and the scale case.
var mainSite = site{"ehpc-bench001", "cln-b"}

// node is the id of the site's node i.
func (s site) node(i int) string { return fmt.Sprintf("%s%05d", s.prefix, i) }

type config struct {
	root         string
	terraform    string
	timeProvider string
	reps         int
	sizes        []int
	parallelism  int
	longJob      time.Duration
	longN        int
	bootTime     time.Duration
	out          string
	keep         bool
	quick        bool
	rolling      bool
	scale        []int
	// largeSizes are the cluster sizes of the full gated rolling restarts
	// (large.go), on largeJob jobs and largeBoot boots.
	largeSizes          []int
	largeJob, largeBoot time.Duration
	// only is the cases to run (-only); empty runs every case.
	only map[string]bool
}

// cases are the names -only selects from, in the order they run.
var cases = []string{"wall", "waits", "rolling", "refresh", "scale", "large"}

// runs reports whether the case named name is to run.
func (c config) runs(name string) bool { return len(c.only) == 0 || c.only[name] }

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	report, err := run(ctx, cfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	fmt.Print(report)
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(report), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}

func parseFlags(args []string) (config, error) {
	var c config
	var sizes string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&c.root, "root", ".", "repository root (the provider is built from it)")
	fs.StringVar(&c.terraform, "terraform", ".tools/bin/terraform", "Terraform CLI `path`")
	fs.StringVar(&c.timeProvider, "time-provider", ".tools/bin/terraform-provider-time", "`path` of HashiCorp's terraform-provider-time binary")
	fs.IntVar(&c.reps, "reps", 5, "repetitions of each wall-time case")
	fs.StringVar(&sizes, "sizes", "1,10,50", "resource counts for the wall-time cases")
	fs.IntVar(&c.parallelism, "parallelism", 10, "terraform -parallelism for the wall-time cases (10 is Terraform's default)")
	fs.DurationVar(&c.longJob, "job-duration", 10*time.Second, "job duration for the request-count and lag cases")
	fs.IntVar(&c.longN, "n", 50, "resource count for the request-count, lag, plan and refresh cases")
	fs.DurationVar(&c.bootTime, "boot-time", 5*time.Second, "how long restarted nodes take to be back in service in the gated rolling case (0 skips it)")
	fs.StringVar(&c.out, "out", "", "also write the report to this `file`")
	fs.BoolVar(&c.keep, "keep", false, "keep the working directory")
	fs.BoolVar(&c.quick, "quick", false, "smoke run: N=1 (the rolling case: 2 nodes), one repetition, 1 s jobs")
	fs.BoolVar(&c.rolling, "rolling", true, "run the rolling-restart case (-n nodes in one resource, batches of n/5, -job-duration jobs)")
	var scale string
	fs.StringVar(&scale, "scale", "100,200,500", "restart counts for the scale case: one resource per node against one resource with every node "+
		"(rolling, batches of 50), at the provider's default rate limit; \"\" skips it (it takes about ten minutes)")
	var large, only string
	fs.StringVar(&large, "large-sizes", "200,1000,2000", "cluster sizes for the full gated rolling restarts of the large case (batches of 50); \"\" runs only its 40-node and 2000-node pair")
	fs.DurationVar(&c.largeJob, "large-job", 10*time.Second, "job duration of the large case's full rolling restarts")
	fs.DurationVar(&c.largeBoot, "large-boot", 5*time.Second, "boot time of the large case's full rolling restarts")
	fs.StringVar(&only, "only", "", "run only these cases, comma-separated: "+strings.Join(cases, ", ")+" (default: all)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	for _, name := range strings.Split(only, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		if !slices.Contains(cases, name) {
			return c, fmt.Errorf("-only: no case %q; the cases are %s", name, strings.Join(cases, ", "))
		}
		if c.only == nil {
			c.only = map[string]bool{}
		}
		c.only[name] = true
	}
	for _, s := range strings.Split(large, ",") {
		var n int
		if strings.TrimSpace(s) == "" {
			continue
		}
		if _, err := fmt.Sscan(strings.TrimSpace(s), &n); err != nil || n < 2 {
			return c, fmt.Errorf("-large-sizes: bad cluster size %q (at least 2)", s)
		}
		c.largeSizes = append(c.largeSizes, n)
	}
	for _, s := range strings.Split(scale, ",") {
		var n int
		if strings.TrimSpace(s) == "" {
			continue
		}
		if _, err := fmt.Sscan(strings.TrimSpace(s), &n); err != nil || n < 1 {
			return c, fmt.Errorf("-scale: bad count %q", s)
		}
		c.scale = append(c.scale, n)
	}
	for _, s := range strings.Split(sizes, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(s), &n); err != nil || n < 1 {
			return c, fmt.Errorf("-sizes: bad count %q", s)
		}
		c.sizes = append(c.sizes, n)
	}
	if c.quick {
		c.reps, c.sizes, c.longN, c.longJob = 1, []int{1}, 1, time.Second
		c.scale, c.largeSizes = c.scale[:0], c.largeSizes[:0]
	}
	return c, nil
}

// kind is one of the compared resource types.
type kind struct {
	name string
	wait bool
}

var (
	kindHPCWait   = kind{name: "hpc (wait)", wait: true}
	kindHPCNoWait = kind{name: "hpc (no wait)"}
	kindTime      = kind{name: "time_static"}
	kindData      = kind{name: "terraform_data"}
)

// bench is one run's environment.
type bench struct {
	cfg  config
	log  io.Writer
	work string
	sim  *ehpcsim.Simulator
	srv  *httptest.Server
	env  []string

	sites int // how many the bench has added
}

func run(ctx context.Context, cfg config, log io.Writer) (string, error) {
	b := &bench{cfg: cfg, log: log}
	var err error
	for _, p := range []*string{&cfg.root, &cfg.terraform, &cfg.timeProvider} {
		if *p, err = filepath.Abs(*p); err != nil {
			return "", err
		}
	}
	b.cfg = cfg
	needs := []string{cfg.terraform}
	if cfg.runs("wall") {
		needs = append(needs, cfg.timeProvider) // only the wall-time cases compare with time_static
	}
	for _, p := range needs {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%v (make bench installs it: scripts/tool.sh terraform / time-provider)", err)
		}
	}
	b.work, err = os.MkdirTemp("", "hpc-bench-")
	if err != nil {
		return "", err
	}
	if !cfg.keep {
		defer os.RemoveAll(b.work)
	} else {
		fmt.Fprintln(log, "working directory:", b.work)
	}

	if err := b.setup(ctx); err != nil {
		return "", err
	}
	defer b.srv.Close()
	if cfg.rolling && (cfg.runs("rolling") || cfg.runs("large")) {
		// Minutes of other cases run first: a provider that does not take
		// the rolling configuration should fail the run now, not then.
		if err := b.validateRolling(ctx); err != nil {
			return "", err
		}
	}

	var r report
	r.cfg = cfg
	steps := []struct {
		name string
		run  func() error
	}{
		{"wall", func() error { return b.wallTimes(ctx, &r) }},
		{"waits", func() error { return b.waits(ctx, &r) }},
		{"rolling", func() error {
			if !cfg.rolling {
				return nil
			}
			return b.rolling(ctx, &r, b.site("roll", historySize, 0))
		}},
		{"refresh", func() error { return b.planAndRefresh(ctx, &r) }},
		{"scale", func() error { return b.scale(ctx, &r) }},
		{"large", func() error {
			if !cfg.rolling {
				return nil
			}
			return b.large(ctx, &r)
		}},
	}
	for _, st := range steps {
		if !cfg.runs(st.name) {
			continue
		}
		if err := st.run(); err != nil {
			return "", err
		}
	}
	return r.markdown(), nil
}

// setup builds the provider, starts the simulator and writes the CLI config.
func (b *bench) setup(ctx context.Context) error {
	fmt.Fprintln(b.log, "building the provider")
	hpcDir := filepath.Join(b.work, "plugins-hpc")
	timeDir := filepath.Join(b.work, "plugins-time")
	for _, d := range []string{hpcDir, timeDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-X main.version=0.0.0-bench", "-o", filepath.Join(hpcDir, "terraform-provider-hpc"), ".")
	build.Dir = b.cfg.root
	build.Stdout, build.Stderr = b.log, b.log
	if err := build.Run(); err != nil {
		return fmt.Errorf("building the provider: %w", err)
	}
	if err := os.Symlink(b.cfg.timeProvider, filepath.Join(timeDir, "terraform-provider-time")); err != nil {
		return err
	}

	c := ehpcsim.Cluster{ID: mainSite.cluster, Zone: ehpcsim.DemoZone}
	for i := range max(b.cfg.longN, slices.Max(b.cfg.sizes), slices.Max(append(b.cfg.scale, 0))) {
		c.Nodes = append(c.Nodes, ehpcsim.Node{ID: mainSite.node(i), Role: "compute"})
	}
	b.sim = ehpcsim.New(ehpcsim.Options{Clusters: []ehpcsim.Cluster{c}})
	b.srv = httptest.NewServer(b.sim)

	rc := filepath.Join(b.work, "terraformrc")
	rcText := fmt.Sprintf(`disable_checkpoint = true
provider_installation {
  dev_overrides {
    %q = %q
    "hashicorp/time" = %q
  }
  direct {}
}
`, hpcSource, hpcDir, timeDir)
	if err := os.WriteFile(rc, []byte(rcText), 0o644); err != nil {
		return err
	}
	b.env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_LOG=", "TF_INPUT=0")
	return nil
}

// config is n resources of kind k; ours restart one node of s each.
func (b *bench) config(s site, k kind, n int) string {
	switch k.name {
	case kindTime.name:
		return fmt.Sprintf(`terraform {
  required_providers {
    time = { source = "hashicorp/time" }
  }
}

resource "time_static" "r" {
  count = %d
}
`, n)
	case kindData.name:
		return fmt.Sprintf("resource \"terraform_data\" \"r\" {\n  count = %d\n}\n", n)
	}
	return b.hpcProvider() + fmt.Sprintf(`
resource "hpc_cluster_node_restart" "r" {
  count               = %d
  cluster_id          = %q
  node_ids            = [format("%s%%05d", count.index)]
  wait_for_completion = %v
}
`, n, s.cluster, s.prefix, k.wait)
}

// hpcProvider is the configuration's header for our provider, pointed at the
// simulator.
func (b *bench) hpcProvider() string {
	return fmt.Sprintf(`terraform {
  required_providers {
    hpc = { source = %q }
  }
}

provider "hpc" {
  endpoint   = %q
  access_key = %q
  secret_key = %q
  zone       = %q
}
`, hpcSource, b.srv.URL, ehpcsim.DemoAccessKeyID, ehpcsim.DemoSecretKey, ehpcsim.DemoZone)
}

// dir writes a fresh working directory (empty state) for k with n resources
// restarting nodes of s.
func (b *bench) dir(name string, s site, k kind, n int) (string, error) {
	return b.writeDir(name, b.config(s, k, n))
}

// writeDir writes a fresh working directory (empty state) holding config.
func (b *bench) writeDir(name, config string) (string, error) {
	d := filepath.Join(b.work, name)
	if err := os.RemoveAll(d); err != nil {
		return "", err
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", err
	}
	return d, os.WriteFile(filepath.Join(d, "main.tf"), []byte(config), 0o644)
}

// applyResult is one terraform run.
type applyResult struct {
	wall     time.Duration
	requests int
	// done maps a created resource's id (the job id for ours) to when Terraform
	// reported it complete.
	done map[string]time.Time
}

// terraform runs the CLI in dir with -json output and collects the
// apply_complete messages.
func (b *bench) terraform(ctx context.Context, dir string, args ...string) (applyResult, error) {
	res := applyResult{done: map[string]time.Time{}}
	cmd := exec.CommandContext(ctx, b.cfg.terraform, append([]string{"-chdir=" + dir}, args...)...)
	cmd.Env = b.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return res, err
	}
	before := b.sim.TotalRequests()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, err
	}
	var tail []string
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		recv := time.Now()
		var msg struct {
			Type      string `json:"type"`
			Level     string `json:"@level"`
			Message   string `json:"@message"`
			Timestamp string `json:"@timestamp"`
			Hook      struct {
				IDValue string `json:"id_value"`
			} `json:"hook"`
		}
		if json.Unmarshal(line, &msg) != nil {
			tail = append(tail, string(line))
			continue
		}
		if msg.Type == "apply_complete" && msg.Hook.IDValue != "" {
			t, err := time.Parse(time.RFC3339Nano, msg.Timestamp)
			if err != nil {
				t = recv
			}
			res.done[msg.Hook.IDValue] = t
		}
		if msg.Level == "error" {
			tail = append(tail, msg.Message)
		}
	}
	err = cmd.Wait()
	res.wall = time.Since(start)
	res.requests = b.sim.TotalRequests() - before
	if err != nil {
		return res, fmt.Errorf("terraform %s in %s: %v\n%s\n%s", strings.Join(args, " "), dir, err, strings.Join(tail, "\n"), stderr.String())
	}
	return res, nil
}

func (b *bench) apply(ctx context.Context, dir string, parallelism int) (applyResult, error) {
	return b.terraform(ctx, dir, "apply", "-auto-approve", "-input=false", "-json", fmt.Sprintf("-parallelism=%d", parallelism))
}

// wallTimes alternates the kinds, repetition by repetition, at every size.
func (b *bench) wallTimes(ctx context.Context, r *report) error {
	kinds := []kind{kindHPCNoWait, kindHPCWait, kindTime, kindData}
	b.sim.SetJobDuration(0) // jobs finish at once
	r.wall = map[int]map[string][]time.Duration{}
	for _, n := range b.cfg.sizes {
		r.wall[n] = map[string][]time.Duration{}
	}
	for rep := range b.cfg.reps {
		for _, n := range b.cfg.sizes {
			// Rotate the order so no kind always runs first (or right after a
			// Go build, or on a warm page cache).
			for i := range kinds {
				k := kinds[(i+rep)%len(kinds)]
				dir, err := b.dir("wall", mainSite, k, n)
				if err != nil {
					return err
				}
				res, err := b.apply(ctx, dir, b.cfg.parallelism)
				if err != nil {
					return err
				}
				r.wall[n][k.name] = append(r.wall[n][k.name], res.wall)
				fmt.Fprintf(b.log, "rep %d  N=%-3d %-15s %v\n", rep+1, n, k.name, res.wall.Round(time.Millisecond))
			}
		}
	}
	return nil
}

// planAndRefresh counts requests of plan and apply -refresh-only over longN
// existing resources.
func (b *bench) planAndRefresh(ctx context.Context, r *report) error {
	dir, err := b.dir("refresh", mainSite, kindHPCNoWait, b.cfg.longN)
	if err != nil {
		return err
	}
	if _, err := b.apply(ctx, dir, b.cfg.parallelism); err != nil {
		return err
	}
	plan, err := b.terraform(ctx, dir, "plan", "-input=false", "-json", "-detailed-exitcode")
	if err != nil {
		return err
	}
	refresh, err := b.terraform(ctx, dir, "apply", "-refresh-only", "-auto-approve", "-input=false", "-json")
	if err != nil {
		return err
	}
	r.planRequests, r.refreshRequests = plan.requests, refresh.requests
	fmt.Fprintf(b.log, "plan: %d requests, refresh-only: %d requests\n", plan.requests, refresh.requests)
	return nil
}

// rollingShape is the rolling case's node count and batch size: -n nodes in
// batches of a fifth of them (five batches of 10 at the default 50). Never
// fewer than two nodes, so that even -quick (N=1) has two batches and a gap
// between them to measure.
func (c config) rollingShape() (nodes, batchSize int) {
	nodes = max(c.longN, 2)
	return nodes, max(nodes/5, 1)
}

// rollingConfig is one resource restarting n nodes in batches of batchSize.
// The node ids are listed in reverse, so that batches in sorted order show
// the provider sorted them rather than kept the order it was given.
// gated turns the health gate on (the default with rolling); the plain case
// turns it off, so that its numbers compare with the runs before the gate.
func (b *bench) rollingConfig(s site, n, batchSize int, gated bool) string {
	return b.hpcProvider() + fmt.Sprintf(`
resource "hpc_cluster_node_restart" "rolling" {
  cluster_id  = %q
  node_ids    = [for i in range(%d) : format("%s%%05d", %d - i)]
  rolling     = { batch_size = %d }
  health_gate = { enabled = %v }
}
`, s.cluster, n, s.prefix, n-1, batchSize, gated)
}

// validateRolling runs terraform validate on the rolling case's configuration.
func (b *bench) validateRolling(ctx context.Context) error {
	n, size := b.cfg.rollingShape()
	dir, err := b.writeDir("rolling", b.rollingConfig(mainSite, n, size, true))
	if err != nil {
		return err
	}
	if _, err := b.terraform(ctx, dir, "validate", "-no-color"); err != nil {
		return fmt.Errorf("the rolling case's configuration is not valid for the provider built from %s (-rolling=false skips the case): %w", b.cfg.root, err)
	}
	return nil
}

// rolling measures a rolling restart: one resource restarting the rolling
// case's nodes of s in batches, jobs lasting longJob, each batch sent once the
// one before is successful. Right before it, as its baseline, a lone restart
// of one node with the same job duration, whose request count bounds what a
// batch may cost: a batch is one restart that waits, like the lone one. The
// site's log holds earlier restarts, as a cluster in use does.
//
// How long the provider took between batches is read from the simulator's
// exact job times (the gap from one job's Ended to the next one's Started),
// not from Terraform's output, which reports the resource once at the end.
// The same jobs show whether the batches overlapped or left sorted order,
// which fails the run: a rolling restart that does either is wrong, not slow.
func (b *bench) rolling(ctx context.Context, r *report, s site) error {
	lone := waitCase{key: "rolling-lone", job: b.cfg.longJob, n: 1, par: b.cfg.parallelism}
	if err := b.wait(ctx, s, &lone); err != nil {
		return err
	}
	fmt.Fprintf(b.log, "lone restart, %v job: %d requests, %v\n", b.cfg.longJob, lone.requests, lone.wall.Round(time.Millisecond))

	b.sim.SetJobDuration(b.cfg.longJob)
	defer b.sim.SetJobDuration(0)
	rc, err := b.rollout(ctx, s, lone.requests, 0)
	if err != nil {
		return err
	}
	r.rolling = &rc
	if b.cfg.bootTime <= 0 {
		return nil
	}
	b.sim.SetBootTime(b.cfg.bootTime)
	defer b.sim.SetBootTime(0)
	gated, err := b.rollout(ctx, s, lone.requests, b.cfg.bootTime)
	if err != nil {
		return err
	}
	r.gated = &gated
	return nil
}

// rollout applies the rolling case once: with the health gate on when boot
// (the simulator's) is set, else off.
func (b *bench) rollout(ctx context.Context, s site, loneRequests int, boot time.Duration) (rollingCase, error) {
	n, size := b.cfg.rollingShape()
	key := "rolling"
	if boot > 0 {
		key = "rolling-gated"
	}
	dir, err := b.writeDir(key, b.rollingConfig(s, n, size, boot > 0))
	if err != nil {
		return rollingCase{}, err
	}
	first := len(b.sim.Jobs())
	res, err := b.apply(ctx, dir, b.cfg.parallelism)
	if err != nil {
		return rollingCase{}, fmt.Errorf("%s case (-rolling=false skips it): %w", key, err)
	}
	nodes := make([]string, n)
	for i := range nodes {
		nodes[i] = s.node(i)
	}
	rc, err := checkRolling(b.sim.Jobs()[first:], nodes, size)
	if err != nil {
		return rc, fmt.Errorf("%s case, N=%d in batches of %d: %w", key, n, size, err)
	}
	if boot > 0 && slices.Min(rc.gaps) < boot-time.Second {
		return rc, fmt.Errorf("%s case: a batch was sent %v after the one before ended, before its nodes were back (boot %v)", key, slices.Min(rc.gaps), boot)
	}
	rc.wall, rc.requests, rc.loneRequests, rc.boot = res.wall, res.requests, loneRequests, boot
	fmt.Fprintf(b.log, "%s N=%d, batches of %d, %v jobs, %v boot: %d batches, %d requests, %v, largest gap %v\n",
		key, n, size, b.cfg.longJob, boot, rc.batches, res.requests, res.wall.Round(time.Millisecond), slices.Max(rc.gaps).Round(time.Millisecond))
	return rc, nil
}

// checkRolling reads a rolling restart of nodes (sorted) in batches of at
// most size from its jobs, in creation order: each job must be one batch,
// successful, started no earlier than the previous one ended, and the batches
// together must restart every node once, in sorted order. That leaves at
// least two batches, so gaps to measure, whenever there are more nodes than
// size, as rollingShape makes sure.
func checkRolling(jobs []ehpcsim.Job, nodes []string, size int) (rollingCase, error) {
	rc := rollingCase{n: len(nodes), batchSize: size}
	var order []string
	for i, j := range jobs {
		if j.Status != "successful" || j.Ended.IsZero() {
			return rc, fmt.Errorf("batch %d (job %s) is %s", i+1, j.ID, j.Status)
		}
		if len(j.NodeIDs) > size {
			return rc, fmt.Errorf("batch %d (job %s) restarted %d nodes, more than the batch size %d", i+1, j.ID, len(j.NodeIDs), size)
		}
		if i > 0 {
			prev := jobs[i-1]
			gap := j.Started.Sub(prev.Ended)
			if gap < 0 {
				return rc, fmt.Errorf("batches overlapped: batch %d (job %s) started %v before batch %d (job %s) ended", i+1, j.ID, -gap, i, prev.ID)
			}
			rc.gaps = append(rc.gaps, gap)
		}
		rc.jobTime += j.Ended.Sub(j.Started)
		order = append(order, j.NodeIDs...)
	}
	for i := range max(len(order), len(nodes)) {
		switch {
		case i >= len(order):
			return rc, fmt.Errorf("%d batches restarted %d of the %d nodes", len(jobs), len(order), len(nodes))
		case i >= len(nodes):
			return rc, fmt.Errorf("%d batches restarted %d nodes, not the %d asked for once each", len(jobs), len(order), len(nodes))
		case order[i] != nodes[i]:
			return rc, fmt.Errorf("batches left sorted node order: restart %d of %d was %s, want %s", i+1, len(nodes), order[i], nodes[i])
		}
	}
	rc.batches = len(jobs)
	return rc, nil
}

// scaleBatch is the batch size of the scale case's one resource.
const scaleBatch = 50

// scale restarts n nodes two ways, at the provider's default rate limit, each
// apply with a fresh provider (so a full burst): one resource per node, not
// waiting, at Terraform's default -parallelism (where the rate limit paces the
// requests past its burst), and one resource with every node, rolling in
// batches of scaleBatch with 1 s jobs (one request a batch, and the waits).
func (b *bench) scale(ctx context.Context, r *report) error {
	for _, n := range b.cfg.scale {
		b.sim.SetJobDuration(0)
		dir, err := b.dir(fmt.Sprintf("scale-%d-each", n), mainSite, kindHPCNoWait, n)
		if err != nil {
			return err
		}
		each, err := b.apply(ctx, dir, 10)
		if err != nil {
			return err
		}
		b.sim.SetJobDuration(time.Second)
		if dir, err = b.writeDir(fmt.Sprintf("scale-%d-one", n), b.rollingConfig(mainSite, n, min(scaleBatch, n), false)); err != nil {
			return err
		}
		one, err := b.apply(ctx, dir, 10)
		if err != nil {
			return err
		}
		b.sim.SetJobDuration(0)
		fmt.Fprintf(b.log, "scale N=%d: one resource per node %v, %d requests; one resource %v, %d requests\n",
			n, each.wall.Round(time.Millisecond), each.requests, one.wall.Round(time.Millisecond), one.requests)
		r.scale = append(r.scale, scaleCase{n: n, eachWall: each.wall, eachRequests: each.requests, oneWall: one.wall, oneRequests: one.requests})
	}
	return nil
}
