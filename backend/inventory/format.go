package inventory

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
	"unicode/utf8"
)

// The inventory file format is JSON Lines: a header line, one line per entry in path order, and
// an end line carrying the entry count, so that a truncated file is detected. Paths and the root
// are raw bytes on Linux: a value that is not valid UTF-8 is written base64-encoded in the "…_b"
// field instead. Times are [seconds, nanoseconds] since the Unix epoch. ReadPart also accepts the
// same stream gzip-compressed.

const (
	formatName    = "ferry-inventory"
	formatVersion = 1
	maxLine       = 1 << 20
)

type header struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	Code    string `json:"code"`
	Root    string `json:"root,omitempty"`
	RootB   []byte `json:"root_b,omitempty"`
	Type    string `json:"type"`
	// RootModTime is the directory root's modification time.
	RootModTime *[2]int64 `json:"root_m,omitempty"`
}

// line is an entry line or the end line.
type line struct {
	Path          string    `json:"p,omitempty"`
	PathB         []byte    `json:"p_b,omitempty"`
	Kind          string    `json:"k,omitempty"`
	Size          int64     `json:"s,omitempty"`
	ModTime       *[2]int64 `json:"m,omitempty"`
	BirthTime     *[2]int64 `json:"b,omitempty"`
	Inaccessible  bool      `json:"x,omitempty"`
	HoldsSkipped  bool      `json:"h,omitempty"`
	ContentKey    string    `json:"c,omitempty"`
	AnalysisError string    `json:"e,omitempty"`

	End        bool               `json:"end,omitempty"`
	Count      int                `json:"count,omitempty"`
	Incomplete bool               `json:"incomplete,omitempty"`
	Skipped    map[SkipReason]int `json:"skipped,omitempty"`
}

var sourceTypeNames = map[SourceType]string{SourceDir: "directory", SourceFile: "file"}

// WriteTo writes the part in the inventory file format. Wrap w in a gzip.Writer to compress.
func (p *Part) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	bw := bufio.NewWriterSize(cw, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	typ, ok := sourceTypeNames[p.Type]
	if !ok {
		return 0, fmt.Errorf("write inventory %s: unknown source type %d", p.Code, p.Type)
	}
	h := header{Format: formatName, Version: formatVersion, Code: p.Code, Type: typ, RootModTime: Stamp(p.RootModTime)}
	h.Root, h.RootB = splitUTF8(p.Root)
	if err := enc.Encode(h); err != nil {
		return cw.n, fmt.Errorf("write inventory %s: %w", p.Code, err)
	}
	for i := range p.Entries {
		if err := enc.Encode(p.entryLine(&p.Entries[i])); err != nil {
			return cw.n, fmt.Errorf("write inventory %s: %w", p.Code, err)
		}
	}
	end := line{End: true, Count: len(p.Entries), Incomplete: p.Incomplete, Skipped: p.Skipped}
	if err := enc.Encode(end); err != nil {
		return cw.n, fmt.Errorf("write inventory %s: %w", p.Code, err)
	}
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("write inventory %s: %w", p.Code, err)
	}
	return cw.n, nil
}

func (p *Part) entryLine(e *Entry) line {
	l := line{
		Kind:          "f",
		Size:          e.Size,
		ModTime:       Stamp(e.Mtime()),
		BirthTime:     Stamp(e.Btime()),
		Inaccessible:  e.Inaccessible,
		HoldsSkipped:  e.HoldsSkipped,
		AnalysisError: p.AnalysisError(e),
	}
	if e.Kind == Dir {
		l.Kind = "d"
	}
	l.Path, l.PathB = splitUTF8(e.Path())
	if k := p.Keys.Of(e); !k.IsZero() {
		l.ContentKey = k.String()
	}
	return l
}

// splitUTF8 returns s as a string when it is valid UTF-8 and as bytes otherwise.
func splitUTF8(s string) (string, []byte) {
	if utf8.ValidString(s) {
		return s, nil
	}
	return "", []byte(s)
}

