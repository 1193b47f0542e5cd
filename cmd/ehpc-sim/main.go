// Command ehpc-sim serves the in-memory QingCloud EHPC API simulator
// (internal/ehpcsim) on a loopback address, for demos and for trying
// configurations of the provider offline.
//
// Flags switch on the API's unkind sides that API.md warns of (a server clock
// that is not the client's, several machines behind the endpoint whose clocks
// disagree, a lagging operation log, an operation log that fails for a while,
// short pages, another total field, queue ids in resource_ids, slow answers,
// a restart processed after its connection was dropped), so users can watch
// the provider cope.
//
// It prints the endpoint and the demo credentials on start, then the same as
// export lines of the environment variables the provider reads, ready to paste
// into the shell terraform runs in; logs one line per request to stderr (never
// a signature or secret); and on SIGINT/SIGTERM prints what it received:
// requests per path and restarts per node.
//
// Each start listens on a free loopback port unless -port (or -listen
// host:port) fixes one, -compute-nodes sizes the demo cluster, and -clusters
// names a JSON file of more clusters, whose format -h shows (clustersHelp).
//
// GET /_sim/summary is a simulator-only endpoint, not part of the EHPC API:
// unsigned, answered only to loopback clients, it returns
// {"requests": {path: n}, "restarts": {node: n}, "jobs": [...]} so a demo can
// show what the simulator saw.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

const summaryPath = "/_sim/summary"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	listen       string
	port         int  // -port, applied to listen by parseFlags
	computeNodes int  // compute nodes of the demo cluster
	nodeChurn    int  // -node-churn
	computeSet   bool // -compute-nodes was given
	clusters     string
	jobDuration  time.Duration
	quiet        bool
	addrFile     string
	summaryFile  string

	// The API's unkind sides (API.md), off by default.
	clockOffset time.Duration
	opLogLag    time.Duration
	pageCap     int
	totalField  string
	queueIDs    bool
	latency     latencyFlag
	lateEffect  time.Duration
	backends    backendsFlag
	outages     outagesFlag

	// How restarted nodes of the demo cluster come back (ehpcsim nodes.go).
	bootTime, flapPeriod time.Duration
	fates                fatesFlag
	noHealthCheck        bool
}

// fatesFlag maps node ids of the demo cluster to their fate after a restart,
// from -never-back, -unhealthy and -flapping (each repeatable or
// comma-separated).
type fatesFlag map[string]string

// fate is the flag.Value of one fate's ids.
type fate struct {
	all  *fatesFlag
	name string
}

