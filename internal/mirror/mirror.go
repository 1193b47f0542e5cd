// Package mirror writes a release as a static tree of Terraform's provider
// network mirror protocol
// (https://developer.hashicorp.com/terraform/internals/provider-network-mirror-protocol):
//
//	<host>/<namespace>/<type>/index.json        {"versions": {"1.2.3": {}, ...}}
//	<host>/<namespace>/<type>/<version>.json    {"archives": {"<os>_<arch>": {"url", "hashes"}}}
//	<host>/<namespace>/<type>/<zip>             the archives, beside the JSON that names them
//
// Any static HTTPS host can serve it (Artifactory, S3, GitLab Pages, nginx): the
// CLI finds it through a provider_installation { network_mirror { url = ... } }
// block. Writing into a tree that already holds other versions adds this one to
// index.json; rewriting a version with other archives is refused.
package mirror

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/qingcloud/terraform-provider-hpc/internal/atomicfile"
	"github.com/qingcloud/terraform-provider-hpc/internal/release"
)

// Source is a provider source address, <host>/<namespace>/<type>.
type Source struct{ Host, Namespace, Type string }

// ParseSource reads the address as users write it in required_providers.
func ParseSource(s string) (Source, error) {
	parts := strings.Split(strings.ToLower(s), "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" || strings.ContainsAny(s, `\ `) {
		return Source{}, fmt.Errorf("source %q: want <host>/<namespace>/<type>, as in required_providers (registry.example.com/qingcloud/hpc)", s)
	}
	return Source{Host: parts[0], Namespace: parts[1], Type: parts[2]}, nil
}

func (s Source) String() string { return s.Host + "/" + s.Namespace + "/" + s.Type }

// Write adds d to the mirror tree under out, for the source address src, and
// reports each file written to w.
func Write(d *release.Dist, out string, src Source, w io.Writer) error {
	dir := filepath.Join(out, src.Host, src.Namespace, src.Type)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	vdoc, err := versionJSON(d)
	if err != nil {
		return err
	}
	vpath := filepath.Join(dir, d.Version+".json")
	if old, err := os.ReadFile(vpath); err == nil {
		if !bytes.Equal(bytes.TrimSpace(old), bytes.TrimSpace(vdoc)) {
			return fmt.Errorf("%s already holds version %s with other archives or hashes; a mirrored version is never rewritten: mirror a new version, or remove that one first if no one can have installed it", dir, d.Version)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}

	for _, p := range d.Platforms {
		if err := atomicfile.Copy(p.Path, filepath.Join(dir, p.Filename)); err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote %s\n", filepath.Join(dir, p.Filename)) //nolint:errcheck
	}
	if err := atomicfile.Write(vpath, vdoc); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s\n", vpath) //nolint:errcheck

	// index.json last: a version is listed only once its archives are in place.
	ipath := filepath.Join(dir, "index.json")
	var old []byte // nil: the tree has no index.json yet
	switch b, err := os.ReadFile(ipath); {
	case err == nil:
		old = b
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	ib, versions, err := indexJSON(old, d.Version)
	if err != nil {
		return fmt.Errorf("%s: %w", ipath, err)
	}
	if err := atomicfile.Write(ipath, ib); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s (versions: %d)\n", ipath, versions) //nolint:errcheck
	return nil
}
