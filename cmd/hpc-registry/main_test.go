package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qingcloud/terraform-provider-hpc/internal/release/releasetest"
)

// TestRunRefusals: what the command refuses before it writes anything, each
// with an error that says what to do, leaving a tree that holds 1.0.0 as it was.
func TestRunRefusals(t *testing.T) {
	signer := releasetest.NewKey(t)
	keyFile := filepath.Join(t.TempDir(), "release-key.asc")
	if err := os.WriteFile(keyFile, []byte(releasetest.Armored(t, signer)), 0o644); err != nil {
		t.Fatal(err)
	}
	// No gpg keyring of the caller's is read: an empty one of the test's own.
	t.Setenv("GNUPGHOME", t.TempDir())
	t.Setenv("GPG_FINGERPRINT", "")

	cases := []struct {
		name    string
		dist    func(t *testing.T) string
		keyFile string
		env     string // GPG_FINGERPRINT
		want    []string
	}{{
		name:    "empty dist",
		dist:    func(t *testing.T) string { return t.TempDir() },
		keyFile: keyFile,
		want:    []string{"holds no terraform-provider-hpc_<version>_SHA256SUMS", "make release-snapshot"},
	}, {
		name: "half-built dist: a zip missing",
		dist: func(t *testing.T) string {
			d := releasetest.Write(t, "1.1.0", "x", signer, "linux_amd64", "darwin_arm64")
			remove(t, filepath.Join(d, "terraform-provider-hpc_1.1.0_darwin_arm64.zip"))
			return d
		},
		keyFile: keyFile,
		want:    []string{"lists terraform-provider-hpc_1.1.0_darwin_arm64.zip", "no such file"},
	}, {
		name: "half-built dist: a zip cut short",
		dist: func(t *testing.T) string {
			d := releasetest.Write(t, "1.1.0", "x", signer, "linux_amd64")
			zip := filepath.Join(d, "terraform-provider-hpc_1.1.0_linux_amd64.zip")
			b, err := os.ReadFile(zip)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(zip, b[:len(b)/2], 0o644); err != nil {
				t.Fatal(err)
			}
			return d
		},
		keyFile: keyFile,
		want:    []string{"terraform-provider-hpc_1.1.0_linux_amd64.zip does not match", "rebuild the release"},
	}, {
		name: "another provider's dist",
		dist: func(t *testing.T) string {
			d := releasetest.Write(t, "5.0.0", "x", signer, "linux_amd64")
			entries, err := os.ReadDir(d)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if err := os.Rename(filepath.Join(d, e.Name()), filepath.Join(d, strings.Replace(e.Name(), "-hpc_", "-aws_", 1))); err != nil {
					t.Fatal(err)
				}
			}
			return d
		},
		keyFile: keyFile,
		want:    []string{"terraform-provider-aws_5.0.0_SHA256SUMS, the release of another provider", "point DIST at this provider's release"},
	}, {
		name: "unsigned, no key given",
		dist: func(t *testing.T) string { return releasetest.Write(t, "1.1.0", "x", nil, "linux_amd64") },
		want: []string{"unsigned", "GPG_FINGERPRINT=<key id or fingerprint> make release-snapshot"},
	}, {
		name: "no key given",
		dist: func(t *testing.T) string { return releasetest.Write(t, "1.1.0", "x", signer, "linux_amd64") },
		want: []string{"no signing key", "GPG_PUBLIC_KEY_FILE", "GPG_FINGERPRINT"},
	}, {
		name: "key cannot be exported",
		dist: func(t *testing.T) string { return releasetest.Write(t, "1.1.0", "x", signer, "linux_amd64") },
		env:  "0123456789ABCDEF0123456789ABCDEF01234567",
		want: []string{"gpg --armor --export 0123456789ABCDEF0123456789ABCDEF01234567 gave no key", "GPG_PUBLIC_KEY_FILE"},
	}, {
		name:    "key file missing",
		dist:    func(t *testing.T) string { return releasetest.Write(t, "1.1.0", "x", signer, "linux_amd64") },
		keyFile: filepath.Join(t.TempDir(), "nowhere.asc"),
		want:    []string{"signing key", "nowhere.asc"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "registry")
			if err := run(releasetest.Write(t, "1.0.0", "build", signer, "linux_amd64"), out, "qingcloud", keyFile); err != nil {
				t.Fatal(err)
			}
			before := tree(t, out)
			t.Setenv("GPG_FINGERPRINT", tc.env)
			err := run(tc.dist(t), out, "qingcloud", tc.keyFile)
			if err == nil {
				t.Fatal("run succeeded, want a refusal")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if after := tree(t, out); after != before {
				t.Errorf("the refusal changed the tree:\n%s\nnow:\n%s", before, after)
			}
		})
	}
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// tree lists the files under root with their contents.
func tree(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		b.WriteString(p + " " + string(data) + "\n")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