func (f fate) String() string {
	if f.all == nil {
		return ""
	}
	var ids []string
	for id, name := range *f.all {
		if name == f.name {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

func (f fate) Set(v string) error {
	if *f.all == nil {
		*f.all = fatesFlag{}
	}
	for _, id := range strings.Split(v, ",") {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if prev, ok := (*f.all)[id]; ok && prev != f.name {
			return fmt.Errorf("node %s is given two fates: %s and %s", id, prev, f.name)
		}
		(*f.all)[id] = f.name
	}
	return nil
}

// The demo cluster's compute nodes: ehpcsim.DemoCluster's four by default,
// and at most maxComputeNodes, far more than a try needs and few enough that
// listing the whole cluster (100 nodes a page) takes about a hundred requests.
const (
	defaultComputeNodes = 4
	maxComputeNodes     = 10000
)

// Environment variables the provider reads (internal/provider/provider.go,
// envEndpoint and the rest; main_test.go checks the names against it). The
// provider is not imported for them: it would bring all of Terraform's
// plugin framework into the simulator for four strings.
const (
	envEndpoint  = "QINGCLOUD_HPC_ENDPOINT"
	envAccessKey = "QINGCLOUD_ACCESS_KEY"
	envSecretKey = "QINGCLOUD_SECRET_KEY"
	envZone      = "QINGCLOUD_ZONE"
)

// restartPath is where -late-effect drops the first restart request; it is
// the documented spelling, which clients call first.
const restartPath = "/api/cluster/restartNodes"

// latencyFlag collects -latency PATH=DURATION, repeated or comma-separated.
type latencyFlag map[string]time.Duration

func (l *latencyFlag) String() string {
	if l == nil || len(*l) == 0 {
		return ""
	}
	parts := make([]string, 0, len(*l))
	for p, d := range *l {
		parts = append(parts, p+"="+d.String())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (l *latencyFlag) Set(v string) error {
	if *l == nil {
		*l = latencyFlag{}
	}
	for _, item := range strings.Split(v, ",") {
		path, dur, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return fmt.Errorf("%q is not PATH=DURATION (e.g. /api/cluster/listNodes=8s or *=500ms)", item)
		}
		if path != "*" && !strings.HasPrefix(path, "/") {
			return fmt.Errorf("%q: the path must start with / (e.g. /api/operation) or be *", item)
		}
		d, err := time.ParseDuration(dur)
		if err != nil {
			return fmt.Errorf("%q: %v", item, err)
		}
		if d < 0 {
			return fmt.Errorf("%q: the latency must not be negative", item)
		}
		(*l)[path] = d
	}
	return nil
}

// backendsFlag is -backend-clocks OFFSET,OFFSET,...: one clock offset per
// machine behind the endpoint. Given again, it replaces the list: the list is
// the set of machines, not something to add to.
type backendsFlag []time.Duration

func (b *backendsFlag) String() string {
	if b == nil {
		return ""
	}
	parts := make([]string, len(*b))
	for i, d := range *b {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}

func (b *backendsFlag) Set(v string) error {
	var offsets []time.Duration
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return fmt.Errorf("%q: give one clock offset per backend, comma-separated (e.g. 0s,0s,3s)", v)
		}
		d, err := time.ParseDuration(item)
		if err != nil {
			return fmt.Errorf("%q: %v", item, err)
		}
		offsets = append(offsets, d)
	}
	*b = offsets
	return nil
}

// outageSpan is one -oplog-outage: from start after the simulator starts, for
// length.
type outageSpan struct{ start, length time.Duration }

// outagesFlag collects -oplog-outage START+LENGTH, repeated or comma-separated.
type outagesFlag []outageSpan

func (o *outagesFlag) String() string {
	if o == nil {
		return ""
	}
	parts := make([]string, len(*o))
	for i, sp := range *o {
		parts[i] = sp.start.String() + "+" + sp.length.String()
	}
	return strings.Join(parts, ",")
}

func (o *outagesFlag) Set(v string) error {
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		start, length, ok := strings.Cut(item, "+")
		if !ok {
			return fmt.Errorf("%q is not START+LENGTH (e.g. 30s+20s: from 30s after start, for 20s)", item)
		}
		var sp outageSpan
		var err error
		if sp.start, err = time.ParseDuration(start); err != nil {
			return fmt.Errorf("%q: %v", item, err)
		}
		if sp.length, err = time.ParseDuration(length); err != nil {
			return fmt.Errorf("%q: %v", item, err)
		}
		if sp.start < 0 {
			return fmt.Errorf("%q: the start must not be negative", item)
		}
		if sp.length <= 0 {
			return fmt.Errorf("%q: the length must be positive", item)
		}
		*o = append(*o, sp)
	}
	return nil
}

// options turns the flags into simulator options.
func (c config) options() ehpcsim.Options {
	return ehpcsim.Options{
		JobDuration:     c.jobDuration,
		ClockOffset:     c.clockOffset,
		OperationLogLag: c.opLogLag,
		PageCap:         c.pageCap,
		TotalField:      c.totalField,
		NodeChurn:       c.nodeChurn,
		QueueIDs:        c.queueIDs,
		Latency:         c.latency,
		Backends:        c.backends,
		BootTime:        c.bootTime,
		FlapPeriod:      c.flapPeriod,
		Clusters:        []ehpcsim.Cluster{c.demo()},
	}
}

// demo is the demo cluster the flags describe: its size, its nodes' fates and
// its health check.
func (c config) demo() ehpcsim.Cluster {
	d := demoCluster(c.computeNodes)
	for i := range d.Nodes {
		d.Nodes[i].AfterRestart = c.fates[d.Nodes[i].ID]
	}
	if c.noHealthCheck {
		off := false
		d.HealthCheck = &off
	}
	return d
}

// demoCluster is ehpcsim.DemoCluster with n compute nodes: its login node and
// controller, its four compute nodes as they are (ids, names and addresses
// that the docs and examples use) as far as n goes, and past them more in the
// same pattern, cln-cmp00005 on.
func demoCluster(n int) ehpcsim.Cluster {
	c := ehpcsim.DemoCluster()
	var nodes, compute []ehpcsim.Node
	for _, node := range c.Nodes {
		if node.Role == "compute" {
			compute = append(compute, node)
		} else {
			nodes = append(nodes, node)
		}
	}
	for i := 1; i <= n; i++ {
		if i <= len(compute) {
			nodes = append(nodes, compute[i-1])
			continue
		}
		nodes = append(nodes, ehpcsim.Node{
			ID:         fmt.Sprintf("cln-cmp%05d", i),
			Name:       fmt.Sprintf("compute-%d", i),
			Role:       "compute",
			Status:     "active",
			PrivateIP:  fmt.Sprintf("10.16.%d.%d", (i-1)/200, 11+(i-1)%200), // compute-1 to -4 are 10.16.0.11 to .14
			InstanceID: fmt.Sprintf("i-cp%06d", i),
		})
	}
	c.Nodes = nodes
	return c
}

// unkindness describes the non-default behaviours for the banner, so whoever
// watches the demo knows which of the API's unkind sides are switched on.
func (c config) unkindness() string {
	var parts []string
	if c.clockOffset != 0 {
		parts = append(parts, "clock offset "+c.clockOffset.String())
	}
	if c.opLogLag > 0 {
		parts = append(parts, "operation log lag "+c.opLogLag.String())
	}
	if c.pageCap > 0 {
		parts = append(parts, fmt.Sprintf("pages of at most %d", c.pageCap))
	}
	if c.nodeChurn > 0 {
		parts = append(parts, fmt.Sprintf("a node joins (and one leaves) every %d listNodes requests of a cluster", c.nodeChurn))
	}
	if c.totalField != ehpcsim.TotalCount {
		parts = append(parts, "total field "+c.totalField)
	}
	if c.queueIDs {
		parts = append(parts, "queue ids in resource_ids")
	}
	if len(c.latency) > 0 {
		parts = append(parts, "latency "+c.latency.String())
	}
	if c.lateEffect > 0 {
		parts = append(parts, "first restart dropped, processed "+c.lateEffect.String()+" later")
	}
	if len(c.backends) > 0 {
		parts = append(parts, fmt.Sprintf("%d backends with clocks %s", len(c.backends), c.backends.String()))
	}
	for _, o := range c.outages {
		parts = append(parts, fmt.Sprintf("operation log answers 502 from %s to %s after start", o.start, o.start+o.length))
	}
	if c.bootTime > 0 {
		parts = append(parts, "restarted nodes healthy "+c.bootTime.String()+" after their job")
	}
	for _, name := range []string{ehpcsim.FateNeverBack, ehpcsim.FateUnhealthy, ehpcsim.FateFlapping} {
		if ids := (fate{&c.fates, name}).String(); ids != "" {
			parts = append(parts, strings.ReplaceAll(name, "_", " ")+" after a restart: "+ids)
		}
	}
	if c.noHealthCheck {
		parts = append(parts, "no health check")
	}
	return strings.Join(parts, ", ")
}

// clustersHelp documents the -clusters file where its flag is: the fields
// ehpcsim.Cluster reads, and an example a test loads, so the two cannot part.
const clustersHelp = `
The -clusters file is one JSON object {"clusters": [...]}; a field it does not know is
refused. Each cluster has:
  cluster_id    required, such as "ehpc-3fs8k2xb"
  zone          required, such as "jn1a"
  health_check  false turns the application's health check off (nodes report no
                health); omitted or true: on
  nodes         the nodes, each with:
    node_id        required, unique in the cluster, such as "cln-gpu00001"
    name, role, private_ip, instance_id   as listNodes reports them
    status         the node's resting status: "active" (the default) or another,
                   such as "stopped", which the API refuses to restart (ret_code 1400)
    health_status  its resting health: "" (healthy while the check is on) or
                   "unhealthy"
    after_restart  what becomes of it after a restart: "" (back, healthy),
                   "unhealthy", "never_back" or "flapping"
For example:
  {"clusters": [{"cluster_id": "ehpc-3fs8k2xb", "zone": "jn1a", "nodes": [
    {"node_id": "cln-gpu00001", "role": "compute", "health_status": "unhealthy"},
    {"node_id": "cln-gpu00002", "role": "compute", "status": "stopped"},
    {"node_id": "cln-gpu00003", "role": "compute", "after_restart": "never_back"}]}]}
`

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("ehpc-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.listen, "listen", "127.0.0.1:0", "loopback `host:port` to listen on; port 0 picks a free one on every start, a fixed port (127.0.0.1:8080, or -port 8080) keeps the endpoint the same across restarts")
	fs.IntVar(&c.port, "port", 0, "listen on this fixed loopback port `N`, so the endpoint and its export line stay the same across restarts: short for -listen 127.0.0.1:N (with -listen, its host on port N)")
	fs.IntVar(&c.computeNodes, "compute-nodes", defaultComputeNodes, fmt.Sprintf("size the demo cluster %s to `N` compute nodes (1 to %d), cln-cmp00001 on, beside its login node and controller", ehpcsim.DemoClusterID, maxComputeNodes))
	fs.StringVar(&c.clusters, "clusters", "", "JSON `file` of clusters to serve besides the demo cluster (one with its id replaces it); its format is below")
	fs.DurationVar(&c.jobDuration, "job-duration", 3*time.Second, "how long a restart job stays pending")
	fs.BoolVar(&c.quiet, "quiet", false, "do not log requests (the endpoint, credentials and export lines are printed all the same)")
	fs.StringVar(&c.addrFile, "addr-file", "", "write the endpoint URL to this `file` once listening")
	fs.StringVar(&c.summaryFile, "summary-file", "", "write the summary as JSON to this `file` at shutdown")
	fs.DurationVar(&c.clockOffset, "clock-offset", 0, "run the server's clock this far ahead (negative: behind); over 60s, correct clients get 1300")
	fs.DurationVar(&c.opLogLag, "oplog-lag", 0, "hide each job from the operation log until this long after its creation")
	fs.IntVar(&c.pageCap, "page-cap", 0, "return at most this many items per page of every listing, whatever limit asks (0: no cap)")
	fs.StringVar(&c.totalField, "total-field", ehpcsim.TotalCount, "name of the listings' total: total_count, total_sum, none (omitted) or sometimes (total_count on every other answer)")
	fs.IntVar(&c.nodeChurn, "node-churn", 0, "on every `N`th listNodes request of a cluster, a node joins it at a random place in node_id order and, once three have, the oldest of them leaves: offsets shift between pages (0: never)")
	fs.BoolVar(&c.queueIDs, "queue-ids", false, "put a queue id between the cluster and node ids in operation-log resource_ids")
	fs.Var(&c.latency, "latency", "answer requests to a path this late, after processing them: `PATH=DURATION` (repeatable or comma-separated; PATH * means every path)")
	fs.DurationVar(&c.lateEffect, "late-effect", 0, "drop the first restart request's connection and process it this long later")
	fs.Var(&c.backends, "backend-clocks", "serve requests in turn from several machines whose clocks are these `OFFSETS` (comma-separated, one per machine, added to -clock-offset, e.g. 0s,0s,3s); each answer's Date, the timestamp check and a new job's create_time come from the machine that served the request")
	fs.Var(&c.outages, "oplog-outage", "answer every operation-log request with a gateway's 502 during `START+LENGTH` after the simulator starts (e.g. 30s+20s; repeatable or comma-separated)")
	fs.DurationVar(&c.bootTime, "boot-time", 0, "how long a restarted node, once its job ended, boots (active, transition_status starting, no health yet) before it is back and its health check passes (0: back at once)")
	fs.DurationVar(&c.flapPeriod, "flap-period", 0, "how long a -flapping node stays healthy, then unhealthy (0: 20s)")
	fs.Var(fate{&c.fates, ehpcsim.FateNeverBack}, "never-back", "demo cluster node `IDS` that never come back after a restart (status pending, transition starting; comma-separated or repeatable)")
	fs.Var(fate{&c.fates, ehpcsim.FateUnhealthy}, "unhealthy", "demo cluster node `IDS` that come back active but never pass their health check")
	fs.Var(fate{&c.fates, ehpcsim.FateFlapping}, "flapping", "demo cluster node `IDS` whose health flaps between healthy and unhealthy every -flap-period once booted")
	fs.BoolVar(&c.noHealthCheck, "no-health-check", false, "turn the demo cluster's health check off: its nodes report no health (health_check null, missing or enable false)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ehpc-sim [flags]\n\n"+
			"Serves a simulated QingCloud EHPC API on loopback, with demo credentials, and prints\n"+
			"the export lines of the provider's environment variables to paste into the shell\n"+
			"you run terraform in. It picks a free port on every start: -port N fixes one.\n\n")
		fs.PrintDefaults()
		fmt.Fprint(stderr, clustersHelp)
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	err := c.settle(fs)
	return c, err
}

// settle checks the parsed flags of fs and resolves those that depend on
// others (-port into -listen).
func (c *config) settle(fs *flag.FlagSet) error {
	portSet := false
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "port":
			portSet = true
		case "compute-nodes":
			c.computeSet = true
		}
	})
	if c.computeNodes < 1 || c.computeNodes > maxComputeNodes {
		return fmt.Errorf("-compute-nodes %d: the demo cluster takes 1 to %d compute nodes (default %d)", c.computeNodes, maxComputeNodes, defaultComputeNodes)
	}
	if portSet {
		listen, err := withPort(c.listen, c.port)
		if err != nil {
			return err
		}
		c.listen = listen
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"job-duration", c.jobDuration}, {"oplog-lag", c.opLogLag}, {"late-effect", c.lateEffect}, {"boot-time", c.bootTime}, {"flap-period", c.flapPeriod}} {
		if d.v < 0 {
			return fmt.Errorf("-%s must not be negative (got %s)", d.name, d.v)
		}
	}
	if err := c.fatesKnown(); err != nil {
		return err
	}
	if c.pageCap < 0 {
		return fmt.Errorf("-page-cap must not be negative (got %d)", c.pageCap)
	}
	switch c.totalField {
	case ehpcsim.TotalCount, ehpcsim.TotalSum, ehpcsim.TotalNone, ehpcsim.TotalSometimes:
	default:
		return fmt.Errorf("-total-field %q: use total_count, total_sum, none or sometimes", c.totalField)
	}
	if c.nodeChurn < 0 {
		return fmt.Errorf("-node-churn must not be negative (got %d)", c.nodeChurn)
	}
	return checkLoopback(c.listen)
}

