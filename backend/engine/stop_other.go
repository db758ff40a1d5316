//go:build !windows

package engine

import "syscall"

// targetFull are the errors that every later write to the same folder would repeat (stopsRun).
var targetFull = []error{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS}
