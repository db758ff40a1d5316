//go:build !linux

package transfer

import (
	"context"
	"io"
	"math"
)

// copyFile copies src into the empty file dst through a buffered stream.
func copyFile(ctx context.Context, dst, src *file, size int64, progress func(int64), _ clonePair) (int64, copyMethod, error) {
	n, err := streamCopy(ctx, dst, io.NewSectionReader(src, 0, math.MaxInt64), size, progress)
	return n, viaStream, err
}
