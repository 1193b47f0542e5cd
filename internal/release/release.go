// Package release reads a provider release from goreleaser's dist/ folder, the
// layout .goreleaser.yml produces and every Terraform registry expects:
//
//	terraform-provider-hpc_<v>_<os>_<arch>.zip    one per platform
//	terraform-provider-hpc_<v>_manifest.json      the registry manifest (protocol versions)
//	terraform-provider-hpc_<v>_SHA256SUMS         "<sha256>  <file>" for the above
//	terraform-provider-hpc_<v>_SHA256SUMS.sig     detached GPG signature of SHA256SUMS
//
// Open checks every file against SHA256SUMS before anything is published from it,
// and VerifySignature checks SHA256SUMS against the public key that will be
// published with it, so a tampered or half-built dist/ is refused here rather
// than by the users' terraform init.
package release

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"golang.org/x/mod/sumdb/dirhash"
)

// DefaultName is the provider's project name, the prefix of every release file.
const DefaultName = "terraform-provider-hpc"

// Platform is one zip of the release.
type Platform struct {
	OS, Arch string
	Filename string // the zip's file name, as in SHA256SUMS
	Path     string // where it is on disk
	SHA256   string // hex, from SHA256SUMS and checked against the file
}

// Dist is one version's release files, checked against SHA256SUMS.
type Dist struct {
	Dir       string
	Version   string
	SumsName  string // file name of SHA256SUMS
	Sums      []byte
	SigName   string // file name of the signature
	Sig       []byte // nil when dist/ holds no signature
	Protocols []string
	Platforms []Platform // sorted by os, then arch
}

// Open reads the release in dir. Exactly one version's SHA256SUMS must be there;
// every zip and the manifest it lists must exist and match it.
func Open(dir string) (*Dist, error) {
	matches, err := filepath.Glob(filepath.Join(dir, DefaultName+"_*_SHA256SUMS"))
	if err != nil {
		return nil, err
	}
	switch len(matches) {
	case 0:
		return nil, noRelease(dir)
	case 1:
	default:
		return nil, fmt.Errorf("%s holds more than one version's SHA256SUMS (%s): publish from a folder with one release", dir, strings.Join(matches, ", "))
	}
	d := &Dist{Dir: dir, SumsName: filepath.Base(matches[0])}
	d.Version = strings.TrimSuffix(strings.TrimPrefix(d.SumsName, DefaultName+"_"), "_SHA256SUMS")
	if d.Sums, err = os.ReadFile(matches[0]); err != nil {
		return nil, err
	}
	d.SigName = d.SumsName + ".sig"
	switch sig, err := os.ReadFile(filepath.Join(dir, d.SigName)); {
	case err == nil:
		d.Sig = sig
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	}

	sums, err := parseSums(d.Sums)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.SumsName, err)
	}
	zipName := regexp.MustCompile(`^` + regexp.QuoteMeta(DefaultName+"_"+d.Version+"_") + `([a-z0-9]+)_([a-z0-9]+)\.zip$`)
	manifestName := DefaultName + "_" + d.Version + "_manifest.json"
	var manifest []byte
	for name, sum := range sums {
		path := filepath.Join(dir, name)
		got, err := FileSHA256(path)
		if err != nil {
			return nil, fmt.Errorf("%s lists %s: %w", d.SumsName, name, err)
		}
		if got != sum {
			return nil, fmt.Errorf("%s does not match %s: its SHA-256 is %s, SHA256SUMS says %s; rebuild the release rather than publish a changed file", name, d.SumsName, got, sum)
		}
		if m := zipName.FindStringSubmatch(name); m != nil {
			d.Platforms = append(d.Platforms, Platform{OS: m[1], Arch: m[2], Filename: name, Path: path, SHA256: sum})
		} else if name == manifestName {
			if manifest, err = os.ReadFile(path); err != nil {
				return nil, err
			}
		}
	}
	if len(d.Platforms) == 0 {
		return nil, fmt.Errorf("%s lists no %s_%s_<os>_<arch>.zip", d.SumsName, DefaultName, d.Version)
	}
	sort.Slice(d.Platforms, func(i, j int) bool {
		a, b := d.Platforms[i], d.Platforms[j]
		return a.OS < b.OS || (a.OS == b.OS && a.Arch < b.Arch)
	})
	if manifest == nil {
		return nil, fmt.Errorf("%s does not list %s: the registry manifest says which plugin protocols the provider speaks (scripts/release-snapshot.sh puts it in dist/)", d.SumsName, manifestName)
	}
	if d.Protocols, err = ManifestProtocols(manifest); err != nil {
		return nil, fmt.Errorf("%s: %w", manifestName, err)
	}
	return d, nil
}

// noRelease is Open's error for a folder without this provider's SHA256SUMS,
// naming the provider whose release it holds instead, if any: a DIST pointed
// at another project's goreleaser output must not read as "not built yet".
func noRelease(dir string) error {
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("%w: build the release first (make release-snapshot, or goreleaser release)", err)
	}
	others, _ := filepath.Glob(filepath.Join(dir, "terraform-provider-*_SHA256SUMS"))
	if len(others) > 0 {
		return fmt.Errorf("%s holds %s, the release of another provider, not of %s: point DIST at this provider's release (make release-snapshot puts it in dist/)",
			dir, filepath.Base(others[0]), DefaultName)
	}
	return fmt.Errorf("%s holds no %s_<version>_SHA256SUMS: build the release first (make release-snapshot, or goreleaser release)", dir, DefaultName)
}

