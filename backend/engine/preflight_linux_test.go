package engine_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/internal/testfs"

	"golang.org/x/sys/unix"

	"github.com/ferrysync/ferry/backend/engine"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/transfer"
)

// callNames matches the system call names and Go internals that must never reach people.
var callNames = regexp.MustCompile(`\b(openat|mkdirat|removeat|renameat2?|unlinkat|linkat|fstatat|statx|lstat|fstat|copy_file_range|sendfile|utimensat|futimens|fsync|syncfs|fchmod|ioctl|errno|\*fs\.PathError|\*os\.\w+Error)\b`)

func checkWords(t *testing.T, err error) {
	t.Helper()
	if m := callNames.FindString(err.Error()); m != "" {
		t.Errorf("the error names %q: %v", m, err)
	}
}

// writeSized writes n pseudo-random bytes at p.
func writeSized(t *testing.T, p string, seed byte, n int) {
	t.Helper()
	b := bytes.Repeat([]byte{seed, seed + 1, seed + 2, 0x5a, seed ^ 0xff}, n/5+1)[:n]
	writeFile(t, p, string(b), tRoots)
}

// fill writes a file at p until its file system has no space left.
func fill(t *testing.T, p string) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// temps lists Ferry's temp files below root.
func temps(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && inventory.IsTempName(d.Name()) {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func localSync(t *testing.T, p *plan.Plan, rec *recorder, result func(engine.TargetResult)) (*engine.Outcome, error) {
	t.Helper()
	o := engine.NewLocalOrchestrator("s1", "me")
	defer o.Close()
	return engine.Synchronize(t.Context(), engine.Run{Plan: p, Self: "me", Owner: self, Orchestrator: o, Start: true,
		Workers: 1, Status: rec.status, Event: rec.event, Result: result})
}

// checkRefused checks that a run was refused before it started.
func checkRefused(t *testing.T, out *engine.Outcome, rec *recorder) {
	t.Helper()
	if out != nil {
		t.Fatalf("outcome %+v, want none", out)
	}
	if rec.count(engine.EventStarted) != 0 || len(rec.statuses) != 1 || rec.statuses[0] != protocol.SynchronizationError {
		t.Fatalf("started %d times, statuses %v", rec.count(engine.EventStarted), rec.statuses)
	}
}

// A plan writing more than the target's free space is refused before anything changes, with
// the folder, what it has and what the run needs in words.
func TestSynchronizeRefusesFullTarget(t *testing.T) {
	a := t.TempDir()
	b := testfs.Tmpfs(t, 2<<20)
	for i := range 3 {
		writeSized(t, filepath.Join(a, fmt.Sprintf("f%d.bin", i)), byte(i), 1<<20)
	}
	writeFile(t, filepath.Join(b, "stale.txt"), "stale", tRoots)
	p := planMirror(t, a, b)
	before := snapshot(t, b)
	rec := &recorder{}
	out, err := localSync(t, p, rec, nil)
	checkRefused(t, out, rec)
	var te *engine.TargetError
	if !errors.As(err, &te) || !errors.Is(err, engine.ErrNoSpace) || te.Files {
		t.Fatalf("error %v, want a TargetError for the space", err)
	}
	if te.Need < 3<<20-64<<10 || te.Need > 3<<20 || te.Free > 2<<20 || te.Free < 1<<20 {
		t.Errorf("need %d, free %d", te.Need, te.Free)
	}
	want := fmt.Sprintf("the folder %s has 2.0 MiB free and this synchronization writes 3.0 MiB there: nothing was changed; free some space or choose another folder", b)
	if err.Error() != want {
		t.Errorf("error\n %q\nwant\n %q", err, want)
	}
	checkUntouched(t, map[string]map[string]string{"b": before}, map[string]string{"b": b})

	// A plan that fits but leaves no margin says so.
	if err := os.Remove(filepath.Join(a, "f2.bin")); err != nil {
		t.Fatal(err)
	}
	_, err = localSync(t, planMirror(t, a, b), &recorder{}, nil)
	want = fmt.Sprintf("the folder %s has 2.0 MiB free and this synchronization writes 2.0 MiB there, which would leave less than the 1.0 MiB kept free", b)
	if !errors.Is(err, engine.ErrNoSpace) || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error\n %q\nwant\n %q…", err, want)
	}
	writeSized(t, filepath.Join(a, "f2.bin"), 2, 1<<20)

	// Apply refuses it alike.
	if rep := engine.Apply(t.Context(), p, 2); len(rep.Errors) != 1 || !errors.Is(rep.Errors[0], engine.ErrNoSpace) || rep.Done != 0 {
		t.Fatalf("apply: %+v", rep)
	}
	checkUntouched(t, map[string]map[string]string{"b": before}, map[string]string{"b": b})
}

// A plan creating more files than the target has room for is refused alike.
func TestSynchronizeRefusesTargetOutOfFiles(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := unix.Mount("tmpfs", b, "tmpfs", 0, "size=4m,nr_inodes=16"); err != nil {
		t.Fatalf("mount a tmpfs on %s (these tests need root): %v", b, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(b, 0); err != nil {
			t.Errorf("unmount %s: %v", b, err)
		}
	})
	for i := range 20 {
		writeFile(t, filepath.Join(a, fmt.Sprintf("f%02d.txt", i)), "small", tRoots)
	}
	before := snapshot(t, b)
	rec := &recorder{}
	out, err := localSync(t, planMirror(t, a, b), rec, nil)
	checkRefused(t, out, rec)
	var te *engine.TargetError
	if !errors.As(err, &te) || !errors.Is(err, engine.ErrNoSpace) || !te.Files || te.Need != 20 {
		t.Fatalf("error %v, want a TargetError for 20 files", err)
	}
	want := fmt.Sprintf("the folder %s has room for %d more files and folders and this synchronization creates 20 there", b, te.Free)
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error\n %q\nwant\n %q…", err, want)
	}
	checkUntouched(t, map[string]map[string]string{"b": before}, map[string]string{"b": b})
}

