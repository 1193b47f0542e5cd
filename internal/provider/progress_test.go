package provider

import (
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// A rolling restart shows how it goes where the docs say to look: with
// TF_LOG_PROVIDER=INFO, the real provider binary logs each batch's request,
// the pause before the next, and each job's end, "Batch k of n: " first, in
// the words the action's progress uses. Without it, no such line.
func TestAccRollingProgressAtInfo(t *testing.T) {
	tf := terraformPath(t)
	bin := buildProviderBinary(t)
	sim := ehpcsim.New(ehpcsim.Options{JobDuration: time.Second})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	rc := filepath.Join(dir, "terraformrc")
	writeFile(t, rc, fmt.Sprintf("disable_checkpoint = true\nprovider_installation {\n  dev_overrides {\n    %q = %q\n  }\n  direct {}\n}\n", "registry.example.com/qingcloud/hpc", filepath.Dir(bin)))
	config := func(trigger string) string {
		return fmt.Sprintf(`
terraform {
  required_providers {
    hpc = { source = "registry.example.com/qingcloud/hpc" }
  }
}
provider "hpc" {}
resource "hpc_cluster_node_restart" "roll" {
  cluster_id = %q
  node_ids   = ["cln-cmp00003", "cln-cmp00001", "cln-cmp00002"]
  triggers   = { at = %q }
  rolling    = { batch_size = 1, pause = "1s" }
}
`, ehpcsim.DemoClusterID, trigger)
	}
	apply := func(trigger string, extraEnv ...string) string {
		writeFile(t, filepath.Join(dir, "main.tf"), config(trigger))
		cmd := exec.Command(tf, "apply", "-auto-approve", "-no-color")
		cmd.Dir = dir
		cmd.Env = append([]string{
			"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
			"CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_CLI_CONFIG_FILE=" + rc,
			"QINGCLOUD_HPC_ENDPOINT=" + srv.URL, "QINGCLOUD_ACCESS_KEY=" + ehpcsim.DemoAccessKeyID,
			"QINGCLOUD_SECRET_KEY=" + ehpcsim.DemoSecretKey, "QINGCLOUD_ZONE=" + ehpcsim.DemoZone,
		}, extraEnv...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("terraform apply: %v\n%s", err, out)
		}
		return string(out)
	}

	out := apply("1", "TF_LOG_PROVIDER=INFO")
	jobs := sim.Jobs()
	if len(jobs) != 3 {
		t.Fatalf("the rollout made %d jobs, want 3:\n%s", len(jobs), out)
	}
	at := 0
	for i, j := range jobs {
		batch := fmt.Sprintf(`Batch %d of 3: `, i+1)
		var want []string
		if i > 0 {
			want = append(want, batch+`Waiting 1s \(rolling\.pause\) before restarting node `+j.NodeIDs[0]+`\.`)
		}
		want = append(want,
			batch+`Restart of node `+j.NodeIDs[0]+` of cluster ehpc-8jqdq0mz \(zone jn1a\) requested: job `+j.ID+`\.`,
			batch+`Restart job `+j.ID+` finished: successful after [0-9.]+m?s\.`)
		for _, w := range want {
			loc := regexp.MustCompile(`\[INFO\]  provider\.terraform-provider-hpc[^:]*: ` + w).FindStringIndex(out[at:])
			if loc == nil {
				t.Fatalf("TF_LOG_PROVIDER=INFO output lacks, after the lines before it, %s\n%s", w, out)
			}
			at += loc[1]
		}
	}

	if out := apply("2"); regexp.MustCompile(`Batch \d of 3`).MatchString(out) {
		t.Fatalf("without TF_LOG_PROVIDER, progress lines were printed:\n%s", out)
	}
}
