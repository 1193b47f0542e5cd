package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"

	"golang.org/x/mod/semver"

	"github.com/qingcloud/terraform-provider-hpc/internal/release"
)

// The protocol's documents, as Write puts them in a tree. Field names and
// shapes are the protocol's
// (https://developer.hashicorp.com/terraform/internals/provider-registry-protocol).

// providersV1 is where service discovery says the provider API lives: a path
// on the same host, so the tree moves between hosts unchanged.
const providersV1 = "/v1/providers/"

// versionsDoc is <namespace>/<type>/versions.
type versionsDoc struct {
	Versions []versionEntry `json:"versions"`
}

type versionEntry struct {
	Version   string        `json:"version"`
	Protocols []string      `json:"protocols"`
	Platforms []platformRef `json:"platforms"`
}

type platformRef struct {
	OS   string `json:"os"`
	Arch string `json:"arch"`
}

// downloadDoc is <namespace>/<type>/<version>/download/<os>/<arch>.
type downloadDoc struct {
	Protocols           []string    `json:"protocols"`
	OS                  string      `json:"os"`
	Arch                string      `json:"arch"`
	Filename            string      `json:"filename"`
	DownloadURL         string      `json:"download_url"`
	SHASumsURL          string      `json:"shasums_url"`
	SHASumsSignatureURL string      `json:"shasums_signature_url"`
	SHASum              string      `json:"shasum"`
	SigningKeys         signingKeys `json:"signing_keys"`
}

type signingKeys struct {
	GPGPublicKeys []gpgPublicKey `json:"gpg_public_keys"`
}

// gpgPublicKey carries the protocol's trust fields empty: they mark keys of
// HashiCorp's partner program, which a private registry has no part in.
type gpgPublicKey struct {
	KeyID          string  `json:"key_id"`
	ASCIIArmor     string  `json:"ascii_armor"`
	TrustSignature string  `json:"trust_signature"`
	Source         string  `json:"source"`
	SourceURL      *string `json:"source_url"`
}

// fromDownload is the relative URL, from a download document, of a file in
// its version's folder. The CLIs resolve download_url, shasums_url and
// shasums_signature_url against the URL the document was fetched from, as a
// browser resolves a link: from .../<version>/download/<os>/<arch>, two levels
// up is .../<version>/.
func fromDownload(name string) string { return "../../" + name }

// downloadJSON is the download document of one platform of d.
func downloadJSON(d *release.Dist, p release.Platform, key *release.Key) ([]byte, error) {
	return marshal(downloadDoc{
		Protocols:           d.Protocols,
		OS:                  p.OS,
		Arch:                p.Arch,
		Filename:            p.Filename,
		DownloadURL:         fromDownload(p.Filename),
		SHASumsURL:          fromDownload(d.SumsName),
		SHASumsSignatureURL: fromDownload(d.SigName),
		SHASum:              p.SHA256,
		SigningKeys: signingKeys{GPGPublicKeys: []gpgPublicKey{{
			KeyID: key.ID, ASCIIArmor: key.Armored,
		}}},
	})
}

// downloadPath is where a platform's download document is, under the version's
// folder: the path the CLIs ask for, a file without an extension.
func downloadPath(p release.Platform) string { return path.Join("download", p.OS, p.Arch) }

// versionsJSON is the versions document that lists d besides what old (the
// tree's document, nil when it has none yet) lists, newest first; and the
// versions it lists.
func versionsJSON(old []byte, d *release.Dist) ([]byte, []string, error) {
	var doc versionsDoc
	if old != nil {
		if err := json.Unmarshal(old, &doc); err != nil {
			return nil, nil, fmt.Errorf("not a versions document: %w", err)
		}
	}
	entry := versionEntry{Version: d.Version, Protocols: d.Protocols}
	for _, p := range d.Platforms {
		entry.Platforms = append(entry.Platforms, platformRef{OS: p.OS, Arch: p.Arch})
	}
	doc.Versions = slices.DeleteFunc(doc.Versions, func(e versionEntry) bool { return e.Version == d.Version })
	doc.Versions = append(doc.Versions, entry)
	slices.SortFunc(doc.Versions, func(a, b versionEntry) int {
		if c := semver.Compare("v"+b.Version, "v"+a.Version); c != 0 {
			return c
		}
		return strings.Compare(b.Version, a.Version)
	})
	versions := make([]string, len(doc.Versions))
	for i, e := range doc.Versions {
		versions[i] = e.Version
	}
	b, err := marshal(doc)
	return b, versions, err
}

// discoveryJSON is .well-known/terraform.json given the tree's (nil when it has
// none yet): nil when old already points providers.v1 here, so that a host's
// other services (modules.v1, login.v1) are kept as they are.
func discoveryJSON(old []byte) ([]byte, error) {
	doc := map[string]any{}
	if old != nil {
		if err := json.Unmarshal(old, &doc); err != nil {
			return nil, fmt.Errorf("not a service discovery document: %w", err)
		}
	}
	switch v, ok := doc["providers.v1"]; {
	case ok && v == providersV1:
		return nil, nil
	case ok:
		return nil, fmt.Errorf("its providers.v1 is %v, not %s: this tree's provider documents would not be found; publish into a tree of its own (REGISTRY_DIR)", v, providersV1)
	}
	doc["providers.v1"] = providersV1
	return marshal(doc)
}

// marshal is doc as indented JSON with a final newline (the Encoder adds it).
func marshal(doc any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
