// Command folders makes the folder trees Ferry's end-to-end run synchronizes, and checks that
// two trees hold the same entries, contents and file modification times.
//
//	folders make -files 20000 -target DST SRC   # SRC: files in nested folders; DST: partly the same
//	folders make -files 100000 -empty SRC       # empty files, fast
//	folders same SRC DST                        # exit 1, listing the differences, unless equal
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "make":
		err = makeCmd(os.Args[2:])
	case "same":
		err = sameCmd(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "folders:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: folders make [-files N] [-empty] [-seed N] [-target DST] SRC\n       folders same SRC DST")
	os.Exit(2)
}

// perFolder is how many files share a leaf folder; leaves sit two levels deep (dNN/eNN/).
const perFolder = 100

// base is the modification time of the first generated file; each next one is 1.000000123 s later,
// so that a copy that loses the nanoseconds or the seconds shows.
var base = time.Date(2024, 3, 5, 14, 22, 0, 0, time.UTC)

// entry is one generated file.
type entry struct {
	rel   string
	size  int
	mtime time.Time
	seed  uint64
}

func makeCmd(args []string) error {
	fl := flag.NewFlagSet("make", flag.ContinueOnError)
	files := fl.Int("files", 20000, "number of files in the source")
	empty := fl.Bool("empty", false, "empty files")
	seed := fl.Uint64("seed", 1, "seed of the contents and sizes")
	target := fl.String("target", "", "also make this target folder: some files the same, some older or with other dates, some only there")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() != 1 || *files < 1 {
		usage()
	}
	src := fl.Arg(0)
	rng := rand.New(rand.NewPCG(*seed, 0))
	entries := make([]entry, *files)
	var total int64
	for i := range entries {
		e := entry{
			rel:  filepath.Join(fmt.Sprintf("d%02d", i/(perFolder*10)), fmt.Sprintf("e%02d", i/perFolder%10), fmt.Sprintf("f%06d.txt", i)),
			seed: rng.Uint64(),
		}
		if !*empty { // empty files keep the time they are made at: fewer calls
			e.size = rng.IntN(4096)
			e.mtime = base.Add(time.Duration(i) * (time.Second + 123*time.Nanosecond))
		}
		total += int64(e.size)
		entries[i] = e
	}
	if err := write(src, entries); err != nil {
		return err
	}
	fmt.Printf("%s: %d files, %d bytes\n", src, len(entries), total)
	if *target == "" {
		return nil
	}
	return makeTarget(*target, entries, rng)
}

// makeTarget writes dst as an earlier, partly different copy of the source entries: the same
// files, files with other contents, files with the same contents and other dates, and files
// and folders the source lacks.
func makeTarget(dst string, src []entry, rng *rand.Rand) error {
	var (
		same, changed, redated []entry
		extra                  []entry
	)
	for i, e := range src {
		switch {
		case i%40 == 0: // 2.5 %: unchanged
			same = append(same, e)
		case i%40 == 1 && len(changed) < 100: // an older version
			e.size = (e.size + 1 + rng.IntN(100)) % 4096
			e.seed = rng.Uint64()
			e.mtime = e.mtime.Add(-72 * time.Hour)
			changed = append(changed, e)
		case i%40 == 2 && len(redated) < 20: // the same content, another date
			e.mtime = e.mtime.Add(-24 * time.Hour)
			redated = append(redated, e)
		}
	}
	for i := range 50 {
		extra = append(extra, entry{
			rel:   filepath.Join("old", fmt.Sprintf("g%02d", i/10), fmt.Sprintf("stale%03d.txt", i)),
			size:  rng.IntN(2048),
			mtime: base.Add(-time.Duration(i) * time.Hour),
			seed:  rng.Uint64(),
		})
	}
	all := slices.Concat(same, changed, redated, extra)
	if err := write(dst, all); err != nil {
		return err
	}
	fmt.Printf("%s: %d files: %d the same, %d older, %d with other dates, %d only there\n",
		dst, len(all), len(same), len(changed), len(redated), len(extra))
	// What a mirror from the source to the target does: every file but the same ones is
	// copied, the dates of the redated ones are set, the extra files and their folders go.
	extraDirs := map[string]bool{}
	for _, e := range extra {
		for d := filepath.Dir(e.rel); d != "."; d = filepath.Dir(d) {
			extraDirs[d] = true
		}
	}
	fmt.Printf("mirror: copies=%d dates=%d deletes=%d\n", len(src)-len(same)-len(redated), len(redated), len(extra)+len(extraDirs))
	return nil
}

