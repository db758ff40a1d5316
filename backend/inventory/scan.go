package inventory

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
)

// fileType is what a directory listing or a stat says an entry is.
type fileType uint8

const (
	typeUnknown fileType = iota
	typeFile
	typeDir
	typeSymlink
	typeSpecial // FIFO, socket, device
)

// fileInfo is the metadata an inventory keeps.
type fileInfo struct {
	typ          fileType
	size         int64
	mtime, btime time.Time
}

// protectedRoots are virtual or runtime file systems that are never data sources.
var protectedRoots = [...]string{"/proc", "/sys", "/dev", "/run", "/var/run", "/private/var/run"}

// listBufSize is the getdents buffer of one walker goroutine.
const listBufSize = 64 << 10

// ScanPart inventories one data source: root is an absolute path to a directory (every file and
// directory below it becomes an entry) or to a regular file (the part then holds that single file).
//
// Symbolic links are never followed nor recorded; FIFOs, sockets and devices are skipped; hidden
// and noise names are skipped as opts says. A directory below root that cannot be listed is kept
// as an Inaccessible entry and makes the part Incomplete. A root that is missing, unreadable, a
// symbolic link or inside a protected system tree is an error: the result is never an empty part
// standing for data that could not be seen.
func ScanPart(ctx context.Context, code, root string, opts Options) (*Part, error) {
	if err := checkCode(code); err != nil {
		return nil, fmt.Errorf("scan %s: %w", root, err)
	}
	clean, err := checkRoot(root)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", root, err)
	}
	fi, err := statPath(clean)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", root, err)
	}
	p := &Part{Code: code, Root: clean, Skipped: map[SkipReason]int{}}
	switch fi.typ {
	case typeFile:
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("scan %s: %w", root, err)
		}
		if err := scanFile(p, fi, opts); err != nil {
			return nil, err
		}
		return p, nil
	case typeDir:
		if err := scanDir(ctx, p, opts); err != nil {
			return nil, fmt.Errorf("scan %s: %w", root, err)
		}
		return p, nil
	case typeSymlink:
		return nil, fmt.Errorf("scan %s: data source is a symbolic link", root)
	default:
		return nil, fmt.Errorf("scan %s: data source is not a regular file or a directory", root)
	}
}

// ScanNode inventories the data sources of one data node, in the order given; they get the codes
// code+"1", code+"2"… Each root is resolved first (ResolveRoot): a data source given as a
// symbolic link is the directory it leads to now, and its part's Root names that directory.
func ScanNode(ctx context.Context, code string, roots []string, opts Options) (*Node, error) {
	if len(roots) == 0 {
		return nil, fmt.Errorf("node %s has no data source", code)
	}
	n := &Node{Code: code, Parts: make([]*Part, 0, len(roots))}
	for i, root := range roots {
		pc := fmt.Sprintf("%s%d", code, i+1)
		opts.like = nil
		if opts.Like != nil && i < len(opts.Like.Parts) && opts.Like.Parts[i].Type == SourceDir {
			opts.like = opts.Like.Parts[i].Entries
		}
		p, err := ScanPart(ctx, pc, ResolveRoot(root), opts)
		if err != nil {
			return nil, fmt.Errorf("data source %s: %w", pc, err)
		}
		n.Parts = append(n.Parts, p)
	}
	return n, nil
}

// ResolveRoot returns the path of a data source root given by the user with its symbolic
// links resolved (the root's own, or a folder's above it), once, so that the inventory and the
// synchronization name the directory it led to at that moment and never follow a link swapped
// in later. A relative root, or one that cannot be resolved (missing, unreadable), is returned
// as given, for the scan to report.
func ResolveRoot(root string) string {
	if !filepath.IsAbs(root) {
		return root
	}
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return root
	}
	return real
}

// checkCode accepts data source codes made of ASCII letters and digits ("A1", "Ab2").
func checkCode(code string) error {
	if code == "" || len(code) > 16 {
		return fmt.Errorf("invalid data source code %q", code)
	}
	for _, r := range code {
		if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return fmt.Errorf("invalid data source code %q", code)
		}
	}
	return nil
}

