package tracker

import (
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/ferrysync/ferry/backend/protocol"
)

// groupTable holds the groups of a run in memory in 24 bytes each, where a *Group with its
// slices and a map entry took about 250: ops, sources and target lists are interned, a group
// whose id is "AGID_<position>" (as plans number them) stores no id, and which targets succeeded
// or failed are bits over the group's target list. A group it cannot hold so (more than 32
// targets, a result for a target outside its list) is kept whole.
//
// Success and Errors come back in the order of the group's targets.
type groupTable struct {
	// slots in chunks of slotChunk: a large run grows without copying, nor one large allocation.
	slots [][]slot
	n     int
	named map[string]int32 // ids not of the "AGID_<position>" form
	names map[int32]string
	whole map[int32]*Group

	strs  []string // ops and sources; strs[0] is ""
	strAt map[string]uint16
	lists [][]protocol.Target
	// listAt finds an interned target list by its key (listKey); the last one made is checked
	// first, as consecutive groups mostly share theirs.
	listAt map[string]uint32
	last   uint32
}

type slot struct {
	size            int64
	success, errors targetBits // over lists[targets]
	targets         uint32
	source          uint16 // strs index
	op              uint8  // strs index
	state           uint8  // sourceOK and the slot's flags
}

const (
	sourceOK     uint8 = 1 << iota // SourceOK is set
	sourceFailed                   // and false
	positional                     // the id is idAt(position)
	kept                           // the group is in whole
)

// targetBits are bits over a target list of at most maxListed targets.
type targetBits uint32

const maxListed = 32

const (
	idPrefix  = "AGID_"
	slotChunk = 4096
)

func newGroupTable() *groupTable {
	return &groupTable{
		strs:   []string{""},
		strAt:  map[string]uint16{"": 0},
		listAt: map[string]uint32{},
	}
}

// add appends g; a later group with the id of an earlier one replaces it.
func (t *groupTable) add(g *Group) {
	i := int32(t.n)
	if j, ok := t.find(g.ID); ok {
		t.forget(j)
	}
	if t.n%slotChunk == 0 {
		var chunk []slot // the first grows as a small run needs
		if t.n > 0 {
			chunk = make([]slot, 0, slotChunk)
		}
		t.slots = append(t.slots, chunk)
	}
	last := &t.slots[len(t.slots)-1]
	*last = append(*last, slot{})
	t.n++
	if numberedAt(g.ID, int(i)) {
		t.at(i).state = positional
	} else {
		if t.named == nil {
			t.named, t.names = map[string]int32{}, map[int32]string{}
		}
		t.named[g.ID], t.names[i] = i, g.ID
	}
	t.put(i, g)
}

// forget makes the group at i unreachable by its id.
func (t *groupTable) forget(i int32) {
	if id, ok := t.names[i]; ok {
		delete(t.named, id)
		delete(t.names, i)
	}
	t.at(i).state &^= positional
}

// find is the position of the group with id.
func (t *groupTable) find(id string) (int32, bool) {
	if i, ok := t.named[id]; ok {
		return i, true
	}
	n, ok := position(id)
	if !ok || n >= t.n || t.at(int32(n)).state&positional == 0 {
		return 0, false
	}
	return int32(n), true
}

func (t *groupTable) at(i int32) *slot { return &t.slots[i/slotChunk][i%slotChunk] }

// idAt is the id of the group at position i when plans number it: "AGID_<i+1>".
func idAt(i int) string { return idPrefix + strconv.Itoa(i+1) }

// numberedAt tells whether id is idAt(i), without making it.
func numberedAt(id string, i int) bool {
	n, ok := position(id)
	return ok && n == i
}

// position reads "AGID_<n>", n written without a sign or leading zero, as position n-1.
func position(id string) (int, bool) {
	digits, ok := strings.CutPrefix(id, idPrefix)
	if !ok || digits == "" || digits[0] < '1' || digits[0] > '9' || len(digits) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n - 1, true
}

