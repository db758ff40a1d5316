package main

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// prompted is a `ferry sync` waiting at its confirmation: it has inventoried, planned and
// locked its data source folders, and changes nothing until it reads the answer.
type prompted struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout bytes.Buffer
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan error
}

func (p *prompted) errText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// promptedStderr appends to a buffer under a lock (the process writes while the test reads).
type promptedStderr struct{ p *prompted }

func (w promptedStderr) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.stderr.Write(b)
}

// startPrompted starts `ferry sync` with args (no --yes) and returns once it asks.
func startPrompted(t *testing.T, config string, args ...string) *prompted {
	t.Helper()
	p := &prompted{done: make(chan error, 1)}
	p.cmd = exec.Command("ferry", append([]string{"sync"}, args...)...)
	p.cmd.Env = append(os.Environ(), envConfigDir+"="+config)
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = promptedStderr{p}
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		_ = <-p.done // killed, or ended and checked by the test
	})
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(p.errText(), "Synchronize? [y/N]") {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("ferry sync ended before asking: %v\nstdout %s\nstderr %s", err, p.stdout.String(), p.errText())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("ferry sync did not ask within a minute\nstderr %s", p.errText())
		}
	}
	return p
}

// answer writes the answer and returns the exit code.
func (p *prompted) answer(t *testing.T, a string) int {
	t.Helper()
	if _, err := io.WriteString(p.stdin, a+"\n"); err != nil {
		t.Fatal(err)
	}
	p.stdin.Close()
	select {
	case err := <-p.done:
		p.done <- err
		return exitCode(t, err)
	case <-time.After(time.Minute):
		t.Fatalf("ferry sync did not end within a minute of the answer\nstderr %s", p.errText())
	}
	return -1
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatal(err)
	return -1
}

// runFerry runs ferry with args to its end.
func runFerry(t *testing.T, config string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command("ferry", args...)
	cmd.Env = append(os.Environ(), envConfigDir+"="+config)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	return exitCode(t, cmd.Run()), out.String(), errb.String()
}

// contents maps every file below dir to its content and every folder to "dir".
func contents(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.IsDir():
			m[rel] = "dir"
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			m[rel] = string(b)
		default:
			m[rel] = d.Type().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameContents(t *testing.T, what string, want, got map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: %s appeared", what, k)
		}
	}
}

// rootsFixture is a mirror A → B with a copy, an update and a delete to do, and a folder
// outside both holding files of the same names, sizes and dates, which no run may read,
// write or delete.
func rootsFixture(t *testing.T) (a, b, outside string) {
	base := t.TempDir()
	a, b, outside = filepath.Join(base, "A"), filepath.Join(base, "B"), filepath.Join(base, "outside")
	put(t, filepath.Join(a, "new.txt"), []byte("from A 1"), tOld)
	put(t, filepath.Join(a, "changed.txt"), []byte("from A 2"), tNew)
	put(t, filepath.Join(b, "changed.txt"), []byte("on B 2"), tOld)
	put(t, filepath.Join(b, "stale.txt"), []byte("on B 3"), tOld)
	for _, name := range []string{"new.txt", "changed.txt", "stale.txt"} {
		put(t, filepath.Join(outside, name), []byte("MARKER!!"), tNew)
	}
	put(t, filepath.Join(outside, "new.txt"), []byte("OUTSIDE1"), tOld) // A's size and date
	put(t, filepath.Join(outside, "changed.txt"), []byte("OUTSIDE2"), tNew)
	return a, b, outside
}

