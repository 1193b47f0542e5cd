package registrytest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// TestAccStaticRegistryInstall writes a signed release as a static registry
// tree with `make registry`, serves the tree from a plain HTTPS file server (no
// handler of the protocol's own: the documents are files, served with the
// content types a static host gives them), and has the CLI install from it with
// nothing but the source address, localhost:<port>/qingcloud/hpc: no
// provider_installation block, no credentials. The CLI must check and report
// the signature, and the installed provider must restart nodes.
func TestAccStaticRegistryInstall(t *testing.T) {
	cli := acceptanceCLI(t)
	rel := buildRelease(t)
	ca := newTestCA(t)
	dist, keyFile := rel.writeDist(t)
	out := filepath.Join(t.TempDir(), "registry")

	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "GPG_") && k != "GNUPGHOME" {
			env = append(env, kv)
		}
	}
	env = append(env, "GPG_PUBLIC_KEY_FILE="+keyFile)
	mk := func() (string, error) {
		return runCmd(t, moduleRoot(t), env, "make", "--no-print-directory", "registry", "DIST="+dist, "REGISTRY_DIR="+out)
	}
	log, err := mk()
	if err != nil {
		t.Fatalf("make registry: %v\n%s", err, log)
	}
	if !strings.Contains(log, rel.SumsName()+": signed by "+strings.ToUpper(rel.KeyID)) {
		t.Errorf("make registry did not report the signature it checked:\n%s", log)
	}
	// The same release again changes nothing and says so.
	if log, err := mk(); err != nil || !strings.Contains(log, "already, with the same files; nothing else changed") {
		t.Fatalf("make registry again: %v\n%s", err, log)
	}

	srv := newFileServer(t, ca, out)
	_, port, _ := strings.Cut(srv.srv.Listener.Addr().String(), ":")
	source := "localhost:" + port + "/qingcloud/hpc"

	t.Run("install and apply with the source address only", func(t *testing.T) {
		sim := ehpcsim.New(ehpcsim.Options{})
		api := httptest.NewServer(sim)
		t.Cleanup(api.Close)
		w := newWorkdirFor(t, cli, ca, source, "", api.URL)
		log := w.run(t, "init", "-input=false", "-no-color")
		// Terraform: "(self-signed, key ID ...)"; OpenTofu: "(signed, key ID ...)".
		if !regexp.MustCompile(`(?i)Installed ` + regexp.QuoteMeta(source) + ` v` + regexp.QuoteMeta(testVersion) + ` \(.*signed, key ID ` + rel.KeyID).MatchString(log) {
			t.Errorf("init did not report installing the signed release:\n%s", log)
		}
		vdir := "/v1/providers/qingcloud/hpc/" + testVersion + "/"
		for _, p := range []string{"/.well-known/terraform.json", "/v1/providers/qingcloud/hpc/versions",
			vdir + "download/" + rel.OS + "/" + rel.Arch, vdir + rel.ZipName(), vdir + rel.SumsName(), vdir + rel.SigName()} {
			if srv.requests(p) == 0 {
				t.Errorf("init never requested %s from the static host", p)
			}
		}
		lock, err := os.ReadFile(filepath.Join(w.dir, ".terraform.lock.hcl"))
		if err != nil || !strings.Contains(string(lock), `"zh:`+sha256Hex(rel.Files[rel.ZipName()])+`"`) {
			t.Errorf("the lock file lacks the zip's signed checksum (%v):\n%s", err, lock)
		}

		// What the guide tells hosts: only service discovery needs
		// application/json. This host, like most, types the extension-less
		// documents text/plain, and the install above took them.
		for path, want := range map[string]string{
			"/.well-known/terraform.json":                "application/json",
			"/v1/providers/qingcloud/hpc/versions":       "text/plain; charset=utf-8",
			vdir + "download/" + rel.OS + "/" + rel.Arch: "text/plain; charset=utf-8",
		} {
			if got := contentType(t, ca, srv.srv.URL+path); got != want {
				t.Errorf("the static host served %s as %q, want %q", path, got, want)
			}
		}

		w.run(t, "apply", "-auto-approve", "-input=false", "-no-color")
		for node, want := range map[string]int{"cln-cmp00001": 1, "cln-cmp00002": 1, "cln-cmp00003": 0} {
			if got := sim.Restarts(node); got != want {
				t.Errorf("node %s restarted %d times, want %d", node, got, want)
			}
		}
	})

	t.Run("tampered zip refused by init", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "registry")
		if err := os.CopyFS(bad, os.DirFS(out)); err != nil {
			t.Fatal(err)
		}
		zip := filepath.Join(bad, "v1", "providers", "qingcloud", "hpc", testVersion, rel.ZipName())
		b, err := os.ReadFile(zip)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.Clone(b)
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(zip, b, 0o644); err != nil {
			t.Fatal(err)
		}
		badSrv := newFileServer(t, ca, bad)
		_, badPort, _ := strings.Cut(badSrv.srv.Listener.Addr().String(), ":")
		w := newWorkdirFor(t, cli, ca, "localhost:"+badPort+"/qingcloud/hpc", "", "http://127.0.0.1:1")
		log, err := w.try("init", "-input=false", "-no-color")
		if err == nil {
			t.Fatalf("init installed a tampered zip:\n%s", log)
		}
		// Terraform: "archive has incorrect checksum zh:... (expected zh:...)".
		if !regexp.MustCompile(`(?is)(incorrect|does not match|mismatch).{0,40}checksum|checksum.{0,80}(incorrect|does not match|mismatch)`).MatchString(log) {
			t.Errorf("init failed, but not on the archive's checksum:\n%s", log)
		}
		if got := installedFiles(t, filepath.Join(w.dir, ".terraform", "providers", "localhost:"+badPort), rel.OS+"_"+rel.Arch); len(got) > 0 {
			t.Errorf("a provider was installed despite the failure: %v", got)
		}
		if _, err := os.Stat(filepath.Join(w.dir, ".terraform.lock.hcl")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a lock file was written despite the failure (stat: %v)", err)
		}
	})
}

// contentType is the Content-Type a GET of url answers with, trusting ca.
func contentType(t *testing.T, ca *testCA, url string) string {
	t.Helper()
	pem, err := os.ReadFile(ca.certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return resp.Header.Get("Content-Type")
}
