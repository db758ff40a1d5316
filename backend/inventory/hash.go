package inventory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/zeebo/xxh3"
)

// hashBufSize is the read buffer of one hashing goroutine.
const hashBufSize = 1 << 20

// HashOptions shape the analysis of a part.
type HashOptions struct {
	// Workers is how many files are read at once; 0 picks 2 to 4 from the number of CPUs.
	Workers int
	// Progress, when set, is called from time to time while files are read.
	Progress func(Progress)
}

// errChanged is recorded for a file that is no longer what the inventory describes.
var errChanged = errors.New("file changed since the inventory")

// Hash computes the content keys of the file entries at indices (indices into p.Entries; repeats
// are ignored). A file that cannot be read, or that changed size or modification time since the
// scan, gets an analysis error (AnalysisError) instead of a key; only cancellation, or an index that is not a file
// entry, makes Hash fail. Entries not reached before a cancellation keep a zero key.
func (p *Part) Hash(ctx context.Context, indices []int, opts HashOptions) error {
	todo := slices.Clone(indices)
	slices.Sort(todo) // path order reads neighbouring files together
	todo = slices.Compact(todo)
	for _, i := range todo {
		if i < 0 || i >= len(p.Entries) {
			return fmt.Errorf("analysis of %s: entry index %d out of range", p.Code, i)
		}
		if p.Entries[i].Kind != File {
			return fmt.Errorf("analysis of %s: %s is not a file", p.Code, p.Entries[i].Path())
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("analysis of %s: %w", p.Code, err)
	}
	p.Keys.reserve(p.Entries, todo) // the workers set keys at once
	workers := opts.Workers
	if workers <= 0 {
		workers = min(max(runtime.GOMAXPROCS(0), 2), 4)
	}
	workers = min(workers, len(todo))

	var (
		next                    atomic.Int64
		hashed, bytes, failures atomic.Int64
		wg                      sync.WaitGroup
		mu                      sync.Mutex // guards p.AnalysisErrors
	)
	base := p.progress()
	rep := startReporter(opts.Progress, func() Progress {
		pr := base
		pr.Hashed, pr.HashedBytes, pr.AnalysisError = hashed.Load(), bytes.Load(), failures.Load()
		return pr
	})
	for range workers {
		wg.Go(func() {
			buf := make([]byte, hashBufSize)
			for {
				n := int(next.Add(1)) - 1
				if n >= len(todo) || ctx.Err() != nil {
					return
				}
				e := &p.Entries[todo[n]]
				key, err := hashEntry(ctx, p.entryPath(e), e, buf, func(n int) { bytes.Add(int64(n)) })
				switch {
				case ctx.Err() != nil:
					return
				case err != nil:
					p.Keys.Set(e, ContentKey{})
					mu.Lock()
					p.SetAnalysisError(e, err.Error())
					mu.Unlock()
					failures.Add(1)
				default:
					p.Keys.Set(e, key)
					if e.AnalysisFailed {
						mu.Lock()
						p.SetAnalysisError(e, "")
						mu.Unlock()
					}
					hashed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	rep.finish()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("analysis of %s: %w", p.Code, err)
	}
	return nil
}

// entryPath is the local path of e.
func (p *Part) entryPath(e *Entry) string {
	if p.Type == SourceFile {
		return p.Root
	}
	return filepath.Join(p.Root, filepath.FromSlash(e.Path()[1:]))
}

// progress counts what the scan found.
func (p *Part) progress() Progress {
	pr := Progress{Part: p.Code}
	for i := range p.Entries {
		e := &p.Entries[i]
		if e.Kind == Dir {
			pr.Dirs++
			continue
		}
		pr.Files++
		pr.Bytes += e.Size
	}
	for _, n := range p.Skipped {
		pr.Skipped += int64(n)
	}
	return pr
}

// hashEntry reads the file at path, which must still match e's size and modification time.
func hashEntry(ctx context.Context, path string, e *Entry, buf []byte, read func(int)) (ContentKey, error) {
	if e.Inaccessible {
		return ContentKey{}, errors.New("not accessible during the inventory")
	}
	f, err := openRegular(path)
	if err != nil {
		return ContentKey{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ContentKey{}, err
	}
	if !fi.Mode().IsRegular() {
		return ContentKey{}, fmt.Errorf("%s: not a regular file", path)
	}
	if fi.Size() != e.Size || Nanos(fi.ModTime()) != e.ModTime {
		return ContentKey{}, fmt.Errorf("%s: %w", path, errChanged)
	}
	adviseSequential(f)
	key, n, err := hashStream(ctx, f, buf, read)
	if err != nil {
		return ContentKey{}, fmt.Errorf("read %s: %w", path, err)
	}
	if n != e.Size {
		return ContentKey{}, fmt.Errorf("%s: %w", path, errChanged)
	}
	return key, nil
}

// HashFile computes the content key of the file at path (following symbolic links).
func HashFile(path string) (ContentKey, error) {
	return HashFileContext(context.Background(), path)
}

// HashFileContext is HashFile with cancellation.
func HashFileContext(ctx context.Context, path string) (ContentKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return ContentKey{}, fmt.Errorf("hash: %w", err)
	}
	defer f.Close()
	adviseSequential(f)
	key, _, err := hashStream(ctx, f, make([]byte, hashBufSize), nil)
	if err != nil {
		return ContentKey{}, fmt.Errorf("hash %s: %w", path, err)
	}
	return key, nil
}

// HashReader computes the content key of everything r yields.
func HashReader(r io.Reader) (ContentKey, error) {
	key, _, err := hashStream(context.Background(), r, make([]byte, 256<<10), nil)
	if err != nil {
		return ContentKey{}, fmt.Errorf("hash: %w", err)
	}
	return key, nil
}

// HashBytes computes the content key of b.
func HashBytes(b []byte) ContentKey { return ContentKey(xxh3.Hash128(b).Bytes()) }

// hashStream hashes r to its end, checking ctx between reads; read, when set, gets the size of
// every read.
func hashStream(ctx context.Context, r io.Reader, buf []byte, read func(int)) (ContentKey, int64, error) {
	h := xxh3.New128()
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return ContentKey{}, total, err
		}
		n, err := r.Read(buf)
		if n > 0 {
			h.Write(buf[:n])
			total += int64(n)
			if read != nil {
				read(n)
			}
		}
		if err == io.EOF {
			return ContentKey(h.Sum128().Bytes()), total, nil
		}
		if err != nil {
			return ContentKey{}, total, err
		}
	}
}
