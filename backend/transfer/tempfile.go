package transfer

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"strconv"
	"unicode/utf8"

	"github.com/ferrysync/ferry/backend/inventory"
)

// maxTempBase keeps temp names within the usual 255-byte name limit.
const maxTempBase = 200

// tempFile is new content being written beside its target. It is either committed (renamed over
// the target) or discarded; both are final.
type tempFile struct {
	d    *dir
	name string // the temp file's name in d; empty for an anonymous file
	f    *file  // nil once closed
	done bool
}

// createNew returns where to write a file that must not replace anything: an anonymous file
// when the file system allows (no temp name to create and rename away), a temp file otherwise.
func (d *dir) createNew(target string) (*tempFile, error) {
	f, err := d.createAnonymous(target)
	if err == nil {
		return &tempFile{d: d, f: f}, nil
	}
	if !errors.Is(err, errors.ErrUnsupported) {
		return nil, err
	}
	return d.createTemp(target)
}

// createTemp creates an empty temp file (mode 0600, O_EXCL) in d beside its file target, named
// as inventory.TempName says so that scans never list it and remove it when a run was killed.
func (d *dir) createTemp(target string) (*tempFile, error) {
	base := target
	if len(base) > maxTempBase {
		base = base[:maxTempBase]
		for !utf8.ValidString(base) {
			base = base[:len(base)-1]
		}
	}
	for range 16 {
		name := inventory.TempName(base, strconv.FormatUint(rand.Uint64(), 36))
		f, err := d.create(name)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err // names the target: see Explain
		}
		return &tempFile{d: d, name: name, f: f}, nil
	}
	return nil, fmt.Errorf("could not create the new content of %s: no free temp name beside it", d.item(target))
}

// finish gives the content its mode and dates, syncs it when durable and closes it.
func (t *tempFile) finish(perm fs.FileMode, d *Dates, durable bool) error {
	// The errors name the temp file, which Explain tells as the new content of its target.
	if err := t.f.chmod(perm); err != nil {
		return err
	}
	if d != nil && !d.ModTime.IsZero() {
		if err := t.f.setModTime(d.ModTime); err != nil {
			return err
		}
	}
	if durable {
		if err := t.f.Sync(); err != nil {
			return err
		}
	}
	if t.name == "" {
		return nil // an anonymous file stays open until it is linked
	}
	err := t.f.Close()
	t.f = nil
	return err
}

// commit renames the finished content over target (see dir.rename for noReplace).
func (t *tempFile) commit(target string, noReplace bool) error {
	if t.name == "" { // linking never replaces: an anonymous file is only made for noReplace
		if err := t.d.linkAnonymous(t.f, target); err != nil {
			return err
		}
		t.done = true
		err := t.f.Close()
		t.f = nil
		if err != nil {
			return fmt.Errorf("finish writing %s: %w", t.d.item(target), err)
		}
		return nil
	}
	if err := t.d.rename(t.name, target, noReplace); err != nil {
		return err
	}
	t.done = true
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
	if t.name != "" {
		_ = t.d.remove(t.name)
	}
}

// anonymousName is the name messages give an anonymous file made for target: a temp name,
// which Explain tells as the new content of target.
func anonymousName(target string) string { return inventory.TempName(target, "new") }
