package transfer

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/inventory"
)

// tempNames lists the temp files directly in dir.
func tempNames(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if inventory.IsTempName(de.Name()) {
			out = append(out, de.Name())
		}
	}
	return out
}

// stage copies newData over the existing target rel (holding oldData, dated old) through b.
func stage(t *testing.T, r *Root, dir, rel string, oldData, newData []byte, old, now time.Time, b *Batch, versions *Versions) string {
	t.Helper()
	target := writeFile(t, dir, "dst/"+rel, oldData, 0o644, old)
	writeFile(t, dir, "src/"+rel, newData, 0o644, now)
	res, err := Copy(t.Context(), r, "/src/"+rel, r, "/dst/"+rel, CopyOptions{
		Size: int64(len(newData)), SourceModTime: now, Dates: &Dates{ModTime: now}, Batch: b, Versions: versions,
		Target: &FileState{Exists: true, Size: int64(len(oldData)), ModTime: old},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Staged {
		t.Fatalf("%s: a replacement with a batch was not staged", rel)
	}
	return target
}

// A batch leaves its replacements written beside their targets until Commit, which puts every
// one in place, dated and with the replaced content kept; a new file is written at once.
func TestBatchCommit(t *testing.T) {
	t.Parallel()
	r, dir := newRoot(t)
	old, now := time.Unix(1e9, 0), testTime
	var b Batch
	var targets []string
	for i, rel := range []string{"a/1", "a/2", "b/3"} {
		targets = append(targets, stage(t, r, dir, rel, []byte("old"), randomBytes(uint64(i), 1000+i), old, now, &b, testVersions))
	}
	for _, p := range targets {
		mustEqualFile(t, p, []byte("old"))
	}
	if n := len(tempNames(t, filepath.Join(dir, "dst/a"))); n != 2 {
		t.Fatalf("%d temp files beside the targets in dst/a before Commit, want 2", n)
	}
	writeFile(t, dir, "src/new", []byte("new file"), 0o644, now)
	res, err := Copy(t.Context(), r, "/src/new", r, "/dst/new", CopyOptions{Size: 8, Batch: &b, Target: &FileState{}})
	if err != nil || res.Staged {
		t.Fatalf("a new file: staged %v, err %v; want written at once", res.Staged, err)
	}
	mustEqualFile(t, filepath.Join(dir, "dst/new"), []byte("new file"))
	if b.Len() != 3 {
		t.Fatalf("Len = %d, want 3", b.Len())
	}

	for i, err := range b.Commit(t.Context()) {
		if err != nil {
			t.Fatalf("replacement %d: %v", i, err)
		}
	}
	if b.Len() != 0 {
		t.Fatalf("Len = %d after Commit, want 0", b.Len())
	}
	for i, p := range targets {
		mustEqualFile(t, p, randomBytes(uint64(i), 1000+i))
		mustMtime(t, p, now)
	}
	mustEqualFile(t, kept(dir, "/dst/a/1"), []byte("old"))
	assertNoTemp(t, dir)
}

// Commit refuses a target changed since its replacement was written, and one cancelled puts
// nothing in place: the targets stay as they are and no temp file remains.
func TestBatchCommitRefusals(t *testing.T) {
	t.Parallel()
	old, now := time.Unix(1e9, 0), testTime
	t.Run("target changed", func(t *testing.T) {
		t.Parallel()
		r, dir := newRoot(t)
		var b Batch
		edited := stage(t, r, dir, "f", []byte("old"), []byte("new"), old, now, &b, nil)
		kept := stage(t, r, dir, "g", []byte("old"), []byte("new"), old, now, &b, nil)
		writeFile(t, dir, "dst/f", []byte("a user's edit"), 0o644, now.Add(time.Hour))
		errs := b.Commit(t.Context())
		mustIs(t, errs[0], ErrTargetChanged)
		if errs[1] != nil {
			t.Fatalf("the unchanged target: %v", errs[1])
		}
		mustEqualFile(t, edited, []byte("a user's edit"))
		mustEqualFile(t, kept, []byte("new"))
		assertNoTemp(t, dir)
	})
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		r, dir := newRoot(t)
		var b Batch
		target := stage(t, r, dir, "f", []byte("old"), []byte("new"), old, now, &b, nil)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		mustIs(t, b.Commit(ctx)[0], context.Canceled)
		mustEqualFile(t, target, []byte("old"))
		assertNoTemp(t, dir)
	})
}
