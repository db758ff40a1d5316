package transfer

import (
	"context"
	"io"
)

// copyMethod names how a full local copy moved its bytes.
type copyMethod string

const (
	viaReflink       copyMethod = "reflink"
	viaCopyFileRange copyMethod = "copy_file_range"
	viaStream        copyMethod = "stream"
)

const (
	// chunkSize bounds one copy_file_range call, so cancellation is seen between chunks.
	chunkSize = 8 << 20
	// maxStreamBuf is the buffer of a user-space copy.
	maxStreamBuf = 1 << 20
)

// streamCopy copies src into dst through a user-space buffer, checking ctx between buffers.
// sizeHint (-1 or 0 when unknown) only sizes the buffer.
func streamCopy(ctx context.Context, dst io.Writer, src io.Reader, sizeHint int64, progress func(int64)) (int64, error) {
	bufLen := int64(maxStreamBuf)
	if sizeHint >= 0 && sizeHint < bufLen {
		// One more byte so that a source which grew is still read to its end in one go.
		bufLen = max(sizeHint+1, 4<<10)
	}
	buf := make([]byte, bufLen)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, rerr := io.ReadFull(src, buf)
		if k > 0 {
			w, err := dst.Write(buf[:k])
			n += int64(w)
			if err != nil {
				return n, err
			}
			if progress != nil {
				progress(n)
			}
		}
		switch {
		case rerr == io.EOF || rerr == io.ErrUnexpectedEOF:
			return n, nil
		case rerr != nil:
			return n, rerr
		}
	}
}

// ctxReader fails reads once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// counter adds up bytes and reports the running total.
type counter struct {
	n        int64
	progress func(int64)
}

func (c *counter) add(n int) {
	c.n += int64(n)
	if c.progress != nil && n > 0 {
		c.progress(c.n)
	}
}

// countWriter counts the bytes written through it and reports them.
type countWriter struct {
	w io.Writer
	counter
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.add(n)
	return n, err
}

// countReader counts the bytes read through it and reports them.
type countReader struct {
	r io.Reader
	counter
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.add(n)
	return n, err
}

// stickyWriter remembers the first write error; librsync-go drops some of them.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	s.err = err
	return n, err
}
