package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/internal/testlong"
	"github.com/ferrysync/ferry/backend/inventory"
)

// crashCase is a mirror into an empty target that is killed, then run again to its end.
type crashCase struct {
	small     int   // small files, in nested folders
	large     int   // large files
	largeSize int64 // bytes each
	// kills are the moments the runs are killed, one run each: the share of the whole mirror's
	// actions (the first run's) done by then, this run's and the killed ones' before it.
	kills []float64
}

// ferry sync is killed with SIGKILL at moments taken from its own progress events (once it
// started, and once a share of the mirror is done), one run after the other, then run to its
// end: the target then equals the source, every file's content and date and every folder's
// date (the root's included), no temp file is left, and a plan has nothing more to do.
func TestKillAndRerun(t *testing.T) {
	t.Parallel()
	killAndRerun(t, crashCase{small: 1500, large: 3, largeSize: 8 << 20, kills: []float64{0, 0.3, 0.6}})
}

// TestKillAndRerunLarge is TestKillAndRerun with 5,000 small files, 3 files of 100 MB and six
// kills; it runs when FERRY_TEST_LONG is set (make test-long).
func TestKillAndRerunLarge(t *testing.T) {
	testlong.Need(t)
	killAndRerun(t, crashCase{small: 5000, large: 3, largeSize: 100e6, kills: []float64{0, 0.15, 0.3, 0.45, 0.6, 0.75}})
}

// killTries is how many times the kills start over, from an empty target, when a run ended
// before its kill could land: the test reads the events later than ferry sync writes them, and
// a busy machine may let a run finish meanwhile.
const killTries = 3

func killAndRerun(t *testing.T, c crashCase) {
	src := filepath.Join(t.TempDir(), "src")
	crashTree(t, src, c)
	var dst, config string
	var args []string
	for try := 1; ; try++ {
		dst, config = filepath.Join(t.TempDir(), "dst"), filepath.Join(t.TempDir(), "config")
		// A temp file a run killed earlier left in the target, beside a file it was replacing.
		put(t, filepath.Join(dst, "d00", "e00", ".f0000.txt.ferry-stale1.tmp"), bytes.Repeat([]byte("x"), 1<<20), tOld)
		args = []string{"sync", "--node", "A=" + src, "--node", "B=" + dst, "--mode", "mirror", "--yes", "--json"}
		if killRuns(t, c, config, dst, args) {
			break
		}
		if try == killTries {
			t.Fatalf("in %d tries, a run ended each time before its kill landed", killTries)
		}
	}
	start := time.Now()
	cmd := exec.Command("ferry", args...)
	cmd.Env = append(os.Environ(), envConfigDir+"="+config)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the last run: %v\nstdout %s\nstderr %s", err, out, tail(stderr.String()))
	}
	t.Logf("the last run: %s", time.Since(start).Round(time.Millisecond))
	sameTrees(t, src, dst)
	if n := countFiles(t, dst, true); n != 0 {
		t.Fatalf("%d temp files left in the target", n)
	}
	plan := exec.Command("ferry", "plan", "--node", "A="+src, "--node", "B="+dst, "--mode", "mirror")
	plan.Env = cmd.Env
	if out, err := plan.CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "Plan: 0 actions") {
		t.Fatalf("a plan after the runs: %v\n%s", err, out)
	}
}

// killRuns runs ferry sync once per kill of c, each killed at its moment; false when a run
// ended before its kill landed.
func killRuns(t *testing.T, c crashCase, config, dst string, args []string) bool {
	t.Helper()
	whole := 0 // the first run's actions
	for i, share := range c.kills {
		start := time.Now()
		done, total, killed := killedRun(t, config, args, share, &whole)
		if !killed {
			t.Logf("run %d ended (%d of its %d actions done) before its kill at %.0f %% of the mirror landed: starting over",
				i+1, done, total, 100*share)
			return false
		}
		t.Logf("run %d killed after %d of its %d actions (%.0f %% of the mirror asked), %s; the target holds %d files, %d temp files",
			i+1, done, total, 100*share, time.Since(start).Round(time.Millisecond), countFiles(t, dst, false), countFiles(t, dst, true))
	}
	return true
}

