package engine

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"

	"github.com/ferrysync/ferry/backend/transfer"
)

func TestStopsRun(t *testing.T) {
	tests := []struct {
		err  error
		stop bool
	}{
		{&fs.PathError{Op: "write", Path: "/b/.f.ferry-1.tmp", Err: syscall.ENOSPC}, true},
		{&fs.PathError{Op: "copy_file_range", Path: "/a/f", Err: syscall.ENOSPC}, true},
		{&fs.PathError{Op: "mkdirat", Path: "/b/d", Err: syscall.EDQUOT}, true},
		{&os.LinkError{Op: "rename", Old: "/b/.f.ferry-1.tmp", New: "/b/f", Err: syscall.EROFS}, true},
		{&fs.PathError{Op: "write", Path: "/b/.f.ferry-1.tmp", Err: syscall.EIO}, true},
		{&fs.PathError{Op: "fsync", Path: "/b/.f.ferry-1.tmp", Err: syscall.EIO}, true},
		{&fs.PathError{Op: "read", Path: "/a/f", Err: syscall.EIO}, false}, // one bad source file
		{&fs.PathError{Op: "openat", Path: "/b/f", Err: syscall.EACCES}, false},
		{transfer.ErrTargetChanged, false},
	}
	for _, tc := range tests {
		err := transfer.Explain(fmt.Errorf("copy /f on B: %w", tc.err))
		if got := stopsRun(err); got != tc.stop {
			t.Errorf("stopsRun(%v) = %v, want %v", err, got, tc.stop)
		}
	}
}
