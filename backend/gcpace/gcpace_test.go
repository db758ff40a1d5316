package gcpace

import (
	"runtime/debug"
	"testing"
)

// gcPercent reads the collector's setting without changing it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestPacer(t *testing.T) {
	before := gcPercent()
	p := Start(func(string) string { return "" }, 3)
	if got := gcPercent(); got != ScanPercent {
		t.Errorf("while scanning, the collector runs at %d %%, want %d %%", got, ScanPercent)
	}
	p.Scanned()
	if got := gcPercent(); got != ScanPercent {
		t.Errorf("with two nodes left to scan, the collector runs at %d %%, want %d %%", got, ScanPercent)
	}
	p.Scanned()
	if got := gcPercent(); got != LastScanPercent {
		t.Errorf("with the last node left to scan, the collector runs at %d %%, want %d %%", got, LastScanPercent)
	}
	p.Scanned()
	if got := gcPercent(); got != KeptPercent {
		t.Errorf("once every node is scanned, the collector runs at %d %%, want %d %%", got, KeptPercent)
	}
	p.Scanned() // one too many changes nothing
	if got := gcPercent(); got != KeptPercent {
		t.Errorf("after an extra Scanned, the collector runs at %d %%, want %d %%", got, KeptPercent)
	}
	p.Planned()
	if got := gcPercent(); got != ApplyPercent {
		t.Errorf("once the plan is made, the collector runs at %d %%, want %d %%", got, ApplyPercent)
	}
	p.Restore()
	if got := gcPercent(); got != before {
		t.Errorf("restored to %d %%, want %d %%", got, before)
	}
	debug.SetGCPercent(before + 1)
	p.Restore()
	if got := gcPercent(); got != before+1 {
		t.Errorf("a second restore set %d %%, want the setting left at %d %%", got, before+1)
	}
	debug.SetGCPercent(before)
	for _, name := range []string{"GOGC", "GOMEMLIMIT"} {
		p := Start(func(k string) string {
			if k == name {
				return "200"
			}
			return ""
		}, 1)
		p.Scanned()
		p.Planned()
		if got := gcPercent(); got != before {
			t.Errorf("with %s set, the collector runs at %d %%, want it left at %d %%", name, got, before)
		}
		p.Restore()
	}
	one := Start(func(string) string { return "" }, 1)
	if got := gcPercent(); got != LastScanPercent {
		t.Errorf("while the only node is scanned, the collector runs at %d %%, want %d %%", got, LastScanPercent)
	}
	one.Restore()
	var none *Pacer
	none.Scanned()
	none.Planned()
	none.Restore()
	if got := gcPercent(); got != before {
		t.Errorf("a nil pacer set %d %%, want %d %%", got, before)
	}
}
