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
// It prints the endpoint and the demo credentials on start, logs one line per
// request to stderr (never a signature or secret), and on SIGINT/SIGTERM
// prints what it received: requests per path and restarts per node.
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
	listen      string
	clusters    string
	jobDuration time.Duration
	quiet       bool
	addrFile    string
	summaryFile string

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
}

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
		QueueIDs:        c.queueIDs,
		Latency:         c.latency,
		Backends:        c.backends,
	}
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
	return strings.Join(parts, ", ")
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("ehpc-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.listen, "listen", "127.0.0.1:0", "loopback `host:port` to listen on (port 0 picks a free one)")
	fs.StringVar(&c.clusters, "clusters", "", "JSON `file` of extra clusters, {\"clusters\": [...]}, served besides the demo cluster")
	fs.DurationVar(&c.jobDuration, "job-duration", 3*time.Second, "how long a restart job stays pending")
	fs.BoolVar(&c.quiet, "quiet", false, "do not log requests")
	fs.StringVar(&c.addrFile, "addr-file", "", "write the endpoint URL to this `file` once listening")
	fs.StringVar(&c.summaryFile, "summary-file", "", "write the summary as JSON to this `file` at shutdown")
	fs.DurationVar(&c.clockOffset, "clock-offset", 0, "run the server's clock this far ahead (negative: behind); over 60s, correct clients get 1300")
	fs.DurationVar(&c.opLogLag, "oplog-lag", 0, "hide each job from the operation log until this long after its creation")
	fs.IntVar(&c.pageCap, "page-cap", 0, "return at most this many items per page of every listing, whatever limit asks (0: no cap)")
	fs.StringVar(&c.totalField, "total-field", ehpcsim.TotalCount, "name of the listings' total: total_count, total_sum or none (omitted)")
	fs.BoolVar(&c.queueIDs, "queue-ids", false, "put a queue id between the cluster and node ids in operation-log resource_ids")
	fs.Var(&c.latency, "latency", "answer requests to a path this late, after processing them: `PATH=DURATION` (repeatable or comma-separated; PATH * means every path)")
	fs.DurationVar(&c.lateEffect, "late-effect", 0, "drop the first restart request's connection and process it this long later")
	fs.Var(&c.backends, "backend-clocks", "serve requests in turn from several machines whose clocks are these `OFFSETS` (comma-separated, one per machine, added to -clock-offset, e.g. 0s,0s,3s); each answer's Date, the timestamp check and a new job's create_time come from the machine that served the request")
	fs.Var(&c.outages, "oplog-outage", "answer every operation-log request with a gateway's 502 during `START+LENGTH` after the simulator starts (e.g. 30s+20s; repeatable or comma-separated)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ehpc-sim [flags]\n\nServes a simulated QingCloud EHPC API on loopback, with demo credentials.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"job-duration", c.jobDuration}, {"oplog-lag", c.opLogLag}, {"late-effect", c.lateEffect}} {
		if d.v < 0 {
			return c, fmt.Errorf("-%s must not be negative (got %s)", d.name, d.v)
		}
	}
	if c.pageCap < 0 {
		return c, fmt.Errorf("-page-cap must not be negative (got %d)", c.pageCap)
	}
	switch c.totalField {
	case ehpcsim.TotalCount, ehpcsim.TotalSum, ehpcsim.TotalNone:
	default:
		return c, fmt.Errorf("-total-field %q: use total_count, total_sum or none", c.totalField)
	}
	return c, checkLoopback(c.listen)
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
		fmt.Fprintf(stderr, "ehpc-sim: %v\n", err)
		return 1
	}
	endpoint := "http://" + ln.Addr().String()
	srv := &http.Server{Handler: newHandler(sim), ReadHeaderTimeout: 10 * time.Second}

	printBanner(stdout, endpoint, sim)
	if u := cfg.unkindness(); u != "" {
		fmt.Fprintf(stdout, "unkind: %s\n", u)
	}
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

func printBanner(w io.Writer, endpoint string, sim *ehpcsim.Simulator) {
	fmt.Fprintf(w, "endpoint: %s\n", endpoint)
	fmt.Fprintf(w, "access_key: %s\n", ehpcsim.DemoAccessKeyID)
	fmt.Fprintf(w, "secret_key: %s\n", ehpcsim.DemoSecretKey)
	fmt.Fprintf(w, "zone: %s\n", ehpcsim.DemoZone)
	for _, c := range sim.Clusters() {
		ids := make([]string, len(c.Nodes))
		for i, n := range c.Nodes {
			ids[i] = n.ID
		}
		zone := ""
		if c.Zone != ehpcsim.DemoZone {
			zone = "zone " + c.Zone + ", "
		}
		fmt.Fprintf(w, "cluster: %s (%snodes %s)\n", c.ID, zone, strings.Join(ids, " "))
	}
	fmt.Fprintf(w, "summary: %s%s\n", endpoint, summaryPath)
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