// ManifestProtocols returns the protocol_versions of terraform-registry-manifest.json.
func ManifestProtocols(manifest []byte) ([]string, error) {
	var m struct {
		Version  int `json:"version"`
		Metadata struct {
			ProtocolVersions []string `json:"protocol_versions"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, err
	}
	if m.Version != 1 || len(m.Metadata.ProtocolVersions) == 0 {
		return nil, fmt.Errorf("want manifest version 1 with metadata.protocol_versions, got %s", bytes.TrimSpace(manifest))
	}
	return m.Metadata.ProtocolVersions, nil
}

// parseSums reads goreleaser's "<hex>  <name>" lines.
func parseSums(b []byte) (map[string]string, error) {
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		sum, name, ok := strings.Cut(line, "  ")
		if !ok || len(sum) != 64 || strings.ContainsAny(name, `/\`) {
			return nil, fmt.Errorf("not a checksum line: %q", line)
		}
		if _, err := hex.DecodeString(sum); err != nil {
			return nil, fmt.Errorf("not a checksum line: %q", line)
		}
		sums[strings.TrimPrefix(name, "*")] = strings.ToLower(sum)
	}
	return sums, sc.Err()
}

// FileSHA256 is the hex SHA-256 of the file at path, as SHA256SUMS spells it.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close() //nolint:errcheck
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// H1 is the platform's package hash in Terraform's "h1:" scheme (the hash of
// the unpacked files), which lock files record next to the zip's "zh:" hash.
func (p Platform) H1() (string, error) {
	return dirhash.HashZip(p.Path, dirhash.Hash1)
}

// Key is a public signing key as registries take it.
type Key struct {
	Armored string
	ID      string // the primary key's 16-hex-digit id, upper case, as registries show it
	entity  *openpgp.Entity
}

// LoadKey reads the public signing key from file, an ASCII-armored export, or
// when file is empty exports the key named by fingerprint from the caller's gpg
// keyring: the same key GPG_FINGERPRINT signs the release with.
func LoadKey(file, fingerprint string) (*Key, error) {
	var armored []byte
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		armored = b
	case fingerprint == "":
		return nil, errors.New("no signing key: set -gpg-key or GPG_PUBLIC_KEY_FILE to the ASCII-armored public key, or GPG_FINGERPRINT to a key in your gpg keyring")
	default:
		out, err := exec.Command("gpg", "--batch", "--armor", "--export", fingerprint).Output()
		if err == nil && len(out) == 0 {
			err = errors.New("no such public key in the keyring")
		}
		if err != nil {
			return nil, fmt.Errorf("signing key: gpg --armor --export %s gave no key (%v): check that GPG_FINGERPRINT names a key in this gpg keyring (gpg --list-keys %s), or give the exported key in GPG_PUBLIC_KEY_FILE", fingerprint, err, fingerprint)
		}
		armored = out
	}
	k, err := ParseKey(string(armored))
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return k, nil
}

// ParseKey reads one ASCII-armored public key. HCP Terraform and Terraform
// Enterprise accept RSA and DSA keys only, so others are refused here.
func ParseKey(armored string) (*Key, error) {
	if strings.Contains(armored, "PRIVATE KEY BLOCK") {
		return nil, errors.New("that is a private key: give the public key (gpg --armor --export <key id>)")
	}
	ring, err := openpgp.ReadArmoredKeyRing(strings.NewReader(armored))
	if err != nil {
		return nil, fmt.Errorf("not an ASCII-armored public key (gpg --armor --export <key id>): %w", err)
	}
	if len(ring) != 1 {
		return nil, fmt.Errorf("want exactly one public key, got %d", len(ring))
	}
	e := ring[0]
	switch e.PrimaryKey.PubKeyAlgo {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly, packet.PubKeyAlgoDSA:
	default:
		return nil, fmt.Errorf("key %s is not RSA or DSA (algorithm %d): HCP Terraform and Terraform Enterprise accept only RSA and DSA signing keys", e.PrimaryKey.KeyIdString(), e.PrimaryKey.PubKeyAlgo)
	}
	return &Key{Armored: armored, ID: strings.ToUpper(e.PrimaryKey.KeyIdString()), entity: e}, nil
}

// RequireSignature refuses a release built without GPG_FINGERPRINT, saying how
// to sign it: registries hand SHA256SUMS.sig to every terraform init, and the
// CLIs refuse a registry package without one.
func (d *Dist) RequireSignature() error {
	if d.Sig == nil {
		return fmt.Errorf("%s has no %s: the release is unsigned; build it again with the signing key named, GPG_FINGERPRINT=<key id or fingerprint> make release-snapshot (or release, or release-snapshot-host)", d.Dir, d.SigName)
	}
	return nil
}

// VerifySignature checks that the release's SHA256SUMS.sig is a signature of its
// SHA256SUMS by key, so what is published verifies for every user.
func (d *Dist) VerifySignature(key *Key) error {
	if err := d.RequireSignature(); err != nil {
		return err
	}
	var sig io.Reader = bytes.NewReader(d.Sig)
	if bytes.HasPrefix(bytes.TrimSpace(d.Sig), []byte("-----BEGIN")) {
		_, err := openpgp.CheckArmoredDetachedSignature(openpgp.EntityList{key.entity}, bytes.NewReader(d.Sums), sig, nil)
		if err != nil {
			return fmt.Errorf("%s is not a valid signature of %s by key %s: %w", d.SigName, d.SumsName, key.ID, err)
		}
		return nil
	}
	if _, err := openpgp.CheckDetachedSignature(openpgp.EntityList{key.entity}, bytes.NewReader(d.Sums), sig, nil); err != nil {
		return fmt.Errorf("%s is not a valid signature of %s by key %s: %w", d.SigName, d.SumsName, key.ID, err)
	}
	return nil
}
