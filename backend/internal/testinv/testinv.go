// Package testinv builds small inventories by hand for the tests of the comparison, the rules and
// the plan.
package testinv

import (
	"crypto/sha256"
	"slices"
	"strings"
	"time"

	"github.com/ferrysync/ferry/backend/inventory"
)

// T0 is the reference last write time: File's minutes count from it.
var T0 = time.Date(2024, 1, 31, 12, 0, 0, 0, time.UTC)

// Entry is an inventory entry and the content key Part gives it.
type Entry struct {
	inventory.Entry
	Key inventory.ContentKey
}

// Opt adjusts an entry.
type Opt func(*Entry)

// Key gives a file the content key derived from s: equal strings, equal keys.
func Key(s string) Opt {
	return func(e *Entry) {
		sum := sha256.Sum256([]byte(s))
		copy(e.Key[:], sum[:])
	}
}

// Unreadable marks a directory that could not be listed or a file that could not be stat'ed.
func Unreadable(e *Entry) {
	e.Inaccessible = true
	e.Size, e.ModTime = 0, 0
}

// AnalysisError marks a file whose content key could not be computed.
func AnalysisError(e *Entry) { e.AnalysisFailed = true }

// At moves an entry's last write time by d from what File or Dir set.
func At(d time.Duration) Opt {
	return func(e *Entry) { e.ModTime = inventory.Nanos(e.Mtime().Add(d)) }
}

// File is a readable file of size bytes last written min minutes after T0.
func File(path string, size int64, min int, opts ...Opt) Entry {
	e := Entry{Entry: inventory.Entry{Kind: inventory.File, Size: size, ModTime: inventory.Nanos(T0.Add(time.Duration(min) * time.Minute))}.At(path)}
	for _, o := range opts {
		o(&e)
	}
	return e
}

// Dir is a directory last written at T0.
func Dir(path string, opts ...Opt) Entry {
	e := Entry{Entry: inventory.Entry{Kind: inventory.Dir, ModTime: inventory.Nanos(T0)}.At(path)}
	for _, o := range opts {
		o(&e)
	}
	return e
}

// Part is a directory data source rooted at "/"+code (lower-cased) holding the entries, sorted.
func Part(code string, entries ...Entry) *inventory.Part {
	es := slices.Clone(entries)
	slices.SortFunc(es, func(a, b Entry) int { return strings.Compare(a.Path(), b.Path()) })
	p := &inventory.Part{Code: code, Root: "/" + strings.ToLower(code), Type: inventory.SourceDir, Entries: make([]inventory.Entry, len(es))}
	for i, e := range es {
		p.Entries[i] = e.Entry
		p.Keys.Set(&p.Entries[i], e.Key)
	}
	return p
}

// Incomplete marks a part as not fully read.
func Incomplete(p *inventory.Part) *inventory.Part { p.Incomplete = true; return p }

// Node is a data node with its parts.
func Node(code string, parts ...*inventory.Part) *inventory.Node {
	return &inventory.Node{Code: code, Parts: parts}
}

// Nodes makes nodes A, B, C… with one data source each (A1, B1…) holding the given entries.
func Nodes(sides ...[]Entry) []*inventory.Node {
	nodes := make([]*inventory.Node, len(sides))
	for i, es := range sides {
		code := string(rune('A' + i))
		nodes[i] = Node(code, Part(code+"1", es...))
	}
	return nodes
}

// E lists entries; it reads better than a slice literal in tables.
func E(es ...Entry) []Entry { return es }
