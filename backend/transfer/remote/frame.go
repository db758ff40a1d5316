package remote

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/zeebo/xxh3"

	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/transfer"
)

// The plain text of a content transfer is a sequence of file records, sealed into parts as one
// stream (so parts may hold several small files, or a slice of a large one):
//
//	stream  = "FRY1" record* 'E'
//	record  = 'F' len(group):u8 group flags:u8 size:u64 key:[16] chunk* 0:u32 trailer
//	chunk   = len:u32 (1…maxChunk) bytes
//	trailer = 0:u8 key:[16]                 the content key (XXH3-128) of the chunks' bytes
//	        | 1:u8 len:u16 message          the sender could not read the source
//
// Integers are big-endian. flags bit 0: the chunks are a librsync delta, not the content; key
// is then the content key the patched file must have. size is the source's size.
const (
	frameMagic  = "FRY1"
	recordFile  = 'F'
	recordEnd   = 'E'
	flagDelta   = 1
	trailerOK   = 0
	trailerFail = 1
	maxChunk    = 4 << 20
	maxMessage  = 1 << 10
	maxSize     = 1 << 62
)

// ErrCorruptStream reports content transfer plain text that does not follow the framing.
var ErrCorruptStream = errors.New("corrupt relayed content")

// SourceError is the sending member's word that it could not read or send a source.
type SourceError struct{ Message string }

func (e *SourceError) Error() string { return "not sent: " + e.Message }

// fileHeader opens a file record.
type fileHeader struct {
	Group string
	Delta bool
	Size  int64
	Key   inventory.ContentKey
}

// frameWriter writes the framing. Errors are sticky.
type frameWriter struct {
	w   *bufio.Writer
	h   *xxh3.Hasher128
	buf [32]byte
	err error
}

func newFrameWriter(w io.Writer) *frameWriter {
	f := &frameWriter{w: bufio.NewWriterSize(w, 256<<10), h: xxh3.New128()}
	f.put([]byte(frameMagic))
	return f
}

func (f *frameWriter) put(p []byte) {
	if f.err == nil {
		_, f.err = f.w.Write(p)
	}
}

// begin opens a file record.
func (f *frameWriter) begin(h fileHeader) error {
	if len(h.Group) == 0 || len(h.Group) > 255 {
		return fmt.Errorf("group id %q: want 1 to 255 bytes", h.Group)
	}
	b := append(f.buf[:0], recordFile, byte(len(h.Group)))
	f.put(b)
	f.put([]byte(h.Group))
	flags := byte(0)
	if h.Delta {
		flags |= flagDelta
	}
	b = append(f.buf[:0], flags)
	b = binary.BigEndian.AppendUint64(b, uint64(h.Size))
	b = append(b, h.Key[:]...)
	f.put(b)
	f.h.Reset()
	return f.err
}

// Write adds content to the open record, in chunks.
func (f *frameWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 && f.err == nil {
		c := p[:min(len(p), maxChunk)]
		f.put(binary.BigEndian.AppendUint32(f.buf[:0], uint32(len(c))))
		f.put(c)
		f.h.Write(c)
		n += len(c)
		p = p[len(c):]
	}
	return n, f.err
}

// sum is the content key of the open record's bytes so far.
func (f *frameWriter) sum() inventory.ContentKey { return inventory.ContentKey(f.h.Sum128().Bytes()) }

// finish closes the open record: sent in full when failure is nil, else not sent for that
// reason (whatever chunks went before are discarded by the recipient).
func (f *frameWriter) finish(failure error) error {
	b := binary.BigEndian.AppendUint32(f.buf[:0], 0)
	if failure == nil {
		key := f.sum()
		b = append(b, trailerOK)
		f.put(b)
		f.put(key[:])
		return f.err
	}
	msg := failure.Error()
	if len(msg) > maxMessage {
		msg = msg[:maxMessage]
	}
	b = append(b, trailerFail)
	b = binary.BigEndian.AppendUint16(b, uint16(len(msg)))
	f.put(b)
	f.put([]byte(msg))
	return f.err
}

// end closes the stream.
func (f *frameWriter) end() error {
	f.put([]byte{recordEnd})
	if f.err == nil {
		f.err = f.w.Flush()
	}
	return f.err
}

// frameReader reads the framing.
type frameReader struct {
	r   *bufio.Reader
	cur *recordReader
}

func newFrameReader(r io.Reader) (*frameReader, error) {
	f := &frameReader{r: bufio.NewReaderSize(r, 256<<10)}
	var magic [len(frameMagic)]byte
	if _, err := io.ReadFull(f.r, magic[:]); err != nil {
		return nil, corruptStream("start", err)
	}
	if string(magic[:]) != frameMagic {
		return nil, corruptStream(fmt.Sprintf("magic %q", magic[:]), nil)
	}
	return f, nil
}

