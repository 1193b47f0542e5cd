package registry

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/qingcloud/terraform-provider-hpc/internal/release"
	"github.com/qingcloud/terraform-provider-hpc/internal/release/releasetest"
)

// signed is a release of version for linux_amd64 and darwin_arm64 signed by
// signer, and signer's public key as the tree publishes it.
func signed(t *testing.T, signer *openpgp.Entity, version, content string) (*release.Dist, *release.Key) {
	t.Helper()
	d, err := release.Open(releasetest.Write(t, version, content, signer, "linux_amd64", "darwin_arm64"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := release.ParseKey(releasetest.Armored(t, signer))
	if err != nil {
		t.Fatal(err)
	}
	return d, k
}

// snapshot is every file under root, its modification time and its content, to
// show that a refusal or a rerun wrote nothing, not even the same bytes again.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		files[p] = info.ModTime().String() + "\n" + string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// fetch is what a static host at https://registry.example.com/ serving root
// answers for u, resolved against base as the CLIs resolve a document's URLs.
func fetch(t *testing.T, root, base, ref string) []byte {
	t.Helper()
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	r, err := url.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	u := b.ResolveReference(r)
	if u.Host != "registry.example.com" || u.Scheme != "https" {
		t.Fatalf("%q from %s resolves to %s, off the registry's host", ref, base, u)
	}
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(u.Path, "/"))))
	if err != nil {
		t.Fatalf("%q from %s is %s, which the tree does not hold: %v", ref, base, u.Path, err)
	}
	return data
}

