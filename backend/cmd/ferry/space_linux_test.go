package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ferrysync/ferry/backend/internal/testfs"

	"golang.org/x/sys/unix"
)

// systemCalls matches system call names, which the messages people read never show.
var systemCalls = regexp.MustCompile(`\b(openat|mkdirat|removeat|renameat2?|unlinkat|linkat|fstatat|statx|lstat|copy_file_range|utimensat|futimens|fsync|syncfs|errno)\b`)

// ferry sync onto a target too small, or read-only, refuses before changing anything, saying
// which folder and why in words. (Exit 2, nothing changed, once ferry sync tells
// engine.TargetError apart; 1 until then.)
func TestSyncTargetCannotTakeIt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		size     int64
		readOnly bool
		want     string
	}{
		{"full", 2 << 20, false, "has 2.0 MiB free and this synchronization writes 3.0 MiB there: nothing was changed; free some space or choose another folder"},
		{"read-only", 1 << 20, true, "cannot be written, the file system is read-only: nothing was changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := t.TempDir(), testfs.Tmpfs(t, tc.size)
			for i := range 3 {
				put(t, filepath.Join(a, fmt.Sprintf("f%d.bin", i)), []byte(strings.Repeat(fmt.Sprint(i), 1<<20)), tOld)
			}
			put(t, filepath.Join(b, "stale.txt"), []byte("on B"), tOld)
			if tc.readOnly {
				if err := unix.Mount("", b, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
					t.Fatalf("remount %s read-only: %v", b, err)
				}
			}
			before := contents(t, b)
			code, stdout, stderr := runFerry(t, t.TempDir(), "sync", "--yes", "--node", "A="+a, "--node", "B="+b, "--mode", "mirror")
			t.Logf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if want := "the folder " + b + " " + tc.want; !strings.Contains(stdout+stderr, want) {
				t.Errorf("the output does not say %q", want)
			}
			if m := systemCalls.FindString(stdout + stderr); m != "" {
				t.Errorf("the output names %q", m)
			}
			sameContents(t, "the target", before, contents(t, b))
		})
	}
}

// A target that fills up during the run stops it at the first "no space left": here the files
// the mirror deletes are hard-linked elsewhere, so deleting them frees nothing while the check
// counted them freed. One error, in words, exit 1, no temp file left, every file there complete.
func TestSyncStopsAtFirstNoSpace(t *testing.T) {
	t.Parallel()
	a, m := t.TempDir(), testfs.Tmpfs(t, 8<<20)
	b := filepath.Join(m, "B")
	const size = 3 << 19 // 1.5 MiB
	for i := range 3 {
		put(t, filepath.Join(b, fmt.Sprintf("old%d.bin", i)), []byte(strings.Repeat("o", size)), tOld)
		if err := os.MkdirAll(filepath.Join(m, "links"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(filepath.Join(b, fmt.Sprintf("old%d.bin", i)), filepath.Join(m, "links", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		put(t, filepath.Join(a, fmt.Sprintf("new%d.bin", i)), []byte(strings.Repeat(fmt.Sprint(i), size)), tOld)
	}
	code, stdout, stderr := runFerry(t, t.TempDir(), "sync", "--yes", "--json", "--node", "A="+a, "--node", "B="+b, "--mode", "mirror")
	if code != exitActionError {
		t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", code, exitActionError, stdout, stderr)
	}
	var rep struct {
		Errors []string `json:"errors"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("report %q: %v", stdout, err)
	}
	if len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0], "no space left on the device; the synchronization stopped there") {
		t.Fatalf("errors %q", rep.Errors)
	}
	t.Log(rep.Errors[0])
	if m := systemCalls.FindString(rep.Errors[0]); m != "" {
		t.Errorf("the error names %q", m)
	}
	entries, err := os.ReadDir(b)
	if err != nil {
		t.Fatal(err)
	}
	copied := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") || !strings.HasPrefix(e.Name(), "new") {
			t.Errorf("%s left in the target", e.Name())
			continue
		}
		copied++
		if got, want := contents(t, b)[e.Name()], contents(t, a)[e.Name()]; got != want {
			t.Errorf("%s: %d bytes, want %d", e.Name(), len(got), len(want))
		}
	}
	if copied == 3 {
		t.Error("every copy was written: the target did not fill up")
	}
}