// fatesKnown refuses a fate given to a node the demo cluster does not have.
func (c *config) fatesKnown() error {
	known := map[string]bool{}
	for _, n := range demoCluster(c.computeNodes).Nodes {
		known[n.ID] = true
	}
	var unknown []string
	for id, name := range c.fates {
		if !known[id] {
			unknown = append(unknown, fmt.Sprintf("-%s %s", strings.ReplaceAll(name, "_", "-"), id))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("%s: no such node in the demo cluster %s (its nodes: cln-login001, cln-ctrl0001, cln-cmp00001 to cln-cmp%05d)", strings.Join(unknown, ", "), ehpcsim.DemoClusterID, c.computeNodes)
	}
	return nil
}

// withPort is -listen's address with -port's port. -listen's own port must be
// 0 or the same: two different ports are a mistake, not a preference.
func withPort(listen string, port int) (string, error) {
	if port < 0 || port > 65535 {
		return "", fmt.Errorf("-port %d: a port is 1 to 65535 (0 picks a free one)", port)
	}
	host, lport, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("-listen %q: %v", listen, err)
	}
	p := strconv.Itoa(port)
	if lport != "0" && lport != p {
		return "", fmt.Errorf("-listen %s and -port %d name two ports: give the port once, with -port N or -listen host:N", listen, port)
	}
	return net.JoinHostPort(host, p), nil
}

