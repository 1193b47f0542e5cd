package mutants

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMutantsApply checks the set against the tree it mutates: every
// mutant's old text occurs exactly once in its file, so none is STALE or
// AMBIGUOUS in make mutants, and every one is a change with a stated bug.
func TestMutantsApply(t *testing.T) {
	root := filepath.Join("..", "..")
	if len(All) < 24 {
		t.Errorf("%d mutants; the restart path keeps at least 24 (issue #31)", len(All))
	}
	names := map[string]bool{}
	for _, m := range All {
		if names[m.Name] {
			t.Errorf("mutant name %s is used twice", m.Name)
		}
		names[m.Name] = true
		if m.Old == m.New || strings.TrimSpace(m.Bug) == "" {
			t.Errorf("mutant %s changes nothing or states no bug", m.Name)
		}
		src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(m.File)))
		if err != nil {
			t.Errorf("mutant %s: %v", m.Name, err)
			continue
		}
		if n := bytes.Count(src, []byte(m.Old)); n != 1 {
			t.Errorf("mutant %s: its old text occurs %d times in %s, not once: rewrite it for the code as it is now\nold text: %q", m.Name, n, m.File, m.Old)
		}
	}
}

// gitModule writes a small module with a test into a new git repository, and
// returns its root.
func gitModule(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed; Copy lists the module's files with it")
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":     "module example.com/m\n\ngo 1.24\n",
		"m.go":       "package m\n\n// Half is n/2, rounded down.\nfunc Half(n int) int { return n / 2 }\n",
		"m_test.go":  "package m\n\nimport \"testing\"\n\nfunc TestHalf(t *testing.T) {\n\tif Half(5) != 2 {\n\t\tt.Fatalf(\"Half(5) = %d\", Half(5))\n\t}\n}\n",
		".gitignore": "ignored/\n",
		"ignored/x":  "not copied\n",
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("git", "-C", dir, "init", "-q").CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	return dir
}

func TestApplyEditsTheCopyOnly(t *testing.T) {
	root := gitModule(t)
	dir, err := Copy(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if _, err := os.Stat(filepath.Join(dir, "ignored", "x")); !os.IsNotExist(err) {
		t.Errorf("an ignored file was copied (stat: %v)", err)
	}

	m := Mutant{Name: "half-up", File: "m.go", Old: "n / 2", New: "(n + 1) / 2", Bug: "rounds up"}
	undo, status, err := Apply(dir, m)
	if err != nil || undo == nil || status != "" {
		t.Fatalf("Apply = %v, %q, %v; want it applied", undo != nil, status, err)
	}
	if got := read(t, filepath.Join(dir, "m.go")); !strings.Contains(got, "(n + 1) / 2") {
		t.Errorf("the copy was not mutated:\n%s", got)
	}
	if got := read(t, filepath.Join(root, "m.go")); strings.Contains(got, "(n + 1)") {
		t.Errorf("the module itself was mutated:\n%s", got)
	}
	if err := undo(); err != nil {
		t.Fatal(err)
	}
	if got, want := read(t, filepath.Join(dir, "m.go")), read(t, filepath.Join(root, "m.go")); got != want {
		t.Errorf("undo left the copy as\n%s\nwant\n%s", got, want)
	}

	for _, c := range []struct {
		m    Mutant
		want Status
	}{
		{Mutant{Name: "gone", File: "m.go", Old: "n / 3", New: "n"}, Stale},
		{Mutant{Name: "no-file", File: "gone.go", Old: "n", New: "m"}, Stale},
		{Mutant{Name: "twice", File: "m_test.go", Old: "Half(5)", New: "Half(6)"}, Ambiguous},
	} {
		undo, status, err := Apply(dir, c.m)
		if err != nil || undo != nil || status != c.want {
			t.Errorf("Apply(%s) = %v, %q, %v; want not applied, %q", c.m.Name, undo != nil, status, err, c.want)
		}
	}
}

// TestRunReports runs the runner for real on the small module: one mutant
// its test kills, one it cannot see, one that does not build, one stale; the
// report says so of each, with the kill rate among those that built.
func TestRunReports(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on a module of its own")
	}
	root := gitModule(t)
	dir, err := Copy(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ms := []Mutant{
		{Name: "half-up", File: "m.go", Old: "n / 2", New: "(n + 1) / 2", Bug: "rounds up"},
		{Name: "half-shift", File: "m.go", Old: "n / 2", New: "n >> 1", Bug: "an equivalent mutant | for the table"},
		{Name: "half-typo", File: "m.go", Old: "n / 2", New: "n / two", Bug: "does not compile"},
		{Name: "half-gone", File: "m.go", Old: "n / 4", New: "n", Bug: "moved on"},
	}
	r := &Runner{
		Root:   root,
		Build:  []string{"test", "-count=1", "-run", "^$", "./..."},
		Suites: []Suite{{Name: "unit", Args: []string{"test", "-count=1", "./..."}, Timeout: 2 * time.Minute}},
	}
	if err := r.Baseline(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	results, err := r.Run(context.Background(), []string{dir}, ms)
	if err != nil {
		t.Fatal(err)
	}
	want := []Status{Killed, Survived, NoBuild, Stale}
	for i, res := range results {
		if res.Status != want[i] {
			t.Errorf("%s: %s, want %s", res.Mutant.Name, res.Status, want[i])
		}
	}
	if first := results[0].Suites["unit"].First; first != "TestHalf" {
		t.Errorf("the killed mutant's first failure is %q, want TestHalf", first)
	}
	if got := read(t, filepath.Join(dir, "m.go")); got != read(t, filepath.Join(root, "m.go")) {
		t.Errorf("the copy was left mutated:\n%s", got)
	}

	var b strings.Builder
	Report(&b, results, []string{"unit"}, Summary{Seeds: 7, Wall: time.Minute})
	out := b.String()
	for _, s := range []string{
		"| half-up | rounds up | yes (TestHalf) |",
		"| half-shift | an equivalent mutant \\| for the table | no |",
		"| half-typo | does not compile | did not build |",
		"| half-gone | moved on | STALE |",
		"4 mutants, 2 built and ran; torture seeds per mutant: 7",
		"- killed by unit: 1 of 2 (50 %)",
		"- not run: half-typo (did not build), half-gone (STALE)",
		"- survived: half-shift",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("the report lacks %q:\n%s", s, out)
		}
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
