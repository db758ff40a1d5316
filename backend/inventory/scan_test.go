//go:build linux

package inventory

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestScanTree(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "a.txt", "hello")
	writeFile(t, root, "sub/b.bin", "0123456789")
	writeFile(t, root, "sub/deeper/c", "")
	mkdir(t, root, "empty")
	mtime := time.Date(2023, 5, 17, 10, 20, 30, 123456789, time.UTC)
	if err := os.Chtimes(filepath.Join(root, "sub", "b.bin"), mtime, mtime); err != nil {
		t.Fatal(err)
	}

	p := mustScan(t, root+"/", Options{})
	if p.Code != "A1" || p.Root != root || p.Type != SourceDir || p.Incomplete {
		t.Fatalf("part header = %q %q %v incomplete=%v", p.Code, p.Root, p.Type, p.Incomplete)
	}
	wantPaths(t, p, "/a.txt", "/empty", "/sub", "/sub/b.bin", "/sub/deeper", "/sub/deeper/c")
	wantSkipped(t, p, nil)

	sizes := map[string]int64{"/a.txt": 5, "/sub/b.bin": 10, "/sub/deeper/c": 0}
	for _, e := range p.Entries {
		size, isFile := sizes[e.Path()]
		switch {
		case isFile && (e.Kind != File || e.Size != size || e.ModTime == 0):
			t.Errorf("%s: kind %v size %d mtime %v, want a file of %d bytes", e.Path(), e.Kind, e.Size, e.Mtime(), size)
		case !isFile && (e.Kind != Dir || e.Size != 0 || e.ModTime == 0 || e.BirthTime != 0):
			t.Errorf("%s: kind %v size %d mtime %v btime %v, want a directory with a date and no size", e.Path(), e.Kind, e.Size, e.Mtime(), e.Btime())
		case e.Inaccessible || !p.Keys.Of(&e).IsZero() || e.AnalysisFailed:
			t.Errorf("%s: unexpected state %+v", e.Path(), e)
		}
	}
	if b := entry(t, p, "/sub/b.bin"); !b.Mtime().Equal(mtime) || b.Mtime().Nanosecond() != 123456789 {
		t.Errorf("mtime %v, want %v", b.Mtime(), mtime)
	}

	// Birth time is what statx gives, or zero where the file system has none.
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, filepath.Join(root, "a.txt"), unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BTIME, &st); err != nil {
		t.Fatal(err)
	}
	want := time.Time{}
	if st.Mask&unix.STATX_BTIME != 0 {
		want = time.Unix(st.Btime.Sec, int64(st.Btime.Nsec))
	}
	if got := entry(t, p, "/a.txt").Btime(); !got.Equal(want) {
		t.Errorf("birth time %v, want %v", got, want)
	}
}