// checkRoot cleans root and refuses relative paths and protected system trees, also when reached
// through a symbolic link in a parent directory.
func checkRoot(root string) (string, error) {
	if !filepath.IsAbs(root) {
		return "", errors.New("data source path must be absolute")
	}
	clean := filepath.Clean(root)
	if runtime.GOOS == "windows" {
		return clean, nil
	}
	paths := []string{clean}
	if real, err := filepath.EvalSymlinks(clean); err == nil {
		paths = append(paths, real)
	}
	for _, p := range paths {
		for _, pr := range protectedRoots {
			if p == pr || strings.HasPrefix(p, pr+"/") {
				return "", fmt.Errorf("data source is inside the protected system tree %s", pr)
			}
		}
	}
	return clean, nil
}

// scanFile fills the part of a file data source. The file must be readable.
func scanFile(p *Part, fi fileInfo, opts Options) error {
	f, err := openRegular(p.Root)
	if err != nil {
		return fmt.Errorf("scan %s: %w", p.Root, err)
	}
	f.Close()
	if p.DirID, err = pathID(filepath.Dir(p.Root)); err != nil {
		return fmt.Errorf("scan %s: the folder holding it: %w", p.Root, err)
	}
	p.Type = SourceFile
	p.Entries = []Entry{{
		name: filepath.Base(p.Root), Kind: File,
		Size: fi.size, ModTime: Nanos(fi.mtime), BirthTime: Nanos(fi.btime),
	}}
	if opts.Progress != nil {
		opts.Progress(Progress{Part: p.Code, Files: 1, Bytes: fi.size})
	}
	return nil
}

// scanDir walks the directory data source p.Root.
func scanDir(ctx context.Context, p *Part, opts Options) error {
	p.Type = SourceDir
	d, err := openDir(p.Root)
	if err != nil {
		return err
	}
	if p.DirID, err = d.id(); err != nil {
		d.close()
		return err
	}
	w := &walker{ctx: ctx, opts: opts, tokens: make(chan struct{}, scanWorkers()), protected: protectedBelow(p.Root), excluded: excluded(opts.Exclude)}
	w.bufs.New = func() any { b := make([]byte, listBufSize); return &b }
	rep := startReporter(opts.Progress, w.snapshot(p.Code))
	root := &dirResult{}
	w.tokens <- struct{}{}
	w.visit(d, "", root)
	<-w.tokens // let the goroutines still walking hand sub-trees to a free worker
	w.wg.Wait()
	rep.finish()
	if err := ctx.Err(); err != nil {
		return err
	}
	if root.err != nil {
		return root.err
	}
	total := root.total()
	p.RootModTime = root.mtime
	p.Entries = root.flatten(make([]Entry, 0, total.entries))
	p.Incomplete = total.incomplete
	for r, n := range total.skipped {
		if n > 0 {
			p.Skipped[skipReasons[r]] += n
		}
	}
	return nil
}

// excluded turns Options.Exclude into names by their directory's path ("" for the root).
func excluded(rels []string) map[string]map[string]bool {
	m := map[string]map[string]bool{}
	for _, rel := range rels {
		if rel = strings.Trim(rel, "/"); rel != "" {
			dir, name := splitPath("/" + rel)
			if m[dir] == nil {
				m[dir] = map[string]bool{}
			}
			m[dir][name] = true
		}
	}
	return m
}

// protectedBelow returns the relative paths of the protected trees below root.
func protectedBelow(root string) map[string]bool {
	if runtime.GOOS == "windows" {
		return nil
	}
	m := map[string]bool{}
	prefix := strings.TrimSuffix(root, "/") + "/"
	for _, pr := range protectedRoots {
		if strings.HasPrefix(pr, prefix) {
			m[pr[len(prefix)-1:]] = true
		}
	}
	return m
}

// scanWorkers is how many goroutines walk one tree: the walk is bound by system calls, and four
// walkers a core kept both cores of a test machine busier than one a core (a 200,000-file tree
// pair went from 1.2 s to 1.05 s).
func scanWorkers() int { return min(max(4*runtime.GOMAXPROCS(0), 8), 16) }