// get returns a new copy of the group at i; its Targets are shared and must not be changed.
func (t *groupTable) get(i int32) *Group {
	s := t.at(i)
	if s.state&kept != 0 {
		return t.whole[i].clone()
	}
	id := t.names[i]
	if s.state&positional != 0 {
		id = idAt(int(i))
	}
	list := t.lists[s.targets]
	g := &Group{ID: id, Op: t.strs[s.op], Source: t.strs[s.source], Size: s.size, Targets: list}
	if s.state&sourceOK != 0 {
		ok := s.state&sourceFailed == 0
		g.SourceOK = &ok
	}
	g.Success = pick(list, s.success)
	g.Errors = pick(list, s.errors)
	return g
}

// put stores g at i, compactly when it can.
func (t *groupTable) put(i int32, g *Group) {
	s := t.at(i)
	s.state &= positional
	delete(t.whole, i)
	c, ok := t.compact(g)
	if !ok {
		if t.whole == nil {
			t.whole = map[int32]*Group{}
		}
		t.whole[i], s.state = g, s.state|kept
		return
	}
	c.state |= s.state
	*s = c
}

func (t *groupTable) compact(g *Group) (slot, bool) {
	var s slot
	op, ok := t.str(g.Op)
	if !ok || op > 0xff {
		return slot{}, false
	}
	if s.source, ok = t.str(g.Source); !ok {
		return slot{}, false
	}
	if s.targets, ok = t.list(g.Targets); !ok {
		return slot{}, false
	}
	list := t.lists[s.targets]
	if s.success, ok = mask(list, g.Success); !ok {
		return slot{}, false
	}
	if s.errors, ok = mask(list, g.Errors); !ok || s.success&s.errors != 0 {
		return slot{}, false
	}
	s.op, s.size = uint8(op), g.Size
	if g.SourceOK != nil {
		s.state = sourceOK
		if !*g.SourceOK {
			s.state |= sourceFailed
		}
	}
	return s, true
}

// str interns s.
func (t *groupTable) str(s string) (uint16, bool) {
	if i, ok := t.strAt[s]; ok {
		return i, true
	}
	if len(t.strs) > 0xffff {
		return 0, false
	}
	i := uint16(len(t.strs))
	t.strs = append(t.strs, s)
	t.strAt[s] = i
	return i, true
}

// list interns a target list of at most maxListed distinct targets.
func (t *groupTable) list(targets []protocol.Target) (uint32, bool) {
	if len(targets) > maxListed {
		return 0, false
	}
	for i, tg := range targets {
		if slices.Contains(targets[:i], tg) {
			return 0, false
		}
	}
	if int(t.last) < len(t.lists) && slices.Equal(t.lists[t.last], targets) {
		return t.last, true
	}
	key := listKey(targets)
	i, ok := t.listAt[key]
	if !ok {
		i = uint32(len(t.lists))
		t.lists = append(t.lists, slices.Clone(targets))
		t.listAt[key] = i
	}
	t.last = i
	return i, true
}

func listKey(targets []protocol.Target) string {
	var b strings.Builder
	for _, tg := range targets {
		b.WriteString(strconv.Quote(tg.Member))
		b.WriteString(strconv.Quote(tg.Node))
	}
	return b.String()
}

// mask sets the bits of picked's targets in list; false when one is not in list or twice.
func mask(list, picked []protocol.Target) (targetBits, bool) {
	var m targetBits
	for _, tg := range picked {
		j := slices.Index(list, tg)
		if j < 0 || m&(1<<j) != 0 {
			return 0, false
		}
		m |= 1 << j
	}
	return m, true
}

// pick is the targets of list whose bits m sets, nil for none.
func pick(list []protocol.Target, m targetBits) []protocol.Target {
	if m == 0 {
		return nil
	}
	out := make([]protocol.Target, 0, bits.OnesCount32(uint32(m)))
	for ; m != 0; m &= m - 1 {
		out = append(out, list[bits.TrailingZeros32(uint32(m))])
	}
	return out
}
