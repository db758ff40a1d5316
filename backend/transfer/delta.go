package transfer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	librsync "github.com/balena-os/librsync-go"
)

const (
	minBlockLen = 2 << 10
	maxBlockLen = 64 << 10
	// strongLen is the per-block BLAKE2b prefix kept in signatures (128 bits).
	strongLen = 16
	// minRemoteDelta is the smallest file PreferDelta sends as a delta between machines.
	minRemoteDelta = 64 << 10
	ioBufSize      = 256 << 10
)

// literalBufs recycles librsync-go's 16 MiB literal buffers: a cache, not state.
var literalBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, librsync.OUTPUT_BUFFER_SIZE)
	return &b
}}

// PreferDelta tells whether a target that already exists should receive a delta rather than
// the full content. Between local paths a full copy wins (a delta reads both files and still
// writes the whole target, as rsync also concludes); between machines a delta pays off when
// there is a target to patch and the file is not tiny.
func PreferDelta(size int64, targetExists bool, remote bool) bool {
	return remote && targetExists && size >= minRemoteDelta
}

// blockLen picks the signature block length for a basis of size bytes: 2 KiB up to 4 MiB, then
// about sqrt(size) (as rsync does) up to 64 KiB.
func blockLen(size int64) uint32 {
	b := int64(math.Sqrt(float64(max(size, 0)))) &^ 1023
	return uint32(min(max(b, minBlockLen), maxBlockLen))
}

// Signature writes the librsync signature (BLAKE2) of basis, whose size (-1 when unknown)
// chooses the block length.
func Signature(ctx context.Context, basis io.Reader, size int64, w io.Writer) error {
	bw := bufio.NewWriterSize(w, ioBufSize)
	sw := &stickyWriter{w: bw}
	if _, err := signature(ctx, basis, size, sw); err != nil {
		return err
	}
	if sw.err != nil {
		return fmt.Errorf("write signature: %w", sw.err)
	}
	return bw.Flush()
}

// FileSignature writes the signature of the regular file at path p of r.
func FileSignature(ctx context.Context, r *Root, p string, w io.Writer) error {
	rel, err := cleanPath(p)
	if err != nil {
		return err
	}
	f, fi, err := r.openRegular(rel)
	if err != nil {
		return err
	}
	defer f.Close()
	return Signature(ctx, f, fi.Size(), w)
}

func signature(ctx context.Context, basis io.Reader, size int64, w io.Writer) (*librsync.SignatureType, error) {
	in := bufio.NewReaderSize(ctxReader{ctx, basis}, ioBufSize)
	sig, err := librsync.Signature(in, w, blockLen(size), strongLen, librsync.BLAKE2_SIG_MAGIC)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	return sig, nil
}

// MakeDelta reads a signature and writes the librsync delta that turns its basis into src.
func MakeDelta(ctx context.Context, sig io.Reader, src io.Reader, w io.Writer) error {
	s, err := readSignature(sig)
	if err != nil {
		return err
	}
	return makeDelta(ctx, s, src, w)
}

func makeDelta(ctx context.Context, sig *librsync.SignatureType, src io.Reader, w io.Writer) error {
	bw := bufio.NewWriterSize(w, ioBufSize)
	sw := &stickyWriter{w: bw}
	lit := literalBufs.Get().(*[]byte)
	defer literalBufs.Put(lit)
	// A bufio.Reader of at least 4 KiB is used as is by librsync-go, so ctx is checked once
	// per buffer fill, not per byte.
	in := bufio.NewReaderSize(ctxReader{ctx, src}, ioBufSize)
	if err := librsync.DeltaBuff(sig, in, sw, (*lit)[:0]); err != nil {
		return fmt.Errorf("delta: %w", err)
	}
	if sw.err != nil {
		return fmt.Errorf("write delta: %w", sw.err)
	}
	return bw.Flush()
}

