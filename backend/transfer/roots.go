package transfer

import (
	"errors"
	"io/fs"
	"sync"
	"syscall"

	"github.com/ferrysync/ferry/backend/inventory"
)

var (
	// ErrRootReplaced reports a data source folder that is not the directory the inventory
	// listed any more: moved, or replaced by another directory or a symbolic link.
	ErrRootReplaced = errors.New("was replaced since it was inventoried")
	// ErrRootBusy reports a data source folder that another Ferry run holds locked.
	ErrRootBusy = errors.New("another Ferry run is using it")
)

// RootError is a data source folder a run cannot use: Err is ErrRootReplaced or ErrRootBusy.
type RootError struct {
	Dir string
	Err error
}

func (e *RootError) Error() string {
	switch e.Err {
	case ErrRootBusy:
		return "another Ferry run is using " + e.Dir + ": wait for it to end, then run again"
	case ErrRootReplaced:
		return "data source folder " + e.Dir + " " + ErrRootReplaced.Error() + ": nothing was changed there"
	}
	return e.Dir + ": " + e.Err.Error()
}

func (e *RootError) Unwrap() error { return e.Err }

// Lock is how a run holds a data source folder. The locks are advisory, taken on the folder's
// own descriptor: between Ferry runs, not against other programs.
type Lock uint8

const (
	NoLock Lock = iota
	// Shared: the run only reads there; other runs may read too.
	Shared
	// Exclusive: the run writes there; no other run may use it.
	Exclusive
)

// Roots are the data source roots of a run, each opened once and kept open, so that every
// operation of the run works relative to the directory checked when it was opened. It is safe
// for concurrent use; Close releases the roots and their locks.
type Roots struct {
	mu     sync.Mutex
	open   map[string]*heldRoot
	failed map[string]error
}

type heldRoot struct {
	r    *Root
	lock Lock
}

func NewRoots() *Roots {
	return &Roots{open: map[string]*heldRoot{}, failed: map[string]error{}}
}

// Open returns the root at dir, opened the first time. With a non-zero id, the directory held
// must be the one id names and dir must still lead to it: otherwise the root fails with a
// RootError (ErrRootReplaced). lock is taken without waiting, or strengthened from shared to
// exclusive: a lock another run holds fails it with ErrRootBusy. A root that failed stays
// failed (closed, its lock released), and every later Open or Get of dir gives that error.
func (s *Roots) Open(dir string, id inventory.DirID, lock Lock) (*Root, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.failed[dir]; err != nil {
		return nil, err
	}
	h := s.open[dir]
	if h == nil {
		r, err := OpenRoot(dir)
		if err != nil {
			return nil, s.fail(dir, err)
		}
		h = &heldRoot{r: r}
		s.open[dir] = h
	}
	if !id.IsZero() {
		now, err := pathID(dir)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			err = &RootError{Dir: dir, Err: ErrRootReplaced} // moved away
		}
		if err != nil {
			return nil, s.fail(dir, err)
		}
		if held := h.r.id(); !held.IsZero() && (held != id || now != held) {
			return nil, s.fail(dir, &RootError{Dir: dir, Err: ErrRootReplaced})
		}
	}
	if lock > h.lock {
		if err := h.r.lock(lock == Exclusive); err != nil {
			return nil, s.fail(dir, err)
		}
		h.lock = lock
	}
	return h.r, nil
}

// Get returns the root at dir: the one Open gave, its failure, or, for a folder never opened,
// the folder opened now without a check or a lock.
func (s *Roots) Get(dir string) (*Root, error) {
	return s.Open(dir, inventory.DirID{}, NoLock)
}

// fail records the failure of dir and closes its root.
func (s *Roots) fail(dir string, err error) error {
	if h := s.open[dir]; h != nil {
		h.r.Close()
		delete(s.open, dir)
	}
	s.failed[dir] = err
	return err
}

// Close releases every root and its lock; operations still running finish first on the
// directories they hold.
func (s *Roots) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for dir, h := range s.open {
		errs = append(errs, h.r.Close())
		delete(s.open, dir)
	}
	return errors.Join(errs...)
}
