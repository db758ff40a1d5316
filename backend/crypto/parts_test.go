package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
)

func testKey(b byte) SessionKey {
	var k SessionKey
	for i := range k {
		k[i] = b
	}
	return k
}

func TestSealOpenPart(t *testing.T) {
	t.Parallel()
	k := testKey(1)
	plain := []byte("secret file content")
	for _, last := range []bool{false, true} {
		sealed := SealPart(k, "file-1", 7, last, plain)
		if len(sealed) != len(plain)+PartOverhead {
			t.Errorf("sealed is %d bytes, want %d", len(sealed), len(plain)+PartOverhead)
		}
		if bytes.Contains(sealed, plain) {
			t.Fatal("sealed part holds the plain text")
		}
		got, gotLast, err := OpenPart(k, "file-1", 7, sealed)
		if err != nil || !bytes.Equal(got, plain) || gotLast != last {
			t.Fatalf("last=%v: open = %q, %v, %v", last, got, gotLast, err)
		}
	}
	a, b := SealPart(k, "f", 1, false, plain), SealPart(k, "f", 1, false, plain)
	if bytes.Equal(a, b) {
		t.Error("same nonce twice")
	}
	empty := SealPart(k, "f", 1, true, nil)
	if got, last, err := OpenPart(k, "f", 1, empty); err != nil || len(got) != 0 || !last {
		t.Errorf("empty part: %q %v %v", got, last, err)
	}
}

func TestOpenPartRefuses(t *testing.T) {
	t.Parallel()
	k := testKey(1)
	sealed := SealPart(k, "file-1", 2, false, []byte("part two"))
	asLast := bytes.Clone(sealed)
	asLast[1] = partFlagLast // a non-last part presented as last
	badFlags := bytes.Clone(sealed)
	badFlags[1] = 2
	badVersion := bytes.Clone(sealed)
	badVersion[0] = 2
	cases := map[string]struct {
		key    SessionKey
		fileID string
		part   uint32
		sealed []byte
	}{
		"other key":          {testKey(2), "file-1", 2, sealed},
		"other file":         {k, "file-2", 2, sealed},
		"other position":     {k, "file-1", 3, sealed},
		"presented as last":  {k, "file-1", 2, asLast},
		"unknown flags":      {k, "file-1", 2, badFlags},
		"unknown version":    {k, "file-1", 2, badVersion},
		"empty":              {k, "file-1", 2, nil},
		"header only":        {k, "file-1", 2, sealed[:partHeader]},
		"one byte short":     {k, "file-1", 2, sealed[:len(sealed)-1]},
		"one byte more":      {k, "file-1", 2, append(bytes.Clone(sealed), 0)},
		"file id prefix":     {k, "file-", 2, sealed},
		"file id and number": {k, "file-12", 2, sealed}, // no ambiguity between id and number
	}
	for name, c := range cases {
		if _, _, err := OpenPart(c.key, c.fileID, c.part, c.sealed); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: %v, want ErrOpen", name, err)
		}
	}
	last := SealPart(k, "file-1", 2, true, []byte("the end"))
	notLast := bytes.Clone(last)
	notLast[1] = 0 // the last part presented as a middle one
	if _, _, err := OpenPart(k, "file-1", 2, notLast); !errors.Is(err, ErrOpen) {
		t.Errorf("last presented as not last: %v", err)
	}
	for i := range sealed {
		tampered := bytes.Clone(sealed)
		tampered[i] ^= 0x80
		if _, _, err := OpenPart(k, "file-1", 2, tampered); !errors.Is(err, ErrOpen) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
}

// partStore collects a PartWriter's parts and serves them to a PartReader.
type partStore struct{ parts [][]byte }

func (s *partStore) emit(part uint32, sealed []byte) error {
	if int(part) != len(s.parts)+1 {
		return fmt.Errorf("part %d after %d", part, len(s.parts))
	}
	s.parts = append(s.parts, bytes.Clone(sealed))
	return nil
}

func (s *partStore) next(part uint32) ([]byte, error) {
	if int(part) > len(s.parts) {
		return nil, io.EOF
	}
	return s.parts[part-1], nil
}