// TestScanOrderMatchesWalk compares a scan of a random tree, with names chosen to sort
// differently as names and as paths ("a" < "a-b" < "a/x"), with filepath.WalkDir.
func TestScanOrderMatchesWalk(t *testing.T) {
	root := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	parts := []string{"a", "a-", "a.", "a ", "b", "B", "0", "é", "~", "a/"}
	name := func() string {
		var sb strings.Builder
		for range 1 + rng.IntN(3) {
			sb.WriteString(strings.TrimSuffix(parts[rng.IntN(len(parts))], "/"))
		}
		return sb.String()
	}
	dirs := []string{""}
	for range 400 {
		parent := dirs[rng.IntN(len(dirs))]
		rel := parent + "/" + name()
		if _, err := os.Lstat(filepath.Join(root, rel)); err == nil {
			continue
		}
		if rng.IntN(3) == 0 {
			mkdir(t, root, rel)
			dirs = append(dirs, rel)
		} else {
			writeFile(t, root, rel, rel)
		}
	}
	var want []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != root {
			want = append(want, filepath.ToSlash(strings.TrimPrefix(path, root)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	p := mustScan(t, root, Options{})
	wantPaths(t, p, want...)
	if len(want) < 300 {
		t.Fatalf("fixture too small: %d entries", len(want))
	}
}

func TestScanFileSource(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, ".hidden-data", "content")
	mtime := time.Date(2024, 1, 2, 3, 4, 5, 600700800, time.UTC)
	if err := os.Chtimes(file, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	p := mustScan(t, file, Options{ExcludeHidden: true, ExcludeSystem: true})
	if p.Type != SourceFile || p.Root != file || p.Incomplete {
		t.Fatalf("part = %v %q incomplete=%v", p.Type, p.Root, p.Incomplete)
	}
	wantPaths(t, p, "/.hidden-data")
	if e := p.Entries[0]; e.Kind != File || e.Size != 7 || !e.Mtime().Equal(mtime) {
		t.Fatalf("entry = %+v", e)
	}
}

func TestScanHidden(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "visible", "v")
	writeFile(t, root, ".hidden", "h")
	writeFile(t, root, ".config/inside", "i")
	writeFile(t, root, "dir/.dotfile", "d")

	wantPaths(t, mustScan(t, root, Options{}), "/.config", "/.config/inside", "/.hidden", "/dir", "/dir/.dotfile", "/visible")
	p := mustScan(t, root, Options{ExcludeHidden: true})
	wantPaths(t, p, "/dir", "/visible")
	wantSkipped(t, p, map[SkipReason]int{SkipHidden: 3})
}

// A directory that directly holds a skipped entry says so: deleting it would delete that entry.
func TestScanHoldsSkipped(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "plain/f", "f")
	writeFile(t, root, "hid/.h", "h")
	writeFile(t, root, "deep/sub/.h", "h")
	writeFile(t, root, "link/f", "f")
	if err := os.Symlink("f", filepath.Join(root, "link", "l")); err != nil {
		t.Fatal(err)
	}
	holding := func(p *Part) []string {
		var out []string
		for _, e := range p.Entries {
			if e.HoldsSkipped {
				out = append(out, e.Path())
			}
		}
		return out
	}
	if got := holding(mustScan(t, root, Options{ExcludeHidden: true})); !slices.Equal(got, []string{"/deep/sub", "/hid", "/link"}) {
		t.Errorf("excluding hidden: directories holding skipped entries = %q", got)
	}
	if got := holding(mustScan(t, root, Options{})); !slices.Equal(got, []string{"/link"}) {
		t.Errorf("including hidden: directories holding skipped entries = %q", got)
	}
}

func TestScanNoise(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "keep.txt", "k")
	writeFile(t, root, "desktop.ini", "x")
	writeFile(t, root, "photos/.DS_Store", "x")
	writeFile(t, root, "photos/Thumbs.db", "names match ignoring case")
	writeFile(t, root, "$RECYCLE.BIN/deleted/file", "x")
	writeFile(t, root, ".Trashes/file", "x")

	all := mustScan(t, root, Options{})
	if len(all.Entries) != 10 {
		t.Fatalf("without exclusion: %q", entryPaths(all))
	}
	p := mustScan(t, root, Options{ExcludeSystem: true})
	wantPaths(t, p, "/keep.txt", "/photos")
	wantSkipped(t, p, map[SkipReason]int{SkipNoise: 5})
}

func TestScanRootIsNeverFiltered(t *testing.T) {
	for _, name := range []string{".hidden-root", "$RECYCLE.BIN", ".DS_Store"} {
		root := mkdir(t, t.TempDir(), name)
		writeFile(t, root, "f", "x")
		p := mustScan(t, root, Options{ExcludeHidden: true, ExcludeSystem: true})
		wantPaths(t, p, "/f")
	}
}