// What the plan frees on the target counts: replacing files with others of the same size, or
// deleting as much as it copies, fits a nearly full target; keeping the replaced files as
// versions does not.
func TestPreflightCountsWhatThePlanFrees(t *testing.T) {
	a := t.TempDir()
	b := testfs.Tmpfs(t, 6<<20)
	writeSized(t, filepath.Join(a, "same.bin"), 1, 1<<20)
	writeSized(t, filepath.Join(b, "same.bin"), 2, 1<<20)
	chtimes(t, filepath.Join(b, "same.bin"), tRoots.Add(-time.Hour))
	writeSized(t, filepath.Join(a, "new.bin"), 3, 1<<20)
	writeSized(t, filepath.Join(b, "old.bin"), 4, 1<<20)
	// 2.5 MiB free: the new file, one file being replaced and the margin, less the file deleted.
	fill(t, filepath.Join(b, "other"))
	if err := os.Truncate(filepath.Join(b, "other"), 6<<20-2<<20-5<<19); err != nil {
		t.Fatal(err)
	}
	p := planMirror(t, a, b)
	mine := func(string) bool { return true }
	check := func(p *plan.Plan) error {
		roots := transfer.NewRoots()
		defer roots.Close()
		if err := engine.OpenRoots(p, roots, mine); err != nil {
			t.Fatal(err)
		}
		return engine.Preflight(p, roots, mine, 1)
	}
	if err := check(p); err != nil {
		t.Fatalf("refused: %v", err)
	}
	kept := *p
	kept.Versions = &plan.Versions{Dir: ".versions", Stamp: "2024-05-01"}
	if err := check(&kept); !errors.Is(err, engine.ErrNoSpace) {
		t.Fatalf("with versions kept: %v, want ErrNoSpace", err)
	}
	// Another member's full folder is its own to check.
	if err := func() error {
		roots := transfer.NewRoots()
		defer roots.Close()
		notB := func(node string) bool { return node != "B" }
		return engine.Preflight(&kept, roots, notB, 1)
	}(); err != nil {
		t.Fatalf("another member's folder checked: %v", err)
	}
}

