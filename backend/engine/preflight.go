package engine

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ferrysync/ferry/backend/bytesize"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/transfer"
)

var (
	// ErrNoSpace: a target folder's file system has not the free space (or room for the new
	// files) that the run needs there.
	ErrNoSpace = errors.New("not enough free space")
	// ErrNotWritable: no file can be created in a target folder.
	ErrNotWritable = errors.New("the folder cannot be written")
)

// TargetError is a folder this member's part of a run writes in that cannot take the run,
// found by Preflight before anything changed. errors.Is tells ErrNoSpace or ErrNotWritable,
// and for ErrNotWritable the system's reason (syscall.EROFS…).
type TargetError struct {
	Dirs []string // the folder, or the folders sharing one file system
	Err  error    // ErrNoSpace or ErrNotWritable
	// Need and Free are bytes, or new files and folders when Files is set (ErrNoSpace). Need
	// may be less than Free: the run keeps a margin free (spaceMargin).
	Need, Free int64
	Files      bool
	Cause      error // why no file could be created (ErrNotWritable)
}

func (e *TargetError) Error() string {
	folder := "the folder " + e.Dirs[0] + " has"
	if len(e.Dirs) > 1 {
		folder = "the folders " + strings.Join(e.Dirs[:len(e.Dirs)-1], ", ") + " and " + e.Dirs[len(e.Dirs)-1] + " have"
	}
	switch {
	case e.Err == ErrNotWritable:
		return "the folder " + e.Dirs[0] + " cannot be written, " + transfer.Reason(e.Cause) +
			": nothing was changed; choose another folder or make this one writable"
	case e.Files:
		return fmt.Sprintf("%s room for %d more files and folders and this synchronization creates %d there: nothing was changed; free some space or choose another folder",
			folder, e.Free, e.Need)
	}
	tight := ""
	if e.Need <= e.Free {
		tight = fmt.Sprintf(", which would leave less than the %s kept free for the file system's own records", bytesize.Format(spaceMargin(e.Need)))
	}
	return fmt.Sprintf("%s %s free and this synchronization writes %s there%s: nothing was changed; free some space or choose another folder",
		folder, bytesize.Format(e.Free), bytesize.Format(e.Need), tight)
}

func (e *TargetError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

// roundUp is n rounded up to a whole number of blocks of bs bytes.
func roundUp(n, bs int64) int64 { return (max(n, 0) + bs - 1) / bs * bs }

// spaceMargin is kept free beyond what a run writes, for the file system's own records.
func spaceMargin(need int64) int64 { return need/50 + 1<<20 }

// Preflight checks, before a run changes anything, every folder of this member's data sources
// (mine tells by node) that the plan writes in, as opened in roots (OpenRoots): a file can be
// created there, and its file system has the free space and the room for new files the plan
// needs, with a margin. A folder that failed to open is left to its actions' errors. workers
// are the copies run at once: a file being replaced holds its old and new content together, and
// so do the small files a worker's batch holds replaced (stageBudget each).
//
// What the plan needs is what it writes (every copy's whole content, each file rounded up to
// the file system's block: a delta too writes the whole new file), less what it frees: the
// files it deletes and the old content of the files it replaces, unless kept as versions.
// Hard-linked files free nothing when replaced or deleted; then the estimate is short, and the
// run stops at the first "no space left" (StopError).
func Preflight(p *plan.Plan, roots *transfer.Roots, mine func(node string) bool, workers int) error {
	if workers < 1 {
		workers = DefaultWorkers
	}
	type fileSystem struct {
		space transfer.Space
		dirs  []string
		need  int64   // bytes
		extra []int64 // bytes held for a while: a replaced file's old content, relayed content
		// staged is the old content of the small files replaced: a worker holds up to
		// stageBudget of them staged (commits).
		staged int64
		files  int64
	}
	var errs []error
	byDir := map[string]*fileSystem{}
	byDev := map[uint64]*fileSystem{}
	var order []*fileSystem
	fsOf := func(dir string) *fileSystem {
		if f, seen := byDir[dir]; seen {
			return f
		}
		byDir[dir] = nil
		root, err := roots.Get(dir)
		if err != nil {
			return nil
		}
		if err := root.Probe(); err != nil {
			errs = append(errs, &TargetError{Dirs: []string{dir}, Err: ErrNotWritable, Cause: err})
			return nil
		}
		s, err := root.Space()
		if err != nil {
			return nil // unknown here: the run finds out
		}
		f := byDev[s.Dev]
		if f == nil {
			f = &fileSystem{space: s}
			byDev[s.Dev] = f
			order = append(order, f)
		}
		f.dirs = append(f.dirs, dir)
		byDir[dir] = f
		return f
	}
	kept := p.Versions != nil
	for gi := range p.Groups {
		g := &p.Groups[gi]
		// Content relayed from another member onto several targets here waits in a temp file
		// beside the first while it is written to each.
		relayed := (g.Op == plan.OpCopy || g.Op == plan.OpCopyContent) && g.Source != nil && !mine(g.Source.Node)
		held := false
		for _, t := range g.Targets {
			if !mine(t.Node) {
				continue
			}
			f := fsOf(t.Dir)
			if f == nil {
				continue
			}
			if relayed && !held && slices.ContainsFunc(g.Targets, func(o plan.Endpoint) bool { return o.Location != t.Location && mine(o.Node) }) {
				held = true
				f.extra = append(f.extra, roundUp(g.Size(), f.space.BlockSize))
			}
			blocks := func(n int64) int64 { return roundUp(n, f.space.BlockSize) }
			switch g.Op {
			case plan.OpCopy, plan.OpCopyContent:
				size := blocks(g.Size())
				switch {
				case !t.Exists():
					f.need += size
					f.files++
				case kept: // the old content stays, as a version
					f.need += size
					f.files++
				default:
					f.need += max(size-blocks(t.Size()), 0)
					f.extra = append(f.extra, min(size, blocks(t.Size())))
					if g.Size() <= stageLimit {
						f.staged += min(size, blocks(t.Size()))
					}
				}
				if t.KeepAs() != "" {
					f.need += blocks(t.Size())
					f.files++
				}
			case plan.OpCreate:
				f.need += f.space.BlockSize
				f.files++
			case plan.OpDelete:
				if !kept && g.ItemKind != inventory.Dir {
					f.need -= blocks(t.Size())
				}
			}
		}
	}
	for _, f := range order {
		slices.SortFunc(f.extra, func(a, b int64) int { return cmp.Compare(b, a) })
		need := f.need + min(f.staged, int64(workers)*stageBudget)
		for _, n := range f.extra[:min(workers, len(f.extra))] {
			need += n
		}
		if need > 0 && need+spaceMargin(need) > f.space.Free {
			errs = append(errs, &TargetError{Dirs: f.dirs, Err: ErrNoSpace, Need: need, Free: f.space.Free})
			continue
		}
		if files := f.files + int64(workers); f.space.FreeFiles >= 0 && f.files > 0 && files > f.space.FreeFiles {
			errs = append(errs, &TargetError{Dirs: f.dirs, Err: ErrNoSpace, Need: f.files, Free: f.space.FreeFiles, Files: true})
		}
	}
	return errors.Join(errs...)
}
