package engine

import "syscall"

// targetFull are the errors that every later write to the same folder would repeat (stopsRun):
// ERROR_DISK_FULL, ERROR_HANDLE_DISK_FULL, ERROR_WRITE_PROTECT besides the POSIX ones.
var targetFull = []error{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.Errno(112), syscall.Errno(39), syscall.Errno(19)}
