//go:build linux

package inventory

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Permission tests need a user that permissions apply to. As root (where chmod 000 stops
// nothing), the test binary runs the test again as nobody (uid/gid 65534) on the fixture built
// here; the child runs the assertions and the parent requires that it passed.

const (
	childTestEnv = "FERRY_INVENTORY_UNPRIVILEGED_TEST"
	childDirEnv  = "FERRY_INVENTORY_UNPRIVILEGED_DIR"
	nobody       = 65534
)

// unprivileged runs check on the fixture built by setup as a user without special file access.
func unprivileged(t *testing.T, setup func(t *testing.T, dir string), check func(t *testing.T, dir string)) {
	if os.Getenv(childTestEnv) == t.Name() {
		if os.Geteuid() == 0 {
			t.Fatal("child test still runs as root")
		}
		check(t, os.Getenv(childDirEnv))
		return
	}
	dir := publicTempDir(t)
	setup(t, dir)
	if os.Geteuid() != 0 {
		check(t, dir)
		return
	}
	// The test binary may sit in a directory nobody cannot enter: run a copy.
	bin := filepath.Join(publicTempDir(t), "inventory.test")
	copyExecutable(t, bin)
	cmd := exec.Command(bin, "-test.run", "^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childTestEnv+"="+t.Name(), childDirEnv+"="+dir)
	cmd.Dir = os.TempDir()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("unprivileged run of %s failed (%v):\n%s", t.Name(), err, out)
	}
}

// publicTempDir is a temporary directory that every user can enter, including its parents.
func publicTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ferry-inventory-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Give back the permissions the test took away so that the tree can be removed.
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if d != nil && d.IsDir() || errors.Is(err, fs.ErrPermission) {
				_ = os.Chmod(path, 0o755) // best effort: RemoveAll reports what stays
			}
			return nil
		})
		_ = os.Chmod(dir, 0o755)
		if err := os.RemoveAll(dir); err != nil {
			t.Error(err)
		}
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func copyExecutable(t *testing.T, dst string) {
	t.Helper()
	src, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestScanUnreadableSubdir(t *testing.T) {
	unprivileged(t, func(t *testing.T, dir string) {
		writeFile(t, dir, "root/a", "a")
		writeFile(t, dir, "root/locked/secret", "s")
		writeFile(t, dir, "root/locked-z/next", "n")
		writeFile(t, dir, "root/open/b", "b")
		chmod(t, filepath.Join(dir, "root", "locked"), 0)
	}, func(t *testing.T, dir string) {
		p := mustScan(t, filepath.Join(dir, "root"), Options{})
		wantPaths(t, p, "/a", "/locked", "/locked-z", "/locked-z/next", "/open", "/open/b")
		if e := entry(t, p, "/locked"); e.Kind != Dir || !e.Inaccessible {
			t.Fatalf("locked directory = %+v, want an inaccessible directory", e)
		}
		if !p.Incomplete {
			t.Fatal("part not marked incomplete")
		}
		wantSkipped(t, p, map[SkipReason]int{SkipInaccessible: 1})
	})
}

// A directory that can be listed but not searched: its children are known by name only.
func TestScanUnsearchableDir(t *testing.T) {
	unprivileged(t, func(t *testing.T, dir string) {
		writeFile(t, dir, "root/listed/file", "f")
		writeFile(t, dir, "root/listed/sub/deep", "d")
		chmod(t, filepath.Join(dir, "root", "listed"), 0o444)
	}, func(t *testing.T, dir string) {
		p := mustScan(t, filepath.Join(dir, "root"), Options{})
		wantPaths(t, p, "/listed", "/listed/file", "/listed/sub")
		for _, path := range []string{"/listed/file", "/listed/sub"} {
			if e := entry(t, p, path); !e.Inaccessible || e.Size != 0 || e.ModTime != 0 {
				t.Errorf("%s = %+v, want inaccessible without size or date", path, e)
			}
		}
		if e := entry(t, p, "/listed/sub"); e.Kind != Dir {
			t.Errorf("/listed/sub kind %v, want directory", e.Kind)
		}
		if !p.Incomplete {
			t.Fatal("part not marked incomplete")
		}
		wantSkipped(t, p, map[SkipReason]int{SkipInaccessible: 2})
	})
}

func TestScanUnreadableRoot(t *testing.T) {
	unprivileged(t, func(t *testing.T, dir string) {
		writeFile(t, dir, "root/a", "a")
		writeFile(t, dir, "file-root", "f")
		chmod(t, filepath.Join(dir, "root"), 0)
		chmod(t, filepath.Join(dir, "file-root"), 0)
	}, func(t *testing.T, dir string) {
		for _, root := range []string{filepath.Join(dir, "root"), filepath.Join(dir, "file-root")} {
			p, err := ScanPart(context.Background(), "A1", root, Options{})
			if err == nil || p != nil {
				t.Fatalf("ScanPart(%s) = %+v, %v; want an error", root, p, err)
			}
			if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), root) {
				t.Fatalf("error %q is not a permission error naming %s", err, root)
			}
		}
	})
}
