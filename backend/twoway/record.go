// Package twoway remembers the state a two-way synchronization left its data sources in, so that
// the next run can tell a deletion from a creation and an edit on one side from edits on both:
// deleted on one side and unchanged on the others is deleted everywhere, changed on one side is
// copied, changed on several sides with different content is a conflict whose losing contents
// are kept under conflict names. The record is kept per set of data sources and machine, like
// Unison's archive, in the user's config folder.
package twoway

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ferrysync/ferry/backend/atomicfile"
	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/inventory"
)

// formatVersion is the record file's format; another version is not read.
const formatVersion = 1

// Record is the state of a set of data sources after the runs so far.
type Record struct {
	Version int       `json:"version"`
	Machine string    `json:"machine"`
	Roots   []string  `json:"roots"` // sorted; sides of entries are in this order
	Saved   time.Time `json:"saved"`
	Entries []Entry   `json:"entries"` // sorted by Path
}

// Entry is an item as the last run left it on every data source: present on all of them, with
// the same content.
type Entry struct {
	Path  string  `json:"p"`
	Dir   bool    `json:"d,omitempty"`
	Sizes []int64 `json:"s,omitempty"` // files: per root
	Times []int64 `json:"t,omitempty"` // files: modification time per root, Unix nanoseconds
	Key   string  `json:"k,omitempty"` // content key, when it was read
}

// Store keeps records in a folder.
type Store struct {
	Dir     string // e.g. ~/.config/ferry/state
	Machine string // this machine's name (os.Hostname when empty)
}

func (s Store) machine() string {
	if s.Machine != "" {
		return s.Machine
	}
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}

// roots are the comparison's data source roots, sorted.
func roots(cmp *compare.Comparison) []string {
	out := make([]string, len(cmp.Parts))
	for i, p := range cmp.Parts {
		out[i] = p.Inv.Root
	}
	slices.Sort(out)
	return out
}

// file names the record of these roots on this machine.
func (s Store) file(roots []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "ferry two-way record\x00%s\x00", s.machine())
	for _, r := range roots {
		fmt.Fprintf(h, "%s\x00", r)
	}
	return filepath.Join(s.Dir, hex.EncodeToString(h.Sum(nil)[:16])+".json.gz")
}

// Load returns the record of the comparison's data sources, or nil when there is none yet (the
// first run). A record that cannot be read is an error naming the file: guessing would risk
// deleting what was only never synchronized.
func (s Store) Load(cmp *compare.Comparison) (*Record, error) {
	rs := roots(cmp)
	name := s.file(rs)
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("two-way record: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("two-way record %s: %w (remove it to start over: the next run then copies both ways and deletes nothing)", name, err)
	}
	var rec Record
	if err := json.NewDecoder(zr).Decode(&rec); err != nil {
		return nil, fmt.Errorf("two-way record %s: %w (remove it to start over: the next run then copies both ways and deletes nothing)", name, err)
	}
	if rec.Version != formatVersion || !slices.Equal(rec.Roots, rs) {
		return nil, fmt.Errorf("two-way record %s: version %d for %s, not a record of %s (remove it to start over)",
			name, rec.Version, strings.Join(rec.Roots, ", "), strings.Join(rs, ", "))
	}
	for i := range rec.Entries {
		e := &rec.Entries[i]
		if !e.Dir && (len(e.Sizes) != len(rs) || len(e.Times) != len(rs)) {
			return nil, fmt.Errorf("two-way record %s: entry %s has %d sides, want %d", name, e.Path, len(e.Sizes), len(rs))
		}
	}
	return &rec, nil
}

// Save writes the record atomically: a temp file beside it, synced, renamed over the old one.
func (s Store) Save(rec *Record) error {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(rec); err != nil {
		return fmt.Errorf("save the two-way record: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("save the two-way record: %w", err)
	}
	if err := atomicfile.WriteFile(s.file(rec.Roots), buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("save the two-way record: %w", err)
	}
	return nil
}

// index finds entries by item key (lower-cased unless the comparison is case-sensitive).
type index struct {
	rec    *Record
	byKey  map[string]int
	sideOf []int // comparison part → record side
}

func newIndex(rec *Record, cmp *compare.Comparison) *index {
	ix := &index{rec: rec, byKey: make(map[string]int, len(rec.Entries)), sideOf: make([]int, len(cmp.Parts))}
	for i := range rec.Entries {
		ix.byKey[itemKey(cmp, rec.Entries[i].Path, rec.Entries[i].Dir)] = i
	}
	for i, p := range cmp.Parts {
		ix.sideOf[i] = slices.Index(rec.Roots, p.Inv.Root)
	}
	return ix
}

func itemKey(cmp *compare.Comparison, path string, dir bool) string {
	if !cmp.Settings.CaseSensitive {
		path = strings.ToLower(path)
	}
	if dir {
		return "d" + path
	}
	return "f" + path
}

func (ix *index) entry(cmp *compare.Comparison, it *compare.Item) *Entry {
	if ix == nil {
		return nil
	}
	i, ok := ix.byKey[itemKey(cmp, it.Path, it.Kind == inventory.Dir)]
	if !ok {
		return nil
	}
	return &ix.rec.Entries[i]
}
