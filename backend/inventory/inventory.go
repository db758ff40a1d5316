// Package inventory scans data sources into inventories: one Part per data source, one Entry per
// file or directory below its root, and content keys for the files that need them.
package inventory

import (
	"encoding/hex"
	"math"
	"strings"
	"time"
	"unsafe"
)

// Kind tells a file from a directory.
type Kind uint8

const (
	File Kind = iota + 1
	Dir
)

func (k Kind) String() string {
	switch k {
	case File:
		return "file"
	case Dir:
		return "directory"
	}
	return "unknown"
}

// SourceType is the kind of a data source root.
type SourceType uint8

const (
	SourceDir SourceType = iota + 1
	SourceFile
)

// ContentKey identifies file content: XXH3-128 of the bytes. The zero key means "not computed".
type ContentKey [16]byte

func (k ContentKey) IsZero() bool   { return k == ContentKey{} }
func (k ContentKey) String() string { return hex.EncodeToString(k[:]) }

// Entry is one file or directory below a data source root. It takes 56 bytes besides its name:
// its path is held in two pieces, its parent directory's path, which the parent's children share,
// and its name, kept with its siblings' names in one string; dates are Unix nanoseconds (see
// Nanos), and the content key, read for few files, and the rare analysis error's text are kept on
// the Part.
type Entry struct {
	// dir is the parent directory's path: "" (or nil) below the root, else "/a/b".
	dir  *string
	name string
	Size int64 // files only
	// ModTime is the last write time as Nanos encodes it (Mtime decodes it); a directory's is
	// kept too, but rules and comparisons ignore it.
	ModTime int64
	// BirthTime is the creation time as Nanos encodes it (Btime decodes it): files only; 0 when
	// the file system does not give it.
	BirthTime int64
	// key numbers, from 1, the entry's content key in its part's ContentKeys; 0 when none was
	// read. The analysis phase reads keys only where the comparison needs them.
	key  uint32
	Kind Kind
	// Inaccessible is set for a directory that could not be listed or a file that could not be
	// stat'ed; such an entry carries no size or dates.
	Inaccessible bool
	// HoldsSkipped is set on a directory that directly holds entries the scan skipped (hidden,
	// noise, links, special files): deleting it would delete what Ferry did not inventory.
	HoldsSkipped bool
	// AnalysisFailed is set when the content key could not be computed; Part.AnalysisError
	// gives the reason.
	AnalysisFailed bool
}

// At is e placed at path, relative to the data source root, "/"-separated with a leading "/":
// for entries made one at a time (tests, records). Scans and decoders share the pieces.
func (e Entry) At(path string) Entry {
	dir, name := splitPath(path)
	if dir != "" {
		e.dir = &dir
	} else {
		e.dir = nil
	}
	e.name = name
	return e
}

// nameChunks keeps names in chunks of bytes, never written again once a name is there: one
// allocation for many names.
type nameChunks struct{ buf []byte }

const nameChunk = 64 << 10

func (c *nameChunks) add(name string) string {
	if name == "" {
		return ""
	}
	if cap(c.buf)-len(c.buf) < len(name) {
		c.buf = make([]byte, 0, max(nameChunk, len(name)))
	}
	c.buf = append(c.buf, name...)
	return unsafe.String(&c.buf[len(c.buf)-len(name)], len(name))
}

// Paths places entries made outside a scan as a scan does: the path of a directory is held once
// for its children, and names are kept together.
type Paths struct {
	dirs  map[string]*string
	held  heldPaths
	names nameChunks
}

// Place is e at path (At). The entry keeps none of path's bytes.
func (ps *Paths) Place(e Entry, path string) Entry {
	dir, name := splitPath(path)
	e.dir, e.name = nil, ps.names.add(name)
	if dir == "" {
		return e
	}
	if ps.dirs == nil {
		ps.dirs = map[string]*string{}
	}
	if e.dir = ps.dirs[dir]; e.dir == nil {
		e.dir = ps.held.add(strings.Clone(dir))
		ps.dirs[*e.dir] = e.dir
	}
	return e
}

// heldPaths holds directories' paths as their children point to them, in chunks: a pointer
// alone among short-lived objects of its size would keep their memory from being reused.
type heldPaths struct{ chunk []string }

func (h *heldPaths) add(p string) *string {
	if len(h.chunk) == cap(h.chunk) {
		h.chunk = make([]string, 0, 256)
	}
	h.chunk = append(h.chunk, p)
	return &h.chunk[len(h.chunk)-1]
}

// splitPath is path's parent ("" for "/x") and last element.
func splitPath(p string) (dir, name string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}