// readSignature parses a signature after checking its header: librsync-go trusts it blindly.
// MD4 signatures are refused (weak against crafted collisions).
func readSignature(r io.Reader) (*librsync.SignatureType, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, corrupt("signature header", err)
	}
	magic := librsync.MagicNumber(binary.BigEndian.Uint32(hdr[0:]))
	bl := binary.BigEndian.Uint32(hdr[4:])
	sl := binary.BigEndian.Uint32(hdr[8:])
	switch {
	case magic != librsync.BLAKE2_SIG_MAGIC:
		return nil, corrupt(fmt.Sprintf("signature magic %#x", uint32(magic)), nil)
	case bl < 64 || bl > 1<<20:
		return nil, corrupt(fmt.Sprintf("signature block length %d", bl), nil)
	case sl < 8 || sl > librsync.BLAKE2_SUM_LENGTH:
		return nil, corrupt(fmt.Sprintf("signature strong length %d", sl), nil)
	}
	sig, err := librsync.ReadSignature(io.MultiReader(bytes.NewReader(hdr[:]), bufio.NewReaderSize(r, ioBufSize)))
	if err != nil {
		return nil, corrupt("signature", err)
	}
	return sig, nil
}

// ApplyDelta patches the existing regular file at path p of dst with delta into a temp file,
// verifies it (o.Size, o.Expected) and renames it over the target, which keeps its mode.
// Result.Bytes is the delta size.
func ApplyDelta(ctx context.Context, dst *Root, p string, delta io.Reader, o CopyOptions) (Result, error) {
	res := Result{Mode: Delta}
	rel, err := cleanPath(p)
	if err != nil {
		return res, err
	}
	_, err = dst.replace(ctx, p, targetRule{mustExist: true, keepMode: true}, o, func(ctx context.Context, t *file) (int64, error) {
		basis, bfi, err := dst.openRegular(rel)
		if err != nil {
			return 0, err
		}
		defer basis.Close()
		cr := &countReader{r: delta, counter: counter{progress: o.Progress}}
		n, err := patch(ctx, basis, bfi.Size(), bufio.NewReaderSize(cr, ioBufSize), t)
		res.Bytes = cr.n
		return n, err
	})
	return res, err
}

// copyDelta is Copy in Delta mode: signature of the target, delta of the source streamed
// straight into the patcher, no delta file.
func copyDelta(ctx context.Context, in source, dst *Root, dstPath string, o CopyOptions) (Result, error) {
	res := Result{Mode: Delta}
	rel, err := cleanPath(dstPath)
	if err != nil {
		return res, err
	}
	tr := targetRule{mustExist: true, perm: in.fi.Mode()}
	_, err = dst.replace(ctx, dstPath, tr, o, func(ctx context.Context, t *file) (int64, error) {
		basis, bfi, err := dst.openRegular(rel)
		if err != nil {
			return 0, err
		}
		defer basis.Close()
		sig, err := signature(ctx, io.NewSectionReader(basis, 0, bfi.Size()), bfi.Size(), io.Discard)
		if err != nil {
			return 0, err
		}

		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		pr, pw := io.Pipe()
		src := &countReader{r: io.NewSectionReader(in.f, 0, math.MaxInt64)}
		made := make(chan error, 1)
		go func() {
			err := makeDelta(ctx, sig, src, pw)
			pw.CloseWithError(err) // nil: EOF for the patcher
			made <- err
		}()
		cr := &countReader{r: pr, counter: counter{progress: o.Progress}}
		n, perr := patch(ctx, basis, bfi.Size(), bufio.NewReaderSize(cr, ioBufSize), t)
		if perr != nil {
			pr.CloseWithError(perr) // unblocks the delta writer
		}
		cancel()
		derr := <-made
		res.Bytes = cr.n
		switch {
		// The delta side failing on its own (source read error, cancellation) is the cause;
		// its write error after the patcher gave up (closed pipe, perr) is not.
		case derr != nil && !errors.Is(derr, io.ErrClosedPipe) && !errors.Is(derr, perr):
			return n, derr
		case perr != nil:
			return n, perr
		}
		return n, in.unchanged(src.n)
	})
	return res, err
}
