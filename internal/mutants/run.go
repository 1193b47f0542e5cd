package mutants

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Status is what became of a mutant.
type Status string

const (
	// Killed: at least one suite failed with the mutant in place.
	Killed Status = "killed"
	// Survived: every suite passed with it.
	Survived Status = "survived"
	// NoBuild: the mutated module did not compile; no suite ran, and it
	// counts as neither killed nor survived.
	NoBuild Status = "did not build"
	// Stale: its old text is no longer in its file; it was not applied.
	Stale Status = "STALE"
	// Ambiguous: its old text occurs more than once in its file; it was not
	// applied, since which occurrence it means is not known.
	Ambiguous Status = "AMBIGUOUS"
)

// Suite is one test run against every mutant.
type Suite struct {
	Name string
	// Args are go's arguments ("test", ...), run in the copy's root.
	Args []string
	// Env is added to the environment.
	Env     []string
	Timeout time.Duration
	// Seeds: the suite is the torture test in its survey mode, whose
	// failures name seeds ("seed 12: ...").
	Seeds bool
}

// SuiteResult is one suite's run against one mutant.
type SuiteResult struct {
	Killed bool
	// First is what failed first: a test's name, or a torture seed.
	First string
	// Output is the tail of the run's output, when it failed.
	Output string
	Took   time.Duration
}

// Result is one mutant's outcome.
type Result struct {
	Mutant Mutant
	Status Status
	// Suites are the suites' results by name, when the mutant built.
	Suites map[string]SuiteResult
	// BuildOutput is the compiler's complaint, for NoBuild.
	BuildOutput string
	Took        time.Duration
}

// Runner applies mutants to a copy of a module and runs suites against each.
type Runner struct {
	// Root is the module's root; it is read, never written.
	Root string
	// Build are go's arguments that compile everything the suites run
	// ("test", "-run", "^$", ...): a mutant that fails them did not build.
	Build  []string
	Suites []Suite
	// Log hears about progress; nil is silent.
	Log io.Writer
}

// Copy copies the module at root into a new temporary directory: the files
// git knows (tracked, and untracked but not ignored), so that local changes
// are mutated too but build output and tools are not copied. The caller
// removes the directory.
func Copy(root string) (string, error) {
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return "", fmt.Errorf("listing the files of %s with git: %w", root, err)
	}
	dir, err := os.MkdirTemp("", "hpc-mutants-")
	if err != nil {
		return "", err
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		src := filepath.Join(root, name)
		info, err := os.Lstat(src)
		switch {
		case errors.Is(err, os.ErrNotExist):
			continue // deleted in the working tree, not yet in the index
		case err != nil:
			_ = os.RemoveAll(dir)
			return "", err
		case !info.Mode().IsRegular():
			continue
		}
		if err := copyFile(src, filepath.Join(dir, name), info.Mode().Perm()); err != nil {
			_ = os.RemoveAll(dir)
			return "", err
		}
	}
	return dir, nil
}

func copyFile(src, dst string, perm os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, perm)
}

// Apply applies m to the module at dir and returns a function that undoes
// it. A mutant whose old text does not occur exactly once is not applied:
// its status (Stale, Ambiguous) says why.
func Apply(dir string, m Mutant) (undo func() error, status Status, err error) {
	path := filepath.Join(dir, filepath.FromSlash(m.File))
	orig, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, Stale, nil
	case err != nil:
		return nil, "", err
	}
	switch n := bytes.Count(orig, []byte(m.Old)); {
	case m.Old == "" || n == 0:
		return nil, Stale, nil
	case n > 1:
		return nil, Ambiguous, nil
	}
	mutated := bytes.Replace(orig, []byte(m.Old), []byte(m.New), 1)
	if err := os.WriteFile(path, mutated, 0o644); err != nil {
		return nil, "", err
	}
	return func() error { return os.WriteFile(path, orig, 0o644) }, "", nil
}

// Baseline runs the build and every suite on the module as it is: a suite
// that fails without a mutant would kill every one, so Run is meaningless
// until it passes.
func (r *Runner) Baseline(ctx context.Context, dir string) error {
	if out, err := r.goCmd(ctx, dir, r.Build, nil, 0); err != nil {
		return fmt.Errorf("the module does not build without a mutant: %v\n%s", err, tail(out))
	}
	for _, s := range r.Suites {
		if res := r.suite(ctx, dir, s); res.Killed {
			return fmt.Errorf("suite %s fails without a mutant (%s):\n%s", s.Name, res.First, res.Output)
		}
	}
	return nil
}

