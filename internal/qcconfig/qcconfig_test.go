package qcconfig

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

const secret = "s3cr3t-VALUE-never-shown"

func write(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadReadsTheThreeKeys(t *testing.T) {
	p := write(t, `# written by qingcloud-cli
qy_access_key_id: 'QYACCESSKEYIDEXAMPLE'
qy_secret_access_key: "`+secret+`"
zone: jn1a
host: 'api.qingcloud.com'
port: 443
protocol: 'https'
uri: '/iaas'
connection_retries: 3
`)
	got, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{AccessKeyID: "QYACCESSKEYIDEXAMPLE", SecretAccessKey: secret, Zone: "jn1a"}
	if got != want {
		t.Fatalf("Load = %+v, want %+v", got, want)
	}
}

func TestLoadPartialAndEmpty(t *testing.T) {
	for name, content := range map[string]string{
		"empty":         "",
		"comments only": "# nothing here\n",
		"null document": "~\n",
		"other keys":    "host: api.qingcloud.com\nport: 443\n",
		"null values":   "qy_access_key_id:\nzone: ~\n",
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Load(write(t, content))
			if err != nil || got != (Config{}) {
				t.Fatalf("Load = %+v, %v; want empty config, no error", got, err)
			}
		})
	}
	got, err := Load(write(t, "zone: pek3\n"))
	if err != nil || got != (Config{Zone: "pek3"}) {
		t.Fatalf("Load = %+v, %v; want zone only", got, err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(p)
	if err == nil || !IsNotExist(err) {
		t.Fatalf("Load(missing) = %v, want a not-exist error", err)
	}
	if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("error %q should name the file and say it does not exist", err)
	}
}

// Malformed files: the error names the file and the line, and never shows content,
// even when the broken line is the secret.
func TestLoadMalformedNeverShowsContent(t *testing.T) {
	cases := map[string]struct{ content, want string }{
		"broken quoting on the secret line": {"qy_access_key_id: AK\nqy_secret_access_key: \"" + secret + "\n", `not valid YAML \(near line \d\)`},
		"tab indentation":                   {"qy_access_key_id: AK\n\tqy_secret_access_key: " + secret + "\n", `not valid YAML`},
		"secret as a list":                  {"qy_secret_access_key:\n  - " + secret + "\n", `qy_secret_access_key that is not a single value \(line 2\)`},
		"secret as a map":                   {"qy_secret_access_key: {" + secret + ": 1}\n", `qy_secret_access_key that is not a single value \(line 1\)`},
		"a list at the top":                 {"- " + secret + "\n", `not a YAML mapping \(line 1\)`},
		"a bare scalar":                     {secret + "\n", `not a YAML mapping \(line 1\)`},
		"duplicate key":                     {"qy_secret_access_key: a\n" + "qy_secret_access_key: " + secret + "\n", `sets qy_secret_access_key twice \(lines 1 and 2\)`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := write(t, c.content)
			_, err := Load(p)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, p) {
				t.Errorf("error %q does not name the file", msg)
			}
			if !regexpMatch(c.want, msg) {
				t.Errorf("error %q does not match %q", msg, c.want)
			}
			if strings.Contains(msg, secret) || strings.Contains(msg, "s3cr3t") {
				t.Errorf("error leaks the file's content: %q", msg)
			}
			if IsNotExist(err) {
				t.Errorf("a malformed file must not look missing")
			}
		})
	}
}

func TestLoadUnreadable(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "directory") {
		t.Fatalf("Load(dir) = %v, want an error naming the directory", err)
	}
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("file permissions do not stop this user")
	}
	p := write(t, "qy_secret_access_key: "+secret+"\n")
	if err := os.Chmod(p, 0); err != nil {
		t.Fatal(err)
	}
	_, err = Load(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "permission denied") || IsNotExist(err) {
		t.Fatalf("Load(unreadable) = %v, want permission denied naming the file", err)
	}
}

func TestLoadTooLarge(t *testing.T) {
	p := write(t, "zone: jn1a\n# "+strings.Repeat("x", maxSize)+"\n")
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Load(huge) = %v, want a size error", err)
	}
}

func TestExpandHome(t *testing.T) {
	home := filepath.Join("/home", "ada")
	for in, want := range map[string]string{
		"~":                       home,
		"~/.qingcloud/other.yaml": filepath.Join(home, ".qingcloud", "other.yaml"),
		"/etc/qingcloud.yaml":     "/etc/qingcloud.yaml",
		"relative/config.yaml":    "relative/config.yaml",
		"~bob/config.yaml":        "~bob/config.yaml",
	} {
		if got := ExpandHome(in, home); got != want {
			t.Errorf("ExpandHome(%q) = %q, want %q", in, got, want)
		}
	}
	if got := ExpandHome("~/x", ""); got != "~/x" {
		t.Errorf("ExpandHome without a home = %q, want unchanged", got)
	}
	if got := DefaultPath(home); got != filepath.Join(home, ".qingcloud", "config.yaml") {
		t.Errorf("DefaultPath = %q", got)
	}
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }
