package remote

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/transfer"
)

// frames writes records: each content is written in full, or failed with the error.
type record struct {
	h       fileHeader
	content []byte
	failure error
}

func frames(t *testing.T, recs []record) []byte {
	t.Helper()
	var buf bytes.Buffer
	fw := newFrameWriter(&buf)
	for _, r := range recs {
		if err := fw.begin(r.h); err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(r.content); err != nil {
			t.Fatal(err)
		}
		if err := fw.finish(r.failure); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.end(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestFrameRoundTrip(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("0123456789abcdef"), maxChunk/8) // two chunks
	recs := []record{
		{h: fileHeader{Group: "AGID_1", Size: 5}, content: []byte("hello")},
		{h: fileHeader{Group: "AGID_2", Size: 0}},
		{h: fileHeader{Group: "AGID_3", Delta: true, Size: 99, Key: inventory.HashBytes([]byte("x"))}, content: big},
		{h: fileHeader{Group: "AGID_4", Size: 7}, content: []byte("par"), failure: errors.New("source changed")},
		{h: fileHeader{Group: "AGID_5", Size: 3}, content: []byte("end")},
	}
	fr, err := newFrameReader(bytes.NewReader(frames(t, recs)))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range recs {
		h, rec, err := fr.next()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if h != want.h {
			t.Fatalf("record %d: header %+v, want %+v", i, h, want.h)
		}
		got, err := io.ReadAll(rec)
		var se *SourceError
		switch {
		case want.failure != nil:
			if !errors.As(err, &se) || se.Message != want.failure.Error() {
				t.Fatalf("record %d: %v, want the sender's failure", i, err)
			}
		case err != nil:
			t.Fatalf("record %d: %v", i, err)
		case !bytes.Equal(got, want.content):
			t.Fatalf("record %d: %d bytes, want %d", i, len(got), len(want.content))
		}
	}
	if _, _, err := fr.next(); err != io.EOF {
		t.Fatalf("after the last record: %v, want EOF", err)
	}
}

// A record read only in part is skipped by the next one.
func TestFrameSkipsUnread(t *testing.T) {
	t.Parallel()
	data := frames(t, []record{
		{h: fileHeader{Group: "g1", Size: 6}, content: []byte("skipme")},
		{h: fileHeader{Group: "g2", Size: 2}, content: []byte("ok")},
	})
	fr, err := newFrameReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	_, rec, err := fr.next()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rec.Read(make([]byte, 2)); err != nil {
		t.Fatal(err)
	}
	h, rec, err := fr.next()
	if err != nil || h.Group != "g2" {
		t.Fatalf("second record %+v, %v", h, err)
	}
	if got, err := io.ReadAll(rec); err != nil || string(got) != "ok" {
		t.Fatalf("second record %q, %v", got, err)
	}
}

// Content whose key differs from the expected one fails at its end, and the stream goes on.
func TestFrameMismatch(t *testing.T) {
	t.Parallel()
	data := frames(t, []record{
		{h: fileHeader{Group: "g1", Size: 4}, content: []byte("data")},
		{h: fileHeader{Group: "g2", Size: 4}, content: []byte("more")},
	})
	fr, _ := newFrameReader(bytes.NewReader(data))
	_, rec, _ := fr.next()
	rec.want = inventory.HashBytes([]byte("other"))
	if _, err := io.ReadAll(rec); !errors.Is(err, transfer.ErrMismatch) {
		t.Fatalf("read: %v, want %v", err, transfer.ErrMismatch)
	}
	if rec.drain() != nil || !errors.Is(rec.outcome(), transfer.ErrMismatch) {
		t.Fatalf("drain %v, outcome %v", rec.drain(), rec.outcome())
	}
	if h, _, err := fr.next(); err != nil || h.Group != "g2" {
		t.Fatalf("next record %+v, %v", h, err)
	}
}

func TestFrameCorrupt(t *testing.T) {
	t.Parallel()
	good := frames(t, []record{{h: fileHeader{Group: "g1", Size: 4}, content: []byte("data")}})
	cases := map[string][]byte{
		"magic":          append([]byte("FRY2"), good[4:]...),
		"record type":    append(bytes.Clone(good[:4]), 'X'),
		"truncated":      good[:len(good)-10],
		"no end":         good[:len(good)-1],
		"after the end":  append(bytes.Clone(good), 0),
		"empty group id": append([]byte("FRY1F"), 0),
		"huge chunk": func() []byte {
			b := append([]byte("FRY1F\x02g1\x00"), make([]byte, 24)...)
			return append(b, 0x7f, 0xff, 0xff, 0xff)
		}(),
		"bad trailer": func() []byte {
			b := bytes.Clone(good)
			b[len(good)-18] = 7 // the trailer's status
			return b
		}(),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			fr, err := newFrameReader(bytes.NewReader(data))
			for err == nil {
				var rec *recordReader
				if _, rec, err = fr.next(); err == nil {
					if _, err = io.ReadAll(rec); err == nil {
						err = rec.drain()
					}
				}
			}
			if !errors.Is(err, ErrCorruptStream) {
				t.Fatalf("%v, want %v", err, ErrCorruptStream)
			}
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("empty message")
			}
		})
	}
}