// listenError explains a failure to listen on addr, above all the usual one
// with a fixed port: something already holds it.
func listenError(addr string, err error) error {
	host, port, _ := net.SplitHostPort(addr)
	var errno syscall.Errno
	if errors.As(err, &errno) {
		// Windows reports Winsock's codes, which syscall.EADDRINUSE and
		// EACCES are not: WSAEADDRINUSE is 10048, WSAEACCES 10013.
		switch errno {
		case syscall.EADDRINUSE, 10048:
			return fmt.Errorf("port %s on %s is already in use (another ehpc-sim still running?): stop whatever holds it, or give another port with -port N, or -port 0 for a free one", port, host)
		case syscall.EACCES, 10013:
			return fmt.Errorf("not allowed to listen on port %s on %s (ports below 1024 usually need privileges): give a port above 1023 with -port N, or -port 0 for a free one", port, host)
		}
	}
	return fmt.Errorf("listening on %s: %v", addr, err)
}

// checkLoopback refuses anything but loopback: the simulator accepts a key
// pair that is printed on start and published in the docs, so it must never
// be reachable from another machine.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-listen %q: %v", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("-listen %q: refusing a non-loopback address; the simulator accepts public demo credentials, so it listens only on 127.0.0.1, ::1 or localhost", addr)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "ehpc-sim: %v\n", err)
		return 2
	}

	sim, err := cfg.simulator(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "ehpc-sim: %v\n", err)
		return 1
	}

	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		fmt.Fprintf(stderr, "ehpc-sim: %v\n", listenError(cfg.listen, err))
		return 1
	}
	endpoint := "http://" + ln.Addr().String()
	srv := &http.Server{Handler: newHandler(sim), ReadHeaderTimeout: 10 * time.Second}

	printBanner(stdout, endpoint, sim)
	if u := cfg.unkindness(); u != "" {
		fmt.Fprintf(stdout, "unkind: %s\n", u)
	}
	printExports(stdout, endpoint)
	if cfg.addrFile != "" {
		if err := writeFileAtomic(cfg.addrFile, []byte(endpoint)); err != nil {
			fmt.Fprintf(stderr, "ehpc-sim: writing -addr-file: %v\n", err)
			_ = ln.Close()
			return 1
		}
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	code := 0
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		fmt.Fprintf(stderr, "ehpc-sim: %v\n", err)
		code = 1
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		// Requests stuck in an injected delay must not keep the process alive.
		_ = srv.Close()
	}

	if !cfg.reportSummary(sim, stdout, stderr) {
		code = 1
	}
	return code
}

