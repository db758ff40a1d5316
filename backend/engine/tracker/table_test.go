package tracker

import (
	"fmt"
	"reflect"
	"runtime"
	"testing"
	"unsafe"

	"github.com/ferrysync/ferry/backend/protocol"
)

func TestSlotSize(t *testing.T) {
	if n := unsafe.Sizeof(slot{}); n != 24 {
		t.Fatalf("a group takes %d bytes in the memory store, want 24", n)
	}
}

func targets(nodes ...string) []protocol.Target {
	out := make([]protocol.Target, len(nodes))
	for i, n := range nodes {
		out[i] = protocol.Target{Member: "m" + n, Node: n}
	}
	return out
}

// Every group comes back as stored, compact or kept whole, by its id whatever its form.
func TestGroupTableRoundTrip(t *testing.T) {
	yes, no := true, false
	many := make([]string, maxListed+1)
	for i := range many {
		many[i] = fmt.Sprint("N", i)
	}
	ab := targets("A", "B")
	groups := []*Group{
		{ID: "AGID_1", Op: "copy", Source: "mA", Size: 7, Targets: ab},
		{ID: "AGID_2", Op: "delete", Targets: ab, Success: ab[1:], Errors: ab[:1]},
		{ID: "custom", Op: "copy", Source: "mB", SourceOK: &yes, Size: 1 << 40, Targets: targets("A"), Success: targets("A")},
		{ID: "AGID_4", Op: "copy-content", Source: "mA", SourceOK: &no, Targets: ab, Errors: ab},
		{ID: "AGID_9", Op: "create", Targets: targets("C")},                    // not its position
		{ID: "AGID_06", Op: "create", Targets: targets("C")},                   // not the canonical form
		{ID: "AGID_7", Op: "create", Targets: targets(many...)},                // too many targets: whole
		{ID: "AGID_8", Op: "create", Targets: ab, Success: targets("Z")},       // outside its targets: whole
		{ID: "AGID_+9", Op: "create", Targets: ab, Success: append(ab, ab...)}, // twice: whole
	}
	tb := newGroupTable()
	for _, g := range groups {
		tb.add(g)
	}
	if len(tb.whole) != 3 {
		t.Errorf("%d groups kept whole, want 3", len(tb.whole))
	}
	for _, want := range groups {
		i, ok := tb.find(want.ID)
		if !ok {
			t.Fatalf("%s not found", want.ID)
		}
		if got := tb.get(i); !reflect.DeepEqual(got, want) {
			t.Errorf("%s came back as %+v, want %+v", want.ID, got, want)
		}
	}
	for _, id := range []string{"AGID_3", "AGID_5", "AGID_6", "AGID_10", "AGID_0", "AGID_", "", "AGID_99999999999"} {
		if _, ok := tb.find(id); ok {
			t.Errorf("%q found", id)
		}
	}
}

// A group changed by an update is stored again, compact or whole as it now fits.
func TestGroupTablePut(t *testing.T) {
	ab := targets("A", "B")
	tb := newGroupTable()
	tb.add(&Group{ID: "AGID_1", Op: "copy", Source: "mA", Targets: ab})
	g := tb.get(0)
	g.Success = append(g.Success, ab[1], ab[0]) // in another order than the targets
	tb.put(0, g)
	if got := tb.get(0); !reflect.DeepEqual(got.Success, ab) || len(tb.whole) != 0 {
		t.Fatalf("success %v, %d kept whole; want %v in the targets' order, compact", got.Success, len(tb.whole), ab)
	}
	g = tb.get(0)
	g.Errors = targets("Z")
	tb.put(0, g)
	if got := tb.get(0); !reflect.DeepEqual(got, g) || len(tb.whole) != 1 {
		t.Fatalf("got %+v, %d kept whole; want %+v kept whole", got, len(tb.whole), g)
	}
	g = tb.get(0)
	g.Errors = nil
	tb.put(0, g)
	if got := tb.get(0); !reflect.DeepEqual(got, g) || len(tb.whole) != 0 {
		t.Fatalf("got %+v, %d kept whole; want %+v compact again", got, len(tb.whole), g)
	}
	if _, ok := tb.find("AGID_1"); !ok {
		t.Fatal("the group lost its id")
	}
}

// As a map did, a later group with an earlier one's id replaces it.
func TestGroupTableSameID(t *testing.T) {
	for _, ids := range [][2]string{{"AGID_2", "AGID_2"}, {"x", "x"}} {
		tb := newGroupTable()
		tb.add(&Group{ID: "AGID_1", Op: "create", Targets: targets("A")})
		tb.add(&Group{ID: ids[0], Op: "create", Targets: targets("A")})
		tb.add(&Group{ID: ids[1], Op: "delete", Targets: targets("B")})
		i, ok := tb.find(ids[1])
		if !ok {
			t.Fatalf("%s not found", ids[1])
		}
		if g := tb.get(i); g.Op != "delete" {
			t.Errorf("%s: the first group stands (%s)", ids[1], g.Op)
		}
	}
	// A named id, then the same id at its position.
	tb := newGroupTable()
	tb.add(&Group{ID: "AGID_2", Op: "create", Targets: targets("A")})
	tb.add(&Group{ID: "AGID_2", Op: "delete", Targets: targets("B")})
	if i, _ := tb.find("AGID_2"); tb.get(i).Op != "delete" {
		t.Error("AGID_2: the first group stands")
	}
}

// BenchmarkMemoryRun200k reports the heap a run of 200,000 single-target groups holds in the
// memory store, as a one-member mirror makes them, beside the same groups in a map by id.
func BenchmarkMemoryRun200k(b *testing.B) {
	const n = 200_000
	newGroups := func() []*Group {
		groups := make([]*Group, n)
		for i := range groups {
			groups[i] = &Group{ID: idAt(i), Op: "copy", Source: "m", Size: 300, Targets: []protocol.Target{{Member: "m", Node: "B"}}}
		}
		return groups
	}
	for b.Loop() {
		b.StopTimer()
		base := liveHeap()
		groups := newGroups()
		b.StartTimer()
		tb := newGroupTable()
		for _, g := range groups {
			tb.add(g)
		}
		b.StopTimer()
		table := liveHeap() - base // the groups given are garbage by now
		runtime.KeepAlive(tb)

		base = liveHeap()
		byID := make(map[string]*Group, n)
		for _, g := range newGroups() {
			byID[g.ID] = g
		}
		inMap := liveHeap() - base
		runtime.KeepAlive(byID)
		b.ReportMetric(float64(table)/n, "B/group")
		b.ReportMetric(float64(inMap)/n, "map-B/group")
		b.StartTimer()
	}
}

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// A run past one chunk of slots finds every group, numbered or named.
func TestGroupTableChunks(t *testing.T) {
	tb := newGroupTable()
	n := 2*slotChunk + 5
	id := func(i int) string {
		if i%1000 == 7 {
			return fmt.Sprint("named-", i)
		}
		return idAt(i)
	}
	for i := range n {
		tb.add(&Group{ID: id(i), Op: "copy", Source: "m", Size: int64(i), Targets: targets("B")})
	}
	for i := range n {
		j, ok := tb.find(id(i))
		if !ok || j != int32(i) || tb.get(j).Size != int64(i) {
			t.Fatalf("group %d (%s): found %v at %d", i, id(i), ok, j)
		}
	}
}
