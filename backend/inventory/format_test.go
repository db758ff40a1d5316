package inventory

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// samplePart exercises every field of the format.
func samplePart() *Part {
	ts := func(sec, nsec int64) time.Time { return time.Unix(sec, nsec).UTC() }
	return &Part{
		Code: "Ab2", Root: "/data/ph\xffotos", Type: SourceDir, Incomplete: true,
		Skipped: map[SkipReason]int{SkipHidden: 3, SkipSymlink: 1, SkipInaccessible: 1},
		Entries: []Entry{
			{Path: "/a b", Kind: File, Size: 12, ModTime: ts(1700000000, 123456789), BirthTime: ts(1600000000, 1)},
			{Path: "/a-b", Kind: Dir},
			{Path: "/a-b/<tag>&\"q\"\n", Kind: File, ModTime: ts(0, 0)},
			{Path: "/a.b", Kind: File, Size: 1 << 40, ModTime: ts(-5, 999999999), ContentKey: HashBytes([]byte("x"))},
			{Path: "/bad\xffname", Kind: File, Size: 3, ModTime: ts(1, 0), AnalysisError: "read: input/output error"},
			{Path: "/locked", Kind: Dir, Inaccessible: true},
			{Path: "/z", Kind: Dir},
			{Path: "/z/é", Kind: File, Inaccessible: true},
		},
	}
}

func encode(t *testing.T, p *Part) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := p.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo reported %d bytes, wrote %d", n, buf.Len())
	}
	return buf.Bytes()
}

func TestFormatRoundTrip(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "x/y.txt", "hello")
	writeFile(t, root, "z", "")
	scanned := mustScan(t, root, Options{})
	if err := scanned.Hash(context.Background(), fileIndices(scanned), HashOptions{}); err != nil {
		t.Fatal(err)
	}
	empty := &Part{Code: "B1", Root: "/empty", Type: SourceDir, Skipped: map[SkipReason]int{}}
	file := &Part{Code: "C1", Root: "/f.txt", Type: SourceFile, Skipped: map[SkipReason]int{},
		Entries: []Entry{{Path: "/f.txt", Kind: File, Size: 1, ModTime: time.Unix(5, 6).UTC()}}}

	if scanned.DirID.IsZero() {
		t.Fatal("the scan recorded no DirID")
	}
	for _, p := range []*Part{samplePart(), scanned, empty, file} {
		data := encode(t, p)
		want := *p
		want.DirID = DirID{} // a fact of the scanning machine: not carried
		p := &want
		got, err := ReadPart(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v\n%s", p.Code, err, data)
		}
		if !reflect.DeepEqual(got, p) {
			t.Fatalf("%s: round trip\n got %+v\nwant %+v", p.Code, got, p)
		}

		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		if _, err := p.WriteTo(zw); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		got, err = ReadPart(&gz)
		if err != nil || !reflect.DeepEqual(got, p) {
			t.Fatalf("%s: gzip round trip = %+v, %v", p.Code, got, err)
		}
	}
}

// An inaccessible entry makes the part incomplete even if the flag was lost.
func TestFormatIncompleteFromEntries(t *testing.T) {
	p := samplePart()
	p.Incomplete = false
	got, err := ReadPart(bytes.NewReader(encode(t, p)))
	if err != nil || !got.Incomplete {
		t.Fatalf("ReadPart = %v incomplete, %v", got != nil && got.Incomplete, err)
	}
}

func TestFormatTruncated(t *testing.T) {
	data := encode(t, samplePart())
	for n := range len(data) {
		if _, err := ReadPart(bytes.NewReader(data[:n])); err == nil {
			t.Fatalf("input cut at %d of %d bytes was accepted", n, len(data))
		}
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	z := gz.Bytes()
	for n := range len(z) {
		if _, err := ReadPart(bytes.NewReader(z[:n])); err == nil {
			t.Fatalf("gzip input cut at %d of %d bytes was accepted", n, len(z))
		}
	}
	_, err := ReadPart(bytes.NewReader(data[:len(data)-20]))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncation error %v does not wrap io.ErrUnexpectedEOF", err)
	}
}

func TestFormatTampered(t *testing.T) {
	valid := string(encode(t, samplePart()))
	lines := strings.SplitAfter(valid, "\n")
	header, end := lines[0], lines[len(lines)-2]
	part := func(entries ...string) string {
		s := header
		for _, e := range entries {
			s += e + "\n"
		}
		return s + strings.Replace(end, `"count":8`, `"count":`+strconv.Itoa(len(entries)), 1)
	}
	f := func(p string) string { return `{"p":"` + p + `","k":"f"}` }
	d := func(p string) string { return `{"p":"` + p + `","k":"d"}` }
	if _, err := ReadPart(strings.NewReader(part(d("/a"), f("/a/b")))); err != nil {
		t.Fatalf("the valid base case was rejected: %v", err)
	}
	cases := map[string]string{
		"dot-dot":            part(f("/../etc")),
		"inner dot-dot":      part(d("/a"), f("/a/../b")),
		"dot":                part(f("/./a")),
		"relative":           part(f("a")),
		"root":               part(f("/")),
		"trailing slash":     part(d("/a/")),
		"double slash":       part(d("/a"), f("/a//b")),
		"NUL":                part(f(`/a\u0000b`)),
		"duplicate":          part(f("/a"), f("/a")),
		"unsorted":           part(f("/b"), f("/a")),
		"missing parent":     part(f("/a/b")),
		"file as parent":     part(f("/a"), f("/a/b")),
		"inaccessible dir":   part(`{"p":"/a","k":"d","x":true}`, f("/a/b")),
		"unknown kind":       part(`{"p":"/a","k":"l"}`),
		"negative size":      part(`{"p":"/a","k":"f","s":-1}`),
		"directory size":     part(`{"p":"/a","k":"d","s":4}`),
		"bad key":            part(`{"p":"/a","k":"f","c":"abc"}`),
		"bad nanoseconds":    part(`{"p":"/a","k":"f","m":[1,1000000000]}`),
		"count mismatch":     strings.Replace(part(f("/a")), `"count":1`, `"count":2`, 1),
		"data after end":     part(f("/a")) + f("/b") + "\n",
		"missing end":        header + f("/a") + "\n",
		"malformed line":     header + `{"p":"/a","k":` + "\n" + end,
		"empty":              "",
		"wrong format":       strings.Replace(valid, "ferry-inventory", "other", 1),
		"future version":     strings.Replace(valid, `"version":1`, `"version":2`, 1),
		"bad code":           strings.Replace(valid, `"code":"Ab2"`, `"code":"A-2"`, 1),
		"bad type":           strings.Replace(valid, `"type":"directory"`, `"type":"link"`, 1),
		"file source of two": strings.Replace(part(f("/a"), f("/b")), `"type":"directory"`, `"type":"file"`, 1),
	}
	for name, input := range cases {
		if _, err := ReadPart(strings.NewReader(input)); err == nil {
			t.Errorf("%s: accepted\n%s", name, input)
		}
	}
}