// simulator builds the simulator the flags describe, logging to stderr unless
// -quiet.
func (c config) simulator(stderr io.Writer) (*ehpcsim.Simulator, error) {
	opts := c.options()
	if !c.quiet {
		opts.Logf = log.New(stderr, "ehpc-sim: ", log.LstdFlags|log.Lmicroseconds).Printf
	}
	sim := ehpcsim.New(opts)
	if c.clusters != "" {
		if err := sim.LoadClustersFile(c.clusters); err != nil {
			return nil, err
		}
		if c.computeSet && demoReplaced(sim, opts.Clusters[0]) {
			return nil, fmt.Errorf("-compute-nodes %d: the clusters file %s lists the demo cluster %s itself, which replaces the one -compute-nodes sizes; drop one or the other", c.computeNodes, c.clusters, ehpcsim.DemoClusterID)
		}
	}
	if c.lateEffect > 0 {
		sim.InjectFault(restartPath, ehpcsim.Fault{Drop: true, LateEffect: c.lateEffect})
	}
	// Outages count from now on the simulator's own clock, which is the
	// clock LogOutage reads, offset included.
	start := sim.Now()
	for _, o := range c.outages {
		sim.LogOutage(start.Add(o.start), start.Add(o.start+o.length))
	}
	return sim, nil
}

