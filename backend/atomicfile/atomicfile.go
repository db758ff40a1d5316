// Package atomicfile replaces small files (settings, records, keys) so that a reader, or the file
// after a crash, is either the old content or the new one, never a mix; Create makes a new one
// without replacing a file that appeared meanwhile; SyncDir makes a folder's new entries durable.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// WriteFile replaces name with data: a temp file beside it, written with mode perm and synced,
// renamed over name, and the folder synced. The folder is created (0700) when missing.
func WriteFile(name string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := writeTemp(name, data, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // a no-op once renamed
	if err := os.Rename(tmp, name); err != nil {
		return err
	}
	return SyncDir(dir)
}

// Create creates name holding data with mode perm: a temp file beside it, synced, moved into
// place without replacing a file that appeared meanwhile (an error wrapping fs.ErrExist), and
// the folder synced.
func Create(name string, data []byte, perm fs.FileMode) error {
	tmp, err := writeTemp(name, data, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	// A hard link never replaces an existing file, unlike rename; fall back to rename where
	// the file system has no links.
	if err := os.Link(tmp, name); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		if err := os.Rename(tmp, name); err != nil {
			return err
		}
	}
	return SyncDir(filepath.Dir(name))
}

// writeTemp writes data to a new file of mode perm beside name and syncs it; the caller moves
// it into place or removes it.
func writeTemp(name string, data []byte, perm fs.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*.tmp")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("write %s: %w", f.Name(), err)
	}
	return f.Name(), nil
}

// SyncDir makes the entries just created or renamed in dir durable; on Windows, which cannot open
// folders for it, it does nothing.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
