// Package gcpace paces Go's garbage collector through a run that holds a large inventory: under
// Go's default (GOGC=100) the heap of such a run grows to twice what it holds live.
package gcpace

import (
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// A run's collector is paced in steps, unless the environment sets GOGC or GOMEMLIMIT, which
// win. While the nodes are scanned, ScanPercent keeps half the live heap as headroom: the scan
// makes garbage as it builds the inventories, and its time counts for runs already in sync.
// Once every node is scanned, the heap is mostly what the run keeps (inventories, comparison,
// plan), made with little garbage: KeptPercent leaves a tenth until the plan runs. The
// synchronization then makes garbage for every file it writes, and ApplyPercent leaves 15 %: on a
// first mirror of 200,000 files, 10 % took 40 % more CPU time than 20 % for 5 % less memory, 15 %
// 9 % more for 3 % less.
const (
	ScanPercent  = 50
	KeptPercent  = 10
	ApplyPercent = 15
)

// Pacer paces the collector of one run; a nil Pacer does nothing.
type Pacer struct {
	off      bool // the environment paces it
	prev     int
	unseen   atomic.Int32 // nodes not scanned yet
	keptOnce sync.Once
	restored sync.Once
}

// Start sets ScanPercent for a run that scans nodes nodes, unless getenv gives GOGC or
// GOMEMLIMIT.
func Start(getenv func(string) string, nodes int) *Pacer {
	p := &Pacer{off: getenv("GOGC") != "" || getenv("GOMEMLIMIT") != ""}
	if p.off {
		return p
	}
	p.unseen.Store(int32(nodes))
	p.prev = debug.SetGCPercent(ScanPercent)
	return p
}

// Scanned is told of each node once walked (whether or not its walk failed); after the last,
// KeptPercent holds.
func (p *Pacer) Scanned() {
	if p == nil || p.off || p.unseen.Add(-1) > 0 {
		return
	}
	p.keptOnce.Do(func() { debug.SetGCPercent(KeptPercent) })
}

// Planned is told once the plan is made and runs: ApplyPercent holds until Restore.
func (p *Pacer) Planned() {
	if p != nil && !p.off {
		debug.SetGCPercent(ApplyPercent)
	}
}

// Restore puts back the setting the run found; later calls do nothing.
func (p *Pacer) Restore() {
	if p != nil && !p.off {
		p.restored.Do(func() { debug.SetGCPercent(p.prev) })
	}
}
