package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// killWriter collects a process's stderr and kills it at its n-th JSON progress event.
type killWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	n      int
	proc   *os.Process
	killed bool
}

func (w *killWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(b)
	if !w.killed && w.proc != nil && w.n > 0 && strings.Count(w.buf.String(), `{"type":"progress"`) >= w.n {
		w.killed = true
		_ = w.proc.Kill()
	}
	return len(b), nil
}

// twoWay runs `ferry sync --mode two-way` between a and b with the config (and record) in cfg;
// killAt > 0 kills it with SIGKILL at that progress event. It returns the exit code and stdout.
func twoWay(t *testing.T, cfg, a, b string, killAt int) (int, string, bool) {
	t.Helper()
	cmd := exec.Command("ferry", "sync", "--node", "A="+a, "--node", "B="+b, "--mode", "two-way", "--yes", "--json")
	cmd.Env = append(os.Environ(), envConfigDir+"="+cfg)
	var stdout bytes.Buffer
	stderr := &killWriter{n: killAt}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	stderr.mu.Lock()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stderr.proc = cmd.Process
	stderr.mu.Unlock()
	err := cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), false
	case errors.As(err, &ee):
		stderr.mu.Lock()
		defer stderr.mu.Unlock()
		if !stderr.killed && ee.ExitCode() != 0 {
			t.Logf("stderr: %s", stderr.buf.String())
		}
		return ee.ExitCode(), stdout.String(), stderr.killed
	}
	t.Fatal(err)
	return 0, "", false
}

func writeAt(t *testing.T, p string, data []byte, at time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, at, at); err != nil {
		t.Fatal(err)
	}
}

// readTree lists a folder's files and contents; Ferry temp files fail the test.
func readTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.Contains(d.Name(), ".ferry-") {
			t.Errorf("temp file left: %s", p)
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A two-way run killed with SIGKILL part-way, at different moments, then run again converges:
// both sides equal, every edit of either side kept (the older of a conflict under its conflict
// name), the deletion carried out, no temp file left, and a further run has nothing to do.
func TestTwoWayKilledThenRerunKeepsEveryEdit(t *testing.T) {
	t.Parallel()
	for _, killAt := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("killed at progress event %d", killAt), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg, a, b := filepath.Join(dir, "config"), filepath.Join(dir, "A"), filepath.Join(dir, "B")
			t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
			if err := os.Mkdir(b, 0o755); err != nil {
				t.Fatal(err)
			}
			writeAt(t, filepath.Join(a, "big.bin"), randomBytes(1, 24<<20), t0)
			for i := range 20 {
				writeAt(t, filepath.Join(a, "docs", fmt.Sprintf("f%02d.txt", i)), []byte(fmt.Sprintf("file %d\n", i)), t0)
			}
			if code, out, _ := twoWay(t, cfg, a, b, 0); code != 0 {
				t.Fatalf("first run: exit %d\n%s", code, out)
			}

			// Edits on both sides, then a run killed part-way.
			bigEdit := randomBytes(2, 24<<20)
			writeAt(t, filepath.Join(a, "big.bin"), bigEdit, t0.Add(time.Hour))
			writeAt(t, filepath.Join(a, "docs", "f01.txt"), []byte("A's edit of f01\n"), t0.Add(2*time.Hour))
			writeAt(t, filepath.Join(b, "docs", "f01.txt"), []byte("B's edit of f01\n"), t0.Add(time.Hour))
			writeAt(t, filepath.Join(b, "docs", "f02.txt"), []byte("B's edit of f02\n"), t0.Add(time.Hour))
			writeAt(t, filepath.Join(b, "docs", "new.txt"), []byte("new on B\n"), t0.Add(time.Hour))
			if err := os.Remove(filepath.Join(a, "docs", "f03.txt")); err != nil {
				t.Fatal(err)
			}
			code, out, killed := twoWay(t, cfg, a, b, killAt)
			if !killed && code != 0 {
				t.Fatalf("run: exit %d\n%s", code, out)
			}
			t.Logf("killed: %v (exit %d)", killed, code)

			if code, out, _ := twoWay(t, cfg, a, b, 0); code != 0 {
				t.Fatalf("rerun: exit %d\n%s", code, out)
			}
			ta, tb := readTree(t, a), readTree(t, b)
			if fmt.Sprint(ta) != fmt.Sprint(tb) {
				t.Fatalf("the sides differ after the rerun:\nA %v\nB %v", keys(ta), keys(tb))
			}
			want := map[string]string{
				"big.bin":      string(bigEdit),
				"docs/f01.txt": "A's edit of f01\n",
				"docs/f02.txt": "B's edit of f02\n",
				"docs/new.txt": "new on B\n",
				"docs/f01.conflict-B-20250601-130000.txt": "B's edit of f01\n",
			}
			for p, content := range want {
				if got, ok := ta[p]; !ok || got != content {
					t.Errorf("%s: %.40q, want %.40q", p, got, content)
				}
			}
			if _, ok := ta["docs/f03.txt"]; ok {
				t.Error("docs/f03.txt, deleted on A, came back")
			}
			if code, out, _ := twoWay(t, cfg, a, b, 0); code != 0 || !strings.Contains(out, `"actions": 0`) {
				t.Fatalf("a further run: exit %d, want nothing to do\n%s", code, out)
			}
		})
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