// reportSummary prints what the simulator received, and writes it to
// -summary-file when asked; false when that file could not be written.
func (c config) reportSummary(sim *ehpcsim.Simulator, stdout, stderr io.Writer) bool {
	summary := sim.Summary()
	printSummary(stdout, summary)
	if c.summaryFile == "" {
		return true
	}
	b, _ := json.MarshalIndent(summary, "", "  ")
	if err := writeFileAtomic(c.summaryFile, append(b, '\n')); err != nil {
		fmt.Fprintf(stderr, "ehpc-sim: writing -summary-file: %v\n", err)
		return false
	}
	return true
}

// newHandler serves the simulator, plus the simulator-only summary endpoint.
// It is not an http.ServeMux because a mux cleans and redirects odd paths,
// which would hide from a client how the API answers them.
func newHandler(sim *ehpcsim.Simulator) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != summaryPath {
			sim.ServeHTTP(w, r)
			return
		}
		if !fromLoopback(r) {
			http.Error(w, "forbidden: the simulator summary is only served to loopback clients", http.StatusForbidden)
			return
		}
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		b, _ := json.MarshalIndent(sim.Summary(), "", "  ")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(append(b, '\n'))
	})
}

func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// demoReplaced tells whether the demo cluster the simulator serves is no
// longer the one it was given (a clusters file listed its id).
func demoReplaced(sim *ehpcsim.Simulator, given ehpcsim.Cluster) bool {
	for _, c := range sim.Clusters() {
		if c.ID != given.ID {
			continue
		}
		if c.Zone != given.Zone || len(c.Nodes) != len(given.Nodes) {
			return true
		}
		for i := range c.Nodes {
			if c.Nodes[i].ID != given.Nodes[i].ID {
				return true
			}
		}
		return false
	}
	return true
}

