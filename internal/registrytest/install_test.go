package registrytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/dirhash"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
	"github.com/qingcloud/terraform-provider-hpc/internal/release/releasetest"
)

// testVersion is the release the test publishes; any semver works.
const testVersion = "1.2.3"

// TestAccRegistryInstall publishes a release to a loopback registry and installs it
// with the real CLI, then checks that a tampered download or a bad signature stops
// `init` before the provider is installed.
func TestAccRegistryInstall(t *testing.T) {
	cli := acceptanceCLI(t)
	rel := buildRelease(t)
	ca := newTestCA(t)

	t.Run("install and apply", func(t *testing.T) {
		t.Parallel()
		reg := newRegistry(t, ca, rel, nil, "")
		sim := ehpcsim.New(ehpcsim.Options{})
		api := httptest.NewServer(sim)
		t.Cleanup(api.Close)

		w := newWorkdir(t, cli, ca, reg.Host(), api.URL)
		out := w.run(t, "init", "-input=false", "-no-color")
		// Terraform: "Installed <host>/qingcloud/hpc v1.2.3 (self-signed, key ID ...)";
		// OpenTofu says "(signed, key ID ...)". Both name the key that verified it.
		if !regexp.MustCompile(`(?i)Installed ` + regexp.QuoteMeta(reg.Host()) + `/qingcloud/hpc v` + regexp.QuoteMeta(testVersion) + ` \(.*signed, key ID ` + rel.KeyID).MatchString(out) {
			t.Errorf("init did not report installing the signed release:\n%s", out)
		}
		for _, p := range []string{"/.well-known/terraform.json", "/v1/providers/qingcloud/hpc/versions",
			"/files/" + rel.ZipName(), "/files/" + rel.SumsName(), "/files/" + rel.SigName()} {
			if reg.Requests(p) == 0 {
				t.Errorf("init never requested %s from the registry", p)
			}
		}

		// The lock file records the version and the hashes a later init checks
		// against: the zip's own (zh:, from the signed SHA256SUMS) and the unpacked
		// package's (h1:).
		lock, err := os.ReadFile(filepath.Join(w.dir, ".terraform.lock.hcl"))
		if err != nil {
			t.Fatalf("no lock file after init: %v", err)
		}
		zipPath := filepath.Join(t.TempDir(), rel.ZipName())
		if err := os.WriteFile(zipPath, rel.Files[rel.ZipName()], 0o600); err != nil {
			t.Fatal(err)
		}
		h1, err := dirhash.HashZip(zipPath, dirhash.Hash1)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			fmt.Sprintf(`provider %q {`, reg.Host()+"/qingcloud/hpc"),
			fmt.Sprintf(`version     = %q`, testVersion),
			fmt.Sprintf(`"zh:%s"`, sha256Hex(rel.Files[rel.ZipName()])),
			fmt.Sprintf(`%q`, h1),
		} {
			if !strings.Contains(string(lock), want) {
				t.Errorf(".terraform.lock.hcl lacks %s:\n%s", want, lock)
			}
		}
		installed := filepath.Join(w.dir, ".terraform", "providers", reg.Host(), "qingcloud", "hpc", testVersion,
			rel.OS+"_"+rel.Arch, "terraform-provider-hpc_v"+testVersion)
		if _, err := os.Stat(installed); err != nil {
			t.Errorf("provider binary not where the CLI installs it: %v", err)
		}

		// The installed provider restarts the nodes through the simulator, once.
		w.run(t, "apply", "-auto-approve", "-input=false", "-no-color")
		for node, want := range map[string]int{"cln-cmp00001": 1, "cln-cmp00002": 1, "cln-cmp00003": 0} {
			if got := sim.Restarts(node); got != want {
				t.Errorf("node %s restarted %d times, want %d", node, got, want)
			}
		}
		if job := strings.TrimSpace(w.run(t, "output", "-raw", "job_id")); job == "" {
			t.Error("apply left no job_id")
		}
		before := sim.TotalRequests()
		w.run(t, "plan", "-detailed-exitcode", "-input=false", "-no-color") // exit 2 (changes) fails run
		if n := sim.TotalRequests() - before; n != 0 {
			t.Errorf("a plan after apply made %d API requests, want none", n)
		}
	})

	// Each case below must fail init, before anything is installed.
	tampered := func(b []byte) []byte {
		c := bytes.Clone(b)
		c[len(c)/2] ^= 0xff
		return c
	}
	otherKey := releasetest.NewKey(t)
	cases := []struct {
		name  string
		serve func() (map[string][]byte, string) // files served, shasum in the download response
		want  *regexp.Regexp
	}{{
		// The registry's metadata and SHA256SUMS are genuine, but the zip that
		// arrives is not the one they describe (a corrupted or swapped download).
		name: "tampered zip",
		serve: func() (map[string][]byte, string) {
			files := maps.Clone(rel.Files)
			files[rel.ZipName()] = tampered(files[rel.ZipName()])
			return files, sha256Hex(rel.Files[rel.ZipName()])
		},
		// Terraform: "archive has incorrect checksum zh:... (expected zh:...)".
		want: regexp.MustCompile(`(?is)(incorrect|does not match|mismatch).{0,40}checksum|checksum.{0,80}(incorrect|does not match|mismatch)`),
	}, {
		// SHA256SUMS signed by a key other than the one the registry publishes.
		name: "bad signature",
		serve: func() (map[string][]byte, string) {
			files := maps.Clone(rel.Files)
			files[rel.SigName()] = detachSign(t, otherKey, rel.Files[rel.SumsName()])
			return files, sha256Hex(rel.Files[rel.ZipName()])
		},
		// Terraform: "authentication signature from unknown issuer".
		want: regexp.MustCompile(`(?i)signature from unknown issuer|error checking signature|invalid signature`),
	}, {
		// A swapped zip with SHA256SUMS and the registry's checksum rewritten to
		// match: only the signature, which cannot be redone without the key, is left.
		name: "checksums rewritten without the key",
		serve: func() (map[string][]byte, string) {
			files := maps.Clone(rel.Files)
			zip := tampered(files[rel.ZipName()])
			files[rel.ZipName()] = zip
			files[rel.SumsName()] = []byte(strings.ReplaceAll(string(files[rel.SumsName()]),
				sha256Hex(rel.Files[rel.ZipName()]), sha256Hex(zip)))
			return files, sha256Hex(zip)
		},
		// Terraform: "error checking signature: openpgp: invalid signature: ...".
		want: regexp.MustCompile(`(?i)error checking signature|invalid signature`),
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			files, shasum := tc.serve()
			reg := newRegistry(t, ca, rel, files, shasum)
			w := newWorkdir(t, cli, ca, reg.Host(), "http://127.0.0.1:1")
			out, err := w.try("init", "-input=false", "-no-color")
			if err == nil {
				t.Fatalf("init succeeded, want it to refuse the release:\n%s", out)
			}
			if !tc.want.MatchString(out) {
				t.Errorf("init failed, but not saying why in terms of %s:\n%s", tc.want, out)
			}
			if got := installedFiles(t, filepath.Join(w.dir, ".terraform", "providers", reg.Host()), rel.OS+"_"+rel.Arch); len(got) > 0 {
				t.Errorf("a provider was installed despite the failure: %v", got)
			}
			if _, err := os.Stat(filepath.Join(w.dir, ".terraform.lock.hcl")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a lock file was written despite the failure (stat: %v)", err)
			}
		})
	}
}

