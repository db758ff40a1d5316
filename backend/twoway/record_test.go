package twoway_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A record that cannot be read stops the run with the file's name: guessing could delete what
// was only never synchronized.
func TestCorruptRecordIsAnError(t *testing.T) {
	w := newWorld(t, t)
	w.write(0, "/a.txt")
	w.sync(-1)
	files, err := filepath.Glob(filepath.Join(w.store.Dir, "*.json.gz"))
	if err != nil || len(files) != 1 {
		t.Fatalf("records %v, %v; want one", files, err)
	}
	if err := os.WriteFile(files[0], []byte("not a record"), 0o600); err != nil {
		t.Fatal(err)
	}
	w.write(0, "/new.txt")
	var got string
	w.t = fatalRecorder{&got}
	func() {
		defer func() { _ = recover() }()
		w.sync(-1)
	}()
	if !strings.Contains(got, files[0]) || !strings.Contains(got, "two-way record") {
		t.Fatalf("error %q does not name the record %s", got, files[0])
	}
	// Nothing ran: the new file was not copied.
	if _, err := os.Stat(filepath.Join(w.roots[1], "new.txt")); !os.IsNotExist(err) {
		t.Fatalf("new.txt on B: %v", err)
	}
}

// fatalRecorder keeps the first fatal message and stops the caller.
type fatalRecorder struct{ msg *string }

func (f fatalRecorder) Fatal(args ...any) {
	f.record(strings.TrimSpace(strings.Repeat("%v ", len(args))), args...)
}
func (f fatalRecorder) Fatalf(format string, args ...any) { f.record(format, args...) }
func (f fatalRecorder) record(format string, args ...any) {
	if *f.msg == "" {
		*f.msg = fmt.Sprintf(format, args...)
	}
	panic("fatal")
}