// next skips what is left of the current record and opens the next one; io.EOF after the end
// of the stream, which must come with the end of r.
func (f *frameReader) next() (fileHeader, *recordReader, error) {
	if f.cur != nil {
		if err := f.cur.drain(); err != nil {
			return fileHeader{}, nil, err
		}
		f.cur = nil
	}
	t, err := f.r.ReadByte()
	if err != nil {
		return fileHeader{}, nil, corruptStream("record", err)
	}
	switch t {
	case recordEnd:
		if _, err := f.r.ReadByte(); err != io.EOF {
			return fileHeader{}, nil, corruptStream("data after the end", err)
		}
		return fileHeader{}, nil, io.EOF
	case recordFile:
	default:
		return fileHeader{}, nil, corruptStream(fmt.Sprintf("record type %#x", t), nil)
	}
	var h fileHeader
	l, err := f.r.ReadByte()
	if err == nil && l == 0 {
		err = corruptStream("empty group id", nil)
	}
	if err != nil {
		return h, nil, corruptStream("header", err)
	}
	var b [1 + 8 + 16]byte
	group := make([]byte, l)
	if _, err := io.ReadFull(f.r, group); err != nil {
		return h, nil, corruptStream("header", err)
	}
	if _, err := io.ReadFull(f.r, b[:]); err != nil {
		return h, nil, corruptStream("header", err)
	}
	size := binary.BigEndian.Uint64(b[1:])
	if b[0]&^flagDelta != 0 || size > maxSize {
		return h, nil, corruptStream("header", nil)
	}
	h = fileHeader{Group: string(group), Delta: b[0]&flagDelta != 0, Size: int64(size), Key: inventory.ContentKey(b[9:])}
	f.cur = &recordReader{r: f.r, h: xxh3.New128()}
	return h, f.cur, nil
}

// recordReader reads the content of one record. At its end it returns the record's outcome
// instead of io.EOF when the sender could not send it (*SourceError) or the content key is not
// the expected one (transfer.ErrMismatch); an error of the stream itself is returned as is.
type recordReader struct {
	r      *bufio.Reader
	h      *xxh3.Hasher128
	want   inventory.ContentKey // the key the content must have, zero when unknown
	left   uint32               // bytes left in the current chunk
	done   bool                 // the trailer was read
	failed error                // the record's outcome, once done
	err    error                // the stream's failure
}

func (r *recordReader) Read(p []byte) (int, error) {
	for r.left == 0 {
		switch {
		case r.err != nil:
			return 0, r.err
		case r.done:
			if r.failed != nil {
				return 0, r.failed
			}
			return 0, io.EOF
		}
		r.nextChunk()
	}
	if len(p) > int(r.left) {
		p = p[:r.left]
	}
	n, err := r.r.Read(p)
	r.h.Write(p[:n])
	r.left -= uint32(n)
	if err != nil {
		r.err = corruptStream("chunk", err)
		if n == 0 {
			return 0, r.err
		}
	}
	return n, nil
}

// nextChunk reads a chunk length, or the trailer after the last chunk.
func (r *recordReader) nextChunk() {
	var b [4]byte
	if _, err := io.ReadFull(r.r, b[:]); err != nil {
		r.err = corruptStream("chunk", err)
		return
	}
	l := binary.BigEndian.Uint32(b[:])
	if l > maxChunk {
		r.err = corruptStream(fmt.Sprintf("chunk of %d bytes", l), nil)
		return
	}
	if l > 0 {
		r.left = l
		return
	}
	r.done = true
	st, err := r.r.ReadByte()
	if err != nil {
		r.err = corruptStream("trailer", err)
		return
	}
	switch st {
	case trailerOK:
		var key inventory.ContentKey
		if _, err := io.ReadFull(r.r, key[:]); err != nil {
			r.err = corruptStream("trailer", err)
			return
		}
		got := inventory.ContentKey(r.h.Sum128().Bytes())
		switch {
		case got != key:
			r.failed = fmt.Errorf("%w: content key %s, the sender read %s", transfer.ErrMismatch, got, key)
		case !r.want.IsZero() && got != r.want:
			r.failed = fmt.Errorf("%w: content key %s, expected %s", transfer.ErrMismatch, got, r.want)
		}
	case trailerFail:
		var lb [2]byte
		if _, err := io.ReadFull(r.r, lb[:]); err != nil {
			r.err = corruptStream("trailer", err)
			return
		}
		msg := make([]byte, binary.BigEndian.Uint16(lb[:]))
		if _, err := io.ReadFull(r.r, msg); err != nil {
			r.err = corruptStream("trailer", err)
			return
		}
		r.failed = &SourceError{Message: string(msg)}
	default:
		r.err = corruptStream(fmt.Sprintf("trailer %#x", st), nil)
	}
}

// drain reads the record to its end and returns the stream's failure, if any (not the
// record's outcome).
func (r *recordReader) drain() error {
	_, _ = io.Copy(io.Discard, r)
	return r.err
}

// outcome is the record's outcome once drained: nil, *SourceError or transfer.ErrMismatch.
func (r *recordReader) outcome() error { return r.failed }

func corruptStream(what string, err error) error {
	switch {
	case err == nil:
		return fmt.Errorf("%w: %s", ErrCorruptStream, what)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %s: unexpected end", ErrCorruptStream, what)
	}
	// A failure of the parts underneath (tampering, truncation, the network) is kept as is.
	return err
}
