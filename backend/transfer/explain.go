package transfer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/ferrysync/ferry/backend/inventory"
)

// Explain returns err told in words for people: each system call error in it (*fs.PathError,
// *os.LinkError, *os.SyscallError) becomes what Ferry was doing, on which path, and why, as in
// "could not create the folder /photos/2024: no space left on the device" instead of
// "mkdirat /photos/2024: no space left on device". The result wraps err, so errors.Is and
// errors.As still see the errno and everything else err holds. nil stays nil.
func Explain(err error) error {
	if err == nil {
		return nil
	}
	if _, done := err.(*explained); done {
		return err
	}
	msg := err.Error()
	out := msg
	walk(err, func(e error) {
		if words, ok := sayCall(e); ok {
			out = strings.ReplaceAll(out, e.Error(), words)
		}
	})
	if out == msg {
		return err
	}
	return &explained{msg: out, err: err}
}

type explained struct {
	msg string
	err error
}

func (e *explained) Error() string { return e.msg }
func (e *explained) Unwrap() error { return e.err }

// walk calls f on err and every error it wraps, depth first.
func walk(err error, f func(error)) {
	if err == nil {
		return
	}
	f(err)
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walk(e, f)
		}
	case interface{ Unwrap() error }:
		walk(u.Unwrap(), f)
	}
}

// sayCall tells a system call error in words; false for any other error.
func sayCall(err error) (string, bool) {
	switch e := err.(type) {
	case *fs.PathError:
		return doing(e.Op, shown(e.Path)) + ": " + Reason(e.Err), true
	case *os.LinkError:
		what := "could not rename " + shown(e.Old) + " to " + shown(e.New)
		switch {
		case isTemp(e.Old):
			what = "could not put " + shown(e.Old) + " in place"
		case !isOp(e.Op, "rename"):
			what = "could not link " + shown(e.New) + " to " + shown(e.Old)
		}
		return what + ": " + Reason(e.Err), true
	case *os.SyscallError:
		return doing(e.Syscall, "") + ": " + Reason(e.Err), true
	}
	return "", false
}

// isOp tells whether a system call name is op or one of its variants (mkdirat, renameat2,
// fstatat, lstat, pwrite64…).
func isOp(call, op string) bool {
	for _, pre := range []string{"", "f", "l", "p"} {
		for _, suf := range []string{"", "at", "at2", "64"} {
			if call == pre+op+suf {
				return true
			}
		}
	}
	return false
}

// doing is what Ferry was doing when the system call call failed on p ("" when unknown).
func doing(call, p string) string {
	verb := "could not use"
	switch {
	case isOp(call, "open") || call == "dup":
		verb = "could not open"
	case call == "create" || call == "creat":
		verb = "could not create the file"
		if strings.HasPrefix(p, newContent) {
			verb = "could not create"
		}
	case isOp(call, "mkdir"):
		verb = "could not create the folder"
	case call == "rmdir":
		verb = "could not remove the folder"
	case isOp(call, "remove") || isOp(call, "unlink"):
		verb = "could not remove"
	case isOp(call, "rename"):
		verb = "could not rename"
	case isOp(call, "link"):
		verb = "could not link"
	case call == "statfs" || call == "fstatfs":
		verb = "could not find the free space of"
	case isOp(call, "stat") || call == "statx":
		verb = "could not look at"
	case isOp(call, "read") || call == "readdirent" || call == "getdents":
		verb = "could not read"
	case isOp(call, "write"):
		verb = "could not write"
	case isOp(call, "chmod"):
		verb = "could not set the permissions of"
	case isOp(call, "chown"):
		verb = "could not set the owner of"
	case isOp(call, "chtimes") || isOp(call, "utimens") || isOp(call, "utimes") || call == "futimens" || call == "set dates":
		verb = "could not set the dates of"
	case isOp(call, "sync") || call == "fdatasync" || call == "syncfs":
		verb = "could not save to the disk"
		if p != "" {
			verb = "could not save " + p + " to the disk"
			p = ""
		}
	case call == "close":
		verb = "could not finish writing"
	case isOp(call, "truncate") || call == "fallocate":
		verb = "could not set the size of"
	case call == "copy_file_range" || call == "sendfile" || call == "splice" || call == "ioctl":
		verb = "could not copy"
	case call == "flock":
		verb = "could not lock"
	case isOp(call, "readlink"):
		verb = "could not read the link"
	}
	if p == "" {
		if verb == "could not copy" {
			return "could not copy the content"
		}
		return verb
	}
	return verb + " " + p
}

const newContent = "the new content of "

func isTemp(p string) bool { return inventory.IsTempName(filepath.Base(p)) }

// shown is a path as people should see it: a temp file is "the new content of" its target.
func shown(p string) string {
	if !isTemp(p) {
		return p
	}
	base := filepath.Base(p)
	target := strings.TrimPrefix(base[:strings.LastIndex(base, ".ferry-")], ".")
	return newContent + filepath.Join(filepath.Dir(p), target)
}

// atItem is err, from an os.Root call on a root-relative name, as a failed op on its item path
// (p when err names none), keeping its errno: "could not create the folder /photos/2024: …"
// once explained, rather than the root's call name and relative path.
func atItem(op, p string, err error) error {
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		return fmt.Errorf("%s %s: %w", op, p, err)
	}
	if pe.Path != "" && !filepath.IsAbs(pe.Path) {
		p = itemPath(filepath.ToSlash(pe.Path))
	}
	return &fs.PathError{Op: op, Path: p, Err: pe.Err}
}

// reasons are the system's errors in words; any other keeps the system's text.
var reasons = map[syscall.Errno]string{
	syscall.ENOSPC:       "no space left on the device",
	syscall.EDQUOT:       "the disk quota is exceeded",
	syscall.EROFS:        "the file system is read-only",
	syscall.EACCES:       "permission denied",
	syscall.EPERM:        "the operation is not permitted",
	syscall.EIO:          "input/output error: the device may be failing or disconnected",
	syscall.ENOENT:       "it does not exist",
	syscall.EEXIST:       "it already exists",
	syscall.ENOTEMPTY:    "the folder is not empty",
	syscall.ENOTDIR:      "a part of the path is not a folder",
	syscall.EISDIR:       "it is a folder",
	syscall.ENAMETOOLONG: "the name is too long for the file system",
	syscall.EXDEV:        "it is on another file system",
	syscall.EMFILE:       "too many files are open",
	syscall.ENFILE:       "too many files are open",
	syscall.EBUSY:        "it is in use",
	syscall.ETXTBSY:      "it is in use",
	syscall.ELOOP:        "a symbolic link is in the way",
	syscall.EFBIG:        "the file is too large for the file system",
	syscall.ENODEV:       "the device is gone",
	syscall.ENXIO:        "the device is gone",
	syscall.ESTALE:       "the network file system lost track of it: mount the folder again",
	syscall.EMLINK:       "too many links",
}

// Reason is why a system call failed, in words; the system's text for errors it does not know.
func Reason(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if r, ok := reasons[errno]; ok {
			return r
		}
		if r := errno.Error(); !strings.HasPrefix(r, "errno ") {
			return r
		}
		return "system error " + strconv.Itoa(int(errno))
	}
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}
