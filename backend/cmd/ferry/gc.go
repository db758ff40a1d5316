package main

import "runtime/debug"

// syncGCPercent paces the garbage collector while ferry sync plans and runs. Under Go's default
// (GOGC=100) the heap of a large run grows to twice what it holds live; half that headroom takes
// about a sixth off the peak of a first mirror of 200,000 files, for a few more collections.
const syncGCPercent = 50

// paceGC sets syncGCPercent unless the environment (getenv) sets GOGC or GOMEMLIMIT, which win;
// restore puts back the previous setting.
func paceGC(getenv func(string) string) (restore func()) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	prev := debug.SetGCPercent(syncGCPercent)
	return func() { debug.SetGCPercent(prev) }
}