// installedFiles lists what the CLI left under a provider host's directory after a
// failed init, besides OpenTofu's install locks: OpenTofu 1.12 takes a lock
// (<version>/<platform>.lock, an empty file) before it downloads, and leaves it
// when the package is refused. Terraform, and OpenTofu 1.6, leave nothing.
func installedFiles(t *testing.T, dir, platform string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		switch {
		case errors.Is(err, fs.ErrNotExist) && p == dir:
			return fs.SkipAll
		case err != nil:
			return err
		case d.IsDir() || d.Name() == platform+".lock":
			return nil
		}
		found = append(found, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// acceptanceCLI returns the CLI the acceptance tests use, or skips without TF_ACC.
func acceptanceCLI(t *testing.T) string {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 and TF_ACC_TERRAFORM_PATH (make testacc does)")
	}
	cli := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if cli == "" {
		t.Fatal("TF_ACC_TERRAFORM_PATH must name the terraform or tofu binary to install with")
	}
	return cli
}

// workdir is a configuration directory and the environment the CLI runs it in:
// its own CLI config, home and plugin cache (none), trusting only the test CA.
type workdir struct {
	cli string
	dir string
	env []string
}

func newWorkdir(t *testing.T, cli string, ca *testCA, registryHost, apiURL string) *workdir {
	t.Helper()
	// No provider_installation block: the default, direct installation from the
	// source address's host, as a user's CLI does.
	return newWorkdirFor(t, cli, ca, registryHost+"/qingcloud/hpc", "", apiURL)
}

// newWorkdirFor is newWorkdir for any source address, with cliConfig added to
// the CLI configuration file (credentials, provider_installation).
func newWorkdirFor(t *testing.T, cli string, ca *testCA, source, cliConfig, apiURL string) *workdir {
	t.Helper()
	dir := t.TempDir()
	home := t.TempDir()
	rc := filepath.Join(home, "cli.tfrc")
	if err := os.WriteFile(rc, []byte("disable_checkpoint = true\n"+cliConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`terraform {
  required_providers {
    hpc = {
      source  = %q
      version = %q
    }
  }
}

provider "hpc" {}

resource "hpc_cluster_node_restart" "compute" {
  cluster_id = %q
  node_ids   = ["cln-cmp00001", "cln-cmp00002"]
}

output "job_id" {
  value = hpc_cluster_node_restart.compute.job_id
}
`, source, testVersion, ehpcsim.DemoClusterID)
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}

	// The parent's TF_* and QINGCLOUD_* settings (plugin cache, CLI args, reattach
	// from an acceptance test, credentials) must not leak in.
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if (strings.HasPrefix(k, "TF_") && !strings.HasPrefix(k, "TF_LOG")) ||
			strings.HasPrefix(k, "QINGCLOUD_") || k == "HOME" || k == "SSL_CERT_FILE" || k == "SSL_CERT_DIR" ||
			k == "CHECKPOINT_DISABLE" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"HOME="+home,
		"TF_CLI_CONFIG_FILE="+rc,
		"CHECKPOINT_DISABLE=1",
		"TF_IN_AUTOMATION=1",
		// The CLI's TLS trusts exactly the test CA: SSL_CERT_FILE replaces the
		// system roots, and an empty SSL_CERT_DIR keeps the system's directory out.
		"SSL_CERT_FILE="+ca.certFile,
		"SSL_CERT_DIR="+filepath.Join(home, "no-certs"),
		"QINGCLOUD_HPC_ENDPOINT="+apiURL,
		"QINGCLOUD_ACCESS_KEY="+ehpcsim.DemoAccessKeyID,
		"QINGCLOUD_SECRET_KEY="+ehpcsim.DemoSecretKey,
		"QINGCLOUD_ZONE="+ehpcsim.DemoZone,
	)
	return &workdir{cli: cli, dir: dir, env: env}
}

// try runs the CLI in the work directory and returns its combined output.
func (w *workdir) try(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.cli, args...)
	cmd.Dir = w.dir
	cmd.Env = w.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// run is try, failing the test when the command fails.
func (w *workdir) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := w.try(args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(w.cli), strings.Join(args, " "), err, out)
	}
	return out
}