// skipReasons indexes the reasons counted while walking.
var skipReasons = [...]SkipReason{SkipHidden, SkipNoise, SkipSymlink, SkipSpecial, SkipInaccessible, SkipNotFound, SkipIOError, SkipProtected, SkipTemp, SkipExcluded}

// skipTempRemoved is a temp file the walk removed: counted as SkipTemp, and its directory
// does not hold it any more.
const skipTempRemoved SkipReason = "temp-removed"

type skipCounts [len(skipReasons)]int

func (c *skipCounts) add(r SkipReason) {
	c[slices.Index(skipReasons[:], r)]++
}

// dirResult is the walk of one directory: its direct children and the results of the
// sub-directories walked. Each is written by one goroutine and read after the walk ends.
type dirResult struct {
	dir        *string   // the directory's path, which its children's entries share; nil at the root
	names      string    // the names of the direct children, one after the other
	like       []Entry   // entries whose names children share (walker.likeAt)
	entries    []walked  // direct children, in name order
	subs       []subtree // sub-directories that were opened, in name+"/" order
	skipped    skipCounts
	incomplete bool
	// holdsSkipped: a child was skipped while still present (not one that vanished).
	holdsSkipped bool
	err          error     // the directory could not be listed; its entry is marked Inaccessible
	mtime        time.Time // the directory's, once listed (and its stale temp files removed)
}

func (r *dirResult) skip(reason SkipReason) {
	if reason == skipTempRemoved {
		r.skipped.add(SkipTemp)
		return
	}
	r.skipped.add(reason)
	if reason != SkipNotFound {
		r.holdsSkipped = true
	}
}

// walked is an Entry as the walk records it: its name is a span of its directory's names and it
// has no content key, which only the analysis sets. A child takes 40 bytes instead of 56 until the
// tree is flattened into the part's entries, and holds no pointer for the collector to follow.
type walked struct {
	at, n                    uint32 // the name: dirResult.names[at:at+n], or like[at]'s when shared
	size, modTime, birthTime int64
	kind                     Kind
	inaccessible             bool
	holdsSkipped             bool
	shared                   bool
}

// walkedOf records e, whose name starts at at in its directory's names, or is like[i]'s for
// at = sharedAt(i).
func walkedOf(e *Entry, at int) walked {
	w := walked{n: uint32(len(e.name)), size: e.Size, modTime: e.ModTime, birthTime: e.BirthTime,
		kind: e.Kind, inaccessible: e.Inaccessible, holdsSkipped: e.HoldsSkipped}
	w.setAt(at)
	return w
}

func (w *walked) setAt(at int) {
	if at < 0 {
		w.at, w.shared = uint32(sharedAt(at)), true
	} else {
		w.at = uint32(at)
	}
}

func (r *dirResult) name(w *walked) string {
	if w.shared {
		return r.like[w.at].name
	}
	return r.names[w.at : w.at+w.n]
}

func (r *dirResult) entry(w *walked) Entry {
	return Entry{dir: r.dir, name: r.name(w), Size: w.size, ModTime: w.modTime, BirthTime: w.birthTime, Kind: w.kind,
		Inaccessible: w.inaccessible, HoldsSkipped: w.holdsSkipped}
}

type subtree struct {
	name  string
	entry int // index of the directory's entry in the parent's entries
	res   *dirResult
}

type totals struct {
	entries    int
	skipped    skipCounts
	incomplete bool
}

func (r *dirResult) total() totals {
	t := totals{entries: len(r.entries), skipped: r.skipped, incomplete: r.incomplete}
	for _, s := range r.subs {
		st := s.res.total()
		t.entries += st.entries
		for i, n := range st.skipped {
			t.skipped[i] += n
		}
		t.incomplete = t.incomplete || st.incomplete
	}
	return t
}

