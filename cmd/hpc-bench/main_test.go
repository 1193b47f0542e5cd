package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs the whole harness once, at N=1, when HPC_BENCH_SMOKE=1 (it needs
// the Terraform CLI and the time provider in .tools/bin: make bench installs them).
func TestSmoke(t *testing.T) {
	if os.Getenv("HPC_BENCH_SMOKE") != "1" {
		t.Skip("set HPC_BENCH_SMOKE=1 to run the benchmark harness once at N=1")
	}
	root, _ := filepath.Abs("../..")
	cfg, err := parseFlags([]string{"-quick", "-root", root,
		"-terraform", filepath.Join(root, ".tools/bin/terraform"),
		"-time-provider", filepath.Join(root, ".tools/bin/terraform-provider-time")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := run(ctx, cfg, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| 1 |", "time_static", "terraform_data", "`terraform plan` | 0 |"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
