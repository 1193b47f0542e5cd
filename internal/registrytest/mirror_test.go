package registrytest

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/dirhash"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

const mirrorSource = "registry.example.com/qingcloud/hpc"

// fileServer serves dir over loopback HTTPS as any static host would, counting
// requests by path.
type fileServer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newFileServer(t *testing.T, ca *testCA, dir string) *fileServer {
	t.Helper()
	fs := &fileServer{hits: map[string]int{}}
	files := http.FileServer(http.Dir(dir))
	fs.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		fs.hits[r.URL.Path]++
		fs.mu.Unlock()
		files.ServeHTTP(w, r)
	}))
	fs.srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.leaf}, MinVersion: tls.VersionTLS12}
	fs.srv.StartTLS()
	t.Cleanup(fs.srv.Close)
	return fs
}

func (fs *fileServer) requests(path string) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.hits[path]
}

func mirrorConfig(url string) string {
	return fmt.Sprintf("provider_installation {\n  network_mirror {\n    url = %q\n  }\n}\n", url)
}

// otherPlatform is a second platform to release for, besides the host's.
func otherPlatform() platform {
	if runtime.GOOS == "darwin" && runtime.GOARCH == "arm64" {
		return platform{"linux", "amd64"}
	}
	return platform{"darwin", "arm64"}
}

// TestAccMirrorInstall writes a network mirror with `make mirror` from a signed
// two-platform release, serves the tree from a plain HTTPS file server, and has
// the CLI (terraform or tofu, whichever TF_ACC_TERRAFORM_PATH names) install from
// it through a network_mirror block, apply with it, and lock both platforms.
func TestAccMirrorInstall(t *testing.T) {
	cli := acceptanceCLI(t)
	other := otherPlatform()
	rel := buildRelease(t, other)
	ca := newTestCA(t)
	dist, keyFile := rel.writeDist(t)
	out := filepath.Join(t.TempDir(), "mirror")

	mk := func(dist string) (string, error) {
		return runCmd(t, moduleRoot(t), os.Environ(), "make", "--no-print-directory", "mirror",
			"DIST="+dist, "MIRROR_DIR="+out, "MIRROR_SOURCE="+mirrorSource, "MIRROR_FLAGS=-gpg-key "+keyFile)
	}
	log, err := mk(dist)
	if err != nil {
		t.Fatalf("make mirror: %v\n%s", err, log)
	}
	if !strings.Contains(log, rel.SumsName()+": signed by "+strings.ToUpper(rel.KeyID)) {
		t.Errorf("make mirror did not check the signature:\n%s", log)
	}
	dir := filepath.Join(out, mirrorSource)
	for _, f := range []string{"index.json", testVersion + ".json", rel.ZipName(), rel.ZipNameFor(other)} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("the mirror lacks %s: %v", f, err)
		}
	}
	// Writing the same release again changes nothing and succeeds.
	if log, err := mk(dist); err != nil {
		t.Fatalf("make mirror again: %v\n%s", err, log)
	}

	srv := newFileServer(t, ca, out)
	rc := mirrorConfig(srv.srv.URL + "/")
	h1 := map[platform]string{}
	for _, p := range rel.Platforms {
		zip := filepath.Join(dir, rel.ZipNameFor(p))
		h, err := dirhash.HashZip(zip, dirhash.Hash1)
		if err != nil {
			t.Fatal(err)
		}
		h1[p] = h
	}

	t.Run("install, apply and lock two platforms", func(t *testing.T) {
		sim := ehpcsim.New(ehpcsim.Options{})
		api := httptest.NewServer(sim)
		t.Cleanup(api.Close)
		w := newWorkdirFor(t, cli, ca, mirrorSource, rc, api.URL)
		log := w.run(t, "init", "-input=false", "-no-color")
		if !regexp.MustCompile(`Installed ` + regexp.QuoteMeta(mirrorSource) + ` v` + regexp.QuoteMeta(testVersion)).MatchString(log) {
			t.Errorf("init did not report installing from the mirror:\n%s", log)
		}
		if srv.requests("/"+mirrorSource+"/index.json") == 0 || srv.requests("/"+mirrorSource+"/"+rel.ZipName()) == 0 {
			t.Errorf("init did not go through the mirror (hits %v)", srv.hits)
		}
		w.run(t, "apply", "-auto-approve", "-input=false", "-no-color")
		for node, want := range map[string]int{"cln-cmp00001": 1, "cln-cmp00002": 1, "cln-cmp00003": 0} {
			if got := sim.Restarts(node); got != want {
				t.Errorf("node %s restarted %d times, want %d", node, got, want)
			}
		}

		host := platform{rel.OS, rel.Arch}
		// providers lock asks the source's own host unless told where to look: it
		// does not follow provider_installation.
		log = w.run(t, "providers", "lock", "-no-color", "-net-mirror="+srv.srv.URL+"/",
			"-platform="+host.OS+"_"+host.Arch, "-platform="+other.OS+"_"+other.Arch)
		lock, err := os.ReadFile(filepath.Join(w.dir, ".terraform.lock.hcl"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range rel.Platforms {
			if !strings.Contains(string(lock), h1[p]) {
				t.Errorf(".terraform.lock.hcl lacks the %s_%s hash %s:\n%s\n%s", p.OS, p.Arch, h1[p], lock, log)
			}
		}
		if srv.requests("/"+mirrorSource+"/"+rel.ZipNameFor(other)) == 0 {
			t.Errorf("providers lock did not fetch the %s_%s zip from the mirror", other.OS, other.Arch)
		}
	})

	t.Run("tampered zip on the mirror refused by init", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "mirror")
		if err := os.CopyFS(bad, os.DirFS(out)); err != nil {
			t.Fatal(err)
		}
		zip := filepath.Join(bad, mirrorSource, rel.ZipName())
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
		w := newWorkdirFor(t, cli, ca, mirrorSource, mirrorConfig(badSrv.srv.URL+"/"), "http://127.0.0.1:1")
		log, err := w.try("init", "-input=false", "-no-color")
		if err == nil {
			t.Fatalf("init installed a tampered zip from the mirror:\n%s", log)
		}
		if !regexp.MustCompile(`(?i)checksum|hash|does not match`).MatchString(log) {
			t.Errorf("init failed, but not on the archive's hash:\n%s", log)
		}
	})

	t.Run("tampered zip in dist refused by make mirror", func(t *testing.T) {
		bad, _ := rel.writeDist(t)
		zip := filepath.Join(bad, rel.ZipNameFor(other))
		b, err := os.ReadFile(zip)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(zip, b, 0o644); err != nil {
			t.Fatal(err)
		}
		log, err := mk(bad)
		if err == nil || !strings.Contains(log, "does not match") {
			t.Fatalf("want make mirror to refuse the changed zip: %v\n%s", err, log)
		}
	})
}
