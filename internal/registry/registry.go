// Package registry writes a signed release as a static tree of Terraform's
// provider registry protocol
// (https://developer.hashicorp.com/terraform/internals/provider-registry-protocol),
// plain files that any HTTPS host serves as they are:
//
//	.well-known/terraform.json                                    {"providers.v1": "/v1/providers/"}
//	v1/providers/<namespace>/hpc/versions                         every version, its protocols and platforms
//	v1/providers/<namespace>/hpc/<version>/download/<os>/<arch>   one platform: zip, checksums, signature, key
//	v1/providers/<namespace>/hpc/<version>/<zip>                  the release's files, beside
//	v1/providers/<namespace>/hpc/<version>/<SHA256SUMS, .sig>     the documents that name them
//
// A consumer needs nothing but the source address, <host>/<namespace>/hpc: the
// CLI finds the tree through service discovery and checks every package
// against the signed SHA256SUMS, so the release must be signed.
//
// Writing into a tree that holds other versions adds this one and keeps them.
// Everything is checked before anything is written: a refusal (unsigned, a
// version already there with other bytes, a tree that is not a registry's)
// leaves the tree as it was. A new version is written into a folder beside its
// final place and renamed into it; only then is the versions document, which
// lists it, replaced.
package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/qingcloud/terraform-provider-hpc/internal/atomicfile"
	"github.com/qingcloud/terraform-provider-hpc/internal/release"
)

// Type is the provider's type name in its source address.
var Type = strings.TrimPrefix(release.DefaultName, "terraform-provider-")

// discoveryPath is the service discovery document, relative to the tree's root.
const discoveryPath = ".well-known/terraform.json"

