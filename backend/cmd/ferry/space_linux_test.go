package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// mountTmpfs mounts a tmpfs of size bytes on a new folder until the test ends. The tests run as
// root, CI too: a refused mount fails the test.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Fatalf("mount a tmpfs of %d bytes on %s (these tests need root): %v", size, dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
			_ = unix.Unmount(dir, unix.MNT_DETACH)
		}
	})
	return dir
}

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
			a, b := t.TempDir(), mountTmpfs(t, tc.size)
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
			if code != exitUsage && code != exitActionError {
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
