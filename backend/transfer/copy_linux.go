package transfer

import (
	"context"
	"errors"
	"io"
	"math"
	"os"

	"golang.org/x/sys/unix"
)

var errNoFastCopy = errors.New("no in-kernel copy")

// copyFile copies src into the empty file dst: a reflink when the file system shares extents,
// else copy_file_range in chunks (in-kernel, server-side on NFS/SMB), else a buffered stream.
func copyFile(ctx context.Context, dst, src *os.File, size int64, progress func(int64)) (int64, copyMethod, error) {
	if size > 0 {
		if n, err := reflink(dst, src); err == nil {
			if progress != nil {
				progress(n)
			}
			return n, viaReflink, ctx.Err()
		}
	}
	n, err := copyRange(ctx, dst, src, size, progress)
	if !errors.Is(err, errNoFastCopy) {
		return n, viaCopyFileRange, err
	}
	n, err = streamCopy(ctx, dst, io.NewSectionReader(src, 0, math.MaxInt64), size, progress)
	return n, viaStream, err
}

// reflink clones src's extents into dst (FICLONE) and returns the cloned size. Most file
// systems (ext4, tmpfs) refuse with EOPNOTSUPP, EXDEV or EINVAL; any error means "not cloned".
func reflink(dst, src *os.File) (int64, error) {
	err := withFds(dst, src, func(dfd, sfd int) error {
		return unix.IoctlFileClone(dfd, sfd)
	})
	if err != nil {
		return 0, err
	}
	fi, err := dst.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// copyRange copies with copy_file_range from offset 0 until EOF, one chunk per call, checking
// ctx in between. It returns errNoFastCopy when the kernel or file system cannot do it before
// any byte was copied.
func copyRange(ctx context.Context, dst, src *os.File, size int64, progress func(int64)) (int64, error) {
	var roff, woff int64
	for {
		if err := ctx.Err(); err != nil {
			return woff, err
		}
		var k int
		err := withFds(dst, src, func(dfd, sfd int) (err error) {
			k, err = retryEINTR(func() (int, error) {
				return unix.CopyFileRange(sfd, &roff, dfd, &woff, chunkSize, 0)
			})
			return err
		})
		if err != nil {
			if woff == 0 && noFastCopy(err) {
				return 0, errNoFastCopy
			}
			return woff, &os.PathError{Op: "copy_file_range", Path: src.Name(), Err: err}
		}
		if k == 0 {
			if woff == 0 && size > 0 {
				// Some file systems report nothing copied instead of an error.
				return 0, errNoFastCopy
			}
			return woff, nil
		}
		if progress != nil {
			progress(woff)
		}
	}
}

func noFastCopy(err error) bool {
	for _, e := range []error{unix.ENOSYS, unix.EXDEV, unix.EOPNOTSUPP, unix.EINVAL, unix.EPERM, unix.EBADF} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// withFds runs f with the descriptors of dst and src held open.
func withFds(dst, src *os.File, f func(dfd, sfd int) error) error {
	drc, err := dst.SyscallConn()
	if err != nil {
		return err
	}
	src2, err := src.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	cerr := drc.Control(func(dfd uintptr) {
		if err := src2.Control(func(sfd uintptr) { ferr = f(int(dfd), int(sfd)) }); err != nil {
			ferr = err
		}
	})
	if cerr != nil {
		return cerr
	}
	return ferr
}