// flatten appends the tree below r to out in Path byte order. Within one directory, entries are in
// name order and each sub-directory's contents form a block that sorts as its name+"/".
func (r *dirResult) flatten(out []Entry) []Entry {
	for _, s := range r.subs {
		if s.res.err != nil {
			r.entries[s.entry].inaccessible = true
		}
		r.entries[s.entry].holdsSkipped = s.res.holdsSkipped
		r.entries[s.entry].modTime = Nanos(s.res.mtime)
	}
	i, j := 0, 0
	for i < len(r.entries) || j < len(r.subs) {
		if j == len(r.subs) || i < len(r.entries) && compareToDirKey(r.name(&r.entries[i]), r.subs[j].name) < 0 {
			out = append(out, r.entry(&r.entries[i]))
			i++
			continue
		}
		out = r.subs[j].res.flatten(out)
		j++
	}
	r.names, r.like, r.entries, r.subs = "", nil, nil, nil
	return out
}

// compareToDirKey compares name with dir+"/".
func compareToDirKey(name, dir string) int {
	n := min(len(name), len(dir))
	if c := strings.Compare(name[:n], dir[:n]); c != 0 {
		return c
	}
	if len(name) == n {
		return -1
	}
	return cmpByte(name[n], '/')
}

// compareDirKeys compares a+"/" with b+"/".
func compareDirKeys(a, b string) int {
	n := min(len(a), len(b))
	if c := strings.Compare(a[:n], b[:n]); c != 0 {
		return c
	}
	switch {
	case len(a) == len(b):
		return 0
	case len(a) == n:
		return cmpByte('/', b[n])
	default:
		return cmpByte(a[n], '/')
	}
}

func cmpByte(a, b byte) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// walker walks one directory tree. A goroutine walks while it holds a token; at each sub-directory
// it hands the sub-tree to a new goroutine when a token is free and walks it itself otherwise.
type walker struct {
	ctx    context.Context
	opts   Options
	tokens chan struct{}
	wg     sync.WaitGroup
	bufs   sync.Pool // getdents buffers
	// listings are the walking goroutines' listings (visit), each held until its directory
	// is walked.
	listings sync.Pool
	// protected are relative paths of system trees below the root, never walked.
	protected map[string]bool
	// excluded are the names Options.Exclude names, by their directory's path ("/a" for "/a/b").
	excluded map[string]map[string]bool
	// mu guards the paths of the directories walked, which their children's entries point to.
	mu       sync.Mutex
	held     heldPaths
	dirPaths nameChunks

	files, dirs, bytes, skipped atomic.Int64
}

func (w *walker) snapshot(code string) func() Progress {
	return func() Progress {
		return Progress{Part: code, Files: w.files.Load(), Dirs: w.dirs.Load(), Bytes: w.bytes.Load(), Skipped: w.skipped.Load()}
	}
}

// visit lists the open directory d, whose path is rel ("" for the root), records its children in
// res in name order, walks its sub-directories and closes d.
func (w *walker) visit(d dirHandle, rel string, res *dirResult) {
	defer d.close()
	if w.ctx.Err() != nil {
		return
	}
	l, _ := w.listings.Get().(*listing)
	if l == nil {
		l = &listing{}
	}
	defer w.listings.Put(l)
	l.reset()
	buf := w.bufs.Get().(*[]byte)
	err := d.list(*buf, l)
	w.bufs.Put(buf)
	if err != nil {
		res.err = err
		res.incomplete = true
		res.skipped.add(errReason(err))
		w.skipped.Add(1)
		return
	}
	l.sortByName()
	children := l.kids
	prefix := rel + "/"
	res.entries = make([]walked, 0, len(children))
	var files, bytes, skipped int64
	flush := func() {
		w.files.Add(files)
		w.bytes.Add(bytes)
		w.skipped.Add(skipped)
		files, bytes, skipped = 0, 0, 0
	}
	defer flush()
	// A child shares the name of the like entry holding it, and the directory its path; the
	// names of the others share one allocation.
	likeAt := w.likeAt(prefix, l)
	if likeAt != nil {
		res.like = w.opts.like
		if i := slices.IndexFunc(likeAt, func(j int32) bool { return j >= 0 }); i >= 0 {
			res.dir = res.like[likeAt[i]].dir
		}
	}
	own := func(i int) bool { return likeAt == nil || likeAt[i] < 0 }
	size := 0
	for i, c := range children {
		if own(i) {
			size += int(c.end - c.start)
		}
	}
	var sb strings.Builder
	sb.Grow(size)
	for i, c := range children {
		if own(i) {
			sb.Write(l.name(c))
		}
	}
	res.names = sb.String()
	off := 0
	excluded := w.excluded[rel]
	for i, c := range children {
		var at int
		var name string
		if own(i) {
			n := int(c.end - c.start)
			at, name = off, res.names[off:off+n]
			off += n
		} else {
			at, name = sharedAt(int(likeAt[i])), res.like[likeAt[i]].name
		}
		if i%1024 == 1023 {
			flush()
			if w.ctx.Err() != nil {
				return
			}
		}
		if excluded[name] {
			res.skip(SkipExcluded)
			skipped++
			continue
		}
		e, isDir, skip := w.child(d, res.dir, name, c.typ)
		switch {
		case isDir:
			flush()
			if w.ctx.Err() != nil {
				return
			}
			w.subdir(d, w.holdDir(prefix, name), name, at, res)
		case skip != "":
			res.skip(skip)
			skipped++
			if e.Inaccessible {
				res.entries = append(res.entries, walkedOf(&e, at))
				res.incomplete = true
				files++
			}
		default:
			res.entries = append(res.entries, walkedOf(&e, at))
			files++
			bytes += e.Size
		}
	}
	slices.SortFunc(res.subs, func(a, b subtree) int { return compareDirKeys(a.name, b.name) })
	// Last: removing stale temp files changed it. A directory whose date cannot be read has
	// none, and no action depends on it.
	if mtime, err := d.modTime(); err == nil {
		res.mtime = mtime
	}
}

