package crypto

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"golang.org/x/crypto/chacha20poly1305"
)

// A file travels as sealed parts. Each part is XChaCha20-Poly1305 under the session key with a
// random nonce; the associated data binds the file id, the part number and whether the part is
// the last one. A part that is tampered with, moved to another file or position, or flagged
// last when it is not (or the reverse) fails to open; a stream whose last part is missing is
// truncated (ErrTruncated). The file id must be unique per upload (a random transfer id), or
// parts of two uploads under one id could be mixed.
//
// Layout: version (1) | flags (1) | nonce (24) | ciphertext and tag.

const (
	partVersion  = 1
	partFlagLast = 1
	partHeader   = 2 + chacha20poly1305.NonceSizeX
	labelPart    = "ferry file part v1"

	// PartOverhead is how much larger a sealed part is than its plain text.
	PartOverhead = partHeader + chacha20poly1305.Overhead
)

// ErrTruncated: a part stream ended before its last part.
var ErrTruncated = errors.New("file parts truncated: last part missing")

// SealPart encrypts one part of the file fileID; last marks the file's final part.
func SealPart(key SessionKey, fileID string, part uint32, last bool, plain []byte) []byte {
	return sealPart(rand.Reader, key, fileID, part, last, plain)
}

func sealPart(nonces io.Reader, key SessionKey, fileID string, part uint32, last bool, plain []byte) []byte {
	aead, _ := chacha20poly1305.NewX(key[:]) // the key size is right by type
	out := make([]byte, partHeader, PartOverhead+len(plain))
	out[0] = partVersion
	if last {
		out[1] = partFlagLast
	}
	if _, err := io.ReadFull(nonces, out[2:partHeader]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported systems
	}
	return aead.Seal(out, out[2:partHeader], plain, partAD(fileID, part, out[:2]))
}

// OpenPart decrypts part number part of fileID and reports whether it is the file's last part.
// Any mismatch or damage gives an error wrapping ErrOpen.
func OpenPart(key SessionKey, fileID string, part uint32, sealed []byte) (plain []byte, last bool, err error) {
	if len(sealed) < PartOverhead || sealed[0] != partVersion || sealed[1]&^partFlagLast != 0 {
		return nil, false, fmt.Errorf("file part %d: %w", part, ErrOpen)
	}
	aead, _ := chacha20poly1305.NewX(key[:])
	plain, err = aead.Open(nil, sealed[2:partHeader], sealed[partHeader:], partAD(fileID, part, sealed[:2]))
	if err != nil {
		return nil, false, fmt.Errorf("file part %d: %w", part, ErrOpen)
	}
	return plain, sealed[1] == partFlagLast, nil
}

func partAD(fileID string, part uint32, header []byte) []byte {
	return transcript(labelPart, []byte(fileID), binary.BigEndian.AppendUint32(nil, part), header)
}

// PartWriter cuts what is written to it into parts of PartSize plain bytes, numbered from 1, and
// hands each sealed part to emit. Close seals the last part, which may be short, and is empty
// only for an empty file. A PartWriter is not safe for concurrent use.
type PartWriter struct {
	key      SessionKey
	fileID   string
	partSize int
	emit     func(part uint32, sealed []byte) error
	buf      []byte
	next     uint32
	err      error // sticky
}

// NewPartWriter returns a writer of parts of partSize plain bytes.
func NewPartWriter(key SessionKey, fileID string, partSize int, emit func(part uint32, sealed []byte) error) (*PartWriter, error) {
	if partSize <= 0 || partSize > math.MaxInt32-PartOverhead {
		return nil, fmt.Errorf("part writer: part size %d out of range", partSize)
	}
	return &PartWriter{key: key, fileID: fileID, partSize: partSize, emit: emit, next: 1,
		buf: make([]byte, 0, partSize)}, nil
}

// Write buffers p, emitting every full part once more data shows it is not the last.
func (w *PartWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 && w.err == nil {
		if len(w.buf) == w.partSize {
			w.flush(false)
			continue
		}
		c := copy(w.buf[len(w.buf):w.partSize], p)
		w.buf = w.buf[:len(w.buf)+c]
		p = p[c:]
		n += c
	}
	return n, w.err
}

// Close emits the last part. Writing after Close fails.
func (w *PartWriter) Close() error {
	if w.err == nil {
		w.flush(true)
		if w.err == nil {
			w.err = errors.New("part writer: closed")
			return nil
		}
	}
	return w.err
}

func (w *PartWriter) flush(last bool) {
	if w.next == 0 {
		w.err = errors.New("part writer: too many parts")
		return
	}
	if err := w.emit(w.next, SealPart(w.key, w.fileID, w.next, last, w.buf)); err != nil {
		w.err = fmt.Errorf("part writer: part %d: %w", w.next, err)
		return
	}
	w.next++ // wraps to 0 after MaxUint32: refused above
	w.buf = w.buf[:0]
}

// PartReader reads back the plain text of a part stream. next fetches sealed part n (from 1)
// and returns io.EOF when there is none; a stream that ends before its last part fails with
// ErrTruncated. Parts after the last are never fetched. Not safe for concurrent use.
type PartReader struct {
	key    SessionKey
	fileID string
	next   func(part uint32) ([]byte, error)
	part   uint32
	buf    []byte
	done   bool
	err    error // sticky
}

// NewPartReader returns a reader over the parts of fileID.
func NewPartReader(key SessionKey, fileID string, next func(part uint32) ([]byte, error)) *PartReader {
	return &PartReader{key: key, fileID: fileID, next: next, part: 1}
}

// Read returns plain text, io.EOF after the last part, or the first error met.
func (r *PartReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			return 0, io.EOF
		}
		r.fetch()
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (r *PartReader) fetch() {
	if r.part == 0 {
		r.err = fmt.Errorf("file parts: too many parts: %w", ErrTruncated)
		return
	}
	sealed, err := r.next(r.part)
	switch {
	case errors.Is(err, io.EOF):
		r.err = fmt.Errorf("file parts: part %d: %w", r.part, ErrTruncated)
		return
	case err != nil:
		r.err = fmt.Errorf("file parts: part %d: %w", r.part, err)
		return
	}
	plain, last, err := OpenPart(r.key, r.fileID, r.part, sealed)
	if err != nil {
		r.err = err
		return
	}
	r.buf, r.done = plain, last
	r.part++
}