// bannerNodes is how many node ids a cluster line lists in full; a larger
// cluster's line gives the first few and the last, and the count.
const bannerNodes = 8

// printBanner prints the endpoint, the demo credentials and the clusters, one
// "name: value" a line. scripts/demo.sh reads the access_key and secret_key
// lines and shows the first six, so those keep their place and spelling.
func printBanner(w io.Writer, endpoint string, sim *ehpcsim.Simulator) {
	fmt.Fprintf(w, "endpoint: %s\n", endpoint)
	fmt.Fprintf(w, "access_key: %s\n", ehpcsim.DemoAccessKeyID)
	fmt.Fprintf(w, "secret_key: %s\n", ehpcsim.DemoSecretKey)
	fmt.Fprintf(w, "zone: %s\n", ehpcsim.DemoZone)
	clusters := sim.Clusters()
	for _, c := range clusters {
		ids := make([]string, len(c.Nodes))
		for i, n := range c.Nodes {
			ids[i] = n.ID
		}
		zone := ""
		if c.Zone != ehpcsim.DemoZone {
			zone = "zone " + c.Zone + ", "
		}
		if len(ids) > bannerNodes {
			fmt.Fprintf(w, "cluster: %s (%s%d nodes: %s ... %s)\n", c.ID, zone, len(ids), strings.Join(ids[:bannerNodes/2], " "), ids[len(ids)-1])
		} else {
			fmt.Fprintf(w, "cluster: %s (%snodes %s)\n", c.ID, zone, strings.Join(ids, " "))
		}
	}
	fmt.Fprintf(w, "summary: %s%s\n", endpoint, summaryPath)
	if id, nodes := tryNodes(clusters); len(nodes) > 0 {
		fmt.Fprintf(w, "try: cluster_id = %q, node_ids = [%s]\n", id, quoteJoin(nodes))
	}
}

