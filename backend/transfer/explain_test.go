package transfer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"syscall"
	"testing"
)

// callNames matches the system call names and Go internals that must never reach people.
var callNames = regexp.MustCompile(`\b(openat|mkdirat|removeat|renameat2?|unlinkat|linkat|fstatat|statx|lstat|fstat|copy_file_range|sendfile|utimensat|futimens|fsync|syncfs|fchmod|chmod|ioctl|rmdir|readdirent|flock|dup|errno|\*fs\.PathError|\*os\.\w+Error)\b`)

func TestExplain(t *testing.T) {
	tmp := "/b/photos/.a.jpg.ferry-1x2y.tmp"
	tests := []struct {
		name string
		err  error
		want string
		is   error
	}{
		{"mkdirat", fmt.Errorf("create /photos/2024 on B: %w", &fs.PathError{Op: "mkdirat", Path: "/b/photos/2024", Err: syscall.ENOSPC}),
			"create /photos/2024 on B: could not create the folder /b/photos/2024: no space left on the device", syscall.ENOSPC},
		{"removeat", &fs.PathError{Op: "removeat", Path: "/old.txt", Err: syscall.EROFS},
			"could not remove /old.txt: the file system is read-only", syscall.EROFS},
		{"rmdir", &fs.PathError{Op: "rmdir", Path: "/d", Err: syscall.ENOTEMPTY},
			"could not remove the folder /d: the folder is not empty", fs.ErrExist},
		{"openat", &fs.PathError{Op: "openat", Path: "/x", Err: syscall.EACCES}, "could not open /x: permission denied", fs.ErrPermission},
		{"statx", &fs.PathError{Op: "statx", Path: "/x", Err: syscall.EIO},
			"could not look at /x: input/output error: the device may be failing or disconnected", syscall.EIO},
		{"lstat", &fs.PathError{Op: "lstat", Path: "/x", Err: syscall.ENOENT}, "could not look at /x: it does not exist", fs.ErrNotExist},
		{"temp file written", &fs.PathError{Op: "write", Path: tmp, Err: syscall.EDQUOT},
			"could not write the new content of /b/photos/a.jpg: the disk quota is exceeded", syscall.EDQUOT},
		{"temp file created", &fs.PathError{Op: "create", Path: tmp, Err: syscall.ENOSPC},
			"could not create the new content of /b/photos/a.jpg: no space left on the device", syscall.ENOSPC},
		{"temp file synced", &fs.PathError{Op: "fsync", Path: tmp, Err: syscall.EIO},
			"could not save the new content of /b/photos/a.jpg to the disk: input/output error: the device may be failing or disconnected", syscall.EIO},
		{"temp file renamed", &os.LinkError{Op: "renameat", Old: tmp, New: "/b/photos/a.jpg", Err: syscall.EROFS},
			"could not put the new content of /b/photos/a.jpg in place: the file system is read-only", syscall.EROFS},
		{"anonymous file linked", &os.LinkError{Op: "link", Old: "/photos/" + anonymousName("a.jpg"), New: "/photos/a.jpg", Err: syscall.ENOSPC},
			"could not put the new content of /photos/a.jpg in place: no space left on the device", syscall.ENOSPC},
		{"renameat", &os.LinkError{Op: "renameat", Old: "/a", New: "/b", Err: syscall.EXDEV},
			"could not rename /a to /b: it is on another file system", syscall.EXDEV},
		{"copy_file_range", fmt.Errorf("copy /big on B: %w", &os.PathError{Op: "copy_file_range", Path: "/a/big", Err: syscall.ENOSPC}),
			"copy /big on B: could not copy /a/big: no space left on the device", syscall.ENOSPC},
		{"syscall error", os.NewSyscallError("syncfs", syscall.EIO),
			"could not save to the disk: input/output error: the device may be failing or disconnected", syscall.EIO},
		{"utimensat", &fs.PathError{Op: "utimensat", Path: "/x", Err: syscall.EPERM},
			"could not set the dates of /x: the operation is not permitted", syscall.EPERM},
		{"unknown call, unknown errno", &fs.PathError{Op: "frobnicate", Path: "/x", Err: syscall.Errno(200)},
			"could not use /x: system error 200", syscall.Errno(200)},
		{"joined", errors.Join(
			fmt.Errorf("delete /a on B: %w", &fs.PathError{Op: "unlinkat", Path: "/a", Err: syscall.EROFS}),
			fmt.Errorf("delete /b on B: %w", &fs.PathError{Op: "unlinkat", Path: "/b", Err: syscall.EROFS})),
			"delete /a on B: could not remove /a: the file system is read-only\ndelete /b on B: could not remove /b: the file system is read-only", syscall.EROFS},
		{"no system call", ErrTargetChanged, ErrTargetChanged.Error(), ErrTargetChanged},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Explain(tc.err)
			if got.Error() != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
			if m := callNames.FindString(got.Error()); m != "" {
				t.Errorf("%q names %q", got, m)
			}
			if !errors.Is(got, tc.is) {
				t.Errorf("errors.Is(%v, %v) is false", got, tc.is)
			}
			if again := Explain(got); again.Error() != got.Error() {
				t.Errorf("explained twice: %q", again)
			}
		})
	}
	if Explain(nil) != nil {
		t.Error("Explain(nil) is not nil")
	}
}

// The root's own calls are told on the item path: "could not create the folder /photos/2024",
// not "mkdirat photos/2024".
func TestExplainRootCalls(t *testing.T) {
	for _, tc := range []struct {
		op, p   string
		err, is error
		want    string
	}{
		{"mkdir", "/photos/2024/01", &fs.PathError{Op: "mkdirat", Path: "photos/2024", Err: syscall.ENOSPC}, syscall.ENOSPC,
			"could not create the folder /photos/2024: no space left on the device"},
		{"remove", "/old.txt", &fs.PathError{Op: "removeat", Path: "old.txt", Err: syscall.EROFS}, syscall.EROFS,
			"could not remove /old.txt: the file system is read-only"},
		{"remove", "/old.txt", ErrUnsafePath, ErrUnsafePath, "remove /old.txt: unsafe item path"},
	} {
		got := Explain(atItem(tc.op, tc.p, tc.err))
		if got.Error() != tc.want || !errors.Is(got, tc.is) {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
