package app

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/gcpace"
	"github.com/ferrysync/ferry/backend/inventory"
)

// benchInventory compares two nodes over files in folders of 100: A holds every file, B seven
// in ten, one in five of them with other content and a later date. Those have content keys on
// both nodes, as the analysis reads them: same size, other dates.
func benchInventory(files int) *inventoryResult {
	exts := []string{".txt", ".jpg", ".md", ".tmp", ".bin"}
	// As a scan makes them: entries in slices of their exact size.
	dirs := files / 100
	a := &inventory.Part{Code: "A1", Root: "/a", Type: inventory.SourceDir, Entries: make([]inventory.Entry, 0, dirs+files)}
	b := &inventory.Part{Code: "B1", Root: "/b", Type: inventory.SourceDir, Entries: make([]inventory.Entry, 0, dirs+files*7/10)}
	add := func(p *inventory.Part, e inventory.Entry, key inventory.ContentKey) {
		p.Entries = append(p.Entries, e)
		p.Keys.Set(&p.Entries[len(p.Entries)-1], key)
	}
	// Paths are shared by both nodes, as a scan of B like A shares them, and made in one buffer:
	// a scan leaves no path behind for the collector.
	var paths inventory.Paths
	buf := make([]byte, 0, 64) // room for a path and a quote: appends make no garbage
	for d := range dirs {
		dir := paths.Place(inventory.Entry{Kind: inventory.Dir}, fmt.Sprintf("/dir%04d", d))
		add(a, dir, inventory.ContentKey{})
		add(b, dir, inventory.ContentKey{})
		dirPath := dir.Path()
		for i := d * 100; i < (d+1)*100; i++ {
			buf = fmt.Appendf(buf[:0], "%s/file_%06d%s", dirPath, i, exts[i%len(exts)])
			p := unsafe.String(unsafe.SliceData(buf), len(buf)) // placed, never kept
			e := paths.Place(inventory.Entry{Kind: inventory.File, Size: int64(i%5000) * 512, ModTime: inventory.Nanos(at.Add(time.Duration(i) * time.Second))}, p)
			switch {
			case i%10 >= 7:
				add(a, e, inventory.ContentKey{})
			case i%5 == 0: // the analysis reads both: same size, other dates
				add(a, e, inventory.HashBytes(buf))
				e.ModTime += int64(time.Hour)
				add(b, e, inventory.HashBytes(append(buf, '\'')))
			default:
				add(a, e, inventory.ContentKey{})
				add(b, e, inventory.ContentKey{})
			}
		}
	}
	nodes := []*inventory.Node{{Code: "A", Parts: []*inventory.Part{a}}, {Code: "B", Parts: []*inventory.Part{b}}}
	s := compare.DefaultSettings()
	return newInventoryResult(nodes, compare.Compare(nodes, s), s)
}

// BenchmarkPage100k reads a page of 100 rows from 100k items: through a new filter (the filter
// runs over every item), and through one already run (the page comes from the cache).
func BenchmarkPage100k(b *testing.B) {
	a := newTestApp(b)
	c := a.c
	inv := benchInventory(100_000)
	c.an.mode = "mirror"
	start := time.Now()
	c.an.setInventory(inv, nil, nil)
	b.Logf("%d items, plan of %d groups in %s", len(inv.cmp.Items), len(c.an.plan.Groups), time.Since(start).Round(time.Millisecond))
	for _, f := range []string{
		"",
		"name:file_01",
		"on:B is:file",
		"only:A",
		"A.content != B.content",
		"has:actions.copy",
		"is:file (on:A OR only:B) NOT name==*.tmp AND A.size > 10kb",
	} {
		for _, cached := range []bool{false, true} {
			name := fmt.Sprintf("%q", f)
			if cached {
				name += "/cached"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				var total int
				for b.Loop() {
					if !cached {
						c.mu.Lock()
						c.an.filters = nil
						c.mu.Unlock()
					}
					p, err := a.Comparison.Page(f, 2000, 100)
					if err != nil || p.FilterError != nil || len(p.Items) != 100 {
						b.Fatalf("page: %+v %v", p.FilterError, err)
					}
					total = p.Total
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/page")
				b.ReportMetric(float64(total), "matched")
			})
		}
	}
}

// benchAppMemory is what the desktop app holds for a comparison of files items, shown with its
// mirror plan, per item: the live heap the inventories and the comparison add
// (B/item-compared), then with the plan and a page read (B/item), measured after a collection;
// and the peak resident memory the process reaches while it builds them all, the collector
// paced as the app paces it (B/item-peak). The webview holds one page of rows whatever the
// number of items.
func benchAppMemory(b *testing.B, files int) {
	if files > 200_000 && os.Getenv("FERRY_BENCH_1M") == "" {
		b.Skipf("%d files: set FERRY_BENCH_1M=1 to run it", files)
	}
	a := newTestApp(b)
	c := a.c
	c.an.mode = "mirror"
	live := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	for b.Loop() {
		base := live()
		inv := benchInventory(files)
		compared := live()
		items := float64(len(inv.cmp.Items))
		inv = nil

		debug.FreeOSMemory()
		resetPeakRSS(b)
		rss := procStatus(b, "VmRSS")
		gc := gcpace.Start(os.Getenv, 2)
		inv = benchInventory(files) // stands for the scans of both nodes
		gc.Scanned()
		gc.Scanned()
		c.an.setInventory(inv, nil, gc)
		p, err := a.Comparison.Page("", files/2, 100)
		if err != nil || len(p.Items) != 100 {
			b.Fatalf("page: %v", err)
		}
		peak := procStatus(b, "VmHWM")
		held := live()
		b.ReportMetric(float64(compared-base)/items, "B/item-compared")
		b.ReportMetric(float64(held-base)/items, "B/item")
		b.ReportMetric(float64(peak-rss)/items, "B/item-peak")
		b.ReportMetric(float64(held-base)/1e6, "MB-held")
		runtime.KeepAlive(inv)
		c.an.setInventory(nil, nil, nil)
	}
}

// resetPeakRSS resets the process's peak resident memory (VmHWM) to its current one.
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Fatalf("reset the peak resident memory: %v", err)
	}
}

// procStatus is a memory figure of /proc/self/status, in bytes.
func procStatus(b *testing.B, key string) uint64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, key+":"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("%s %q: %v", key, rest, err)
			}
			return kb << 10
		}
	}
	b.Fatalf("no %s in /proc/self/status", key)
	return 0
}

// BenchmarkAppMemory200k: the app's memory for a comparison of 200k files.
func BenchmarkAppMemory200k(b *testing.B) { benchAppMemory(b, 200_000) }

// BenchmarkAppMemory1M: the app's memory for a comparison of 1M files (FERRY_BENCH_1M=1).
func BenchmarkAppMemory1M(b *testing.B) { benchAppMemory(b, 1_000_000) }