// Path is relative to the data source root, "/"-separated with a leading "/"; for a file data
// source it is "/" + the file's name. It is made on each call: Dir and Name give its pieces, and
// ComparePaths compares paths without making them.
func (e *Entry) Path() string { return e.Dir() + "/" + e.name }

// AppendPath appends the entry's path to b.
func (e *Entry) AppendPath(b []byte) []byte {
	b = append(b, e.Dir()...)
	b = append(b, '/')
	return append(b, e.name...)
}

// Dir is the path of the entry's parent directory, "" below the root.
func (e *Entry) Dir() string {
	if e.dir == nil {
		return ""
	}
	return *e.dir
}

// Name is the last element of the entry's path.
func (e *Entry) Name() string { return e.name }

// Depth is the number of elements of the entry's path.
func (e *Entry) Depth() int { return strings.Count(e.Dir(), "/") + 1 }

// SameDir tells whether a and b are in one directory.
func SameDir(a, b *Entry) bool { return a.dir == b.dir || a.Dir() == b.Dir() }

// ComparePaths compares the paths of a and b as strings.Compare would, without making them.
func ComparePaths(a, b *Entry) int {
	if SameDir(a, b) {
		return strings.Compare(a.name, b.name)
	}
	da, db := a.Dir(), b.Dir()
	n := min(len(da), len(db))
	if c := strings.Compare(da[:n], db[:n]); c != 0 {
		return c
	}
	// One directory's path is the start of the other's: the path below it goes on with "/".
	if len(da) == n {
		if c := cmpByte('/', db[n]); c != 0 {
			return c
		}
		return -compareJoined(db[n+1:], b.name, a.name)
	}
	if c := cmpByte(da[n], '/'); c != 0 {
		return c
	}
	return compareJoined(da[n+1:], a.name, b.name)
}

// ComparePath compares e's path with p as strings.Compare would, without making e's.
func ComparePath(e *Entry, p string) int { return compareJoined(e.Dir(), e.name, p) }

// compareJoined compares dir+"/"+name with s.
func compareJoined(dir, name, s string) int {
	n := min(len(dir), len(s))
	if c := strings.Compare(dir[:n], s[:n]); c != 0 {
		return c
	}
	if len(s) == n {
		return 1 // s is the start of dir, shorter than dir+"/"+name
	}
	if c := cmpByte('/', s[n]); c != 0 {
		return c
	}
	return strings.Compare(name, s[n+1:])
}

// Mtime is the entry's last write time, in UTC; zero when unknown.
func (e *Entry) Mtime() time.Time { return Time(e.ModTime) }

// Btime is the entry's creation time, in UTC; zero when unknown.
func (e *Entry) Btime() time.Time { return Time(e.BirthTime) }

const (
	// epochNanos stands for the Unix epoch itself, since 0 means "no date".
	epochNanos = math.MinInt64
	minNanos   = math.MinInt64 + 1
	maxNanos   = math.MaxInt64
)

// Nanos encodes a time as an Entry keeps it: Unix nanoseconds, 0 for the zero time. The epoch
// itself has a value of its own, so equal encodings mean equal times; times beyond the years
// 1678–2262 are clamped to them.
func Nanos(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.Unix() == 0 && t.Nanosecond() == 0:
		return epochNanos
	case t.Before(time.Unix(0, minNanos)):
		return minNanos
	case t.After(time.Unix(0, maxNanos)):
		return maxNanos
	}
	return t.UnixNano()
}

// Time decodes Nanos, in UTC.
func Time(n int64) time.Time {
	switch n {
	case 0:
		return time.Time{}
	case epochNanos:
		return time.Unix(0, 0).UTC()
	}
	return time.Unix(0, n).UTC()
}

// SkipReason says why an entry below a root was not recorded.
type SkipReason string

const (
	SkipHidden       SkipReason = "hidden"
	SkipNoise        SkipReason = "noise"
	SkipSymlink      SkipReason = "symlink"
	SkipSpecial      SkipReason = "special"
	SkipInaccessible SkipReason = "inaccessible"
	SkipNotFound     SkipReason = "not-found"
	SkipIOError      SkipReason = "io-error"
	// SkipProtected is a virtual or runtime system tree (/proc, /sys, /dev, /run) met below a
	// data source root such as "/".
	SkipProtected SkipReason = "protected"
	// SkipExcluded is an entry Options.Exclude names (the folder of kept versions).
	SkipExcluded SkipReason = "excluded"
	// SkipTemp is one of Ferry's temp files (IsTempName), left by a run that was killed; never
	// inventoried, whatever the options, and removed with Options.RemoveTemps.
	SkipTemp SkipReason = "temp"
)