// Small files replaced are staged a batch at a time, each holding its old content beside the
// new until the batch is put in place: the space check counts them, so a target with room for
// one replacement at a time but not for a batch is refused before anything changes, and one
// with room for the batch is synchronized.
func TestPreflightCountsStagedReplacements(t *testing.T) {
	for _, tc := range []struct {
		extra int64 // free space beyond the margin and one file
		ok    bool
	}{{1 << 20, false}, {6 << 20, true}} {
		a := t.TempDir()
		disk := testfs.Tmpfs(t, 16<<20)
		b := filepath.Join(disk, "dst") // the rest of the disk is filled beside it
		for i := range 20 {
			name := fmt.Sprintf("f%02d.bin", i)
			writeSized(t, filepath.Join(a, name), byte(i), 256<<10)
			writeSized(t, filepath.Join(b, name), byte(i+100), 256<<10)
			chtimes(t, filepath.Join(b, name), tRoots.Add(-time.Hour))
		}
		fill(t, filepath.Join(disk, "other"))
		var st unix.Statfs_t
		if err := unix.Statfs(b, &st); err != nil {
			t.Fatal(err)
		}
		// 20 replaced files of 256 KiB: 5 MiB staged at once with one worker.
		free := 256<<10 + 1<<20 + tc.extra
		fi, err := os.Stat(filepath.Join(disk, "other"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(filepath.Join(disk, "other"), fi.Size()+int64(st.Bavail)*st.Bsize-free); err != nil {
			t.Fatal(err)
		}
		p := planMirror(t, a, b)
		rec := &recorder{}
		out, err := localSync(t, p, rec, nil)
		if !tc.ok {
			if !errors.Is(err, engine.ErrNoSpace) {
				t.Fatalf("%d bytes free: %v, want ErrNoSpace", free, err)
			}
			checkRefused(t, out, rec)
			continue
		}
		if err != nil || out == nil || len(out.Errors) > 0 || out.Sync.Progress.ErrorActions != 0 {
			t.Fatalf("%d bytes free: %+v, %v", free, out, err)
		}
		for i := range 20 {
			if got, want := readFile(t, filepath.Join(b, fmt.Sprintf("f%02d.bin", i))), readFile(t, filepath.Join(a, fmt.Sprintf("f%02d.bin", i))); got != want {
				t.Fatalf("f%02d.bin not replaced", i)
			}
		}
	}
}

// A read-only target is refused before anything changes, saying why; a read-only source is fine.
func TestSynchronizeRefusesReadOnlyTarget(t *testing.T) {
	a := t.TempDir()
	b := testfs.Tmpfs(t, 1<<20)
	writeFile(t, filepath.Join(a, "new.txt"), "new", tRoots)
	writeFile(t, filepath.Join(b, "stale.txt"), "stale", tRoots)
	testfs.ReadOnly(t, b)
	p := planMirror(t, a, b)
	before := snapshot(t, b)
	rec := &recorder{}
	out, err := localSync(t, p, rec, nil)
	checkRefused(t, out, rec)
	if !errors.Is(err, engine.ErrNotWritable) || !errors.Is(err, syscall.EROFS) {
		t.Fatalf("error %v, want ErrNotWritable for EROFS", err)
	}
	want := "the folder " + b + " cannot be written, the file system is read-only: nothing was changed; choose another folder or make this one writable"
	if err.Error() != want {
		t.Errorf("error\n %q\nwant\n %q", err, want)
	}
	checkUntouched(t, map[string]map[string]string{"b": before}, map[string]string{"b": b})

	c := t.TempDir()
	out, err = localSync(t, planMirror(t, b, c), &recorder{}, nil)
	if err != nil || out.Sync.EndStatus != protocol.EndRegular || len(out.Errors) != 0 {
		t.Fatalf("from a read-only source: %+v, %v", out, err)
	}
	if readFile(t, filepath.Join(c, "stale.txt")) != "stale" {
		t.Fatal("not copied from the read-only source")
	}
}

// A target filled by another writer during the run stops the run at the first "no space left":
// one failed action, the run aborted, the rest not run, no temp file left, the files written
// complete, and the error in words.
func TestSynchronizeStopsAtFirstNoSpace(t *testing.T) {
	a := t.TempDir()
	m := testfs.Tmpfs(t, 8<<20)
	b := filepath.Join(m, "b")
	const n = 6
	for i := range n {
		writeSized(t, filepath.Join(a, fmt.Sprintf("f%d.bin", i)), byte(i), 1<<20)
	}
	writeFile(t, filepath.Join(b, "kept.txt"), "kept", tRoots)
	writeFile(t, filepath.Join(a, "kept.txt"), "kept", tRoots)
	p := planMirror(t, a, b)

	var (
		mu       sync.Mutex
		done     int
		failures []error
	)
	rec := &recorder{}
	out, err := localSync(t, p, rec, func(r engine.TargetResult) {
		mu.Lock()
		defer mu.Unlock()
		if r.Err != nil {
			failures = append(failures, r.Err)
			return
		}
		if r.Op == plan.OpCopy {
			if done++; done == 1 { // one worker: the next copy starts after this
				fill(t, filepath.Join(m, "filler"))
			}
		}
	})
	var se *engine.StopError
	if !errors.As(err, &se) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("error %v, want a StopError for ENOSPC", err)
	}
	if out == nil || out.Sync.EndStatus != protocol.EndAborted || out.Sync.Progress.ErrorActions != 1 || len(out.Errors) != 0 {
		t.Fatalf("outcome %+v", out)
	}
	if done != 1 || len(failures) != 1 || out.Sync.Progress.FinishedActions != 2 {
		t.Fatalf("%d copies done, failures %v, progress %+v", done, failures, out.Sync.Progress)
	}
	t.Log(err)
	checkWords(t, err)
	if !strings.Contains(err.Error(), ": no space left on the device; the synchronization stopped there") {
		t.Errorf("error %q", err)
	}
	if left := temps(t, m); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
	entries, err := os.ReadDir(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("target holds %v, want kept.txt and one copy", entries)
	}
	for _, e := range entries {
		if got, want := readFile(t, filepath.Join(b, e.Name())), readFile(t, filepath.Join(a, e.Name())); got != want {
			t.Errorf("%s: %d bytes, want %d", e.Name(), len(got), len(want))
		}
	}
}

// A target remounted read-only during the run stops it at its first write alike.
func TestSynchronizeStopsAtReadOnlyTarget(t *testing.T) {
	a := t.TempDir()
	b := testfs.Tmpfs(t, 2<<20)
	for i := range 5 {
		writeFile(t, filepath.Join(a, fmt.Sprintf("f%d.txt", i)), "new", tRoots)
	}
	p := planMirror(t, a, b)
	var (
		mu       sync.Mutex
		done     int
		failures []error
	)
	out, err := localSync(t, p, &recorder{}, func(r engine.TargetResult) {
		mu.Lock()
		defer mu.Unlock()
		if r.Err != nil {
			failures = append(failures, r.Err)
		} else if done++; done == 1 {
			testfs.ReadOnly(t, b)
		}
	})
	if !errors.As(err, new(*engine.StopError)) || !errors.Is(err, syscall.EROFS) {
		t.Fatalf("error %v, want a StopError for EROFS", err)
	}
	if out.Sync.EndStatus != protocol.EndAborted || len(failures) != 1 || done != 1 {
		t.Fatalf("end %q, %d done, failures %v", out.Sync.EndStatus, done, failures)
	}
	t.Log(err)
	checkWords(t, err)
	if !strings.Contains(err.Error(), "the file system is read-only; the synchronization stopped there") {
		t.Errorf("error %q", err)
	}
}

// In a run of several members each checks the folders it writes in: a member whose target is
// read-only aborts the run as soon as it starts, writes nothing, and says why; the member that
// started it sees it aborted.
func TestSynchronizeRelayedMemberRefuses(t *testing.T) {
	r := newRelayed(t)
	a, b := r.dirs["A"], r.dirs["B"]
	testfs.TmpfsOn(t, b, 1<<20)
	// Only a delete on B: A sends nothing, so its exchange has nothing to wait for at the end.
	writeFile(t, filepath.Join(a, "same.txt"), "same", tRoots)
	writeFile(t, filepath.Join(b, "same.txt"), "same", tRoots)
	writeFile(t, filepath.Join(b, "stale.txt"), "stale", tRoots)
	testfs.ReadOnly(t, b)
	p := planMirror(t, a, b)
	before := snapshot(t, b)

	type result struct {
		out *engine.Outcome
		err error
	}
	onB := make(chan result, 1)
	go func() {
		out, err := r.member(t, r.b, p, nil, false)
		onB <- result{out, err}
	}()
	outA, err := r.member(t, r.a, p, nil, true)
	if err != nil || outA.Sync.EndStatus != protocol.EndAborted {
		t.Fatalf("starting member: %+v, %v", outA, err)
	}
	resB := <-onB
	if !errors.Is(resB.err, engine.ErrNotWritable) || !errors.Is(resB.err, syscall.EROFS) || !strings.Contains(resB.err.Error(), b) {
		t.Fatalf("refusing member: %v", resB.err)
	}
	if resB.out == nil || resB.out.Sync.EndStatus != protocol.EndAborted || resB.out.Sync.Progress.ErrorActions != 0 {
		t.Fatalf("refusing member's outcome %+v", resB.out)
	}
	checkUntouched(t, map[string]map[string]string{"b": before}, map[string]string{"b": b})
}

// A member whose target fills up while it receives relayed copies stops the run of several
// members at its first "no space left" (the files the mirror deletes there are hard-linked
// elsewhere, so deleting them frees nothing the check counted on): one error on that member,
// the run aborted on both, no temp file left.
func TestSynchronizeRelayedStopsAtNoSpace(t *testing.T) {
	r := newRelayed(t)
	a, b := r.dirs["A"], r.dirs["B"]
	testfs.TmpfsOn(t, b, 8<<20)
	const size = 3 << 19
	for i := range 3 {
		old := filepath.Join(b, fmt.Sprintf("old%d.bin", i))
		writeSized(t, old, byte(i), size)
		if err := os.MkdirAll(filepath.Join(b, ".links"), 0o755); err != nil { // hidden: not inventoried
			t.Fatal(err)
		}
		if err := os.Link(old, filepath.Join(b, ".links", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		writeSized(t, filepath.Join(a, fmt.Sprintf("new%d.bin", i)), byte(10+i), size)
	}
	p := planMirror(t, a, b)

	type result struct {
		out *engine.Outcome
		err error
	}
	onB := make(chan result, 1)
	go func() {
		out, err := r.member(t, r.b, p, nil, false)
		onB <- result{out, err}
	}()
	outA, err := r.member(t, r.a, p, nil, true)
	if err != nil || outA.Sync.EndStatus != protocol.EndAborted {
		t.Fatalf("starting member: %+v, %v", outA, err)
	}
	resB := <-onB
	if !errors.As(resB.err, new(*engine.StopError)) || !errors.Is(resB.err, syscall.ENOSPC) {
		t.Fatalf("receiving member: %v", resB.err)
	}
	t.Log(resB.err)
	checkWords(t, resB.err)
	if resB.out == nil || resB.out.Sync.EndStatus != protocol.EndAborted || resB.out.Sync.Progress.ErrorActions != 1 || len(resB.out.Errors) != 0 {
		t.Fatalf("receiving member's outcome %+v", resB.out)
	}
	if left := temps(t, b); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
	entries, err := os.ReadDir(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "new") && readFile(t, filepath.Join(b, e.Name())) != readFile(t, filepath.Join(a, e.Name())) {
			t.Errorf("%s is not complete", e.Name())
		}
	}
}

// Folders on one file system share its free space: what the plan writes in each adds up, and
// the message names them all.
func TestPreflightFoldersSharingADisk(t *testing.T) {
	m := testfs.Tmpfs(t, 4<<20)
	one, two := filepath.Join(m, "one"), filepath.Join(m, "two")
	for _, d := range []string{one, two} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	target := func(node, dir string) plan.Endpoint {
		return plan.Endpoint{Location: plan.At(&plan.Place{Part: node + "1", Node: node, Dir: dir}, "/f.bin")}
	}
	source := target("A", t.TempDir())
	entry := inventory.Entry{Kind: inventory.File, Size: 3 << 19}.At("/f.bin")
	source.Entry = &entry
	p := &plan.Plan{Groups: []plan.Group{{Num: 1, Op: plan.OpCopy, Phase: plan.PhaseCopy,
		Source: &source, Targets: []plan.Endpoint{target("B", one), target("C", two)}}}}
	roots := transfer.NewRoots()
	defer roots.Close()
	all := func(string) bool { return true }
	err := engine.Preflight(p, roots, all, 1)
	var te *engine.TargetError
	if !errors.As(err, &te) || te.Need != 3<<20 {
		t.Fatalf("error %v, want a TargetError for 3 MiB", err)
	}
	want := fmt.Sprintf("the folders %s and %s have 4.0 MiB free and this synchronization writes 3.0 MiB there, which would leave less than", one, two)
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error\n %q\nwant\n %q…", err, want)
	}
	// Each alone fits.
	onlyB := func(node string) bool { return node == "B" }
	if err := engine.Preflight(p, roots, onlyB, 1); err != nil {
		t.Fatalf("one folder: %v", err)
	}
	// Relayed from another member, the content waits in a temp file beside the first target
	// while it is written to both: 1.5 MiB more.
	notA := func(node string) bool { return node != "A" }
	if err := engine.Preflight(p, roots, notA, 1); !errors.As(err, &te) || te.Need != 9<<19 {
		t.Fatalf("relayed: %v, want a TargetError for 4.5 MiB", err)
	}
}