// write creates dir (which must not exist yet or be empty) and the entries in it, in parallel.
func write(dir string, entries []entry) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if names, err := os.ReadDir(dir); err != nil {
		return err
	} else if len(names) > 0 {
		return fmt.Errorf("%s is not empty", dir)
	}
	folders := map[string]bool{}
	for _, e := range entries {
		folders[filepath.Dir(e.rel)] = true
	}
	for f := range folders {
		if err := os.MkdirAll(filepath.Join(dir, f), 0o755); err != nil {
			return err
		}
	}
	jobs := make(chan entry)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range max(4, 2*runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			buf := make([]byte, 4096)
			for e := range jobs {
				if err := writeFile(filepath.Join(dir, e.rel), e, buf); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for _, e := range entries {
		jobs <- e
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	// Folders, the root too, all date from base: a mirror between two made folders then has no
	// folder date to fix, and the expected plan counts files only.
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return os.Chtimes(p, base, base)
	})
}

func writeFile(path string, e entry, buf []byte) error {
	data := buf[:e.size]
	r := rand.New(rand.NewPCG(e.seed, 1))
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789 \n"
	for i := range data {
		data[i] = letters[r.IntN(len(letters))]
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return err
	}
	if e.mtime.IsZero() {
		return nil
	}
	return os.Chtimes(path, e.mtime, e.mtime)
}

func sameCmd(args []string) error {
	if len(args) != 2 {
		usage()
	}
	a, err := list(args[0])
	if err != nil {
		return err
	}
	b, err := list(args[1])
	if err != nil {
		return err
	}
	var diffs []string
	for rel, ea := range a {
		eb, ok := b[rel]
		switch {
		case !ok:
			diffs = append(diffs, "only in "+args[0]+": "+rel)
		case ea.dir != eb.dir:
			diffs = append(diffs, "a folder on one side, a file on the other: "+rel)
		case ea.dir:
		case ea.size != eb.size:
			diffs = append(diffs, fmt.Sprintf("sizes differ: %s: %d, %d", rel, ea.size, eb.size))
		case !ea.mtime.Equal(eb.mtime):
			diffs = append(diffs, fmt.Sprintf("modification times differ: %s: %s, %s", rel,
				ea.mtime.Format(time.RFC3339Nano), eb.mtime.Format(time.RFC3339Nano)))
		default:
			same, err := sameContent(filepath.Join(args[0], rel), filepath.Join(args[1], rel))
			if err != nil {
				return err
			}
			if !same {
				diffs = append(diffs, "contents differ: "+rel)
			}
		}
	}
	for rel := range b {
		if _, ok := a[rel]; !ok {
			diffs = append(diffs, "only in "+args[1]+": "+rel)
		}
	}
	files := 0
	for _, e := range a {
		if !e.dir {
			files++
		}
	}
	if len(diffs) > 0 {
		slices.Sort(diffs)
		shown := diffs[:min(len(diffs), 20)]
		return fmt.Errorf("%s and %s differ in %d ways, among them:\n  %s", args[0], args[1], len(diffs), strings.Join(shown, "\n  "))
	}
	fmt.Printf("%s and %s are the same: %d files and %d folders, contents and modification times\n", args[0], args[1], files, len(a)-files)
	return nil
}

type stat struct {
	dir   bool
	size  int64
	mtime time.Time
}

// list maps every entry below root (not root itself) to its type, size and modification time.
func list(root string) (map[string]stat, error) {
	out := map[string]stat{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == root {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() && !info.IsDir() {
			return fmt.Errorf("%s: neither a file nor a folder", path)
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		out[rel] = stat{dir: info.IsDir(), size: info.Size(), mtime: info.ModTime()}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", root, err)
	}
	return out, nil
}

func sameContent(a, b string) (bool, error) {
	da, err := os.ReadFile(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	db, err := io.ReadAll(io.LimitReader(fb, int64(len(da))+1))
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	return bytes.Equal(da, db), nil
}