// Run applies each mutant alone to one of dirs (copies of the module: Copy),
// runs the suites, and undoes it; one mutant at a time in each dir, the dirs
// in parallel. Results are in the order of ms.
func (r *Runner) Run(ctx context.Context, dirs []string, ms []Mutant) ([]Result, error) {
	results := make([]Result, len(ms))
	errs := make([]error, len(ms))
	next := make(chan int)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, dir := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				res, err := r.one(ctx, dir, ms[i])
				results[i], errs[i] = res, err
				mu.Lock()
				r.logf("[%d/%d] %s (%s): %s in %s%s", i+1, len(ms), ms[i].Name, ms[i].File, res.Status, res.Took.Round(time.Second), res.suiteWords())
				mu.Unlock()
			}
		}()
	}
	for i := range ms {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return results, fmt.Errorf("mutant %s: %w", ms[i].Name, err)
		}
	}
	return results, ctx.Err()
}

func (r *Runner) one(ctx context.Context, dir string, m Mutant) (res Result, err error) {
	start := time.Now()
	res.Mutant = m
	undo, status, err := Apply(dir, m)
	if err != nil || undo == nil {
		res.Status = status
		return res, err
	}
	defer func() {
		if uerr := undo(); uerr != nil && err == nil {
			err = uerr
		}
	}()
	if out, berr := r.goCmd(ctx, dir, r.Build, nil, 0); berr != nil {
		res.Status, res.BuildOutput, res.Took = NoBuild, tail(out), time.Since(start)
		return res, ctx.Err()
	}
	res.Status, res.Suites = Survived, map[string]SuiteResult{}
	for _, s := range r.Suites {
		sr := r.suite(ctx, dir, s)
		res.Suites[s.Name] = sr
		if sr.Killed {
			res.Status = Killed
		}
	}
	res.Took = time.Since(start)
	return res, ctx.Err()
}

var (
	failedTest  = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)`)
	failedSeed  = regexp.MustCompile(`(?m)^\s+\S+\.go:\d+: seed (\d+)[: ]`)
	timedOutRun = regexp.MustCompile(`(?m)^panic: test timed out`)
)

// suite runs s in dir; it kills the mutant when it fails.
func (r *Runner) suite(ctx context.Context, dir string, s Suite) SuiteResult {
	start := time.Now()
	out, err := r.goCmd(ctx, dir, s.Args, s.Env, s.Timeout)
	sr := SuiteResult{Killed: err != nil, Took: time.Since(start)}
	if !sr.Killed {
		return sr
	}
	sr.Output = tail(out)
	switch {
	case timedOutRun.Match(out):
		sr.First = "timed out"
	case s.Seeds && failedSeed.Match(out):
		sr.First = "seed " + string(failedSeed.FindSubmatch(out)[1])
	case failedTest.Match(out):
		sr.First = string(failedTest.FindSubmatch(out)[1])
	default:
		sr.First = firstLine(err.Error())
	}
	return sr
}

// goCmd runs go with args in dir, without the acceptance tests' switch and
// the torture's knobs of the caller's environment, bounded by timeout (0:
// none beyond ctx).
func (r *Runner) goCmd(ctx context.Context, dir string, args, env []string, timeout time.Duration) ([]byte, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(os.Environ()), env...)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil && err != nil {
		err = fmt.Errorf("%w (%v)", err, ctx.Err())
		out = append(out, "\npanic: test timed out (the runner's timeout)\n"...)
	}
	return out, err
}

// cleanEnv drops what would change which tests run: TF_ACC (acceptance
// tests drive a Terraform CLI, not part of a mutant's suites) and the
// torture test's knobs (a suite sets its own).
func cleanEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if k == "TF_ACC" || strings.HasPrefix(k, "TORTURE_") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "CHECKPOINT_DISABLE=1")
}

func (r *Runner) logf(format string, args ...any) {
	if r.Log != nil {
		fmt.Fprintf(r.Log, format+"\n", args...)
	}
}

func (res Result) suiteWords() string {
	var b strings.Builder
	for name, s := range res.Suites {
		if s.Killed {
			fmt.Fprintf(&b, "; %s: %s", name, s.First)
		}
	}
	return b.String()
}

// tail is the last 40 lines of out.
func tail(out []byte) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
