//go:build unix

package relay

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive flock on path (created when missing) and checks that the file
// locked is still the one at path: a folder deleted while waiting gives errLockMoved.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
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
