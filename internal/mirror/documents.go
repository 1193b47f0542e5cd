package mirror

import (
	"encoding/json"
	"fmt"

	"github.com/qingcloud/terraform-provider-hpc/internal/release"
)

// The protocol's two JSON documents, as Write puts them in a mirror tree.

type archive struct {
	URL    string   `json:"url"`
	Hashes []string `json:"hashes"`
}

// versionDoc is <version>.json: each platform's zip and its hashes.
type versionDoc struct {
	Archives map[string]archive `json:"archives"`
}

// indexDoc is index.json: the versions the mirror holds.
type indexDoc struct {
	Versions map[string]struct{} `json:"versions"`
}

// versionJSON is d's <version>.json. Each archive's URL is the zip's file name:
// the zips stand beside the document.
func versionJSON(d *release.Dist) ([]byte, error) {
	doc := versionDoc{Archives: map[string]archive{}}
	for _, p := range d.Platforms {
		h1, err := p.H1()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Filename, err)
		}
		// zh: is the zip's SHA-256 (the hash SHA256SUMS signs), h1: the hash of
		// its unpacked files; the CLI checks the download against them and
		// records them in .terraform.lock.hcl.
		doc.Archives[p.OS+"_"+p.Arch] = archive{URL: p.Filename, Hashes: []string{h1, "zh:" + p.SHA256}}
	}
	return marshal(doc)
}

// indexJSON is the index.json that lists version besides what old, the tree's
// index.json (nil when it has none yet), lists; and how many versions it lists.
func indexJSON(old []byte, version string) ([]byte, int, error) {
	var idx indexDoc
	if old != nil {
		if err := json.Unmarshal(old, &idx); err != nil {
			return nil, 0, err
		}
	}
	if idx.Versions == nil {
		idx.Versions = map[string]struct{}{}
	}
	idx.Versions[version] = struct{}{}
	b, err := marshal(idx)
	return b, len(idx.Versions), err
}

func marshal(doc any) ([]byte, error) {
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