// A data source folder replaced between the inventory and the synchronization (here while
// ferry sync asks for confirmation), by a symbolic link to another folder or by another
// folder: the run ends with exit 2 naming it, and nothing is read, written or deleted outside
// the folder inventoried, nor in the moved folder itself.
func TestSyncRootReplacedBeforeApply(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		target bool // replace B, else A
		link   bool // by a symbolic link to outside, else by a new folder
	}{
		{"target by a link", true, true},
		{"target by a folder", true, false},
		{"source by a link", false, true},
		{"source by a folder", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b, outside := rootsFixture(t)
			config := t.TempDir()
			p := startPrompted(t, config, "--node", "A="+a, "--node", "B="+b, "--mode", "mirror")
			root := a
			if tc.target {
				root = b
			}
			before := map[string]map[string]string{"A": contents(t, a), "B": contents(t, b), "outside": contents(t, outside)}
			if err := os.Rename(root, root+".moved"); err != nil {
				t.Fatal(err)
			}
			if tc.link {
				if err := os.Symlink(outside, root); err != nil {
					t.Fatal(err)
				}
			} else if err := os.CopyFS(root, os.DirFS(outside)); err != nil {
				t.Fatal(err)
			}
			if code := p.answer(t, "y"); code != exitUsage {
				t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", code, exitUsage, p.stdout.String(), p.errText())
			}
			want := "data source folder " + root + " was replaced since it was inventoried: nothing was changed there"
			if !strings.Contains(p.errText(), want) {
				t.Fatalf("stderr %q does not say %q", p.errText(), want)
			}
			sameContents(t, "outside", before["outside"], contents(t, outside))
			moved, other := "A", b
			if tc.target {
				moved, other = "B", a
			}
			sameContents(t, "the folder moved away", before[moved], contents(t, root+".moved"))
			otherName := map[bool]string{true: "A", false: "B"}[tc.target]
			sameContents(t, "the other folder", before[otherName], contents(t, other))
			if !tc.link {
				sameContents(t, "the new folder", before["outside"], contents(t, root))
			}
		})
	}
}

// A second run on a folder a run holds fails at once with exit 2 naming the folder; the first
// run is unaffected and releases its locks when it ends, or when it is killed.
func TestSyncRootLocked(t *testing.T) {
	t.Parallel()
	a, b, _ := rootsFixture(t)
	config := t.TempDir()
	first := startPrompted(t, config, "--node", "A="+a, "--node", "B="+b, "--mode", "mirror")

	other := filepath.Join(t.TempDir(), "C")
	put(t, filepath.Join(other, "c.txt"), []byte("c"), tOld)
	for _, args := range [][]string{
		{"--node", "A=" + a, "--node", "B=" + b, "--mode", "mirror"},     // the same run
		{"--node", "A=" + other, "--node", "B=" + b, "--mode", "mirror"}, // B written by both
		{"--node", "A=" + b, "--node", "B=" + other, "--mode", "mirror"}, // B read while written
	} {
		code, stdout, stderr := runFerry(t, config, append([]string{"sync", "--yes"}, args...)...)
		want := "another Ferry run is using " + b
		if code != exitUsage || !strings.Contains(stderr, want) {
			t.Fatalf("second run %v: exit %d, stderr %q; want exit %d and %q\nstdout %s", args, code, stderr, exitUsage, want, stdout)
		}
	}
	if !exists(filepath.Join(b, "stale.txt")) || exists(filepath.Join(b, "c.txt")) || exists(filepath.Join(b, "new.txt")) {
		t.Fatalf("a refused run changed B: %v", contents(t, b))
	}
	// Reading A, which the first run only reads, is allowed, and so is a plan.
	if code, _, stderr := runFerry(t, config, "sync", "--yes", "--node", "A="+a, "--node", "B="+other, "--mode", "update"); code != 0 {
		t.Fatalf("a run reading the first run's source: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runFerry(t, config, "plan", "--node", "A="+a, "--node", "B="+b, "--mode", "mirror"); code != 0 {
		t.Fatalf("ferry plan: exit %d, %s", code, stderr)
	}

	if code := first.answer(t, "y"); code != 0 {
		t.Fatalf("the first run: exit %d\nstderr %s", code, first.errText())
	}
	sameContents(t, "B after the first run", map[string]string{".": "dir", "new.txt": "from A 1", "changed.txt": "from A 2"}, contents(t, b))

	// Released at the end of the run: the next one runs.
	put(t, filepath.Join(a, "later.txt"), []byte("later"), tOld)
	if code, _, stderr := runFerry(t, config, "sync", "--yes", "--node", "A="+a, "--node", "B="+b, "--mode", "mirror"); code != 0 {
		t.Fatalf("the run after: exit %d, %s", code, stderr)
	}

	// Released when the holder is killed.
	put(t, filepath.Join(a, "last.txt"), []byte("last"), tOld)
	killed := startPrompted(t, config, "--node", "A="+a, "--node", "B="+b, "--mode", "mirror")
	if err := killed.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = <-killed.done // killed on purpose
	killed.done <- nil
	if code, _, stderr := runFerry(t, config, "sync", "--yes", "--node", "A="+a, "--node", "B="+b, "--mode", "mirror"); code != 0 {
		t.Fatalf("the run after a killed one: exit %d, %s", code, stderr)
	}
	if got := contents(t, b)["last.txt"]; got != "last" {
		t.Fatalf("last.txt = %q", got)
	}
}
