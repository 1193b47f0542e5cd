package registrytest

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
	"github.com/qingcloud/terraform-provider-hpc/internal/release/releasetest"
)

const (
	testOrg   = "acme-platform"
	testToken = "tfc-test-token.atlasv1.s3cr3t"
)

// publishEnv is the environment make publish and hpc-publish run with: the
// stand-in as the host, its CA trusted, the token in TFE_TOKEN.
func publishEnv(ca *testCA, host, keyFile string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "TFE_") || strings.HasPrefix(k, "TF_TOKEN_") || strings.HasPrefix(k, "GPG_") || k == "SSL_CERT_FILE" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "TFE_HOSTNAME="+host, "TFE_ORGANIZATION="+testOrg, "TFE_TOKEN="+testToken,
		"GPG_PUBLIC_KEY_FILE="+keyFile, "SSL_CERT_FILE="+ca.certFile)
}

// runCmd runs a command and returns its combined output.
func runCmd(t *testing.T, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if strings.Contains(string(out), testToken) {
		t.Errorf("%s printed the API token:\n%s", name, out)
	}
	return string(out), err
}

// makePublish runs `make publish` from the repository root on dist.
func makePublish(t *testing.T, env []string, dist string, flags ...string) (string, error) {
	t.Helper()
	return runCmd(t, moduleRoot(t), env, "make", "--no-print-directory", "publish",
		"DIST="+dist, "PUBLISH_FLAGS="+strings.Join(flags, " "))
}

// TestAccPublishInstall publishes a signed release with `make publish` to the
// HCP Terraform stand-in, then installs <host>/<organization>/hpc from it with
// the real CLI, authenticated by a credentials block, and applies a
// configuration with it against the simulator.
func TestAccPublishInstall(t *testing.T) {
	cli := acceptanceCLI(t)
	rel := buildRelease(t)
	ca := newTestCA(t)
	reg := newTFC(t, ca)
	dist, keyFile := rel.writeDist(t)
	env := publishEnv(ca, reg.Host(), keyFile)

	out, err := makePublish(t, env, dist)
	if err != nil {
		t.Fatalf("make publish: %v\n%s", err, out)
	}
	for _, want := range []string{
		"provider " + testOrg + "/hpc: created", "GPG key " + strings.ToUpper(rel.KeyID) + ": added",
		"version " + testVersion + ": created", rel.SumsName() + ": uploaded", rel.SigName() + ": uploaded",
		"platform " + rel.OS + "_" + rel.Arch + ": created", rel.ZipName() + ": uploaded",
		"published " + testOrg + "/hpc " + testVersion,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("make publish did not report %q:\n%s", want, out)
		}
	}
	writes, leaks, problems := reg.counts()
	if len(problems) > 0 || leaks > 0 {
		t.Fatalf("the stand-in refused requests %q, or saw the token on %d upload(s)", problems, leaks)
	}
	// provider, key, version, platform, SHA256SUMS, signature, zip
	if writes != 7 {
		t.Errorf("publish made %d writes, want 7", writes)
	}

	source := reg.Host() + "/" + testOrg + "/hpc"
	credentials := fmt.Sprintf("credentials %q {\n  token = %q\n}\n", reg.Host(), testToken)

	t.Run("install and apply", func(t *testing.T) {
		sim := ehpcsim.New(ehpcsim.Options{})
		api := httptest.NewServer(sim)
		t.Cleanup(api.Close)
		w := newWorkdirFor(t, cli, ca, source, credentials, api.URL)
		out := w.run(t, "init", "-input=false", "-no-color")
		if !regexp.MustCompile(`(?i)Installed ` + regexp.QuoteMeta(source) + ` v` + regexp.QuoteMeta(testVersion) + ` \(.*signed, key ID ` + rel.KeyID).MatchString(out) {
			t.Errorf("init did not report installing the signed release:\n%s", out)
		}
		w.run(t, "apply", "-auto-approve", "-input=false", "-no-color")
		for node, want := range map[string]int{"cln-cmp00001": 1, "cln-cmp00002": 1, "cln-cmp00003": 0} {
			if got := sim.Restarts(node); got != want {
				t.Errorf("node %s restarted %d times, want %d", node, got, want)
			}
		}
		w.run(t, "plan", "-detailed-exitcode", "-input=false", "-no-color")
	})

	t.Run("no token, no install", func(t *testing.T) {
		w := newWorkdirFor(t, cli, ca, source, "", "http://127.0.0.1:1")
		out, err := w.try("init", "-input=false", "-no-color")
		if err == nil {
			t.Fatalf("init without credentials succeeded:\n%s", out)
		}
		if !regexp.MustCompile(`(?i)401|unauthori[sz]ed|credentials`).MatchString(out) {
			t.Errorf("init failed, but not for want of credentials:\n%s", out)
		}
	})

	t.Run("second publish changes nothing", func(t *testing.T) {
		out, err := makePublish(t, env, dist)
		if err != nil {
			t.Fatalf("make publish again: %v\n%s", err, out)
		}
		if !strings.Contains(out, "was already published; nothing changed") {
			t.Errorf("second publish did not say it changed nothing:\n%s", out)
		}
		if again, _, _ := reg.counts(); again != writes {
			t.Errorf("second publish wrote %d more time(s)", again-writes)
		}
	})

	// Last: it changes what the stand-in serves.
	t.Run("tampered zip refused by init", func(t *testing.T) {
		reg.tamper(fmt.Sprintf("/_archivist/%s/hpc/%s/%s", testOrg, testVersion, rel.ZipName()), func(b []byte) []byte {
			c := bytes.Clone(b)
			c[len(c)/2] ^= 0xff
			return c
		})
		w := newWorkdirFor(t, cli, ca, source, credentials, "http://127.0.0.1:1")
		out, err := w.try("init", "-input=false", "-no-color")
		if err == nil {
			t.Fatalf("init installed a tampered zip:\n%s", out)
		}
		if !regexp.MustCompile(`(?is)checksum`).MatchString(out) {
			t.Errorf("init failed, but not on the checksum:\n%s", out)
		}
	})
}