// tryNodes picks a cluster and up to two of its nodes for a first
// configuration: compute nodes of the demo cluster when it has them, else of
// the first cluster that has some, else any two nodes.
func tryNodes(clusters []ehpcsim.Cluster) (string, []string) {
	pick := func(c ehpcsim.Cluster, role string) []string {
		var ids []string
		for _, n := range c.Nodes {
			if (role == "" || n.Role == role) && len(ids) < 2 {
				ids = append(ids, n.ID)
			}
		}
		return ids
	}
	ordered := make([]ehpcsim.Cluster, 0, len(clusters))
	for _, c := range clusters {
		if c.ID == ehpcsim.DemoClusterID {
			ordered = append([]ehpcsim.Cluster{c}, ordered...)
		} else {
			ordered = append(ordered, c)
		}
	}
	for _, role := range []string{"compute", ""} {
		for _, c := range ordered {
			if ids := pick(c, role); len(ids) > 0 {
				return c.ID, ids
			}
		}
	}
	return "", nil
}

func quoteJoin(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = strconv.Quote(id)
	}
	return strings.Join(q, ", ")
}

// printExports prints the provider's environment variables as export lines,
// after a blank line, to paste into the shell terraform runs in. The comment
// lines hold no quote, bracket or other character a shell would act on, so
// that pasting them into zsh, where comments are off at the prompt by default,
// costs a "command not found" and nothing else.
func printExports(w io.Writer, endpoint string) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "# The provider reads these variables: paste them into the shell you run terraform in.")
	fmt.Fprintln(w, "# The secret key is the public demo key of this simulator, accepted nowhere else.")
	for _, v := range [][2]string{
		{envEndpoint, endpoint},
		{envAccessKey, ehpcsim.DemoAccessKeyID},
		{envSecretKey, ehpcsim.DemoSecretKey},
		{envZone, ehpcsim.DemoZone},
	} {
		fmt.Fprintf(w, "export %s=%s\n", v[0], shellQuote(v[1]))
	}
}

// shellQuote leaves a value a POSIX shell reads as it is alone, and quotes
// any other (an IPv6 endpoint's brackets, say, which zsh would glob).
func shellQuote(s string) string {
	plain := s != "" && strings.IndexFunc(s, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && !strings.ContainsRune("-_./:@%+,=", r)
	}) < 0
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func printSummary(w io.Writer, s ehpcsim.Summary) {
	section := func(title string, m map[string]int) {
		fmt.Fprintf(w, "%s:\n", title)
		if len(m) == 0 {
			fmt.Fprintln(w, "  (none)")
			return
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %s: %d\n", k, m[k])
		}
	}
	section("requests per path", s.Requests)
	section("restarts per node", s.Restarts)
}

// writeFileAtomic writes via a temporary file and a rename, so a script that
// polls for the file never reads it half-written.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ehpc-sim-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
