package s3test

import "syscall"

// sysProcAttr makes the kernel kill weed when the test binary dies without running its
// cleanups (a test timeout, a signal).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
