package main

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Acceptance tests of how the members of a session agree to a plan, and of two-way runs between
// three members, through real `ferry server`, `ferry host` and `ferry join` processes.

// twoWayRun runs host A and joiners B and C (--yes) in two-way over dirs, each member with its
// own configuration folder kept from run to run, and waits for every one to exit 0.
func twoWayRun(t *testing.T, e *relayEnv, cfg, dirs map[string]string, hostArgs ...string) map[string]e2eReport {
	t.Helper()
	hp, line := host(t, e.bin, e.URL(), cfg["A"], append([]string{"--node", "A=" + dirs["A"], "--mode", "two-way", "--expect-members", "3", "--trust"}, hostArgs...)...)
	procs := map[string]*memberProc{"A": hp}
	for _, code := range []string{"B", "C"} {
		procs[code] = join(t, e.bin, e.URL(), cfg[code], line, line.Password, "--node", code+"="+dirs[code], "--trust")
	}
	reports := map[string]e2eReport{}
	for code, p := range procs {
		p.mustExit(t, 0)
		reports[code] = p.report(t)
	}
	return reports
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Three members in two-way: after a first run, edits and deletions on every member, an edit
// against a deletion, and the same file edited on two members. One run brings the newest edit
// everywhere, deletes everywhere what one member deleted, keeps both edits of the conflict, and
// keeps what it replaced or deleted (--versions) on the members that lost it; a second run
// has nothing to do.
func TestRedisHostJoinThreeMembersTwoWayConverges(t *testing.T) {
	t.Parallel()
	e := newRelayEnv(t)
	dirs := map[string]string{"A": t.TempDir(), "B": t.TempDir(), "C": t.TempDir()}
	cfg := map[string]string{"A": t.TempDir(), "B": t.TempDir(), "C": t.TempDir()}
	shared := []string{"edit-a.txt", "edit-b.txt", "edit-c.txt", "del-a.txt", "del-b.txt", "del-c.txt",
		"both.txt", "edit-vs-del.txt", "dir/kept.txt", "gone/only.txt"}
	for _, d := range dirs {
		for _, name := range shared {
			put(t, filepath.Join(d, name), []byte("first version of "+name), tOld)
		}
	}
	put(t, filepath.Join(dirs["B"], "from-b.txt"), []byte("only B has this"), tOld)
	twoWayRun(t, e, cfg, dirs)
	sameTrees(t, dirs["A"], dirs["B"])
	sameTrees(t, dirs["A"], dirs["C"])

	// Between the runs, on every member.
	at := func(m int) time.Time { return tNew.Add(time.Duration(m) * time.Minute) }
	put(t, filepath.Join(dirs["A"], "edit-a.txt"), []byte("A's edit"), at(1))
	put(t, filepath.Join(dirs["B"], "edit-b.txt"), []byte("B's edit, longer"), at(2))
	put(t, filepath.Join(dirs["C"], "edit-c.txt"), []byte("C's edit, the longest"), at(3))
	for code, name := range map[string]string{"A": "del-a.txt", "B": "del-b.txt", "C": "del-c.txt"} {
		if err := os.Remove(filepath.Join(dirs[code], name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(filepath.Join(dirs["B"], "gone")); err != nil {
		t.Fatal(err)
	}
	put(t, filepath.Join(dirs["C"], "edit-vs-del.txt"), []byte("C edited what A deleted"), at(4))
	if err := os.Remove(filepath.Join(dirs["A"], "edit-vs-del.txt")); err != nil {
		t.Fatal(err)
	}
	put(t, filepath.Join(dirs["A"], "both.txt"), []byte("A's edit of both"), at(5))
	put(t, filepath.Join(dirs["B"], "both.txt"), []byte("B's newer edit of both"), at(6))
	put(t, filepath.Join(dirs["C"], "new-c/fresh.txt"), []byte("new on C"), at(7))

	reports := twoWayRun(t, e, cfg, dirs, "--versions", ".v")
	for code, r := range reports {
		if r.Status != "regular" || len(r.Errors) != 0 || r.Progress.ErrorActions != 0 {
			t.Fatalf("%s's report: %+v", code, r)
		}
	}
	if n := len(reports["A"].Plan.Rejected); n != 0 {
		t.Fatalf("the plan refused %d actions: %+v", n, reports["A"].Plan.Rejected)
	}
	for code, d := range dirs {
		for name, want := range map[string]string{
			"edit-a.txt": "A's edit", "edit-b.txt": "B's edit, longer", "edit-c.txt": "C's edit, the longest",
			"edit-vs-del.txt": "C edited what A deleted", "both.txt": "B's newer edit of both",
			"new-c/fresh.txt": "new on C", "from-b.txt": "only B has this", "dir/kept.txt": "first version of dir/kept.txt",
		} {
			if got := mustRead(t, filepath.Join(d, name)); got != want {
				t.Errorf("%s on %s: %q, want %q", name, code, got, want)
			}
		}
		for _, name := range []string{"del-a.txt", "del-b.txt", "del-c.txt", "gone"} {
			if exists(filepath.Join(d, name)) {
				t.Errorf("%s is still on %s", name, code)
			}
		}
		kept, _ := filepath.Glob(filepath.Join(d, "both.conflict-A-*.txt"))
		if len(kept) != 1 || mustRead(t, kept[0]) != "A's edit of both" {
			t.Errorf("A's edit of both.txt on %s: %v", code, kept)
		}
	}
	// What the run replaced or deleted on a member is kept there.
	for code, name := range map[string]string{"B": "del-a.txt", "C": "del-b.txt", "A": "edit-c.txt"} {
		found, _ := filepath.Glob(filepath.Join(dirs[code], ".v", "*", name))
		if len(found) != 1 {
			t.Errorf("%s kept no version of %s: %v", code, name, found)
		}
	}
	for _, code := range []string{"B", "C"} {
		sameTreesBut(t, dirs["A"], dirs[code], ".v")
	}

	// The host's record names the other members' data sources without their paths.
	records, _ := filepath.Glob(filepath.Join(cfg["A"], "state", "*.json.gz"))
	if len(records) != 1 {
		t.Fatalf("the host keeps %d two-way records, want 1", len(records))
	}
	rec := gunzip(t, records[0])
	for _, code := range []string{"B", "C"} {
		if strings.Contains(rec, dirs[code]) {
			t.Fatalf("the host's record holds %s's path: %s", code, rec)
		}
	}
	for _, code := range []string{"B", "C"} {
		if records, _ := filepath.Glob(filepath.Join(cfg[code], "state", "*")); len(records) != 0 {
			t.Fatalf("%s keeps a record: %v", code, records)
		}
	}

	again := twoWayRun(t, e, cfg, dirs, "--versions", ".v")
	for code, r := range again {
		if len(r.Plan.Actions) != 0 || r.Progress.TotalActions != 0 {
			t.Fatalf("the run after the converging one: %s's plan has %d actions: %+v", code, len(r.Plan.Actions), r.Plan.Actions)
		}
	}
	e.emptyStorage(t)
}

func gunzip(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sameTreesBut compares two trees, leaving out the top-level entry skip of each.
func sameTreesBut(t *testing.T, a, b, skip string) {
	t.Helper()
	list := func(root string) map[string]string {
		out := map[string]string{}
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if rel == skip {
				return filepath.SkipDir
			}
			if d.Type().IsRegular() {
				out[rel] = mustRead(t, p)
			} else if d.IsDir() {
				out[rel] = "/"
			}
			return nil
		})
		return out
	}
	la, lb := list(a), list(b)
	if fmt.Sprint(la) != fmt.Sprint(lb) {
		t.Fatalf("trees differ:\n%v\n%v", la, lb)
	}
}

// An empty host folder mirrored onto a full one: the default deletion limit refuses the plan
// on both members (exit 2, the message of ferry sync) and nothing changes. A joiner's own
// --max-delete refuses a plan the host allows, for both.
func TestRedisHostJoinDeletionLimit(t *testing.T) {
	t.Parallel()
	e := newRelayEnv(t)
	a, b := t.TempDir(), t.TempDir()
	for i := range 12 {
		put(t, filepath.Join(b, fmt.Sprintf("f%02d.txt", i)), []byte("on B"), tOld)
	}
	hp, line := host(t, e.bin, e.URL(), t.TempDir(), "--node", "A="+a, "--mode", "mirror", "--trust")
	jp := join(t, e.bin, e.URL(), t.TempDir(), line, line.Password, "--node", "B="+b, "--trust")
	hp.mustExit(t, exitUsage)
	jp.mustExit(t, exitUsage)
	want := "refusing to delete 12 of 12 files on B (" + b + ") while A is empty: over the deletion limit of 50% (default); nothing was changed"
	for _, p := range []*memberProc{hp, jp} {
		if !strings.Contains(p.stderr.String(), want) {
			t.Fatalf("%s's stderr lacks %q:\n%s", p.name, want, p.stderr)
		}
		if r := p.report(t); r.Status != "refused" {
			t.Fatalf("%s's report: %+v", p.name, r)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(b, "*.txt")); len(files) != 12 {
		t.Fatalf("B holds %d files, want the 12 it had", len(files))
	}

	// The host allows any deletion; the joiner allows none on its own data sources.
	put(t, filepath.Join(a, "f00.txt"), []byte("on A"), tNew)
	hp, line = host(t, e.bin, e.URL(), t.TempDir(), "--node", "A="+a, "--mode", "mirror", "--trust", "--max-delete", "100%")
	jp = join(t, e.bin, e.URL(), t.TempDir(), line, line.Password, "--node", "B="+b, "--trust", "--max-delete", "0")
	hp.mustExit(t, exitUsage)
	jp.mustExit(t, exitUsage)
	if !strings.Contains(jp.stderr.String(), "refusing to delete 11 of 12 files on B") {
		t.Fatalf("the joiner's stderr:\n%s", jp.stderr)
	}
	if !strings.Contains(hp.stderr.String(), "member B (node B) did not agree to the plan (refusing to delete 11 of 12 files on B") {
		t.Fatalf("the host's stderr:\n%s", hp.stderr)
	}
	if got := mustRead(t, filepath.Join(b, "f00.txt")); got != "on B" {
		t.Fatalf("f00.txt on B: %q", got)
	}
	if files, _ := filepath.Glob(filepath.Join(b, "*.txt")); len(files) != 12 {
		t.Fatalf("B holds %d files, want the 12 it had", len(files))
	}
}

// A joiner that answers n ends the run for every member, nothing changed anywhere; the host
// and the other joiner answered y (stdin, not a terminal, as ferry sync reads it).
func TestRedisJoinerRefusesThePlan(t *testing.T) {
	t.Parallel()
	e := newRelayEnv(t)
	dirs := map[string]string{"A": t.TempDir(), "B": t.TempDir(), "C": t.TempDir()}
	for code, d := range dirs {
		put(t, filepath.Join(d, "own-"+code+".txt"), []byte("only on "+code), tOld)
	}
	hp, line := hostInput(t, e.bin, e.URL(), t.TempDir(), strings.NewReader("y\n"),
		"--node", "A="+dirs["A"], "--mode", "two-way", "--expect-members", "3", "--trust")
	jb := joinInput(t, e.bin, e.URL(), t.TempDir(), line, line.Password, strings.NewReader("n\n"), "--node", "B="+dirs["B"], "--trust")
	jc := joinInput(t, e.bin, e.URL(), t.TempDir(), line, line.Password, strings.NewReader("y\n"), "--node", "C="+dirs["C"], "--trust")
	for _, p := range []*memberProc{hp, jb, jc} {
		p.mustExit(t, exitAborted)
		if !strings.Contains(p.stderr.String(), "Synchronize? [y/N]") {
			t.Fatalf("%s was not asked:\n%s", p.name, p.stderr)
		}
	}
	if !strings.Contains(jb.stderr.String(), "not confirmed: nothing changed") {
		t.Fatalf("B's stderr:\n%s", jb.stderr)
	}
	for _, p := range []*memberProc{hp, jc} {
		if !regexp.MustCompile(`member [BC] \(node B\) did not agree to the plan \(not confirmed`).MatchString(p.stderr.String()) {
			t.Fatalf("%s's stderr:\n%s", p.name, p.stderr)
		}
	}
	for code, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil || len(entries) != 1 {
			t.Fatalf("%s holds %v (%v), want only its own file", code, entries, err)
		}
	}
	e.emptyStorage(t)
}

// hostText starts `ferry host` without --json and reads the session and password it prints.
func hostText(t *testing.T, bin, url, config string, args ...string) (*memberProc, hostLine) {
	t.Helper()
	p := startMember(t, bin, "ferry host (text)", config, append([]string{"host", "--server", url}, args...)...)
	re := regexp.MustCompile(`Session: (\S+)\nPassword: (\S+)\n`)
	out := p.stdout.Await(t, "session and password", e2eWait, re.MatchString)
	m := re.FindStringSubmatch(out)
	return p, hostLine{Session: m[1], Password: m[2]}
}

// The plan is a summary by default (counts per data source, the deletions), and the list of
// actions with --verbose: the host's every action, a joiner's those on its nodes.
func TestRedisHostJoinPlanSummary(t *testing.T) {
	t.Parallel()
	e := newRelayEnv(t)
	dirs := map[string]string{"A": t.TempDir(), "B": t.TempDir(), "C": t.TempDir()}
	for i := range 30 {
		put(t, filepath.Join(dirs["A"], fmt.Sprintf("f%02d.txt", i)), []byte("from A"), tOld)
	}
	put(t, filepath.Join(dirs["B"], "f00.txt"), []byte("from A"), tOld) // B is not empty: C may lose a file
	put(t, filepath.Join(dirs["C"], "only-c.txt"), []byte("C's"), tOld)
	for _, d := range dirs { // one date for the roots: the plan sets none, however slow the writes were
		if err := os.Chtimes(d, tOld, tOld); err != nil {
			t.Fatal(err)
		}
	}
	hp, line := hostText(t, e.bin, e.URL(), t.TempDir(), "--node", "A="+dirs["A"], "--mode", "mirror", "--expect-members", "3", "--trust", "--yes")
	joinText := func(code string, args ...string) *memberProc {
		return startMember(t, e.bin, "ferry join "+code, t.TempDir(), append([]string{"join", "--server", e.URL(), "--session", line.Session,
			"--password", line.Password, "--node", code + "=" + dirs[code], "--trust", "--yes"}, args...)...)
	}
	jb, jc := joinText("B"), joinText("C", "--verbose")
	for _, p := range []*memberProc{hp, jb, jc} {
		p.mustExit(t, 0)
	}
	summary := []string{`Plan: 60 actions, 354 B to copy`, `A(?: \(this machine\))?: +0 copied in \(0 B\) +0 deleted`,
		`B(?: \(this machine\))?: +29 copied in \(174 B\) +0 deleted`, `C: +30 copied in \(180 B\) +1 deleted`,
		`Deletes 1 of 1 files on C \(` + regexp.QuoteMeta(dirs["C"]) + `\)`}
	for _, p := range []*memberProc{hp, jb} {
		out := p.stdout.String()
		for _, want := range summary {
			if !regexp.MustCompile(want).MatchString(out) {
				t.Fatalf("%s's summary lacks %q:\n%s", p.name, want, out)
			}
		}
		if strings.Contains(out, "f07.txt") {
			t.Fatalf("%s listed the actions without --verbose:\n%s", p.name, out)
		}
	}
	out := jc.stdout.String()
	for _, want := range []string{`C \(this machine\): +30 copied in`, `copy +A → C +/f07.txt`, `delete +on C +/only-c.txt`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Fatalf("C's verbose plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "A → B") {
		t.Fatalf("C's plan lists the actions on B:\n%s", out)
	}
	sameTrees(t, dirs["A"], dirs["B"])
	sameTrees(t, dirs["A"], dirs["C"])
}
