package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
)

// mirrorRun creates a session from src to a new empty folder, inventories, mirrors and waits
// for the end. The session stays open, on the summary.
func (a *testApp) mirrorRun(t testing.TB, src string) SyncStatus {
	t.Helper()
	a.session(t, src, t.TempDir())
	if done := a.inventory(t); done.Error != "" {
		t.Fatal(done.Error)
	}
	if _, err := a.Rules.UsePreset("mirror"); err != nil {
		t.Fatal(err)
	}
	st := a.synchronize(t)
	if st.EndStatus != "regular" || len(st.Errors) > 0 {
		t.Fatalf("run ended %s: %s %v", st.EndStatus, st.EndReason, st.Errors)
	}
	return st
}

// forget drops the events recorded so far: they are the test's, not the app's.
func (r *recorder) forget() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ev = nil
}

// liveHeap is the heap in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// vmRSS is the process's resident set from /proc/self/status, in bytes; 0 where unknown.
func vmRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// writeHeapProfile writes the live heap's profile to path.
func writeHeapProfile(t testing.TB, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		t.Fatal(err)
	}
}

// smallFiles writes n small files below dir, in folders of 100 in folders of 10.
func smallFiles(t testing.TB, dir string, n int) {
	t.Helper()
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("g%02d/d%03d/f%06d.txt", i/10_000, i/100, i))
		if i%100 == 0 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(p, []byte(fmt.Sprintf("content %d", i)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
}

// gaveBack makes the app give memory back as soon as it is idle, and returns a channel that
// receives each time it did.
func (a *testApp) gaveBack() <-chan struct{} {
	ch := make(chan struct{}, 16)
	a.c.mu.Lock()
	defer a.c.mu.Unlock()
	a.c.giveBackWait = 0
	a.c.gaveBack = func(idle bool) {
		if idle {
			ch <- struct{}{}
		}
	}
	return ch
}

// BenchmarkIdleAfterRuns mirrors 20k small files into a new folder, runs times over, each in a
// session of its own, and reads the live heap after a collection on the last summary
// (done-heap-MiB) and after quitting its session (idle-heap-MiB), with the process's resident
// set then, once the app gave memory back. IDLE_FILES changes the number of files;
// IDLE_HEAP_PROFILE names a file for the heap profile on the summary.
func BenchmarkIdleAfterRuns(b *testing.B) {
	files := 20_000
	if s := os.Getenv("IDLE_FILES"); s != "" {
		files, _ = strconv.Atoi(s)
	}
	src := b.TempDir()
	smallFiles(b, src, files)
	for _, runs := range []int{1, 3} {
		b.Run(fmt.Sprintf("runs=%d", runs), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				a := newTestApp(b)
				gave := a.gaveBack()
				before := liveHeap()
				b.StartTimer()
				for i := range runs {
					a.mirrorRun(b, src)
					received(b, gave, "memory given back after the run")
					if i < runs-1 {
						if err := a.Sessions.Quit(); err != nil {
							b.Fatal(err)
						}
						received(b, gave, "memory given back after Quit")
					}
					a.rec.forget()
				}
				b.StopTimer()
				done := liveHeap()
				doneRSS := vmRSS()
				if p := os.Getenv("IDLE_HEAP_PROFILE"); p != "" { // what the summary holds
					writeHeapProfile(b, p)
				}
				if err := a.Sessions.Quit(); err != nil {
					b.Fatal(err)
				}
				received(b, gave, "memory given back after Quit")
				a.rec.forget()
				idle := liveHeap()
				b.ReportMetric(float64(before)/(1<<20), "before-heap-MiB")
				b.ReportMetric(float64(done)/(1<<20), "done-heap-MiB")
				b.ReportMetric(float64(doneRSS)/(1<<20), "done-rss-MiB")
				b.ReportMetric(float64(idle)/(1<<20), "idle-heap-MiB")
				b.ReportMetric(float64(vmRSS())/(1<<20), "idle-rss-MiB")
				b.StartTimer()
			}
		})
	}
}

// TestRunLetsGo checks that a run's end lets go of the comparison, the plan and the
// inventories while the summary keeps its results, that the live heap on the summary and after
// Quit comes back near its size before the run, and that the app gives memory back after the
// run and after Quit.
func TestRunLetsGo(t *testing.T) {
	const files = 10_000
	a := newTestApp(t)
	gave := a.gaveBack()
	src := t.TempDir()
	smallFiles(t, src, files)
	// The built-in server starts with the first session: it stays.
	a.session(t, src, t.TempDir())
	if err := a.Sessions.Quit(); err != nil {
		t.Fatal(err)
	}
	received(t, gave, "memory given back after Quit")
	a.rec.forget()
	before := liveHeap()

	st := a.mirrorRun(t, src)
	received(t, gave, "memory given back after the run")
	a.rec.forget()
	c := a.c
	c.mu.Lock()
	held := c.an.inv != nil || c.an.plan != nil || c.an.actions != nil || c.an.flow != nil
	c.mu.Unlock()
	if held {
		t.Fatal("the comparison or the plan is still held on the summary")
	}
	if got := a.Synchronization.Status(); got.State != StateEnded || len(got.Items) != len(st.Items) || len(got.Items) == 0 {
		t.Fatalf("status on the summary: %s with %d items, want ended with the run's %d", got.State, len(got.Items), len(st.Items))
	}
	if err := a.Synchronization.Start(); !errors.Is(err, errPlanRan) {
		t.Fatalf("Start on the summary: %v, want %v", err, errPlanRan)
	}
	if _, err := a.Comparison.Summary(); !errors.Is(err, errNoInventory) {
		t.Fatalf("Summary on the summary: %v, want %v", err, errNoInventory)
	}
	// A profile saved on the summary still knows the parts compared.
	if _, err := a.Profiles.Save("after"); err != nil {
		t.Fatal(err)
	}
	// The summary keeps its results: some hundreds of bytes an item, far less than what
	// compared and planned them.
	limit := 2*before + files*300
	done := liveHeap()
	t.Logf("live heap: %.1f MiB before the run, %.1f MiB on the summary", mib(before), mib(done))
	if done > limit {
		t.Errorf("live heap on the summary %.1f MiB, before the run %.1f MiB: want at most %.1f MiB", mib(done), mib(before), mib(limit))
	}
	if err := a.Sessions.Quit(); err != nil {
		t.Fatal(err)
	}
	received(t, gave, "memory given back after Quit")
	a.rec.forget()
	c.mu.Lock()
	held = c.an.inv != nil || c.an.plan != nil || c.an.spentParts != nil || len(c.nodes) > 0
	c.mu.Unlock()
	if held {
		t.Fatal("the comparison, the plan or the nodes are still held after Quit")
	}
	idle := liveHeap()
	t.Logf("live heap after Quit: %.1f MiB", mib(idle))
	if idle > 2*before+(1<<20) {
		t.Errorf("live heap after Quit %.1f MiB, before the run %.1f MiB: want at most twice, and 1 MiB", mib(idle), mib(before))
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