func keysOf(t *testing.T, b []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestWriteDocuments follows the protocol from service discovery to the zip,
// as the CLI does, through the tree as a static host would serve it.
func TestWriteDocuments(t *testing.T) {
	signer := releasetest.NewKey(t)
	d, key := signed(t, signer, "1.2.3", "build")
	root := filepath.Join(t.TempDir(), "registry")
	res, err := Write(d, key, root, "qingcloud", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Added || !res.NewTree || !slices.Equal(res.Versions, []string{"1.2.3"}) {
		t.Errorf("result = %+v", res)
	}
	const host = "https://registry.example.com/"

	var disco map[string]string
	if err := json.Unmarshal(fetch(t, root, host, ".well-known/terraform.json"), &disco); err != nil || disco["providers.v1"] != "/v1/providers/" {
		t.Fatalf("service discovery = %v (%v), want providers.v1 /v1/providers/", disco, err)
	}
	base := host + strings.TrimPrefix(disco["providers.v1"], "/") + "qingcloud/hpc/"

	raw := fetch(t, root, base, "versions")
	if got := keysOf(t, raw); !slices.Equal(got, []string{"versions"}) {
		t.Errorf("versions document keys %v", got)
	}
	var versions versionsDoc
	if err := json.Unmarshal(raw, &versions); err != nil {
		t.Fatal(err)
	}
	want := versionEntry{Version: "1.2.3", Protocols: []string{"6.0"}, Platforms: []platformRef{{"darwin", "arm64"}, {"linux", "amd64"}}}
	if len(versions.Versions) != 1 || !entriesEqual(versions.Versions[0], want) {
		t.Fatalf("versions = %s", raw)
	}

	for _, p := range d.Platforms {
		docURL := base + "1.2.3/download/" + p.OS + "/" + p.Arch
		raw := fetch(t, root, docURL, "")
		if got, want := keysOf(t, raw), []string{"arch", "download_url", "filename", "os", "protocols", "shasum", "shasums_signature_url", "shasums_url", "signing_keys"}; !slices.Equal(got, want) {
			t.Errorf("%s keys %v, want the protocol's %v", docURL, got, want)
		}
		var doc downloadDoc
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.OS != p.OS || doc.Arch != p.Arch || doc.Filename != p.Filename || doc.SHASum != p.SHA256 || !slices.Equal(doc.Protocols, []string{"6.0"}) {
			t.Errorf("%s = %s", docURL, raw)
		}
		zip, err := os.ReadFile(p.Path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fetch(t, root, docURL, doc.DownloadURL), zip) {
			t.Errorf("%s: download_url %s is not the release's zip", docURL, doc.DownloadURL)
		}
		sums := fetch(t, root, docURL, doc.SHASumsURL)
		if !bytes.Equal(sums, d.Sums) || !strings.Contains(string(sums), p.SHA256+"  "+p.Filename) {
			t.Errorf("%s: shasums_url %s is not the release's SHA256SUMS", docURL, doc.SHASumsURL)
		}
		keys := doc.SigningKeys.GPGPublicKeys
		if len(keys) != 1 || keys[0].KeyID != key.ID || keys[0].SourceURL != nil ||
			!strings.Contains(string(raw), `"source_url": null`) || !strings.Contains(string(raw), `"trust_signature": ""`) {
			t.Fatalf("%s signing_keys = %+v", docURL, doc.SigningKeys)
		}
		// What the CLI checks: the signature URL's bytes sign SHA256SUMS under
		// the key the document gives.
		ring, err := openpgp.ReadArmoredKeyRing(strings.NewReader(keys[0].ASCIIArmor))
		if err != nil {
			t.Fatal(err)
		}
		sig := fetch(t, root, docURL, doc.SHASumsSignatureURL)
		if _, err := openpgp.CheckDetachedSignature(ring, bytes.NewReader(sums), bytes.NewReader(sig), nil); err != nil {
			t.Errorf("%s: the signature does not verify with the document's key: %v", docURL, err)
		}
	}
}

func entriesEqual(a, b versionEntry) bool {
	return a.Version == b.Version && slices.Equal(a.Protocols, b.Protocols) && slices.Equal(a.Platforms, b.Platforms)
}

func TestWriteKeepsVersionsAndIsIdempotent(t *testing.T) {
	signer := releasetest.NewKey(t)
	root := t.TempDir()
	same, _ := signed(t, signer, "1.1.0", "build of 1.1.0")
	for _, step := range []struct {
		version string
		dist    *release.Dist
		added   bool
		want    []string
	}{
		{"1.0.0", nil, true, []string{"1.0.0"}},
		{"1.1.0", same, true, []string{"1.1.0", "1.0.0"}},
		{"1.1.0", same, false, []string{"1.1.0", "1.0.0"}}, // the same release again: nothing changes
		{"0.9.0", nil, true, []string{"1.1.0", "1.0.0", "0.9.0"}},
		{"1.10.0", nil, true, []string{"1.10.0", "1.1.0", "1.0.0", "0.9.0"}},
	} {
		d, key := step.dist, (*release.Key)(nil)
		if d == nil {
			d, key = signed(t, signer, step.version, "build of "+step.version)
		} else if key, _ = release.ParseKey(releasetest.Armored(t, signer)); key == nil {
			t.Fatal("no key")
		}
		backdate(t, root)
		before := snapshot(t, root)
		res, err := Write(d, key, root, "acme", io.Discard)
		if err != nil {
			t.Fatalf("writing %s: %v", step.version, err)
		}
		if res.Added != step.added || !slices.Equal(res.Versions, step.want) {
			t.Errorf("writing %s: result %+v, want added %v, versions %v", step.version, res, step.added, step.want)
		}
		if !step.added && !mapsEqual(before, snapshot(t, root)) {
			t.Errorf("writing %s again changed the tree", step.version)
		}
		var doc versionsDoc
		b, _ := os.ReadFile(filepath.Join(root, "v1", "providers", "acme", "hpc", "versions"))
		if err := json.Unmarshal(b, &doc); err != nil || len(doc.Versions) != len(step.want) {
			t.Errorf("after %s: versions document %s (%v)", step.version, b, err)
		}
	}
	// No folder of a half-written version is left behind.
	if m, _ := filepath.Glob(filepath.Join(root, "v1", "providers", "acme", "hpc", ".incoming-*")); len(m) > 0 {
		t.Errorf("left %v", m)
	}
}

// backdate dates every file under root back to 2001, so that a file written
// after it has a time of now, however coarse the file system's clock.
func backdate(t *testing.T, root string) {
	t.Helper()
	past := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		return os.Chtimes(p, past, past)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestWriteRefusals: each case is refused with an error that names the problem
// and the fix, and leaves a tree that holds 1.0.0 as it was.
func TestWriteRefusals(t *testing.T) {
	signer := releasetest.NewKey(t)
	other := releasetest.NewKey(t)
	cases := []struct {
		name      string
		namespace string
		dist      func() (*release.Dist, *release.Key)
		prepare   func(t *testing.T, root string)
		want      []string
	}{{
		name: "unsigned",
		dist: func() (*release.Dist, *release.Key) {
			d, err := release.Open(releasetest.Write(t, "1.1.0", "x", nil, "linux_amd64"))
			if err != nil {
				t.Fatal(err)
			}
			_, k := signed(t, signer, "0.0.1", "unused")
			return d, k
		},
		want: []string{"unsigned", "GPG_FINGERPRINT=<key id or fingerprint> make release-snapshot"},
	}, {
		name: "signed by another key",
		dist: func() (*release.Dist, *release.Key) {
			d, _ := signed(t, other, "1.1.0", "x")
			_, k := signed(t, signer, "0.0.1", "unused")
			return d, k
		},
		want: []string{"not a valid signature"},
	}, {
		name: "same version, other bytes",
		dist: func() (*release.Dist, *release.Key) { return signed(t, signer, "1.0.0", "another build") },
		want: []string{"already holds version 1.0.0 with other content", "never rewritten",
			"its terraform-provider-hpc_1.0.0_SHA256SUMS differs", "its terraform-provider-hpc_1.0.0_linux_amd64.zip differs",
			"nothing was changed; publish under a new version"},
	}, {
		name: "same version, fewer platforms",
		dist: func() (*release.Dist, *release.Key) {
			d, err := release.Open(releasetest.Write(t, "1.0.0", "build", signer, "linux_amd64"))
			if err != nil {
				t.Fatal(err)
			}
			_, k := signed(t, signer, "0.0.1", "unused")
			return d, k
		},
		want: []string{"it has download/darwin/arm64, which this release does not"},
	}, {
		name:      "bad namespace",
		namespace: "Qing Cloud",
		dist:      func() (*release.Dist, *release.Key) { return signed(t, signer, "1.1.0", "x") },
		want:      []string{`namespace "Qing Cloud"`, "lower-case"},
	}, {
		name: "discovery points elsewhere",
		dist: func() (*release.Dist, *release.Key) { return signed(t, signer, "1.1.0", "x") },
		prepare: func(t *testing.T, root string) {
			writeFile(t, filepath.Join(root, ".well-known", "terraform.json"), `{"providers.v1": "https://elsewhere.example.com/providers/"}`)
		},
		want: []string{"terraform.json", "providers.v1 is https://elsewhere.example.com/providers/", "a tree of its own"},
	}, {
		name: "versions document unreadable",
		dist: func() (*release.Dist, *release.Key) { return signed(t, signer, "1.1.0", "x") },
		prepare: func(t *testing.T, root string) {
			writeFile(t, filepath.Join(root, "v1", "providers", "qingcloud", "hpc", "versions"), `<html>not found</html>`)
		},
		want: []string{"versions: not a versions document"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			d0, k0 := signed(t, signer, "1.0.0", "build")
			if _, err := Write(d0, k0, root, "qingcloud", io.Discard); err != nil {
				t.Fatal(err)
			}
			if tc.prepare != nil {
				tc.prepare(t, root)
			}
			backdate(t, root)
			before := snapshot(t, root)
			ns := tc.namespace
			if ns == "" {
				ns = "qingcloud"
			}
			d, k := tc.dist()
			_, err := Write(d, k, root, ns, io.Discard)
			if err == nil {
				t.Fatal("written, want a refusal")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if !mapsEqual(before, snapshot(t, root)) {
				t.Error("the refusal changed the tree")
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A host's service discovery may list other services (modules.v1, login.v1):
// they are kept, and a document that already points providers.v1 here is not
// rewritten.
func TestDiscoveryKeepsOtherServices(t *testing.T) {
	b, err := discoveryJSON([]byte(`{"modules.v1": "/v1/modules/"}`))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]string
	if err := json.Unmarshal(b, &doc); err != nil || doc["modules.v1"] != "/v1/modules/" || doc["providers.v1"] != "/v1/providers/" {
		t.Errorf("discovery = %s (%v)", b, err)
	}
	if b, err := discoveryJSON([]byte(`{"providers.v1": "/v1/providers/", "modules.v1": "/m/"}`)); b != nil || err != nil {
		t.Errorf("a document already pointing here: %s, %v; want it left alone", b, err)
	}
}