// DirID identifies a directory on this machine: its device and inode numbers. The zero DirID
// means "not recorded" (file systems or systems that give none).
type DirID struct{ Dev, Ino uint64 }

func (id DirID) IsZero() bool { return id == DirID{} }

// Part is the inventory of one data source.
type Part struct {
	Code string // data source code: "A1", "B2"…
	Root string // absolute path of the data source, without symbolic links
	Type SourceType
	// DirID is the directory the scan listed (for a file data source, the folder holding the
	// file): the synchronization checks it still finds that very directory at Root. It means
	// something on the scanning machine only, so the inventory format does not carry it.
	DirID DirID
	// Entries are sorted by Path (byte order); the root itself is never an entry.
	Entries []Entry
	// RootModTime is the modification time of a directory root (zero for a file root).
	RootModTime time.Time
	// Incomplete is set when something below the root could not be read: conditions that
	// reference this part are false and actions touching unseen items are refused.
	Incomplete bool
	Skipped    map[SkipReason]int
	// AnalysisErrors holds, by path, why the content key of an entry marked AnalysisFailed could
	// not be computed.
	AnalysisErrors map[string]string
	// Keys holds the content keys read for the entries.
	Keys ContentKeys
}

// ContentKeys holds the content keys of a part's entries, which refer to theirs by number: an
// entry without one takes no room for it. An entry's key is read from the ContentKeys that set
// it.
type ContentKeys struct{ keys []ContentKey }

// Of is e's content key; zero when none was read.
func (k *ContentKeys) Of(e *Entry) ContentKey {
	if e.key == 0 {
		return ContentKey{}
	}
	return k.keys[e.key-1]
}

// Set sets e's content key; the zero key clears it.
func (k *ContentKeys) Set(e *Entry, key ContentKey) {
	switch {
	case e.key != 0:
		k.keys[e.key-1] = key
	case !key.IsZero():
		k.keys = append(k.keys, key)
		e.key = uint32(len(k.keys))
	}
}

// reserve gives each of entries a place for its key: Set then writes there, and keys of
// distinct entries may be set at once.
func (k *ContentKeys) reserve(entries []Entry, at []int) {
	for _, i := range at {
		if e := &entries[i]; e.key == 0 {
			k.keys = append(k.keys, ContentKey{})
			e.key = uint32(len(k.keys))
		}
	}
}

// AnalysisError is why e's content key could not be computed, "" when it was or was not tried.
func (p *Part) AnalysisError(e *Entry) string {
	if !e.AnalysisFailed {
		return ""
	}
	if why := p.AnalysisErrors[e.Path()]; why != "" {
		return why
	}
	return "content could not be analysed"
}

// SetAnalysisError records why e's content key could not be computed, or clears it for "".
func (p *Part) SetAnalysisError(e *Entry, why string) {
	e.AnalysisFailed = why != ""
	if why == "" {
		delete(p.AnalysisErrors, e.Path())
		return
	}
	if p.AnalysisErrors == nil {
		p.AnalysisErrors = map[string]string{}
	}
	p.AnalysisErrors[e.Path()] = why
}

// Node is the inventory of one data node: its data sources in code order.
type Node struct {
	Code  string // "A", "B", or "Aa", "Ab"… with several nodes per member
	Parts []*Part
}

// Options shape a scan.
type Options struct {
	ExcludeHidden bool // skip dot names below the root
	ExcludeSystem bool // skip the noise names (desktop.ini, .DS_Store…) below the root
	// RemoveTemps removes Ferry's temp files as the walk meets them (they are skipped either
	// way): a scan that starts a synchronization sets it, one that only shows a plan does not.
	RemoveTemps bool
	// Exclude names entries below every root that are never inventoried nor walked, as
	// "/"-separated paths relative to the root ("versions" or "a/b"); a directory that holds one
	// is marked HoldsSkipped.
	Exclude []string
	// Progress, when set, is called from time to time during the walk and the analysis.
	Progress func(Progress)
	// Like, when set, is the inventory of a node that the node scanned (ScanNode) likely
	// mirrors, data source by data source: an entry whose path an entry of Like's part holds
	// shares that path's bytes, and two trees in sync hold their paths once.
	Like *Node
	like []Entry // the entries of the part that Like gives the part scanned
}

// Progress counts the work done so far on one part.
type Progress struct {
	Part          string
	Files, Dirs   int64
	Bytes         int64 // total size of the files identified
	Skipped       int64
	Hashed        int64 // files whose content key is computed
	HashedBytes   int64
	AnalysisError int64
}