func TestScanSymlinks(t *testing.T) {
	outside := t.TempDir()
	writeFile(t, outside, "secret/file", "x")
	root := t.TempDir()
	writeFile(t, root, "real", "r")
	for link, target := range map[string]string{
		"to-file":   filepath.Join(root, "real"),
		"to-dir":    filepath.Join(outside, "secret"),
		"dangling":  filepath.Join(outside, "missing"),
		".to-other": "real",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	p := mustScan(t, root, Options{})
	wantPaths(t, p, "/real")
	wantSkipped(t, p, map[SkipReason]int{SkipSymlink: 4})
}

func TestScanSymlinkRootRefused(t *testing.T) {
	dir := t.TempDir()
	target := mkdir(t, dir, "target")
	writeFile(t, target, "f", "x")
	for _, name := range []string{"dir-link", "file-link"} {
		link := filepath.Join(dir, name)
		to := target
		if name == "file-link" {
			to = filepath.Join(target, "f")
		}
		if err := os.Symlink(to, link); err != nil {
			t.Fatal(err)
		}
		_, err := ScanPart(context.Background(), "A1", link, Options{})
		if err == nil || !strings.Contains(err.Error(), "symbolic link") || !strings.Contains(err.Error(), link) {
			t.Fatalf("ScanPart(%s) = %v, want a symbolic-link error naming it", link, err)
		}
	}
}

func TestScanSpecialFiles(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "regular", "r")
	if err := unix.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(root, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p := mustScan(t, root, Options{})
	wantPaths(t, p, "/regular")
	wantSkipped(t, p, map[SkipReason]int{SkipSpecial: 2})

	if _, err := ScanPart(context.Background(), "A1", filepath.Join(root, "fifo"), Options{}); err == nil {
		t.Fatal("a FIFO data source was accepted")
	}
}

func TestScanMissingRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "gone")
	p, err := ScanPart(context.Background(), "A1", root, Options{})
	if err == nil || p != nil {
		t.Fatalf("ScanPart of a missing root = %v, %v", p, err)
	}
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), root) {
		t.Fatalf("error %q does not name the missing root", err)
	}
}

func TestScanRefusedRoots(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/proc", filepath.Join(dir, "proc-link")); err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{"relative/path", "/proc", "/proc/self", "/sys/kernel", "/dev", "/run", "/var/run", filepath.Join(dir, "proc-link", "self")} {
		if _, err := ScanPart(context.Background(), "A1", root, Options{}); err == nil {
			t.Errorf("ScanPart(%s) was accepted", root)
		}
	}
	for _, code := range []string{"", "A-1", "A 1", "ü1"} {
		if _, err := ScanPart(context.Background(), code, dir, Options{}); err == nil {
			t.Errorf("code %q was accepted", code)
		}
	}
}

func TestScanCancelled(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "a/b", "x")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p, err := ScanPart(ctx, "A1", root, Options{})
	if !errors.Is(err, context.Canceled) || p != nil {
		t.Fatalf("ScanPart with a cancelled context = %v, %v", p, err)
	}
}

func TestScanProgress(t *testing.T) {
	root := t.TempDir()
	for i := range 50 {
		writeFile(t, root, fmt.Sprintf("d%d/f%d", i%5, i), "12345")
	}
	writeFile(t, root, ".hidden", "x")
	var last Progress
	calls := 0
	p := mustScan(t, root, Options{ExcludeHidden: true, Progress: func(pr Progress) { last = pr; calls++ }})
	want := Progress{Part: "A1", Files: 50, Dirs: 5, Bytes: 250, Skipped: 1}
	if calls == 0 || last != want {
		t.Fatalf("%d progress calls, last %+v, want %+v", calls, last, want)
	}
	if len(p.Entries) != 55 {
		t.Fatalf("%d entries", len(p.Entries))
	}
}

