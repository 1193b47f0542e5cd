package provider

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// echoCluster is answered by a server that quotes the request back, signature and
// all, plus the secret: a worst case for error texts built from API responses.
const echoCluster = "ehpc-echo0000"

// A full apply with every log turned up must not reveal the secret key or any
// request signature: not in the CLI output, the TRACE log (which carries the
// provider's own logs), the state or the plan JSON. This runs the provider as a
// real plugin binary, the way a user's pipeline does.
func TestAccSecretsNeverLeak(t *testing.T) {
	tf := terraformPath(t)
	bin := buildProviderBinary(t)

	sim := ehpcsim.New(ehpcsim.Options{})
	var mu sync.Mutex
	var sigs []string
	agents := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		agents[r.UserAgent()] = true
		mu.Unlock()
		raw := rawParam(r.URL.RawQuery, "signature")
		once, _ := url.QueryUnescape(raw)
		twice, _ := url.QueryUnescape(once)
		mu.Lock()
		sigs = append(sigs, raw, once, twice)
		mu.Unlock()
		if strings.Contains(r.URL.RawQuery, "cluster_id="+echoCluster) || r.Method == http.MethodPost && bytes.Contains(mustBody(r), []byte(echoCluster)) {
			w.Header().Set("Content-Type", "application/json")
			msg := fmt.Sprintf("InvalidParameter, request [%s?%s] with key [%s] rejected; signature [%s]", r.URL.Path, r.URL.RawQuery, ehpcsim.DemoSecretKey, twice)
			_ = json.NewEncoder(w).Encode(map[string]any{"action": "HpcClusterRestartClusterNodesResponse", "ret_code": 1100, "message": msg})
			return
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	rc := filepath.Join(dir, "terraformrc")
	writeFile(t, rc, fmt.Sprintf("disable_checkpoint = true\nprovider_installation {\n  dev_overrides {\n    %q = %q\n  }\n  direct {}\n}\n", "registry.example.com/qingcloud/hpc", filepath.Dir(bin)))
	writeFile(t, filepath.Join(dir, "main.tf"), fmt.Sprintf(`
terraform {
  required_providers {
    hpc = { source = "registry.example.com/qingcloud/hpc" }
  }
}
provider "hpc" {}
resource "hpc_cluster_node_restart" "ok" {
  cluster_id = %q
  node_ids   = ["cln-cmp00001"]
}
resource "hpc_cluster_node_restart" "echo" {
  cluster_id = %q
  node_ids   = ["cln-cmp00002"]
}
`, ehpcsim.DemoClusterID, echoCluster))
	logPath := filepath.Join(dir, "trace.log")
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_CLI_CONFIG_FILE=" + rc,
		"TF_LOG=TRACE", "TF_LOG_PROVIDER=TRACE", "TF_LOG_PATH=" + logPath,
		"QINGCLOUD_HPC_ENDPOINT=" + srv.URL, "QINGCLOUD_ACCESS_KEY=" + ehpcsim.DemoAccessKeyID,
		"QINGCLOUD_SECRET_KEY=" + ehpcsim.DemoSecretKey, "QINGCLOUD_ZONE=" + ehpcsim.DemoZone,
	}
	run := func(args ...string) string {
		cmd := exec.Command(tf, args...)
		cmd.Dir, cmd.Env = dir, env
		out, _ := cmd.CombinedOutput()
		return string(out)
	}

	outputs := map[string]string{}
	outputs["plan output"] = run("plan", "-out=plan.bin", "-no-color")
	outputs["plan JSON"] = run("show", "-json", "plan.bin")
	outputs["apply output"] = run("apply", "-auto-approve", "-no-color", "plan.bin")
	outputs["state"] = readFile(t, filepath.Join(dir, "terraform.tfstate"))
	outputs["TRACE log"] = readFile(t, logPath)

	// The run must have done what it claims, or the test proves nothing.
	if sim.Restarts("cln-cmp00001") != 1 {
		t.Fatalf("the apply did not restart cln-cmp00001:\n%s", outputs["apply output"])
	}
	if !strings.Contains(outputs["apply output"], "ret_code 1100") {
		t.Fatalf("the echoing error did not reach the user:\n%s", outputs["apply output"])
	}
	if !strings.Contains(outputs["TRACE log"], "EHPC API request") {
		t.Fatalf("the TRACE log lacks the provider's request lines; is TF_LOG_PROVIDER honoured?")
	}
	mu.Lock()
	defer mu.Unlock()
	// One client per provider instance, named for what it is and what drives it.
	for ua := range agents {
		if !regexp.MustCompile(`^terraform-provider-hpc/dev terraform/1\.\d+\.\d+$`).MatchString(ua) {
			t.Errorf("User-Agent %q, want terraform-provider-hpc/dev terraform/<version>", ua)
		}
	}
	if len(sigs) < 6 {
		t.Fatalf("recorded only %d signature forms", len(sigs))
	}
	for what, text := range outputs {
		if strings.Contains(text, ehpcsim.DemoSecretKey) {
			t.Errorf("%s contains the secret key", what)
		}
		for _, sig := range sigs {
			if len(sig) > 8 && strings.Contains(text, sig) {
				t.Errorf("%s contains request signature %q", what, sig)
			}
		}
	}
}

func rawParam(rawQuery, name string) string {
	for _, kv := range strings.Split(rawQuery, "&") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// mustBody reads the body and puts it back for the simulator.
func mustBody(r *http.Request) []byte {
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
