//go:build linux

package inventory

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Ferry's temp files are never inventoried, hidden files included or not; with RemoveTemps the
// scan removes them, and a directory that held only a removed one can be deleted.
func TestScanTemps(t *testing.T) {
	setup := func(t *testing.T) string {
		root := t.TempDir()
		writeFile(t, root, "a.txt", "a")
		writeFile(t, root, ".a.txt.ferry-k3j2.tmp", strings.Repeat("x", 1<<20))
		writeFile(t, root, "only-temp/.b.ferry-1.tmp", "partial")
		writeFile(t, root, "mixed/c", "c")
		writeFile(t, root, "mixed/.relay.ferry-123.tmp", "relayed")
		mkdir(t, root, "mixed/.d.ferry-2.tmp") // a directory is not a temp file
		if err := os.Symlink("c", filepath.Join(root, "mixed", ".e.ferry-3.tmp")); err != nil {
			t.Fatal(err)
		}
		return root
	}
	temps := []string{".a.txt.ferry-k3j2.tmp", "only-temp/.b.ferry-1.tmp", "mixed/.relay.ferry-123.tmp"}
	holding := func(p *Part) []string {
		var out []string
		for _, e := range p.Entries {
			if e.HoldsSkipped {
				out = append(out, e.Path())
			}
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		opts    Options
		paths   []string
		skipped map[SkipReason]int
		holding []string // with the temps left in place, their directories hold them
	}{
		{"hidden included", Options{},
			[]string{"/a.txt", "/mixed", "/mixed/.d.ferry-2.tmp", "/mixed/c", "/only-temp"},
			map[SkipReason]int{SkipTemp: 3, SkipSymlink: 1}, []string{"/mixed", "/only-temp"}},
		{"hidden excluded", Options{ExcludeHidden: true},
			[]string{"/a.txt", "/mixed", "/mixed/c", "/only-temp"},
			map[SkipReason]int{SkipTemp: 3, SkipSymlink: 1, SkipHidden: 1}, []string{"/mixed", "/only-temp"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := setup(t)
			p := mustScan(t, root, tc.opts)
			wantPaths(t, p, tc.paths...)
			wantSkipped(t, p, tc.skipped)
			if got := holding(p); !slices.Equal(got, tc.holding) {
				t.Errorf("holding skipped entries: %q, want %q", got, tc.holding)
			}
			for _, rel := range temps {
				if _, err := os.Lstat(filepath.Join(root, rel)); err != nil {
					t.Errorf("without RemoveTemps, %s: %v", rel, err)
				}
			}

			tc.opts.RemoveTemps = true
			p = mustScan(t, root, tc.opts)
			wantPaths(t, p, tc.paths...)
			wantSkipped(t, p, tc.skipped)
			if got := holding(p); !slices.Equal(got, []string{"/mixed"}) { // the symlink stays
				t.Errorf("after removal, holding skipped entries: %q, want [/mixed]", got)
			}
			for _, rel := range temps {
				if _, err := os.Lstat(filepath.Join(root, rel)); !os.IsNotExist(err) {
					t.Errorf("with RemoveTemps, %s was not removed: %v", rel, err)
				}
			}
			for _, rel := range []string{"a.txt", "mixed/c", "mixed/.d.ferry-2.tmp", "mixed/.e.ferry-3.tmp"} {
				if _, err := os.Lstat(filepath.Join(root, rel)); err != nil {
					t.Errorf("%s: %v", rel, err)
				}
			}
			p = mustScan(t, root, tc.opts)
			delete(tc.skipped, SkipTemp)
			wantSkipped(t, p, tc.skipped) // nothing left to remove
		})
	}
}

// A temp file whose type the listing did not give is found by its stat, and removed the same.
func TestScanTempOfUnknownType(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, ".f.ferry-1.tmp", "partial")
	d, ls := listed(t, root)
	name := ".f.ferry-1.tmp"
	if _, ok := ls[name]; !ok {
		t.Fatalf("listing = %v", ls)
	}
	if e, _, skip := testWalker(Options{}).child(d, nil, name, typeUnknown); skip != SkipTemp || e.Name() != "" {
		t.Fatalf("entry %+v, skip %q; want no entry, skipped as %q", e, skip, SkipTemp)
	}
	if e, _, skip := testWalker(Options{RemoveTemps: true}).child(d, nil, name, typeUnknown); skip != skipTempRemoved || e.Name() != "" {
		t.Fatalf("entry %+v, skip %q; want no entry, removed", e, skip)
	}
	if _, err := os.Lstat(filepath.Join(root, name)); !os.IsNotExist(err) {
		t.Fatalf("temp file not removed: %v", err)
	}
}
