// Command hpc-covergate is the torture run's coverage gate (issue #31; make
// torture): it reads a coverage profile of the run and fails, naming each
// one, when a branch the source marks "// torture gate: NAME" and the run
// requires never ran. See internal/covergate.
//
// Usage: go run ./cmd/hpc-covergate -profile cover.out -require a,b,c dir...
// (dirs: the marked packages, from the module's root).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/qingcloud/terraform-provider-hpc/internal/covergate"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "hpc-covergate:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hpc-covergate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", ".", "the module's root")
	profile := fs.String("profile", "", "the run's coverage profile (go test -coverprofile, -coverpkg naming the dirs' packages)")
	require := fs.String("require", "", "comma-separated names of the markers whose blocks must have run")
	counts := fs.Bool("counts", false, "print each required marker's count as `NAME COUNT` and never fail on a count of 0 (for surveys)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *profile == "" || *require == "" || fs.NArg() == 0 {
		return fmt.Errorf("need -profile, -require and the marked packages' dirs")
	}
	module, err := covergate.ModulePath(*root)
	if err != nil {
		return err
	}
	markers, err := covergate.Markers(*root, fs.Args())
	if err != nil {
		return err
	}
	f, err := os.Open(*profile)
	if err != nil {
		return err
	}
	defer f.Close()
	blocks, err := covergate.ReadProfile(f, module)
	if err != nil {
		return fmt.Errorf("%s: %w", *profile, err)
	}
	var names []string
	for _, n := range strings.Split(*require, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	results := covergate.Check(markers, blocks, names)
	failed := 0
	for _, r := range results {
		switch {
		case r.Err != "":
			failed++
			fmt.Fprintf(stdout, "torture gate: %s: BROKEN: %s\n", r.Name, r.Err)
		case *counts:
			fmt.Fprintf(stdout, "%s %d\n", r.Name, r.Count)
		case r.Count == 0:
			failed++
			fmt.Fprintf(stdout, "torture gate: %s NEVER RAN in this run's seeds: %s — %s\n", r.Marker, r.Marker.What, "the seeds never reached this branch, so a bug in it would pass unseen")
		default:
			fmt.Fprintf(stdout, "torture gate: %s ran %d times\n", r.Marker, r.Count)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d gated branches never ran (or their markers are broken)", failed, len(results))
	}
	return nil
}
