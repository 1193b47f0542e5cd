// Command hpc-mutants is the restart path's mutation test (issue #31; make
// mutants): it applies each mutant of internal/mutants alone to a copy of
// this module, runs the restart path's unit suites and the torture test
// against it, and prints a markdown table of what each suite killed, with the
// kill rates. The working tree is never written.
//
// Flags: go run ./cmd/hpc-mutants -h.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/mutants"
)

// restartPath are the packages of the restart path, whose unit suites run
// against every mutant.
var restartPath = []string{"./internal/rollout", "./internal/ehpc", "./internal/jobwatch", "./internal/provider"}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "hpc-mutants:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hpc-mutants", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", ".", "the module's root (read only; each mutant is applied to a copy)")
	seeds := fs.Int("seeds", 500, "torture seeds per mutant, from seed 1 (make test runs 500)")
	filter := fs.String("filter", "", "run only the mutants whose name matches this regular expression")
	unitTimeout := fs.Duration("unit-timeout", 10*time.Minute, "timeout of one run of the unit suites")
	tortureTimeout := fs.Duration("torture-timeout", 10*time.Minute, "timeout of one run of the torture test")
	jobs := fs.Int("jobs", 3, "mutants run at once, each in a copy of its own (the unit suites mostly wait on timers, so more than the cores pay off)")
	out := fs.String("out", "", "also write the table to this file")
	only := fs.String("suites", "unit,torture", "the suites to run, of unit and torture: torture alone with many -seeds tells which mutants a long make torture run kills")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *jobs <= 0 {
		return fmt.Errorf("-jobs must be a positive number of mutants run at once, not %d", *jobs)
	}
	if *seeds <= 0 {
		return fmt.Errorf("-seeds must be a positive number of torture seeds, not %d", *seeds)
	}
	re, err := regexp.Compile(*filter)
	if err != nil {
		return fmt.Errorf("-filter %q is not a regular expression (%v); give one such as 'settle|gate'", *filter, err)
	}
	var ms []mutants.Mutant
	for _, m := range mutants.All {
		if re.MatchString(m.Name) {
			ms = append(ms, m)
		}
	}
	if len(ms) == 0 {
		return fmt.Errorf("-filter %q matches no mutant; names are in internal/mutants/mutants.go", *filter)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var chosen []mutants.Suite
	var names []string
	for _, s := range suites(*seeds, *unitTimeout, *tortureTimeout) {
		if slices.Contains(strings.Split(*only, ","), s.Name) {
			chosen, names = append(chosen, s), append(names, s.Name)
		}
	}
	if len(chosen) == 0 {
		return fmt.Errorf("-suites %q names no suite; give unit, torture, or both as unit,torture", *only)
	}
	r := &mutants.Runner{
		Root: *root,
		// -vet=off: a mutant is a change of behaviour; vet's opinion of it
		// (an unused result, say) is not a test's verdict.
		Build:  append([]string{"test", "-trimpath", "-vet=off", "-count=1", "-run", "^$"}, restartPath...),
		Suites: chosen,
		Log:    stderr,
	}
	start := time.Now()
	var dirs []string
	defer func() {
		for _, d := range dirs {
			_ = os.RemoveAll(d)
		}
	}()
	for range min(*jobs, len(ms)) {
		dir, err := mutants.Copy(*root)
		if err != nil {
			return err
		}
		dirs = append(dirs, dir)
	}
	fmt.Fprintf(stderr, "%d mutants, %d at a time in copies of the module (%s...); the baseline first: every suite must pass without a mutant\n", len(ms), len(dirs), dirs[0])
	if err := r.Baseline(ctx, dirs[0]); err != nil {
		return err
	}
	results, err := r.Run(ctx, dirs, ms)
	results = slices.DeleteFunc(results, func(r mutants.Result) bool { return r.Status == "" }) // not run: interrupted
	w := stdout
	if *out != "" {
		f, ferr := os.Create(*out)
		if ferr != nil {
			return ferr
		}
		defer f.Close()
		w = io.MultiWriter(stdout, f)
	}
	mutants.Report(w, results, names, mutants.Summary{Seeds: *seeds, Wall: time.Since(start)})
	return err
}

// suites are the unit suites of the restart path without the Terraform CLI
// (the acceptance tests need TF_ACC, which the runner drops) and without the
// torture test, then the torture test in its survey mode, which names the
// first failing seed without shrinking it, and stops there. The unit suites' results are cached by
// go test: a package whose test binary a mutant does not change (the mutant
// is in a package it does not import) is not run again, which is sound and
// saves most of the time. -trimpath lets the copies share the build and
// test caches.
func suites(seeds int, unitTimeout, tortureTimeout time.Duration) []mutants.Suite {
	unit := append([]string{"test", "-trimpath", "-vet=off", "-failfast", "-timeout", unitTimeout.String(), "-skip", "^TestTorture$"}, restartPath...)
	torture := []string{"test", "-trimpath", "-vet=off", "-count=1", "-v", "-timeout", tortureTimeout.String(), "-run", "^TestTorture$", "./internal/provider/"}
	return []mutants.Suite{
		{Name: "unit", Args: unit, Timeout: unitTimeout + time.Minute},
		{Name: "torture", Args: torture, Env: []string{"TORTURE_SEEDS=" + strconv.Itoa(seeds), "TORTURE_FIRST=1", "TORTURE_SURVEY=first"},
			Timeout: tortureTimeout + time.Minute, Seeds: true},
	}
}
