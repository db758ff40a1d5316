package main

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

func TestPaceGC(t *testing.T) {
	before := gcPercent()
	g := paceGC(func(string) string { return "" }, 2)
	if got := gcPercent(); got != scanGCPercent {
		t.Errorf("while scanning, the collector runs at %d %%, want %d %%", got, scanGCPercent)
	}
	g.scanned()
	if got := gcPercent(); got != scanGCPercent {
		t.Errorf("with a node left to scan, the collector runs at %d %%, want %d %%", got, scanGCPercent)
	}
	g.scanned()
	if got := gcPercent(); got != keptGCPercent {
		t.Errorf("once every node is scanned, the collector runs at %d %%, want %d %%", got, keptGCPercent)
	}
	g.planned()
	if got := gcPercent(); got != applyGCPercent {
		t.Errorf("once the plan is made, the collector runs at %d %%, want %d %%", got, applyGCPercent)
	}
	g.restore()
	if got := gcPercent(); got != before {
		t.Errorf("restored to %d %%, want %d %%", got, before)
	}
	for _, name := range []string{"GOGC", "GOMEMLIMIT"} {
		g := paceGC(func(k string) string {
			if k == name {
				return "200"
			}
			return ""
		}, 1)
		g.scanned()
		g.planned()
		if got := gcPercent(); got != before {
			t.Errorf("with %s set, the collector runs at %d %%, want it left at %d %%", name, got, before)
		}
		g.restore()
	}
}
