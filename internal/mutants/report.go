package mutants

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Summary is what a run measured, for the report's totals.
type Summary struct {
	// Seeds is how many torture seeds each mutant ran against.
	Seeds int
	Wall  time.Duration
}

// Report writes results as a markdown table, one row per mutant, then the
// kill rates: of each suite, and of both, among the mutants that built.
func Report(w io.Writer, results []Result, suites []string, sum Summary) {
	fmt.Fprintf(w, "| mutant | bug |")
	for _, s := range suites {
		fmt.Fprintf(w, " killed by %s |", s)
	}
	fmt.Fprintf(w, " time |\n| --- | --- |%s --- |\n", strings.Repeat(" --- |", len(suites)))
	for _, r := range results {
		fmt.Fprintf(w, "| %s | %s |", r.Mutant.Name, cell(r.Mutant.Bug))
		for _, s := range suites {
			fmt.Fprintf(w, " %s |", r.verdict(s))
		}
		fmt.Fprintf(w, " %s |\n", r.Took.Round(time.Second))
	}

	built, killed := 0, 0
	bySuite := map[string]int{}
	var other []string
	for _, r := range results {
		switch r.Status {
		case Killed, Survived:
			built++
		default:
			other = append(other, fmt.Sprintf("%s (%s)", r.Mutant.Name, r.Status))
			continue
		}
		if r.Status == Killed {
			killed++
		}
		for _, s := range suites {
			if r.Suites[s].Killed {
				bySuite[s]++
			}
		}
	}
	fmt.Fprintf(w, "\n%d mutants, %d built and ran; torture seeds per mutant: %d; wall time %s.\n\n", len(results), built, sum.Seeds, sum.Wall.Round(time.Second))
	for _, s := range suites {
		fmt.Fprintf(w, "- killed by %s: %s\n", s, rate(bySuite[s], built))
	}
	fmt.Fprintf(w, "- killed by any: %s\n", rate(killed, built))
	if len(other) > 0 {
		fmt.Fprintf(w, "- not run: %s\n", strings.Join(other, ", "))
	}
	var survivors []string
	for _, r := range results {
		if r.Status == Survived {
			survivors = append(survivors, r.Mutant.Name)
		}
	}
	if len(survivors) > 0 {
		fmt.Fprintf(w, "- survived: %s\n", strings.Join(survivors, ", "))
	}
}

// verdict is the mutant's cell for suite s.
func (r Result) verdict(s string) string {
	switch r.Status {
	case Stale, Ambiguous, NoBuild:
		return string(r.Status)
	}
	sr, ok := r.Suites[s]
	switch {
	case !ok:
		return "not run"
	case sr.Killed:
		return "yes (" + cell(sr.First) + ")"
	}
	return "no"
}

func rate(n, of int) string {
	if of == 0 {
		return "0 of 0"
	}
	return fmt.Sprintf("%d of %d (%.0f %%)", n, of, 100*float64(n)/float64(of))
}

// cell keeps a table cell on one line and its pipes from splitting it.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}
