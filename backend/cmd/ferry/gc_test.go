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
	restore := paceGC(func(string) string { return "" })
	if got := gcPercent(); got != syncGCPercent {
		t.Errorf("without GOGC or GOMEMLIMIT, the collector runs at %d %%, want %d %%", got, syncGCPercent)
	}
	restore()
	if got := gcPercent(); got != before {
		t.Errorf("restored to %d %%, want %d %%", got, before)
	}
	for _, name := range []string{"GOGC", "GOMEMLIMIT"} {
		restore := paceGC(func(k string) string {
			if k == name {
				return "200"
			}
			return ""
		})
		if got := gcPercent(); got != before {
			t.Errorf("with %s set, the collector runs at %d %%, want it left at %d %%", name, got, before)
		}
		restore()
	}
}