// namespaceRE is what Terraform accepts as a provider namespace.
var namespaceRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$`)

// Result is what Write did.
type Result struct {
	Versions []string // the versions the tree lists now, newest first
	Added    bool     // false: the version was there already, with the same bytes
	NewTree  bool     // the tree had no versions document before
}

// Write adds the signed release d to the registry tree under root, as
// <namespace>/hpc, signed by key, and reports each file written to w.
func Write(d *release.Dist, key *release.Key, root, namespace string, w io.Writer) (*Result, error) {
	if !namespaceRE.MatchString(namespace) {
		return nil, fmt.Errorf("namespace %q: want lower-case letters, digits and inner hyphens, at most 64, as in the source address <host>/<namespace>/%s (qingcloud, or your organization's name)", namespace, Type)
	}
	if err := d.VerifySignature(key); err != nil {
		return nil, err
	}
	files, err := versionFiles(d, key)
	if err != nil {
		return nil, err
	}
	t := tree{root: root, dir: filepath.Join(root, "v1", "providers", namespace, Type)}
	plan, err := t.plan(d, files)
	if err != nil {
		return nil, err
	}
	if err := t.apply(plan, d.Version, files, w); err != nil {
		return nil, err
	}
	return &plan.result, nil
}

// file is one file of a version's folder: its data, or a release file to copy.
type file struct {
	rel    string // slash-separated, under the version's folder
	data   []byte
	from   string // copied from here when data is nil
	sha256 string
}

// versionFiles is everything a version's folder holds.
func versionFiles(d *release.Dist, key *release.Key) ([]file, error) {
	files := []file{
		{rel: d.SumsName, data: d.Sums},
		{rel: d.SigName, data: d.Sig},
	}
	for _, p := range d.Platforms {
		doc, err := downloadJSON(d, p, key)
		if err != nil {
			return nil, err
		}
		files = append(files,
			file{rel: downloadPath(p), data: doc},
			file{rel: p.Filename, from: p.Path, sha256: p.SHA256})
	}
	for i, f := range files {
		if f.data != nil {
			files[i].sha256 = sha256Hex(f.data)
		}
	}
	return files, nil
}

type tree struct {
	root string // holds .well-known/
	dir  string // the provider's folder: versions, and one folder per version
}

// plan is what apply writes; nil documents are left as they are.
type plan struct {
	discovery []byte
	versions  []byte
	version   bool // the version's folder
	result    Result
}

// plan reads the tree and decides what to write, refusing before anything is
// written when the tree is not one to add to.
func (t tree) plan(d *release.Dist, files []file) (*plan, error) {
	var p plan
	disco := filepath.Join(t.root, filepath.FromSlash(discoveryPath))
	old, err := readIfExists(disco)
	if err != nil {
		return nil, err
	}
	if p.discovery, err = discoveryJSON(old); err != nil {
		return nil, fmt.Errorf("%s: %w", disco, err)
	}

	vpath := filepath.Join(t.dir, "versions")
	if old, err = readIfExists(vpath); err != nil {
		return nil, err
	}
	p.result.NewTree = old == nil
	if p.versions, p.result.Versions, err = versionsJSON(old, d); err != nil {
		return nil, fmt.Errorf("%s: %w", vpath, err)
	}
	if bytes.Equal(old, p.versions) {
		p.versions = nil
	}

	vdir := filepath.Join(t.dir, d.Version)
	have, err := hashTree(vdir)
	if err != nil {
		return nil, err
	}
	if have == nil {
		p.version, p.result.Added = true, true
		return &p, nil
	}
	if reasons := differences(have, files); len(reasons) > 0 {
		return nil, fmt.Errorf("%s already holds version %s with other content, and a published version is never rewritten (users' lock files hold its checksums):\n  - %s\nnothing was changed; publish under a new version, or remove that folder first if no one can have installed it",
			vdir, d.Version, strings.Join(reasons, "\n  - "))
	}
	return &p, nil
}

// differences says how the version's folder as it is (file -> SHA-256) differs
// from files.
func differences(have map[string]string, files []file) []string {
	var reasons []string
	want := map[string]bool{}
	for _, f := range files {
		want[f.rel] = true
		switch sum, ok := have[f.rel]; {
		case !ok:
			reasons = append(reasons, fmt.Sprintf("it lacks %s", f.rel))
		case sum != f.sha256:
			reasons = append(reasons, fmt.Sprintf("its %s differs from this release's", f.rel))
		}
	}
	for _, rel := range slices.Sorted(maps.Keys(have)) {
		if !want[rel] {
			reasons = append(reasons, fmt.Sprintf("it has %s, which this release does not", rel))
		}
	}
	return reasons
}

// apply writes what p says: the version's folder first, then the versions
// document that lists it, then service discovery.
func (t tree) apply(p *plan, version string, files []file, w io.Writer) error {
	if p.version {
		if err := t.addVersion(version, files); err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote %s (%d files)\n", filepath.Join(t.dir, version), len(files)) //nolint:errcheck
	}
	if p.versions != nil {
		vpath := filepath.Join(t.dir, "versions")
		if err := atomicfile.Write(vpath, p.versions); err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote %s (versions: %s)\n", vpath, strings.Join(p.result.Versions, ", ")) //nolint:errcheck
	}
	if p.discovery != nil {
		disco := filepath.Join(t.root, filepath.FromSlash(discoveryPath))
		if err := os.MkdirAll(filepath.Dir(disco), 0o755); err != nil {
			return err
		}
		if err := atomicfile.Write(disco, p.discovery); err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote %s\n", disco) //nolint:errcheck
	}
	return nil
}

// addVersion writes the version's folder beside its place and renames it in,
// so the tree never holds half a version.
func (t tree) addVersion(version string, files []file) error {
	if err := os.MkdirAll(t.dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(t.dir, ".incoming-"+version+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) //nolint:errcheck // gone after the rename; a leftover after a failure
	for _, f := range files {
		if err := writeVersionFile(tmp, f); err != nil {
			return err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(t.dir, version))
}

func writeVersionFile(dir string, f file) error {
	path := filepath.Join(dir, filepath.FromSlash(f.rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	data := f.data
	if data == nil {
		b, err := os.ReadFile(f.from)
		if err != nil {
			return err
		}
		// Checked against SHA256SUMS when dist/ was opened; checked again
		// in case the file changed since.
		if got := sha256Hex(b); got != f.sha256 {
			return fmt.Errorf("%s changed since it was checked (SHA-256 now %s, SHA256SUMS says %s); nothing was published", f.from, got, f.sha256)
		}
		data = b
	}
	return atomicfile.Write(path, data)
}

// hashTree maps each file under dir (slash-separated) to its SHA-256; nil when
// dir does not exist.
func hashTree(dir string) (map[string]string, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	sums := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		sums[filepath.ToSlash(rel)], err = release.FileSHA256(path)
		return err
	})
	return sums, err
}

func readIfExists(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
