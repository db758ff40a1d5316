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
	Roots   []string  `json:"roots"` // sorted side names (roots, unless Store.Side names them); sides of entries are in this order
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
	// Side names a data part in the record: its root when nil. A session between machines names
	// the parts by member identity and data source code, which stay the same from run to run,
	// rather than by roots it does not own.
	Side func(p *compare.Part) string
	// Read reads an item of a data part again after a run: Lstat under its root when nil. A
	// session reads its own parts and takes the other members' word for theirs.
	Read func(p *compare.Part, itemPath string) (Found, error)
}

// Found is an item of a data part as a run left it.
type Found struct {
	Exists  bool
	Dir     bool
	Regular bool // a regular file
	Size    int64
	ModTime int64 // Unix nanoseconds
}

// side names a part in the record.
func (s Store) side(p *compare.Part) string {
	if s.Side != nil {
		return s.Side(p)
	}
	return p.Inv.Root
}

// read reads an item of a part after a run.
func (s Store) read(p *compare.Part, itemPath string) (Found, error) {
	if s.Read != nil {
		return s.Read(p, itemPath)
	}
	return Lstat(p, itemPath)
}

// Lstat reads an item of a part on this machine's disk.
func Lstat(p *compare.Part, itemPath string) (Found, error) { return LstatUnder(p.Inv.Root, itemPath) }

// LstatUnder reads the item itemPath of the folder data source root on this machine's disk.
func LstatUnder(root, itemPath string) (Found, error) {
	fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(itemPath)))
	switch {
	case err != nil && errorsIsNotExist(err):
		return Found{}, nil
	case err != nil:
		return Found{}, err
	}
	return Found{Exists: true, Dir: fi.IsDir(), Regular: fi.Mode().IsRegular(), Size: fi.Size(), ModTime: fi.ModTime().UnixNano()}, nil
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

// sides are the names of the comparison's data parts in the record (their roots unless Side
// names them), sorted.
func (s Store) sides(cmp *compare.Comparison) []string {
	out := make([]string, len(cmp.Parts))
	for i := range cmp.Parts {
		out[i] = s.side(cmp.Parts[i])
	}
	slices.Sort(out)
	return out
}

// file names the record of these sides on this machine.
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
	rs := s.sides(cmp)
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

func (s Store) newIndex(rec *Record, cmp *compare.Comparison) *index {
	ix := &index{rec: rec, byKey: make(map[string]int, len(rec.Entries)), sideOf: make([]int, len(cmp.Parts))}
	for i := range rec.Entries {
		ix.byKey[itemKey(cmp, rec.Entries[i].Path, rec.Entries[i].Dir)] = i
	}
	for i := range cmp.Parts {
		ix.sideOf[i] = slices.Index(rec.Roots, s.side(cmp.Parts[i]))
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
	i, ok := ix.byKey[itemKey(cmp, it.Path(), it.Kind == inventory.Dir)]
	if !ok {
		return nil
	}
	return &ix.rec.Entries[i]
}