func TestScanNode(t *testing.T) {
	r1, r2 := t.TempDir(), t.TempDir()
	writeFile(t, r1, "one", "1")
	file := writeFile(t, r2, "two", "2")
	n, err := ScanNode(context.Background(), "B", []string{r1, file}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Code != "B" || len(n.Parts) != 2 || n.Parts[0].Code != "B1" || n.Parts[0].Root != r1 ||
		n.Parts[1].Code != "B2" || n.Parts[1].Type != SourceFile {
		t.Fatalf("node = %+v", n)
	}
	_, err = ScanNode(context.Background(), "B", []string{r1, filepath.Join(r2, "missing")}, Options{})
	if err == nil || !strings.Contains(err.Error(), "B2") {
		t.Fatalf("error %v does not name data source B2", err)
	}
	if _, err := ScanNode(context.Background(), "B", nil, Options{}); err == nil {
		t.Fatal("a node without data source was accepted")
	}
}

// The races below (a child vanishing or changing type between listing and stat or open) are
// reproduced by driving the walker by hand.

func testWalker(opts Options) *walker {
	w := &walker{ctx: context.Background(), opts: opts, tokens: make(chan struct{}, 1)}
	w.bufs.New = func() any { b := make([]byte, listBufSize); return &b }
	return w
}

func listed(t *testing.T, root string) (dirHandle, map[string]fileType) {
	t.Helper()
	d, err := openDir(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.close)
	var l listing
	if err := d.list(make([]byte, listBufSize), &l); err != nil {
		t.Fatal(err)
	}
	m := map[string]fileType{}
	for _, c := range l.kids {
		m[string(l.name(c))] = c.typ
	}
	return d, m
}

func TestScanChildVanishedOrReplaced(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "file", "x")
	mkdir(t, root, "dir")
	mkdir(t, root, "dir-then-file")
	mkdir(t, root, "dir-then-link")
	d, ls := listed(t, root)
	if len(ls) != 4 || ls["file"] != typeFile || ls["dir"] != typeDir {
		t.Fatalf("listing = %v", ls)
	}
	for _, name := range []string{"file", "dir", "dir-then-file", "dir-then-link"} {
		if err := os.Remove(filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, root, "dir-then-file", "now a file")
	if err := os.Symlink("file", filepath.Join(root, "dir-then-link")); err != nil {
		t.Fatal(err)
	}

	w := testWalker(Options{})
	if e, _, skip := w.child(d, nil, "file", ls["file"]); skip != SkipNotFound || e.Name() != "" {
		t.Errorf("vanished file: entry %+v, skip %q; want no entry, skipped as %q", e, skip, SkipNotFound)
	}
	res := &dirResult{names: "dirdir-then-filedir-then-link"}
	for _, name := range []string{"dir", "dir-then-file", "dir-then-link"} {
		at := strings.Index(res.names, name) // "dir" is first
		w.subdir(d, w.holdDir("/", name), res.names[at:at+len(name)], at, res)
	}
	w.wg.Wait()
	if len(res.entries) != 1 || res.name(&res.entries[0]) != "dir-then-file" || res.entries[0].kind != File || res.entries[0].size != 10 {
		t.Fatalf("entries = %+v", res.entries)
	}
	want := skipCounts{}
	want.add(SkipNotFound)
	want.add(SkipSymlink)
	if res.skipped != want || res.incomplete {
		t.Fatalf("skipped %v incomplete %v, want %v", res.skipped, res.incomplete, want)
	}
}

func TestFlattenOrder(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"a", "a", -1}, {"a-b", "a", -1}, {"a0", "a", 1}, {"a", "a-b", -1}, {"b", "a", 1}} {
		if got := compareToDirKey(c.a, c.b); got != c.want {
			t.Errorf("compareToDirKey(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got, want := compareDirKeys(c.a, c.b), strings.Compare(c.a+"/", c.b+"/"); got != want {
			t.Errorf("compareDirKeys(%q, %q) = %d, want %d", c.a, c.b, got, want)
		}
	}
}

// A sub-directory that was opened but could not be listed ends up as an inaccessible entry.
func TestFlattenMarksUnlistedDirs(t *testing.T) {
	failed := &dirResult{err: unix.EIO}
	b := "/b"
	ok := &dirResult{dir: &b, names: "f", entries: []walked{{n: 1, kind: File}}}
	root := &dirResult{
		names:   "abb-c",
		entries: []walked{{at: 0, n: 1, kind: Dir}, {at: 1, n: 1, kind: Dir}, {at: 2, n: 3, kind: File}},
		subs:    []subtree{{name: "a", entry: 0, res: failed}, {name: "b", entry: 1, res: ok}},
	}
	got := root.flatten(nil)
	want := []Entry{Entry{Kind: Dir, Inaccessible: true}.At("/a"), Entry{Kind: Dir}.At("/b"), Entry{Kind: File}.At("/b-c"), Entry{Kind: File}.At("/b/f")}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("flatten = %+v, want %+v", got, want)
	}
}

