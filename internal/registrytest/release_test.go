package registrytest

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/qingcloud/terraform-provider-hpc/internal/release/releasetest"
)

const projectName = "terraform-provider-hpc"

// release is one version's artifacts as goreleaser lays them out in dist/:
//
//	terraform-provider-hpc_<v>_<os>_<arch>.zip   holding terraform-provider-hpc_v<v>
//	terraform-provider-hpc_<v>_manifest.json     the registry manifest, renamed
//	terraform-provider-hpc_<v>_SHA256SUMS        "<sha256>  <file>" for both of the above
//	terraform-provider-hpc_<v>_SHA256SUMS.sig    detached binary GPG signature of SHA256SUMS
type release struct {
	Version string
	OS      string // the host platform, which the CLI installs and runs
	Arch    string
	// Platforms are every platform built: the host's first, then any others.
	Platforms []platform
	Files     map[string][]byte // file name -> contents

	// Protocols is what the manifest declares, which the registry reports.
	Protocols []string
	// ArmoredKey is the signing key's public part, ASCII-armored, and KeyID its id.
	ArmoredKey string
	KeyID      string
	key        *openpgp.Entity
}

type platform struct{ OS, Arch string }

func (r *release) ZipName() string { return r.ZipNameFor(platform{r.OS, r.Arch}) }
func (r *release) ZipNameFor(p platform) string {
	return fmt.Sprintf("%s_%s_%s_%s.zip", projectName, r.Version, p.OS, p.Arch)
}
func (r *release) SumsName() string { return fmt.Sprintf("%s_%s_SHA256SUMS", projectName, r.Version) }
func (r *release) SigName() string  { return r.SumsName() + ".sig" }
func (r *release) ManifestName() string {
	return fmt.Sprintf("%s_%s_manifest.json", projectName, r.Version)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// moduleRoot is the repository root, where main.go and the manifest live.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("not inside the module")
	}
	return filepath.Dir(gomod)
}

// buildRelease builds testVersion of the provider for the host platform, and for
// each of others, as goreleaser's build section does (CGO off, -trimpath,
// -X main.version), packs and checksums it as its archives and checksum sections
// do, and signs the checksums with a new key, as its signs section does with the
// release key.
func buildRelease(t *testing.T, others ...platform) *release {
	t.Helper()
	root := moduleRoot(t)
	r := &release{Version: testVersion, OS: runtime.GOOS, Arch: runtime.GOARCH, Files: map[string][]byte{}}
	r.Platforms = append([]platform{{r.OS, r.Arch}}, others...)
	for _, p := range r.Platforms {
		r.Files[r.ZipNameFor(p)] = builtZip(t, root, r.Version, p)
	}

	manifest, err := os.ReadFile(filepath.Join(root, "terraform-registry-manifest.json"))
	if err != nil {
		t.Fatalf("reading the registry manifest: %v", err)
	}
	r.Files[r.ManifestName()] = manifest
	r.Protocols = manifestProtocols(t, manifest)

	r.key = releasetest.NewKey(t)
	r.ArmoredKey, r.KeyID = releasetest.Armored(t, r.key), r.key.PrimaryKey.KeyIdString()
	r.sign(t)
	return r
}

// builds holds each zip buildRelease made, by version and platform: the tests
// of a test binary that release the same version share one build of it, since
// linking the provider is most of a release's cost. Each still signs with a
// key of its own.
var builds sync.Map // "<version> <os>_<arch>" -> *build

type build struct {
	once sync.Once
	zip  []byte
	err  error
}

// builtZip is the release zip of version for p, built once per test binary.
func builtZip(t *testing.T, root, version string, p platform) []byte {
	t.Helper()
	v, _ := builds.LoadOrStore(version+" "+p.OS+"_"+p.Arch, &build{})
	b := v.(*build)
	b.once.Do(func() { b.zip, b.err = buildZip(root, version, p) })
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.zip
}

// buildZip builds the provider for p and packs it.
func buildZip(root, version string, p platform) ([]byte, error) {
	binName := fmt.Sprintf("%s_v%s", projectName, version)
	if p.OS == "windows" {
		binName += ".exe"
	}
	dir, err := os.MkdirTemp("", "registrytest-build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir) //nolint:errcheck
	binPath := filepath.Join(dir, binName)
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", binPath, ".")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch)
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the provider for %s_%s: %v\n%s", p.OS, p.Arch, err, out)
	}
	bin, err := os.ReadFile(binPath)
	if err != nil {
		return nil, err
	}
	return packZip(binName, bin)
}

// zipOf packs one executable file, as goreleaser's archive does.
func zipOf(t *testing.T, name string, content []byte) []byte {
	t.Helper()
	b, err := packZip(name, content)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func packZip(name string, content []byte) ([]byte, error) {
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	hdr := &zip.FileHeader{Name: name, Method: zip.Deflate}
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(content); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return zbuf.Bytes(), nil
}

// sign writes SHA256SUMS for the zips and the manifest in Files and signs it with
// the release's key.
func (r *release) sign(t *testing.T) {
	t.Helper()
	// goreleaser writes one "<hex>  <name>" line per artifact, sorted by name.
	var names []string
	for n := range r.Files {
		if strings.HasSuffix(n, ".zip") || n == r.ManifestName() {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var sums strings.Builder
	for _, n := range names {
		fmt.Fprintf(&sums, "%s  %s\n", sha256Hex(r.Files[n]), n)
	}
	r.Files[r.SumsName()] = []byte(sums.String())
	r.Files[r.SigName()] = detachSign(t, r.key, r.Files[r.SumsName()])
}

// writeDist lays the release out as goreleaser leaves it in dist/ and returns
// that folder, with the public key beside it (release-key.asc).
func (r *release) writeDist(t *testing.T) (dist, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	dist = filepath.Join(dir, "dist")
	if err := os.Mkdir(dist, 0o755); err != nil {
		t.Fatal(err)
	}
	for n, b := range r.Files {
		if err := os.WriteFile(filepath.Join(dist, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	keyFile = filepath.Join(dir, "release-key.asc")
	if err := os.WriteFile(keyFile, []byte(r.ArmoredKey), 0o644); err != nil {
		t.Fatal(err)
	}
	return dist, keyFile
}

// detachSign makes a binary detached signature, like `gpg --detach-sign`.
func detachSign(t *testing.T, e *openpgp.Entity, msg []byte) []byte {
	t.Helper()
	var sig bytes.Buffer
	if err := openpgp.DetachSign(&sig, e, bytes.NewReader(msg), nil); err != nil {
		t.Fatalf("signing: %v", err)
	}
	return sig.Bytes()
}
