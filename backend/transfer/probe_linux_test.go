package transfer

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// Probe leaves the folder as it was, with an unnamed file or with a named one. (A read-only
// folder is tested on a read-only mount in engine.)
func TestProbe(t *testing.T) {
	for _, named := range []bool{false, true} {
		t.Run(fmt.Sprint("named ", named), func(t *testing.T) {
			r, dir := newRoot(t)
			old := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
			if err := os.Chtimes(dir, old, old); err != nil {
				t.Fatal(err)
			}
			r.dirs.anonymousRefused.Store(named)
			if err := r.Probe(); err != nil {
				t.Fatal(err)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 0 || !fi.ModTime().Equal(old) {
				t.Fatalf("entries %v, modified %v", entries, fi.ModTime())
			}
		})
	}
}
