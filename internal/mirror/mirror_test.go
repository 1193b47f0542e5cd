package mirror

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qingcloud/terraform-provider-hpc/internal/release"
	"github.com/qingcloud/terraform-provider-hpc/internal/release/releasetest"
)

// writeDist writes an unsigned release of version with a zip for linux_amd64
// and darwin_arm64 holding content.
func writeDist(t *testing.T, version, content string) *release.Dist {
	t.Helper()
	d, err := release.Open(releasetest.Write(t, version, content, nil, "linux_amd64", "darwin_arm64"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestWriteAddsVersionsAndNeverRewritesOne(t *testing.T) {
	out := t.TempDir()
	src, err := ParseSource("Registry.Example.com/qingcloud/hpc")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"1.0.0", "1.1.0", "1.1.0"} { // the repeat is a no-op
		if err := Write(writeDist(t, v, "build of "+v), out, src, io.Discard); err != nil {
			t.Fatalf("writing %s: %v", v, err)
		}
	}
	dir := filepath.Join(out, "registry.example.com", "qingcloud", "hpc")
	var idx indexDoc
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &idx); err != nil || len(idx.Versions) != 2 {
		t.Fatalf("index.json = %s (%v), want versions 1.0.0 and 1.1.0", b, err)
	}
	var doc versionDoc
	b, err = os.ReadFile(filepath.Join(dir, "1.1.0.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	a, ok := doc.Archives["darwin_arm64"]
	if !ok || a.URL != "terraform-provider-hpc_1.1.0_darwin_arm64.zip" || len(a.Hashes) != 2 ||
		!strings.HasPrefix(a.Hashes[0], "h1:") || !strings.HasPrefix(a.Hashes[1], "zh:") {
		t.Errorf("1.1.0.json archives = %+v", doc.Archives)
	}

	err = Write(writeDist(t, "1.1.0", "another build"), out, src, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "never rewritten") {
		t.Fatalf("rewriting 1.1.0 with other zips: err = %v, want a refusal", err)
	}
	if b2, _ := os.ReadFile(filepath.Join(dir, "1.1.0.json")); !bytes.Equal(b, b2) {
		t.Error("the refused write changed 1.1.0.json")
	}
}

func TestParseSource(t *testing.T) {
	for _, bad := range []string{"", "hpc", "qingcloud/hpc", "a/b/c/d", "host//hpc"} {
		if _, err := ParseSource(bad); err == nil {
			t.Errorf("ParseSource(%q) accepted", bad)
		}
	}
}