func writeParts(t *testing.T, k SessionKey, fileID string, size int, data []byte, chunk int) *partStore {
	t.Helper()
	s := &partStore{}
	w, err := NewPartWriter(k, fileID, size, s.emit)
	if err != nil {
		t.Fatal(err)
	}
	for rest := data; len(rest) > 0; {
		n := min(chunk, len(rest))
		if m, err := w.Write(rest[:n]); err != nil || m != n {
			t.Fatalf("write: %d %v", m, err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPartStreamRoundTrip(t *testing.T) {
	t.Parallel()
	k := testKey(3)
	data := make([]byte, 1000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, c := range []struct{ n, size, chunk, parts int }{
		{0, 16, 1, 1},    // an empty file is one empty last part
		{1, 16, 1, 1},    // short
		{16, 16, 5, 1},   // exactly one part: no empty trailer
		{17, 16, 100, 2}, // one byte over
		{160, 16, 7, 10}, // exact multiple
		{1000, 64, 1000, 16},
		{1000, 1, 13, 1000},
	} {
		t.Run(fmt.Sprintf("%d/%d/%d", c.n, c.size, c.chunk), func(t *testing.T) {
			s := writeParts(t, k, "f", c.size, data[:c.n], c.chunk)
			if len(s.parts) != c.parts {
				t.Errorf("%d parts, want %d", len(s.parts), c.parts)
			}
			for i, p := range s.parts[:len(s.parts)-1] {
				if len(p) != c.size+PartOverhead {
					t.Errorf("part %d is %d bytes", i+1, len(p))
				}
			}
			got, err := io.ReadAll(NewPartReader(k, "f", s.next))
			if err != nil || !bytes.Equal(got, data[:c.n]) {
				t.Fatalf("read back %d bytes, %v", len(got), err)
			}
		})
	}
}

func TestPartStreamRefuses(t *testing.T) {
	t.Parallel()
	k := testKey(4)
	data := bytes.Repeat([]byte("0123456789"), 10)
	s := writeParts(t, k, "f", 10, data, 33) // 10 parts
	read := func(parts [][]byte, fileID string) error {
		st := &partStore{parts: parts}
		_, err := io.ReadAll(NewPartReader(k, fileID, st.next))
		return err
	}
	swap := func(i, j int) [][]byte {
		p := append([][]byte(nil), s.parts...)
		p[i], p[j] = p[j], p[i]
		return p
	}
	if err := read(s.parts, "f"); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		parts  [][]byte
		fileID string
		want   error
	}{
		"last part missing": {s.parts[:9], "f", ErrTruncated},
		"only first part":   {s.parts[:1], "f", ErrTruncated},
		"no parts":          {nil, "f", ErrTruncated},
		"reordered":         {swap(2, 3), "f", ErrOpen},
		"last moved":        {swap(8, 9), "f", ErrOpen},
		"duplicated":        {append(append([][]byte(nil), s.parts[:5]...), s.parts[4:]...), "f", ErrOpen},
		"other file":        {s.parts, "g", ErrOpen},
	} {
		if err := read(c.parts, c.fileID); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	// Parts after the authenticated last part are never read.
	extra := append(append([][]byte(nil), s.parts...), SealPart(k, "f", 11, true, []byte("more")))
	st := &partStore{parts: extra}
	got, err := io.ReadAll(NewPartReader(k, "f", st.next))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("appended part: %d bytes, %v", len(got), err)
	}
	// A fetch error stops the reader and is reported.
	boom := errors.New("boom")
	r := NewPartReader(k, "f", func(uint32) ([]byte, error) { return nil, boom })
	if _, err := io.ReadAll(r); !errors.Is(err, boom) {
		t.Errorf("fetch error: %v", err)
	}
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, boom) {
		t.Errorf("error not sticky: %v", err)
	}
}

func TestPartWriterErrors(t *testing.T) {
	t.Parallel()
	k := testKey(5)
	for _, size := range []int{0, -1} {
		if _, err := NewPartWriter(k, "f", size, func(uint32, []byte) error { return nil }); err == nil {
			t.Errorf("part size %d accepted", size)
		}
	}
	boom := errors.New("boom")
	w, err := NewPartWriter(k, "f", 4, func(uint32, []byte) error { return boom })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("1234")); err != nil { // buffered: not known to be the last part yet
		t.Fatal(err)
	}
	if n, err := w.Write([]byte("5678")); !errors.Is(err, boom) || n != 0 {
		t.Errorf("write: %d %v, want boom", n, err)
	}
	if err := w.Close(); !errors.Is(err, boom) {
		t.Errorf("close: %v, want boom", err)
	}
	w, _ = NewPartWriter(k, "f", 4, func(uint32, []byte) error { return nil })
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("write after close accepted")
	}
}

// zeroReader is a deterministic nonce source for reproducible fuzz seeds.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func FuzzOpenPart(f *testing.F) {
	k := testKey(9)
	valid := map[string]bool{}
	for i, last := range []bool{false, true} {
		sealed := sealPart(zeroReader{}, k, "file", uint32(i), last, []byte("fuzz me"))
		valid[fmt.Sprintf("file/%d/%x", i, sealed)] = true
		f.Add("file", uint32(i), sealed)
	}
	f.Add("", uint32(0), []byte{})
	f.Add("file", uint32(0), make([]byte, PartOverhead))
	f.Fuzz(func(t *testing.T, fileID string, part uint32, sealed []byte) {
		plain, _, err := OpenPart(k, fileID, part, sealed)
		if err != nil {
			if !errors.Is(err, ErrOpen) || plain != nil {
				t.Fatalf("err %v with %d bytes of plain text", err, len(plain))
			}
			return
		}
		if !valid[fmt.Sprintf("%s/%d/%x", fileID, part, sealed)] {
			t.Fatalf("forged part opened: %q %d %x", fileID, part, sealed)
		}
	})
}
