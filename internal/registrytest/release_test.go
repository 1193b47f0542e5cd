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
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
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
	OS      string
	Arch    string
	Files   map[string][]byte // file name -> contents

	// Protocols is what the manifest declares, which the registry reports.
	Protocols []string
	// ArmoredKey is the signing key's public part, ASCII-armored, and KeyID its id.
	ArmoredKey string
	KeyID      string
}

func (r *release) ZipName() string {
	return fmt.Sprintf("%s_%s_%s_%s.zip", projectName, r.Version, r.OS, r.Arch)
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

// buildRelease builds the provider for the host platform as goreleaser's build
// section does (CGO off, -trimpath, -X main.version), packs and checksums it as its
// archives and checksum sections do, and signs the checksums with a new key, as its
// signs section does with the release key.
func buildRelease(t *testing.T, version string) *release {
	t.Helper()
	root := moduleRoot(t)
	r := &release{Version: version, OS: runtime.GOOS, Arch: runtime.GOARCH, Files: map[string][]byte{}}

	binName := fmt.Sprintf("%s_v%s", projectName, version)
	if runtime.GOOS == "windows" {
		binName += ".exe"
	}
	binPath := filepath.Join(t.TempDir(), binName)
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", binPath, ".")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the provider: %v\n%s", err, out)
	}
	bin, err := os.ReadFile(binPath)
	if err != nil {
		t.Fatal(err)
	}

	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	hdr := &zip.FileHeader{Name: binName, Method: zip.Deflate}
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(bin); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	r.Files[r.ZipName()] = zbuf.Bytes()

	manifest, err := os.ReadFile(filepath.Join(root, "terraform-registry-manifest.json"))
	if err != nil {
		t.Fatalf("reading the registry manifest: %v", err)
	}
	r.Files[r.ManifestName()] = manifest
	r.Protocols = manifestProtocols(t, manifest)

	// goreleaser writes one "<hex>  <name>" line per artifact, sorted by name.
	names := []string{r.ZipName(), r.ManifestName()}
	sort.Strings(names)
	var sums strings.Builder
	for _, n := range names {
		fmt.Fprintf(&sums, "%s  %s\n", sha256Hex(r.Files[n]), n)
	}
	r.Files[r.SumsName()] = []byte(sums.String())

	key := newSigningKey(t)
	r.ArmoredKey, r.KeyID = armoredPublicKey(t, key), key.PrimaryKey.KeyIdString()
	r.Files[r.SigName()] = detachSign(t, key, r.Files[r.SumsName()])
	return r
}

// newSigningKey makes a throwaway RSA key, as `gpg --quick-gen-key` would for a
// release key; no gpg binary or agent is involved.
func newSigningKey(t *testing.T) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity("terraform-provider-hpc release test", "throwaway", "release-test@example.invalid",
		&packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 2048})
	if err != nil {
		t.Fatalf("generating a signing key: %v", err)
	}
	return e
}

func armoredPublicKey(t *testing.T, e *openpgp.Entity) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
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
