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
	want := func(when string, percent int) {
		t.Helper()
		if got := gcPercent(); got != percent {
			t.Errorf("%s, the collector runs at %d %%, want %d %%", when, got, percent)
		}
	}
	p := Start(func(string) string { return "" }, 3)
	want("while scanning", ScanPercent)
	p.Scanned()
	want("with two nodes left to scan", ScanPercent)
	p.Scanned()
	want("with the last node left to scan", LastScanPercent)
	p.Scanned()
	want("once every node is scanned", KeptPercent)
	p.Scanned() // one too many changes nothing
	want("after an extra Scanned", KeptPercent)
	p.Planned()
	want("once the plan is made", ApplyPercent)
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
	want("while the only node is scanned", LastScanPercent)
	one.Restore()
	var none *Pacer
	none.Scanned()
	none.Planned()
	none.Restore()
	if got := gcPercent(); got != before {
		t.Errorf("a nil pacer set %d %%, want %d %%", got, before)
	}
}
