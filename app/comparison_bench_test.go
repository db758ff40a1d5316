package app

import (
	"fmt"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/inventory"
)

// benchInventory compares two nodes over files in folders of 100: A holds every file, B seven
// in ten, one in five of them with other content and a later date.
func benchInventory(files int) *inventoryResult {
	exts := []string{".txt", ".jpg", ".md", ".tmp", ".bin"}
	var a, b []inventory.Entry
	for d := range files / 100 {
		dir := inventory.Entry{Path: fmt.Sprintf("/dir%04d", d), Kind: inventory.Dir}
		a, b = append(a, dir), append(b, dir)
		for i := d * 100; i < (d+1)*100; i++ {
			p := fmt.Sprintf("%s/file_%06d%s", dir.Path, i, exts[i%len(exts)])
			e := inventory.Entry{Path: p, Kind: inventory.File, Size: int64(i%5000) * 512, ModTime: inventory.Nanos(at.Add(time.Duration(i) * time.Second)),
				ContentKey: inventory.HashBytes([]byte(p))}
			a = append(a, e)
			if i%10 < 7 {
				if i%5 == 0 {
					e.ModTime, e.ContentKey = e.ModTime+int64(time.Hour), inventory.HashBytes([]byte(p+"'"))
				}
				b = append(b, e)
			}
		}
	}
	nodes := []*inventory.Node{
		{Code: "A", Parts: []*inventory.Part{{Code: "A1", Root: "/a", Type: inventory.SourceDir, Entries: a}}},
		{Code: "B", Parts: []*inventory.Part{{Code: "B1", Root: "/b", Type: inventory.SourceDir, Entries: b}}},
	}
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
	c.an.setInventory(inv, nil)
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