// likeAt gives, for each child of the directory whose children's paths start with prefix, the
// index of the entry of opts.like holding its path, or -1; nil when there is none.
func (w *walker) likeAt(prefix string, l *listing) []int32 {
	like := w.opts.like
	if like == nil {
		return nil
	}
	lo, _ := slices.BinarySearchFunc(like, prefix, comparePath)
	hi, _ := slices.BinarySearchFunc(like, prefix[:len(prefix)-1]+"0", comparePath) // '0' follows '/'
	if lo == hi {
		return nil
	}
	// The like entries in range are the directory's subtree: its children come in name order,
	// as the children listed, among their own subtrees.
	at := slices.Grow(l.at[:0], len(l.kids))[:len(l.kids)]
	l.at = at
	j := lo
	for i, c := range l.kids {
		name := l.name(c)
		at[i] = -1
		for ; j < hi; j++ {
			if e := &like[j]; len(e.Dir()) == len(prefix)-1 && e.name >= string(name) {
				break
			}
		}
		if j < hi && like[j].name == string(name) {
			at[i] = int32(j)
		}
	}
	return at
}

// sharedAt is the at walkedOf takes for the like entry i.
func sharedAt(i int) int { return -1 - i }

func comparePath(e Entry, path string) int { return ComparePath(&e, path) }

// child classifies the listed child name of d, whose path is *dir, from its listed type,
// stat'ing it only when needed. It returns the entry to record for a file, isDir for a directory
// to open, or the reason the child is skipped; an Inaccessible entry comes with its reason.
func (w *walker) child(d dirHandle, dir *string, name string, typ fileType) (e Entry, isDir bool, skip SkipReason) {
	switch {
	case typ == typeSymlink:
		return Entry{}, false, SkipSymlink
	case typ == typeSpecial:
		return Entry{}, false, SkipSpecial
	case typ == typeFile && IsTempName(name):
		return w.temp(d, name)
	case typ == typeDir || typ == typeFile:
		if r := w.nameSkip(name); r != "" {
			return Entry{}, false, r
		}
		if typ == typeDir {
			return Entry{}, true, ""
		}
	}
	fi, err := d.stat(name)
	return w.described(d, dir, name, fi, err)
}

