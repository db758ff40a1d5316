//go:build unix

package client

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"
)

// holdPort binds addr without listening, so that connections to it are refused and no other
// listener of the test run takes the port; release frees it.
func holdPort(addr string) (release func(), err error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		return nil, fmt.Errorf("hold %s: not an IPv4 address and port", addr)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("hold %s: %w", addr, err)
	}
	// As a Go listener does: the port's connections in TIME_WAIT do not keep it from binding.
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("hold %s: %w", addr, err)
	}
	// Right after the listener closed, its connections still closing may refuse the bind for
	// a moment.
	sa := &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	for deadline := time.Now().Add(waitFor); ; {
		err = syscall.Bind(fd, sa)
		if err == nil {
			return func() { syscall.Close(fd) }, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			syscall.Close(fd)
			return nil, fmt.Errorf("hold %s: %w", addr, err)
		}
		time.Sleep(time.Millisecond)
	}
}
