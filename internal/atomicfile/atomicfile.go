// Package atomicfile writes files the way a static host's readers need them
// written: each file is replaced through a rename, so a reader (or an upload
// running beside the write) never sees half a file.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with b, mode 0644.
func Write(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()           //nolint:errcheck
		os.Remove(tmp.Name()) //nolint:errcheck
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name()) //nolint:errcheck
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name()) //nolint:errcheck
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Copy replaces to with the contents of from.
func Copy(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return Write(to, b)
}