// described classifies a child of d, whose path is *dir, from its stat result.
func (w *walker) described(d dirHandle, dir *string, name string, fi fileInfo, err error) (e Entry, isDir bool, skip SkipReason) {
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Entry{}, false, SkipNotFound
		}
		if IsTempName(name) {
			return Entry{}, false, SkipTemp
		}
		if r := w.nameSkip(name); r != "" {
			return Entry{}, false, r
		}
		// Listed but not describable: record it so that nothing is decided about it unseen.
		return Entry{dir: dir, name: name, Kind: File, Inaccessible: true}, false, errReason(err)
	}
	switch fi.typ {
	case typeSymlink:
		return Entry{}, false, SkipSymlink
	case typeSpecial:
		return Entry{}, false, SkipSpecial
	case typeFile:
		if IsTempName(name) {
			return w.temp(d, name)
		}
	}
	if r := w.nameSkip(name); r != "" {
		return Entry{}, false, r
	}
	if fi.typ == typeDir {
		return Entry{}, true, ""
	}
	return Entry{dir: dir, name: name, Kind: File, Size: fi.size, ModTime: Nanos(fi.mtime), BirthTime: Nanos(fi.btime)}, false, ""
}

// temp skips one of Ferry's temp files in d and, with RemoveTemps, removes it: a run killed
// while writing left it there.
func (w *walker) temp(d dirHandle, name string) (e Entry, isDir bool, skip SkipReason) {
	if !w.opts.RemoveTemps {
		return Entry{}, false, SkipTemp
	}
	if err := d.remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Entry{}, false, SkipTemp // it stays: its directory holds it
	}
	return Entry{}, false, skipTempRemoved
}

func (w *walker) nameSkip(name string) SkipReason {
	switch {
	case w.opts.ExcludeHidden && IsHidden(name):
		return SkipHidden
	case w.opts.ExcludeSystem && IsNoise(name):
		return SkipNoise
	}
	return ""
}

// holdDir is the path of the directory name in the one whose children's paths start with prefix,
// as the directory's children hold it.
func (w *walker) holdDir(prefix, name string) *string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.held.add(w.dirPaths.add(prefix + name))
}

// subdir opens the listed sub-directory name of d, at *held (its name starts at at in
// res.names), and walks it, on another goroutine when one is free.
func (w *walker) subdir(d dirHandle, held *string, name string, at int, res *dirResult) {
	path := *held
	if w.protected[path] {
		w.record(res, at, Entry{}, SkipProtected)
		return
	}
	sd, err := d.openDir(name)
	if err != nil {
		if retypeErr(err) {
			// Replaced by a file or a link since it was listed: classify it again.
			fi, statErr := d.stat(name)
			if statErr == nil && fi.typ == typeDir {
				w.record(res, at, Entry{dir: res.dir, name: name, Kind: Dir, Inaccessible: true}, errReason(err))
				return
			}
			e, _, skip := w.described(d, res.dir, name, fi, statErr)
			w.record(res, at, e, skip)
			return
		}
		if errors.Is(err, fs.ErrNotExist) {
			w.record(res, at, Entry{}, SkipNotFound)
			return
		}
		w.record(res, at, Entry{dir: res.dir, name: name, Kind: Dir, Inaccessible: true}, errReason(err))
		return
	}
	w.dirs.Add(1)
	sub := &dirResult{dir: held}
	res.subs = append(res.subs, subtree{name: name, entry: len(res.entries), res: sub})
	dir := walked{n: uint32(len(name)), kind: Dir}
	dir.setAt(at)
	res.entries = append(res.entries, dir)
	select {
	case w.tokens <- struct{}{}:
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			defer func() { <-w.tokens }()
			w.visit(sd, path, sub)
		}()
	default:
		w.visit(sd, path, sub)
	}
}

// record adds the outcome of a re-classified child to res; its name starts at at in res.names.
func (w *walker) record(res *dirResult, at int, e Entry, skip SkipReason) {
	if skip != "" {
		res.skip(skip)
		w.skipped.Add(1)
		if !e.Inaccessible {
			return
		}
		res.incomplete = true
	}
	if e.name == "" {
		return
	}
	res.entries = append(res.entries, walkedOf(&e, at))
	if e.Kind == File {
		w.files.Add(1)
		w.bytes.Add(e.Size)
	} else {
		w.dirs.Add(1)
	}
}

// errReason is the skip reason for a failed list, open or stat.
func errReason(err error) SkipReason {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return SkipNotFound
	case errors.Is(err, fs.ErrPermission):
		return SkipInaccessible
	}
	return SkipIOError
}
