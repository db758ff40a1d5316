package inventory

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// writeFile creates root/rel with data, and its parent directories.
func writeFile(t *testing.T, root, rel, data string) string {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// mkdir creates root/rel and its parents.
func mkdir(t *testing.T, root, rel string) string {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustScan(t *testing.T, root string, opts Options) *Part {
	t.Helper()
	p, err := ScanPart(context.Background(), "A1", root, opts)
	if err != nil {
		t.Fatalf("ScanPart(%s): %v", root, err)
	}
	checkSorted(t, p)
	return p
}

func checkSorted(t *testing.T, p *Part) {
	t.Helper()
	for i := 1; i < len(p.Entries); i++ {
		if p.Entries[i-1].Path() >= p.Entries[i].Path() {
			t.Fatalf("entries not strictly sorted: %q then %q", p.Entries[i-1].Path(), p.Entries[i].Path())
		}
	}
}

func entryPaths(p *Part) []string {
	out := make([]string, len(p.Entries))
	for i, e := range p.Entries {
		out[i] = e.Path()
	}
	return out
}

func entry(t *testing.T, p *Part, path string) *Entry {
	t.Helper()
	for i := range p.Entries {
		if p.Entries[i].Path() == path {
			return &p.Entries[i]
		}
	}
	t.Fatalf("no entry %q in %q", path, entryPaths(p))
	return nil
}

func wantPaths(t *testing.T, p *Part, want ...string) {
	t.Helper()
	if got := entryPaths(p); !slices.Equal(got, want) {
		t.Fatalf("paths\n got %q\nwant %q", got, want)
	}
}

func wantSkipped(t *testing.T, p *Part, want map[SkipReason]int) {
	t.Helper()
	got := map[SkipReason]int{}
	for r, n := range p.Skipped {
		if n != 0 {
			got[r] = n
		}
	}
	if len(got) != len(want) {
		t.Fatalf("skipped %v, want %v", got, want)
	}
	for r, n := range want {
		if got[r] != n {
			t.Fatalf("skipped %v, want %v", got, want)
		}
	}
}
