package main

import (
	"strings"
	"testing"
	"time"
)

// -only picks cases by name and refuses a name it does not know, listing
// the ones it does; -large-sizes takes cluster sizes.
func TestOnlyAndLargeFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-only", "large, waits", "-large-sizes", "200,2000", "-large-job", "3s"})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.runs("large") || !cfg.runs("waits") || cfg.runs("wall") || cfg.runs("scale") || len(cfg.largeSizes) != 2 || cfg.largeJob != 3*time.Second {
		t.Fatalf("%+v", cfg)
	}
	if all, _ := parseFlags(nil); !all.runs("wall") || !all.runs("large") {
		t.Fatal("without -only every case runs")
	}
	for _, bad := range [][]string{{"-only", "gated"}, {"-large-sizes", "1"}, {"-large-sizes", "many"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("%v accepted", bad)
		} else if bad[0] == "-only" && !strings.Contains(err.Error(), "wall, waits, rolling, refresh, scale, large") {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

// The large case's targets: the pair's ratio of requests, and for a full
// rolling restart of 2000 nodes the default hourly limit and 10 % over the
// floor; a smaller full restart is in the table, with no target.
func TestLargeTargets(t *testing.T) {
	lc := func(size, n, batch, requests int, wall time.Duration) largeCase {
		batches := n / batch
		return largeCase{size: size, n: n, batch: batch, job: 5 * time.Second, boot: 5 * time.Second,
			rc: rollingCase{batches: batches, jobTime: time.Duration(batches) * 5 * time.Second, requests: requests, wall: wall}}
	}
	r := report{
		largePair: []largeCase{lc(40, 40, 10, 23, 18*time.Second), lc(2000, 40, 10, 35, 18*time.Second)},
		largeFull: []largeCase{lc(200, 200, 50, 30, 50*time.Second), lc(2000, 2000, 50, 1801, 439*time.Second)},
	}
	var b strings.Builder
	targets := strings.Join(r.largeMarkdown(&b), "\n")
	for _, want := range []string{
		"| ≤ 34.5 | 35 | **missed** |",
		"| ≤ 1800 | 1801 | **missed** |",
		"| ≤ 440.00 s | 439.00 s | met |",
		"| 200, 200, 50, 5s, 5s | 4 | 30 |",
	} {
		if !strings.Contains(targets+b.String(), want) {
			t.Errorf("lacks %q:\n%s\n%s", want, b.String(), targets)
		}
	}
	if strings.Count(targets, "\n")+1 != 3 {
		t.Errorf("want three targets (the pair, the 2000-node restart's requests and wall time):\n%s", targets)
	}
}