func TestProtectedBelow(t *testing.T) {
	for root, want := range map[string][]string{
		"/":             {"/dev", "/private/var/run", "/proc", "/run", "/sys", "/var/run"},
		"/var":          {"/run"},
		"/private":      {"/var/run"},
		"/home/user":    nil,
		"/var/run-data": nil,
	} {
		got := slices.Sorted(maps.Keys(protectedBelow(root)))
		if !slices.Equal(got, want) {
			t.Errorf("protectedBelow(%s) = %q, want %q", root, got, want)
		}
	}
}

// Directories' modification times are recorded, the root's too, as they are once the scan
// removed the stale temp files they held.
func TestScanDirectoryDates(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "a/b/f", "f")
	writeFile(t, root, "a/c/.f.ferry-1.tmp", "stale")
	at := func(min int) time.Time { return time.Date(2021, 3, 4, 5, min, 7, 891, time.UTC) }
	for rel, tm := range map[string]time.Time{"a/b": at(1), "a/c": at(2), "a": at(3), ".": at(4)} {
		if err := os.Chtimes(filepath.Join(root, rel), tm, tm); err != nil {
			t.Fatal(err)
		}
	}
	p := mustScan(t, root, Options{})
	for path, want := range map[string]time.Time{"/a": at(3), "/a/b": at(1), "/a/c": at(2)} {
		if got := entry(t, p, path).Mtime(); !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%s: mtime %v, want %v", path, got, want)
		}
	}
	if !p.RootModTime.Equal(at(4)) {
		t.Errorf("root mtime %v, want %v", p.RootModTime, at(4))
	}

	p = mustScan(t, root, Options{RemoveTemps: true})
	fi, err := os.Stat(filepath.Join(root, "a", "c"))
	if err != nil {
		t.Fatal(err)
	}
	if got := entry(t, p, "/a/c").Mtime(); got.Equal(at(2)) || !got.Equal(fi.ModTime()) {
		t.Errorf("/a/c after removing its temp file: mtime %v, on disk %v", got, fi.ModTime())
	}
	if got := entry(t, p, "/a").Mtime(); !got.Equal(at(3)) {
		t.Errorf("/a: mtime %v, want %v", got, at(3))
	}
}

// Excluded entries (the folder of kept versions) are never listed nor walked, whatever the
// hidden setting; their directory holds them.
func TestScanExclude(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "a.txt", "a")
	writeFile(t, root, ".ferry-versions/2026-12-05T201500Z/a.txt", "old a")
	writeFile(t, root, "sub/versions/x", "x")
	writeFile(t, root, "sub/versions-not/y", "y")
	writeFile(t, root, "sub/file-named-so", "a file is excluded too")
	opts := Options{Exclude: []string{".ferry-versions", "/sub/versions/", "sub/file-named-so", "not/there"}}
	p := mustScan(t, root, opts)
	wantPaths(t, p, "/a.txt", "/sub", "/sub/versions-not", "/sub/versions-not/y")
	wantSkipped(t, p, map[SkipReason]int{SkipExcluded: 3})
	if !entry(t, p, "/sub").HoldsSkipped || entry(t, p, "/sub/versions-not").HoldsSkipped {
		t.Errorf("holding skipped entries: /sub %v, /sub/versions-not %v", entry(t, p, "/sub").HoldsSkipped, entry(t, p, "/sub/versions-not").HoldsSkipped)
	}
	opts.ExcludeHidden = true
	wantSkipped(t, mustScan(t, root, opts), map[SkipReason]int{SkipExcluded: 3})
}

