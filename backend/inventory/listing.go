package inventory

import (
	"bytes"
	"slices"
)

// listing is one directory's children as listed: their names one after the other, each child a
// span of them with its type. A walker reuses listings, so that listing a directory leaves no
// garbage for the collector.
type listing struct {
	names []byte
	kids  []dirent
	keys  []uint64 // scratch of sortByName
	tmp   []dirent
	at    []int32 // scratch of walker.likeAt
}

// dirent is one child of a listed directory: its name is listing.names[start:end].
type dirent struct {
	start, end uint32
	typ        fileType
}

func (l *listing) reset() { l.names, l.kids = l.names[:0], l.kids[:0] }

func (l *listing) add(name []byte, typ fileType) {
	start := len(l.names)
	l.names = append(l.names, name...)
	l.kids = append(l.kids, dirent{uint32(start), uint32(len(l.names)), typ})
}

func (l *listing) name(c dirent) []byte { return l.names[c.start:c.end] }

// keyBytes are how many bytes of a name, after the prefix all names share, sortByName's keys
// hold; the low 16 bits hold the child's index.
const keyBytes = 6

// sortByName orders the children by name, in bytes. Each child gets a key made of keyBytes
// bytes of its name after the prefix the directory's names share, and of its index: keys sort
// as integers, and only names whose keys hold the same bytes are compared whole. Sorting the
// children by comparing their names took a tenth of the CPU time of a walk.
func (l *listing) sortByName() {
	n := len(l.kids)
	if n < 2 {
		return
	}
	if n > 1<<16 {
		slices.SortFunc(l.kids, l.compare)
		return
	}
	skip := l.sharedPrefix()
	keys := l.keys[:0]
	for i, c := range l.kids {
		keys = append(keys, nameKey(l.names[int(c.start)+skip:c.end])<<16|uint64(i))
	}
	slices.Sort(keys)
	sorted := l.tmp[:0]
	for _, k := range keys {
		sorted = append(sorted, l.kids[k&0xffff])
	}
	// Names are never empty nor hold a NUL, so a key's bytes tie only for names that go on
	// past them.
	for i := 0; i < n; {
		j := i + 1
		for j < n && keys[j]>>16 == keys[i]>>16 {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(sorted[i:j], l.compare)
		}
		i = j
	}
	l.keys, l.tmp, l.kids = keys, l.kids, sorted
}

// nameKey is the first keyBytes bytes of b, big-endian, padded with zeros.
func nameKey(b []byte) uint64 {
	var k uint64
	for i := range keyBytes {
		k <<= 8
		if i < len(b) {
			k |= uint64(b[i])
		}
	}
	return k
}

// sharedPrefix is the length of the prefix all the children's names share.
func (l *listing) sharedPrefix() int {
	first := l.name(l.kids[0])
	n := len(first)
	for _, c := range l.kids[1:] {
		name := l.name(c)
		if len(name) < n {
			n = len(name)
		}
		i := 0
		for i < n && name[i] == first[i] {
			i++
		}
		if n = i; n == 0 {
			break
		}
	}
	return n
}

func (l *listing) compare(a, b dirent) int { return bytes.Compare(l.name(a), l.name(b)) }
