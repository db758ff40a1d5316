package transfer

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	tempPrefix = "."
	tempInfix  = ".ferry-"
	tempSuffix = ".tmp"
	// maxTempBase keeps temp names within the usual 255-byte name limit.
	maxTempBase = 200
)

// IsTempName reports whether a file name is one of Ferry's temp files (".<base>.ferry-<id>.tmp"),
// which scans should skip and may remove when stale.
func IsTempName(name string) bool {
	if !strings.HasPrefix(name, tempPrefix) || !strings.HasSuffix(name, tempSuffix) {
		return false
	}
	i := strings.LastIndex(name, tempInfix)
	return i > 0 && i+len(tempInfix) < len(name)-len(tempSuffix)
}

// tempFile is new content being written beside its target. It is either committed (renamed over
// the target) or discarded; both are final.
type tempFile struct {
	root *os.Root
	rel  string // the temp file's name in the root
	f    *os.File
	done bool
}

// createTemp creates an empty temp file (mode 0600, O_EXCL) in the directory of target.
func createTemp(r *os.Root, target string) (*tempFile, error) {
	base := path.Base(target)
	if len(base) > maxTempBase {
		base = base[:maxTempBase]
		for !utf8.ValidString(base) {
			base = base[:len(base)-1]
		}
	}
	dir := path.Dir(target)
	for range 16 {
		name := tempPrefix + base + tempInfix + strconv.FormatUint(rand.Uint64(), 36) + tempSuffix
		rel := path.Join(dir, name)
		f, err := r.OpenFile(rel, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("create temp file beside %s: %w", itemPath(target), err)
		}
		return &tempFile{root: r, rel: rel, f: f}, nil
	}
	return nil, fmt.Errorf("create temp file beside %s: no free name", itemPath(target))
}

// commit renames the content over target. When durable, the content is synced first and the
// directory after.
func (t *tempFile) commit(target string, perm fs.FileMode, d *Dates, durable bool) error {
	if err := t.f.Chmod(perm.Perm()); err != nil {
		return fmt.Errorf("chmod temp file: %w", err)
	}
	if d != nil && !d.ModTime.IsZero() {
		if err := setFileTime(t.root, t.rel, t.f, d.ModTime); err != nil {
			return fmt.Errorf("set dates: %w", err)
		}
	}
	if durable {
		if err := t.f.Sync(); err != nil {
			return fmt.Errorf("fsync temp file: %w", err)
		}
	}
	err := t.f.Close()
	t.f = nil
	if err != nil {
		return fmt.Errorf("close temp file: %w", err)
	}
	if err := t.root.Rename(t.rel, target); err != nil {
		return fmt.Errorf("rename temp file over %s: %w", itemPath(target), err)
	}
	t.done = true
	if durable {
		syncDir(t.root, target)
	}
	return nil
}

// discard removes the temp file unless it was committed. It is safe to call more than once.
func (t *tempFile) discard() {
	if t.done {
		return
	}
	t.done = true
	if t.f != nil {
		_ = t.f.Close()
	}
	_ = t.root.Remove(t.rel)
}

// syncDir flushes the directory holding rel. Best effort: the rename is already visible, and
// some file systems refuse fsync on directories.
func syncDir(r *os.Root, rel string) {
	d, err := r.Open(path.Dir(rel))
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