// ScanNode resolves a root given as a symbolic link once: the part names the folder it led
// to, and records that folder's identity (the folder holding a file data source).
func TestScanNodeResolvesLinkedRoots(t *testing.T) {
	dir := t.TempDir()
	target := mkdir(t, dir, "target")
	f := writeFile(t, target, "f", "x")
	for name, to := range map[string]string{"dir-link": target, "file-link": f} {
		if err := os.Symlink(to, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := ScanNode(context.Background(), "A", []string{filepath.Join(dir, "dir-link"), filepath.Join(dir, "file-link"), target}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(target, &st); err != nil {
		t.Fatal(err)
	}
	want := DirID{Dev: st.Dev, Ino: st.Ino}
	for i, root := range []string{target, f, target} {
		p := n.Parts[i]
		if p.Root != root || p.DirID != want {
			t.Errorf("part %s: root %q, DirID %+v; want %q, %+v", p.Code, p.Root, p.DirID, root, want)
		}
	}
	if len(n.Parts[0].Entries) != 1 || n.Parts[1].Type != SourceFile {
		t.Errorf("entries %v, type %v", n.Parts[0].Entries, n.Parts[1].Type)
	}
}

// Noise names match in any case; other names, those starting like one included, do not.
func TestIsNoise(t *testing.T) {
	for n := range noiseNames {
		for _, name := range []string{n, strings.ToUpper(n), strings.ToLower(n)} {
			if !IsNoise(name) {
				t.Errorf("IsNoise(%q) = false", name)
			}
		}
	}
	for _, name := range []string{"", "f00001.bin", "desktop", "Thumbs.db.bak", "thumbs", ".DS_Stor", "é.txt", "$RECYCLE"} {
		if IsNoise(name) {
			t.Errorf("IsNoise(%q) = true", name)
		}
	}
}

// A node scanned like another is the inventory a plain scan makes, and shares the bytes of the
// paths both hold: a tree in sync with another holds its paths once.
func TestScanLike(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	// Names around "/" in byte order: a sub-directory's subtree comes between its siblings.
	for _, rel := range []string{"x/1", "x/2", "y/3", "Z", "only-a/4", "x/a/c", "x/a-b", "x/a0"} {
		writeFile(t, a, rel, rel)
	}
	for _, rel := range []string{"x/1", "x/5", "y/3", "Z", "only-b/6", "only-b/7", "x/a/c", "x/a-b", "x/a0"} {
		writeFile(t, b, rel, rel)
	}
	ctx := context.Background()
	na, err := ScanNode(ctx, "A", []string{a}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := ScanNode(ctx, "B", []string{b}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	like, err := ScanNode(ctx, "B", []string{b}, Options{Like: na})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := like.Parts[0].Entries, plain.Parts[0].Entries; !reflect.DeepEqual(got, want) {
		t.Fatalf("scanned like A:\n%+v\nplain:\n%+v", got, want)
	}
	ofA := map[string]*byte{}
	dirsOfA := map[string]*string{}
	for _, e := range na.Parts[0].Entries {
		ofA[e.Path()] = unsafe.StringData(e.Name())
		dirsOfA[e.Dir()] = e.dir
	}
	shared, sharedDirs := 0, 0
	for _, e := range like.Parts[0].Entries {
		p, inA := ofA[e.Path()]
		if (unsafe.StringData(e.Name()) == p) != inA {
			t.Errorf("%s: shares A's name bytes %v, A holds it %v", e.Path(), unsafe.StringData(e.Name()) == p, inA)
		}
		if inA {
			shared++
		}
		if d, ok := dirsOfA[e.Dir()]; ok && e.dir != nil {
			if d != e.dir {
				t.Errorf("%s: holds its directory's path apart from A's", e.Path())
			}
			sharedDirs++
		}
	}
	if shared != 9 { // /Z /x /x/1 /x/a /x/a-b /x/a/c /x/a0 /y /y/3
		t.Errorf("%d names shared, want 9", shared)
	}
	if sharedDirs != 7 { // /x/1 /x/5 /x/a /x/a-b /x/a/c /x/a0 /y/3
		t.Errorf("%d directory paths shared, want 7", sharedDirs)
	}
}