// eventHead reads an event's type and counts from the start of its JSON line.
var eventHead = regexp.MustCompile(`^\{"type":"([a-z_]+)","synchronization":\{.*?"progress":\{[^}]*?"total_actions":(\d+),"finished_actions":(\d+)`)

// killedRun runs ferry sync and kills it once its progress events say that share of the whole
// mirror's actions are done, those of the runs before included (at its start when they are).
// whole is the first run's count of actions, set by the first run. It returns the actions
// done and planned in this run as last seen, and whether the kill landed: not when the run
// ended well before.
func killedRun(t *testing.T, config string, args []string, share float64, whole *int) (done, total int, landed bool) {
	t.Helper()
	cmd := exec.Command("ferry", args...)
	cmd.Env = append(os.Environ(), envConfigDir+"="+config)
	events, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var last strings.Builder
	killed, ended, need := false, false, 0
	sc := bufio.NewScanner(events)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		// Only the head of an event is read: decoding its whole list of groups is slow enough
		// (under the race detector) to fill the pipe, and a run whose reader lags merges its
		// progress into few events, the first of them too late to kill it.
		head := sc.Bytes()[:min(len(sc.Bytes()), 1024)]
		m := eventHead.FindSubmatch(head)
		if m == nil {
			last.Reset()
			last.Write(sc.Bytes()) // a message, not an event
			continue
		}
		var e struct {
			Type string
			Sync struct{ Progress struct{ Total, Finished int } }
		}
		e.Type = string(m[1])
		e.Sync.Progress.Total, _ = strconv.Atoi(string(m[2]))
		e.Sync.Progress.Finished, _ = strconv.Atoi(string(m[3]))
		p := e.Sync.Progress
		done, total = p.Finished, p.Total
		ended = ended || e.Type == "ended"
		if e.Type == "started" {
			if *whole == 0 {
				*whole = p.Total
			}
			// This run's actions are what the runs before left of the mirror.
			need = int(share*float64(*whole)) - (*whole - p.Total)
		}
		if !killed && e.Type != "ended" && p.Finished >= need {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if err == nil && ended && done == total {
		return done, total, false
	}
	var ee *exec.ExitError
	if !killed || !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("ferry sync was not killed at %.0f %% of the mirror (%d of its %d actions done): %v; last line %s",
			100*share, done, total, err, last.String())
	}
	return done, total, true
}

// crashTree writes c's source: small files three folders deep, large ones among them, and
// distinct dates for every file and folder, the root's included.
func crashTree(t *testing.T, root string, c crashCase) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	at := func(i int) time.Time { return tOld.Add(time.Duration(i) * 1_234_567_891) }
	for i := range c.small {
		p := filepath.Join(root, fmt.Sprintf("d%02d", i%20), fmt.Sprintf("e%02d", i/20%10), fmt.Sprintf("f%04d.txt", i))
		data := make([]byte, 1+rng.IntN(4000))
		for j := range data {
			data[j] = byte('a' + rng.IntN(26))
		}
		put(t, p, data, at(i))
	}
	for i := range c.large {
		f, err := os.Create(filepath.Join(root, fmt.Sprintf("d%02d", 7*i%20), fmt.Sprintf("large-%d.bin", i)))
		if err != nil {
			t.Fatal(err)
		}
		var seed [32]byte
		seed[0] = byte(i)
		if _, err := f.ReadFrom(io.LimitReader(rand.NewChaCha8(seed), c.largeSize)); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(f.Name(), at(-i-1), at(-i-1)); err != nil {
			t.Fatal(err)
		}
	}
	// Folders last, deepest first: writing in them changed their dates.
	var dirs []string
	if err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chtimes(dirs[i], at(-100-i), at(-100-i)); err != nil {
			t.Fatal(err)
		}
	}
}

// countFiles counts the files below dir: Ferry's temp files, or the others.
func countFiles(t *testing.T, dir string, temps bool) int {
	t.Helper()
	n := 0
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && inventory.IsTempName(d.Name()) == temps {
			n++
		}
		return nil
	})
	return n
}

// tail is the end of a long output.
func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}
