// Package releasetest writes small releases in goreleaser's dist/ layout, for
// the tests of what reads them (internal/mirror, internal/registry): a zip per
// platform holding a stand-in for the binary, the registry manifest, SHA256SUMS,
// and, when given a key, its detached signature.
package releasetest

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Write lays out version in a new folder and returns it: one zip per platform
// ("linux_amd64"), its binary holding content and the platform, so that other
// content makes other bytes. signer nil leaves the release unsigned.
func Write(t *testing.T, version, content string, signer *openpgp.Entity, platforms ...string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{
		fmt.Sprintf("terraform-provider-hpc_%s_manifest.json", version): []byte(`{"version": 1, "metadata": {"protocol_versions": ["6.0"]}}`),
	}
	for _, p := range platforms {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		w, err := zw.Create("terraform-provider-hpc_v" + version)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(content + p)); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		files[fmt.Sprintf("terraform-provider-hpc_%s_%s.zip", version, p)] = b.Bytes()
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var sums strings.Builder
	for _, n := range names {
		s := sha256.Sum256(files[n])
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(s[:]), n)
	}
	sumsName := "terraform-provider-hpc_" + version + "_SHA256SUMS"
	files[sumsName] = []byte(sums.String())
	if signer != nil {
		var sig bytes.Buffer
		if err := openpgp.DetachSign(&sig, signer, strings.NewReader(sums.String()), nil); err != nil {
			t.Fatal(err)
		}
		files[sumsName+".sig"] = sig.Bytes()
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// NewKey is a throwaway RSA signing key, as a release key would be.
func NewKey(t *testing.T) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity("releasetest", "throwaway", "releasetest@example.invalid",
		&packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Armored is e's public key, as `gpg --armor --export` gives it.
func Armored(t *testing.T, e *openpgp.Entity) string {
	t.Helper()
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