// Stamp encodes a time as [unix seconds, nanoseconds] for the inventory format and other
// records that travel between members; nil for the zero time.
func Stamp(t time.Time) *[2]int64 {
	if t.IsZero() {
		return nil
	}
	return &[2]int64{t.Unix(), int64(t.Nanosecond())}
}

// Unstamp decodes Stamp, in UTC.
func Unstamp(s *[2]int64) (time.Time, error) {
	if s == nil {
		return time.Time{}, nil
	}
	if s[1] < 0 || s[1] >= 1e9 {
		return time.Time{}, fmt.Errorf("invalid time %v", *s)
	}
	return time.Unix(s[0], s[1]).UTC(), nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// ReadPart reads a part written by WriteTo, plain or gzip-compressed, and validates it: a known
// format version, paths that are clean, rooted, free of ".." and strictly increasing, every
// entry's parent recorded as an accessible directory, and the end line with the right count. A
// part holding an Inaccessible entry is marked Incomplete.
func ReadPart(r io.Reader) (*Part, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("read inventory: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	rd := &partReader{r: br}
	p, err := rd.read()
	if err != nil {
		return nil, fmt.Errorf("read inventory: line %d: %w", max(rd.n, 1), err)
	}
	return p, nil
}

type partReader struct {
	r   *bufio.Reader
	n   int // lines read
	buf []byte
}

// next returns the next line without its newline; io.EOF at a clean end, io.ErrUnexpectedEOF for
// a last line without a newline.
func (pr *partReader) next() ([]byte, error) {
	pr.buf = pr.buf[:0]
	for {
		chunk, err := pr.r.ReadSlice('\n')
		pr.buf = append(pr.buf, chunk...)
		if len(pr.buf) > maxLine {
			return nil, fmt.Errorf("line longer than %d bytes", maxLine)
		}
		switch {
		case err == nil:
			pr.n++
			return pr.buf[:len(pr.buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(pr.buf) == 0:
			return nil, io.EOF
		case errors.Is(err, io.EOF):
			pr.n++
			return nil, fmt.Errorf("truncated: %w", io.ErrUnexpectedEOF)
		default:
			return nil, err
		}
	}
}

func (pr *partReader) read() (*Part, error) {
	b, err := pr.next()
	if err == io.EOF {
		return nil, fmt.Errorf("empty input: %w", io.ErrUnexpectedEOF)
	}
	if err != nil {
		return nil, err
	}
	var h header
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if h.Format != formatName {
		return nil, errors.New("not a Ferry inventory")
	}
	if h.Version != formatVersion {
		return nil, fmt.Errorf("unsupported inventory version %d", h.Version)
	}
	if err := checkCode(h.Code); err != nil {
		return nil, err
	}
	p := &Part{Code: h.Code, Root: h.Root, Skipped: map[SkipReason]int{}}
	if h.RootB != nil {
		p.Root = string(h.RootB)
	}
	if p.Root == "" {
		return nil, errors.New("missing root")
	}
	for t, name := range sourceTypeNames {
		if h.Type == name {
			p.Type = t
		}
	}
	if p.Type == 0 {
		return nil, fmt.Errorf("unknown source type %q", h.Type)
	}
	if p.RootModTime, err = Unstamp(h.RootModTime); err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}

	dirs := map[string]bool{} // directory path → accessible
	var paths Paths
	for {
		b, err := pr.next()
		if err == io.EOF {
			return nil, fmt.Errorf("truncated after %d entries: %w", len(p.Entries), io.ErrUnexpectedEOF)
		}
		if err != nil {
			return nil, err
		}
		var l line
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, err
		}
		if l.End {
			if err := p.end(&l); err != nil {
				return nil, err
			}
			break
		}
		e, path, err := l.entry(&p.Keys)
		if err != nil {
			return nil, err
		}
		if err := p.place(&e, path, dirs); err != nil {
			return nil, err
		}
		e = paths.Place(e, path)
		if l.AnalysisError != "" {
			p.SetAnalysisError(&e, l.AnalysisError)
		}
		p.Entries = append(p.Entries, e)
		if e.Kind == Dir {
			dirs[path] = !e.Inaccessible
		}
		p.Incomplete = p.Incomplete || e.Inaccessible
	}
	if _, err := pr.next(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the end line")
		}
		return nil, err
	}
	return p, nil
}

// entry decodes an entry line, but for its path, which Part.place gives it.
func (l *line) entry(keys *ContentKeys) (e Entry, path string, err error) {
	e = Entry{Size: l.Size, Inaccessible: l.Inaccessible, HoldsSkipped: l.HoldsSkipped}
	path = l.Path
	if l.PathB != nil {
		path = string(l.PathB)
	}
	switch l.Kind {
	case "f":
		e.Kind = File
	case "d":
		e.Kind = Dir
	default:
		return e, path, fmt.Errorf("%q: unknown kind %q", path, l.Kind)
	}
	if err := checkPath(path); err != nil {
		return e, path, err
	}
	if e.Size < 0 || e.Kind == Dir && e.Size != 0 {
		return e, path, fmt.Errorf("%q: invalid size %d", path, e.Size)
	}
	mtime, err := Unstamp(l.ModTime)
	if err != nil {
		return e, path, fmt.Errorf("%q: %w", path, err)
	}
	btime, err := Unstamp(l.BirthTime)
	if err != nil {
		return e, path, fmt.Errorf("%q: %w", path, err)
	}
	e.ModTime, e.BirthTime = Nanos(mtime), Nanos(btime)
	if l.ContentKey != "" {
		if e.Kind != File {
			return e, path, fmt.Errorf("%q: a directory has no content key", path)
		}
		var key ContentKey
		k, err := hex.DecodeString(l.ContentKey)
		if err != nil || len(k) != len(key) {
			return e, path, fmt.Errorf("%q: invalid content key %q", path, l.ContentKey)
		}
		copy(key[:], k)
		keys.Set(&e, key)
	}
	return e, path, nil
}

// checkPath accepts clean "/"-rooted relative paths other than "/" itself.
func checkPath(p string) error {
	if p == "" || p[0] != '/' || p == "/" {
		return fmt.Errorf("invalid path %q", p)
	}
	if strings.IndexByte(p, 0) >= 0 || path.Clean(p) != p {
		return fmt.Errorf("path %q is not clean", p)
	}
	for _, el := range strings.Split(p[1:], "/") {
		if el == ".." || el == "." {
			return fmt.Errorf("path %q is not clean", p)
		}
	}
	return nil
}

// place checks that e, at path, may follow the entries read so far.
func (p *Part) place(e *Entry, path string, dirs map[string]bool) error {
	if n := len(p.Entries); n > 0 && ComparePath(&p.Entries[n-1], path) >= 0 {
		return fmt.Errorf("%q: entries out of order or repeated", path)
	}
	parent, _ := splitPath(path)
	if p.Type == SourceFile {
		if len(p.Entries) > 0 || e.Kind != File || parent != "" {
			return fmt.Errorf("%q: a file data source holds exactly one file", path)
		}
		return nil
	}
	if parent == "" {
		return nil
	}
	accessible, ok := dirs[parent]
	switch {
	case !ok:
		return fmt.Errorf("%q: parent directory not in the inventory", path)
	case !accessible:
		return fmt.Errorf("%q: inside an inaccessible directory", path)
	}
	return nil
}

// end checks the end line against what was read.
func (p *Part) end(l *line) error {
	if l.Count != len(p.Entries) {
		return fmt.Errorf("end line counts %d entries, read %d", l.Count, len(p.Entries))
	}
	if p.Type == SourceFile && len(p.Entries) != 1 {
		return errors.New("a file data source holds exactly one file")
	}
	for r, n := range l.Skipped {
		if r == "" || n < 0 {
			return fmt.Errorf("invalid skipped count %q: %d", r, n)
		}
		p.Skipped[r] = n
	}
	p.Incomplete = p.Incomplete || l.Incomplete
	return nil
}
