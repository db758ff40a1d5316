package relay

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Changes to one session's relay state are serialized twice: by a lock of this process (so that
// waiting honours the context and costs no thread), then by a file lock on the session's lock
// file (so that server processes sharing the storage folder take turns). Sessions never wait on
// each other.

const lockName = ".lock"

// errNoSession: the session has no relay state (nothing was ever stored, or it was deleted).
var errNoSession = errors.New("no relay state for this session")

type sessionLocks struct {
	mu sync.Mutex
	m  map[string]*sessionLock
}

type sessionLock struct {
	held chan struct{} // holds one token while locked
	refs int           // holders and waiters; guarded by sessionLocks.mu
}

func (l *sessionLocks) acquire(ctx context.Context, session string) (release func(), err error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = make(map[string]*sessionLock)
	}
	e := l.m[session]
	if e == nil {
		e = &sessionLock{held: make(chan struct{}, 1)}
		l.m[session] = e
	}
	e.refs++
	l.mu.Unlock()
	select {
	case e.held <- struct{}{}:
		return func() { <-e.held; l.drop(session, e) }, nil
	case <-ctx.Done():
		l.drop(session, e)
		return nil, context.Cause(ctx)
	}
}

func (l *sessionLocks) drop(session string, e *sessionLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.refs--; e.refs == 0 {
		delete(l.m, session)
	}
}

// lock takes the session's locks. With create, the session's folder is made when missing;
// without, a session with no folder gives errNoSession.
func (s *Store) lock(ctx context.Context, session string, create bool) (unlock func(), err error) {
	release, err := s.locks.acquire(ctx, session)
	if err != nil {
		return nil, err
	}
	dir := s.sessionDir(session)
	for {
		if create {
			if err := os.MkdirAll(dir, dirMode); err != nil {
				release()
				return nil, fmt.Errorf("create the relay folder of session %s: %w", session, err)
			}
		} else if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			release()
			return nil, errNoSession
		}
		unlockFile, err := lockFile(filepath.Join(dir, lockName))
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errLockMoved) {
			continue // the folder was deleted meanwhile: start again with the new one, if any
		}
		if err != nil {
			release()
			return nil, fmt.Errorf("lock the relay folder of session %s: %w", session, err)
		}
		return func() { unlockFile(); release() }, nil
	}
}

// errLockMoved: the lock file was taken but is no longer at its path (its folder was deleted
// while this process waited).
var errLockMoved = errors.New("lock file moved")
