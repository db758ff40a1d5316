//go:build unix

// Package flock takes advisory whole-file locks (flock(2)) on open descriptors: a lock lasts
// until every descriptor sharing the open file is closed, so a killed process releases it.
package flock

import (
	"errors"

	"golang.org/x/sys/unix"
)

// ErrHeld reports a lock that another open file holds, when Lock was told not to wait.
var ErrHeld = errors.New("locked by another process")

// Lock takes an exclusive or a shared lock on fd. With wait it blocks until the lock is
// free; without, a lock held elsewhere fails at once with ErrHeld. Taking a lock on a
// descriptor that holds the other kind converts it (not atomically: flock(2)).
func Lock(fd int, exclusive, wait bool) error {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	if !wait {
		how |= unix.LOCK_NB
	}
	for {
		err := unix.Flock(fd, how)
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		case unix.EWOULDBLOCK:
			return ErrHeld
		}
		return err
	}
}
