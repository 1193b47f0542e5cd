// Package qcconfig reads the QingCloud CLI and SDK configuration file,
// ~/.qingcloud/config.yaml, for the three values this provider can take from it:
// qy_access_key_id, qy_secret_access_key and zone. Its other keys (host, port,
// protocol, uri) describe the IaaS endpoint, not the EHPC API's, and are ignored.
//
// Errors name the file and, for a malformed file, the line, but never quote the
// file's content: a YAML parser's message can echo the line it choked on, and that
// line may be the secret key.
package qcconfig

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Keys read from the file.
const (
	KeyAccessKeyID     = "qy_access_key_id"
	KeySecretAccessKey = "qy_secret_access_key"
	KeyZone            = "zone"
)

// DefaultRelPath is the file's place under the home directory.
const DefaultRelPath = ".qingcloud/config.yaml"

// maxSize bounds what is read: the real file is a few lines, and a path pointing
// at something huge by mistake must not be slurped into memory.
const maxSize = 1 << 20

// Config is what the file provides. Empty fields were not set.
type Config struct {
	AccessKeyID     string
	SecretAccessKey string
	Zone            string
}

// DefaultPath returns ~/.qingcloud/config.yaml under home.
func DefaultPath(home string) string {
	return filepath.Join(home, filepath.FromSlash(DefaultRelPath))
}

// ExpandHome replaces a leading "~" or "~/" in path with home, as a user writing
// config_file = "~/.qingcloud/config.yaml" expects. Other paths are returned as
// they are. An empty home leaves path unchanged.
func ExpandHome(path, home string) string {
	if home == "" {
		return path
	}
	if path == "~" {
		return home
	}
	if strings.HasPrefix(path, "~/") || strings.HasPrefix(path, `~\`) {
		return filepath.Join(home, path[2:])
	}
	return path
}

// Error is a problem with the file. Its message names the file and never its
// content.
type Error struct {
	Path   string
	Reason string
	Err    error // the underlying error, for errors.Is (fs.ErrNotExist, fs.ErrPermission); its text is not shown
}

func (e *Error) Error() string {
	return fmt.Sprintf("QingCloud config file %s %s", e.Path, e.Reason)
}

func (e *Error) Unwrap() error { return e.Err }

// IsNotExist reports whether err says the file does not exist.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// Load reads the file at path. A missing file is an *Error for which IsNotExist
// is true: the caller decides whether that matters.
func Load(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, &Error{Path: path, Reason: "cannot be read: " + describeOpenError(err), Err: err}
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return Config{}, &Error{Path: path, Reason: "is a directory, not a file"}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return Config{}, &Error{Path: path, Reason: "cannot be read: " + describeOpenError(err), Err: err}
	}
	if len(data) > maxSize {
		return Config{}, &Error{Path: path, Reason: fmt.Sprintf("is larger than %d bytes; it is not a QingCloud config file", maxSize)}
	}
	cfg, err := Parse(data)
	if err != nil {
		return Config{}, &Error{Path: path, Reason: err.Error(), Err: err}
	}
	return cfg, nil
}

// describeOpenError says why a file could not be read, without repeating the path
// (the Error already names it).
func describeOpenError(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "it does not exist"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// lineRe finds the line number in a yaml.v3 error message.
var lineRe = regexp.MustCompile(`line (\d+)`)

// Parse reads the file's content. Errors are generic ("not valid YAML near line 3")
// by design: they never quote the content.
func Parse(data []byte) (Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		reason := "is not valid YAML"
		if m := lineRe.FindStringSubmatch(err.Error()); m != nil {
			reason += " (near line " + m[1] + ")"
		}
		return Config{}, errors.New(reason + "; it should be a mapping such as \"qy_access_key_id: ...\"")
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return Config{}, nil // empty file (or only comments)
	}
	root := doc.Content[0]
	if doc.Kind == yaml.DocumentNode && root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return Config{}, nil
	}
	if root.Kind != yaml.MappingNode {
		return Config{}, fmt.Errorf("is not a YAML mapping (line %d); it should hold lines such as \"qy_access_key_id: ...\"", root.Line)
	}
	var cfg Config
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		var dst *string
		switch k.Value {
		case KeyAccessKeyID:
			dst = &cfg.AccessKeyID
		case KeySecretAccessKey:
			dst = &cfg.SecretAccessKey
		case KeyZone:
			dst = &cfg.Zone
		default:
			continue // other keys are not this provider's, and are never echoed
		}
		if first, ok := seen[k.Value]; ok {
			return Config{}, fmt.Errorf("sets %s twice (lines %d and %d); keep one", k.Value, first, k.Line)
		}
		seen[k.Value] = k.Line
		if v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		if v.Kind != yaml.ScalarNode {
			return Config{}, fmt.Errorf("has a %s that is not a single value (line %d); write it as \"%s: value\"", k.Value, v.Line, k.Value)
		}
		if v.Tag == "!!null" {
			continue
		}
		*dst = strings.TrimSpace(v.Value)
	}
	return cfg, nil
}
