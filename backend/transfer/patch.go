package transfer

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	librsync "github.com/balena-os/librsync-go"
)

// librsync delta opcodes (see librsync's prototab): END, LITERAL_1…64 with the length in the
// opcode, LITERAL_N1…N8 with a 1/2/4/8-byte length, COPY_Nx_Ny with position and length sizes.
const (
	opEnd        = 0x00
	opLiteral64  = 0x40
	opLiteralN8  = 0x44
	opCopyN1N1   = 0x45
	opCopyN8N8   = 0x54
	patchBufSize = 256 << 10
)

// patch applies a librsync delta to basis (basisSize bytes) and writes the result to out.
// Unlike librsync-go's Patch, every I/O error counts, a copy outside the basis, a truncated
// literal and data after the end marker are corruption, and ctx is honoured throughout.
func patch(ctx context.Context, basis io.ReaderAt, basisSize int64, delta *bufio.Reader, out io.Writer) (int64, error) {
	w := &countWriter{w: out}
	buf := make([]byte, patchBufSize)
	var magic [4]byte
	if _, err := io.ReadFull(delta, magic[:]); err != nil {
		return 0, corrupt("reading magic", err)
	}
	if m := librsync.MagicNumber(binary.BigEndian.Uint32(magic[:])); m != librsync.DELTA_MAGIC {
		return 0, corrupt(fmt.Sprintf("magic %#x", uint32(m)), nil)
	}
	for {
		if err := ctx.Err(); err != nil {
			return w.n, err
		}
		op, err := delta.ReadByte()
		if err != nil {
			return w.n, corrupt("reading command", err)
		}
		switch {
		case op == opEnd:
			if _, err := delta.ReadByte(); err != io.EOF {
				return w.n, corrupt("data after the end marker", err)
			}
			return w.n, nil
		case op <= opLiteral64:
			err = literal(ctx, w, delta, int64(op), buf)
		case op <= opLiteralN8:
			var n int64
			if n, err = param(delta, 1<<(op-opLiteral64-1)); err == nil {
				err = literal(ctx, w, delta, n, buf)
			}
		case op <= opCopyN8N8:
			k := op - opCopyN1N1
			var pos, n int64
			if pos, err = param(delta, 1<<(k/4)); err == nil {
				if n, err = param(delta, 1<<(k%4)); err == nil {
					err = copyBasis(ctx, w, basis, basisSize, pos, n, buf)
				}
			}
		default:
			err = corrupt(fmt.Sprintf("unknown command %#x", op), nil)
		}
		if err != nil {
			return w.n, err
		}
	}
}

func literal(ctx context.Context, w io.Writer, delta io.Reader, n int64, buf []byte) error {
	got, err := io.CopyBuffer(w, io.LimitReader(ctxReader{ctx, delta}, n), buf)
	if err != nil {
		return err
	}
	if got != n {
		return corrupt("truncated literal", io.ErrUnexpectedEOF)
	}
	return nil
}

func copyBasis(ctx context.Context, w io.Writer, basis io.ReaderAt, size, pos, n int64, buf []byte) error {
	if pos < 0 || n < 0 || pos > size || n > size-pos {
		return corrupt(fmt.Sprintf("copy of %d bytes at %d outside a %d-byte basis", n, pos, size), nil)
	}
	got, err := io.CopyBuffer(w, ctxReader{ctx, io.NewSectionReader(basis, pos, n)}, buf)
	if err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("basis shrank while patching: %w", io.ErrUnexpectedEOF)
	}
	return nil
}

// param reads a big-endian unsigned parameter of size bytes.
func param(r io.Reader, size int) (int64, error) {
	var b [8]byte
	if _, err := io.ReadFull(r, b[8-size:]); err != nil {
		return 0, corrupt("reading parameter", err)
	}
	v := binary.BigEndian.Uint64(b[:])
	if v > 1<<62 {
		return 0, corrupt("parameter out of range", nil)
	}
	return int64(v), nil
}

// corrupt reports a malformed delta; a premature end of the stream is corruption too, but any
// other read error is kept as the cause.
func corrupt(what string, err error) error {
	switch {
	case err == nil:
		return fmt.Errorf("%w: %s", ErrCorruptDelta, what)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %s: unexpected end", ErrCorruptDelta, what)
	}
	return fmt.Errorf("%w: %s: %w", ErrCorruptDelta, what, err)
}
