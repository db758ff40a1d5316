package inventory

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// samplePart exercises every field of the format.
func samplePart() *Part {
	ts := func(sec, nsec int64) int64 { return Nanos(time.Unix(sec, nsec)) }
	p := &Part{
		Code: "Ab2", Root: "/data/ph\xffotos", Type: SourceDir, Incomplete: true,
		Skipped:        map[SkipReason]int{SkipHidden: 3, SkipSymlink: 1, SkipInaccessible: 1},
		AnalysisErrors: map[string]string{"/bad\xffname": "read: input/output error"},
		Entries: []Entry{
			Entry{Kind: File, Size: 12, ModTime: ts(1700000000, 123456789), BirthTime: ts(1600000000, 1)}.At("/a b"),
			Entry{Kind: Dir}.At("/a-b"),
			Entry{Kind: File, ModTime: ts(0, 0)}.At("/a-b/<tag>&\"q\"\n"),
			Entry{Kind: File, Size: 1 << 40, ModTime: ts(-5, 999999999)}.At("/a.b"),
			Entry{Kind: File, Size: 3, ModTime: ts(1, 0), AnalysisFailed: true}.At("/bad\xffname"),
			Entry{Kind: Dir, Inaccessible: true}.At("/locked"),
			Entry{Kind: Dir}.At("/z"),
			Entry{Kind: File, Inaccessible: true}.At("/z/é"),
		},
	}
	p.Keys.Set(&p.Entries[3], HashBytes([]byte("x")))
	return p
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
		Entries: []Entry{Entry{Kind: File, Size: 1, ModTime: Nanos(time.Unix(5, 6))}.At("/f.txt")}}

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

// The format does not follow Entry's layout: testdata/part-v1.jsonl, samplePart as encoded when
// entries held time.Time dates and the analysis error's text, decodes to samplePart and encodes
// back byte for byte.
func TestFormatPinned(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "part-v1.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadPart(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if want := samplePart(); !reflect.DeepEqual(got, want) {
		t.Errorf("decoded\n got %+v\nwant %+v", got, want)
	}
	if again := encode(t, got); !bytes.Equal(again, data) {
		t.Errorf("encoded again:\n%s\nwant:\n%s", again, data)
	}
}

// Nanos keeps the epoch apart from "no date" and clamps what int64 nanoseconds cannot hold.
func TestNanos(t *testing.T) {
	for _, tc := range []struct {
		in, want time.Time
	}{
		{time.Time{}, time.Time{}},
		{time.Unix(0, 0), time.Unix(0, 0).UTC()},
		{time.Unix(0, 1), time.Unix(0, 1).UTC()},
		{time.Unix(-1, 999999999), time.Unix(-1, 999999999).UTC()},
		{time.Unix(1700000000, 123456789).In(time.FixedZone("x", 3600)), time.Unix(1700000000, 123456789).UTC()},
		{time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC), time.Unix(0, math.MinInt64+1).UTC()},
		{time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), time.Unix(0, math.MaxInt64).UTC()},
	} {
		if got := Time(Nanos(tc.in)); !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("Time(Nanos(%v)) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if Nanos(time.Unix(0, 0)) == Nanos(time.Unix(0, math.MinInt64)) {
		t.Error("the epoch and the earliest date share an encoding")
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

// An entry stays at 56 bytes besides its name: inventories hold millions of them.
func TestEntrySize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("32-bit platform")
	}
	if n := unsafe.Sizeof(Entry{}); n != 56 {
		t.Errorf("an Entry takes %d bytes, want 56", n)
	}
	// While a tree is walked, the children of its directories take less, and hold no pointer:
	// the collector has nothing to follow in them.
	if n := unsafe.Sizeof(walked{}); n != 40 {
		t.Errorf("a walked child takes %d bytes, want 40", n)
	}
	wt := reflect.TypeFor[walked]()
	for i := range wt.NumField() {
		switch f := wt.Field(i); f.Type.Kind() {
		case reflect.Bool, reflect.Uint8, reflect.Uint32, reflect.Int64:
		default:
			t.Errorf("walked.%s is a %s", f.Name, f.Type.Kind())
		}
	}
}
