//go:build unix

package relay

import (
	"fmt"
	"os"

	"github.com/ferrysync/ferry/backend/internal/flock"
)

// lockFile takes an exclusive flock on path (created when missing) and checks that the file
// locked is still the one at path: a folder deleted while waiting gives errLockMoved.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, err
	}
	if err := flock.Lock(int(f.Fd()), true, true); err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", path, err)
	}
	held, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	now, err := os.Stat(path)
	if err != nil || !os.SameFile(held, now) {
		f.Close()
		return nil, errLockMoved
	}
	return func() { f.Close() }, nil // closing the file releases the flock
}