// fakeRelease is a release whose zips hold a text file instead of the
// provider: enough for the publisher, which never runs what it publishes.
func fakeRelease(t *testing.T, version, content string, key *openpgp.Entity) *release {
	t.Helper()
	r := &release{Version: version, OS: "linux", Arch: "amd64", Files: map[string][]byte{},
		Platforms: []platform{{"linux", "amd64"}, {"darwin", "arm64"}}, key: key}
	for _, p := range r.Platforms {
		r.Files[r.ZipNameFor(p)] = zipOf(t, projectName+"_v"+version, []byte(content+" "+p.OS+"_"+p.Arch))
	}
	manifest, err := os.ReadFile(filepath.Join(moduleRoot(t), "terraform-registry-manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	r.Files[r.ManifestName()] = manifest
	r.Protocols = manifestProtocols(t, manifest)
	r.ArmoredKey, r.KeyID = releasetest.Armored(t, key), key.PrimaryKey.KeyIdString()
	r.sign(t)
	return r
}

// TestPublishRerunsAndRefusals drives hpc-publish against the stand-in through
// the cases a pipeline meets: a dry run, a publish cut off half way and rerun, a
// version republished with other content, a changed zip in dist/, no token. It
// runs no Terraform CLI, so it needs no TF_ACC.
func TestPublishRerunsAndRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/hpc-publish")
	}
	bin := filepath.Join(t.TempDir(), "hpc-publish")
	build := exec.Command("go", "build", "-o", bin, "./cmd/hpc-publish")
	build.Dir = moduleRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building hpc-publish: %v\n%s", err, out)
	}
	ca := newTestCA(t)
	key := releasetest.NewKey(t)
	rel := fakeRelease(t, "0.9.0", "first build", key)
	dist, keyFile := rel.writeDist(t)

	t.Run("dry run writes nothing", func(t *testing.T) {
		t.Parallel()
		reg := newTFC(t, ca)
		out, err := runCmd(t, "", publishEnv(ca, reg.Host(), keyFile), bin, "-dist", dist, "-dry-run")
		if err != nil {
			t.Fatalf("dry run: %v\n%s", err, out)
		}
		for _, want := range []string{"provider " + testOrg + "/hpc: would create", "GPG key", "version 0.9.0: would create (protocols 6.0",
			"platform darwin_arm64: would create and upload", "platform linux_amd64: would create and upload", "7 change(s) would be made"} {
			if !strings.Contains(out, want) {
				t.Errorf("dry run did not say %q:\n%s", want, out)
			}
		}
		if w, _, _ := reg.counts(); w != 0 || reg.requested("POST") != 0 || reg.requested("PUT") != 0 {
			t.Errorf("dry run wrote to the registry (%d writes)", w)
		}
	})

	t.Run("a publish cut off half way is finished by a rerun", func(t *testing.T) {
		t.Parallel()
		reg := newTFC(t, ca)
		reg.failPUTs(rel.ZipNameFor(platform{"linux", "amd64"}), 1)
		env := publishEnv(ca, reg.Host(), keyFile)
		out, err := runCmd(t, "", env, bin, "-dist", dist)
		if err == nil || !strings.Contains(out, "rerun to finish the publish") {
			t.Fatalf("want the first publish to fail on the injected upload error, saying to rerun: %v\n%s", err, out)
		}
		out, err = runCmd(t, "", env, bin, "-dist", dist)
		if err != nil {
			t.Fatalf("rerun: %v\n%s", err, out)
		}
		for _, want := range []string{"provider " + testOrg + "/hpc: exists", "GPG key", "version 0.9.0: exists, same key, protocols and checksums",
			rel.SumsName() + ": uploaded before", "platform darwin_arm64: " + rel.ZipNameFor(platform{"darwin", "arm64"}) + " uploaded before",
			rel.ZipNameFor(platform{"linux", "amd64"}) + ": uploaded"} {
			if !strings.Contains(out, want) {
				t.Errorf("rerun did not say %q:\n%s", want, out)
			}
		}
		// 2 platforms: provider, key, version, sums, sig, 2 platforms, 2 zips.
		if w, leaks, problems := reg.counts(); w != 9 || leaks != 0 || len(problems) != 0 {
			t.Errorf("after the rerun: %d writes (want 9), %d token leaks, refusals %q", w, leaks, problems)
		}
		if n := reg.requested("POST /api/v2/organizations/" + testOrg + "/registry-providers/private/" + testOrg + "/hpc/versions/0.9.0/platforms"); n != 2 {
			t.Errorf("platforms created %d times, want 2 (one each)", n)
		}
	})

	t.Run("a version with other checksums is refused, nothing written", func(t *testing.T) {
		t.Parallel()
		reg := newTFC(t, ca)
		env := publishEnv(ca, reg.Host(), keyFile)
		if out, err := runCmd(t, "", env, bin, "-dist", dist); err != nil {
			t.Fatalf("first publish: %v\n%s", err, out)
		}
		before, _, _ := reg.counts()
		other := fakeRelease(t, "0.9.0", "second build", key)
		otherDist, _ := other.writeDist(t)
		out, err := runCmd(t, "", env, bin, "-dist", otherDist)
		if err == nil {
			t.Fatalf("republishing 0.9.0 with other zips succeeded:\n%s", out)
		}
		for _, want := range []string{"already exists in the registry with different content", "its SHA256SUMS differs",
			"its linux_amd64 zip has SHA-256", "nothing was changed"} {
			if !strings.Contains(out, want) {
				t.Errorf("refusal does not say %q:\n%s", want, out)
			}
		}
		if after, _, _ := reg.counts(); after != before {
			t.Errorf("the refused publish wrote %d time(s)", after-before)
		}
	})

	t.Run("a changed zip in dist is refused before any request", func(t *testing.T) {
		t.Parallel()
		reg := newTFC(t, ca)
		bad, badKey := rel.writeDist(t)
		zip := filepath.Join(bad, rel.ZipNameFor(platform{"darwin", "arm64"}))
		b, err := os.ReadFile(zip)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(zip, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := runCmd(t, "", publishEnv(ca, reg.Host(), badKey), bin, "-dist", bad)
		if err == nil || !strings.Contains(out, "does not match") {
			t.Fatalf("want the publisher's checksum check to refuse the changed zip: %v\n%s", err, out)
		}
		if reg.requested("") != 0 {
			t.Errorf("the registry was contacted despite the bad dist/")
		}
	})

	t.Run("a signature by another key is refused", func(t *testing.T) {
		t.Parallel()
		reg := newTFC(t, ca)
		otherKeyFile := filepath.Join(t.TempDir(), "other.asc")
		if err := os.WriteFile(otherKeyFile, []byte(releasetest.Armored(t, releasetest.NewKey(t))), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := runCmd(t, "", publishEnv(ca, reg.Host(), otherKeyFile), bin, "-dist", dist)
		if err == nil || !strings.Contains(out, "is not a valid signature") {
			t.Fatalf("want a refusal naming the signature: %v\n%s", err, out)
		}
		if w, _, _ := reg.counts(); w != 0 {
			t.Errorf("%d writes despite the bad signature", w)
		}
	})

	t.Run("no token: an error naming where it is looked for", func(t *testing.T) {
		t.Parallel()
		env := publishEnv(ca, "app.terraform.io", keyFile)
		for i, kv := range env {
			if strings.HasPrefix(kv, "TFE_TOKEN=") {
				env[i] = "TFE_TOKEN="
			}
		}
		out, err := runCmd(t, "", env, bin, "-dist", dist, "-dry-run")
		if err == nil || !strings.Contains(out, "set TFE_TOKEN or TF_TOKEN_app_terraform_io") {
			t.Fatalf("want a missing-token error naming both variables: %v\n%s", err, out)
		}
	})
}
