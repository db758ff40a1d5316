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

// copyFile copies the size bytes src had when opened into the empty file dst: a reflink when
// the file system shares extents, else copy_file_range in chunks (in-kernel, server-side on
// NFS/SMB), else a buffered stream. A source that grew is left to the caller's check.
func copyFile(ctx context.Context, dst, src *file, size int64, progress func(int64), pair clonePair) (int64, copyMethod, error) {
	if size > 0 && pair.enabled() {
		n, err := reflink(dst, src)
		if err == nil {
			if progress != nil {
				progress(n)
			}
			return n, viaReflink, ctx.Err()
		}
		if cloneUnsupported(err) {
			pair.disable()
		}
	}
	n, err := copyRange(ctx, dst, src, size, progress)
	if !errors.Is(err, errNoFastCopy) {
		return n, viaCopyFileRange, err
	}
	n, err = streamCopy(ctx, dst, io.NewSectionReader(src, 0, math.MaxInt64), size, progress)
	return n, viaStream, err
}

// reflink clones src's extents into dst (FICLONE) and returns the cloned size.
func reflink(dst, src *file) (int64, error) {
	if err := unix.IoctlFileClone(dst.fd, src.fd); err != nil {
		return 0, err
	}
	fi, err := dst.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// cloneUnsupported tells a file system that cannot clone between the two files (ext4, tmpfs,
// different file systems) from a failure of this one clone.
func cloneUnsupported(err error) bool {
	for _, e := range []error{unix.EOPNOTSUPP, unix.EXDEV, unix.EINVAL, unix.ENOTTY} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// copyRange copies size bytes with copy_file_range from offset 0, one chunk per call, checking
// ctx in between. It stops early when the source ends, and returns errNoFastCopy when the
// kernel or file system cannot do it before any byte was copied.
func copyRange(ctx context.Context, dst, src *file, size int64, progress func(int64)) (int64, error) {
	var roff, woff int64
	for woff < size {
		if err := ctx.Err(); err != nil {
			return woff, err
		}
		k, err := retryEINTR(func() (int, error) {
			return unix.CopyFileRange(src.fd, &roff, dst.fd, &woff, int(min(size-woff, chunkSize)), 0)
		})
		if err != nil {
			if woff == 0 && noFastCopy(err) {
				return 0, errNoFastCopy
			}
			return woff, &os.PathError{Op: "copy_file_range", Path: src.name, Err: err}
		}
		if k == 0 {
			if woff == 0 {
				// Some file systems report nothing copied instead of an error.
				return 0, errNoFastCopy
			}
			return woff, nil
		}
		if progress != nil {
			progress(woff)
		}
	}
	return woff, nil
}

func noFastCopy(err error) bool {
	for _, e := range []error{unix.ENOSYS, unix.EXDEV, unix.EOPNOTSUPP, unix.EINVAL, unix.EPERM, unix.EBADF} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
