package inventory

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/xxh3"
)

func fillRandom(b []byte, seed uint64) {
	r := rand.NewChaCha8([32]byte{byte(seed)})
	_, _ = r.Read(b) // ChaCha8.Read never fails
}

func fileIndices(p *Part) []int {
	var idx []int
	for i, e := range p.Entries {
		if e.Kind == File {
			idx = append(idx, i)
		}
	}
	return idx
}

func TestHashKeys(t *testing.T) {
	root := t.TempDir()
	big := make([]byte, 3*hashBufSize+12345) // spans several reads
	fillRandom(big, 3)
	writeFile(t, root, "same1", "identical content")
	writeFile(t, root, "dir/same2", "identical content")
	writeFile(t, root, "other", "different content")
	writeFile(t, root, "empty", "")
	writeFile(t, root, "big", string(big))

	p := mustScan(t, root, Options{})
	var last Progress
	if err := p.Hash(context.Background(), fileIndices(p), HashOptions{Progress: func(pr Progress) { last = pr }}); err != nil {
		t.Fatal(err)
	}
	key := func(path string) ContentKey {
		e := entry(t, p, path)
		if p.AnalysisError(e) != "" || p.Keys.Of(e).IsZero() {
			t.Fatalf("%s: key %v error %q", path, p.Keys.Of(e), p.AnalysisError(e))
		}
		return p.Keys.Of(e)
	}
	if key("/same1") != key("/dir/same2") {
		t.Error("equal contents have different keys")
	}
	if key("/same1") == key("/other") {
		t.Error("different contents have the same key")
	}
	if want := ContentKey(xxh3.Hash128(big).Bytes()); key("/big") != want {
		t.Errorf("big file key %v, want XXH3-128 %v", key("/big"), want)
	}
	if key("/empty") != HashBytes(nil) || key("/other") != HashBytes([]byte("different content")) {
		t.Error("keys differ from HashBytes")
	}
	if !p.Keys.Of(entry(t, p, "/dir")).IsZero() {
		t.Error("a directory got a key")
	}
	wantBytes := int64(len(big) + 2*len("identical content") + len("different content"))
	if last.Part != "A1" || last.Hashed != 5 || last.HashedBytes != wantBytes || last.AnalysisError != 0 || last.Files != 5 {
		t.Errorf("last progress %+v", last)
	}

	k, err := HashFile(filepath.Join(root, "big"))
	if err != nil || k != key("/big") {
		t.Errorf("HashFile = %v, %v; want %v", k, err, key("/big"))
	}
	k, err = HashReader(bytes.NewReader(big))
	if err != nil || k != key("/big") {
		t.Errorf("HashReader = %v, %v; want %v", k, err, key("/big"))
	}
	if _, err := HashFile(filepath.Join(root, "missing")); err == nil {
		t.Error("HashFile of a missing file succeeded")
	}
}

func TestHashFileSource(t *testing.T) {
	file := writeFile(t, t.TempDir(), "single", "data")
	p := mustScan(t, file, Options{})
	if err := p.Hash(context.Background(), []int{0, 0}, HashOptions{Workers: 3}); err != nil {
		t.Fatal(err)
	}
	if p.Keys.Of(&p.Entries[0]) != HashBytes([]byte("data")) {
		t.Fatalf("entry %+v", p.Entries[0])
	}
}

func TestHashAnalysisErrors(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "removed", "soon gone")
	writeFile(t, root, "grown", "short")
	touched := writeFile(t, root, "touched", "same size")
	writeFile(t, root, "kept", "still here")
	p := mustScan(t, root, Options{})
	if err := os.Remove(filepath.Join(root, "removed")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, root, "grown", "longer than before")
	later := entry(t, p, "/touched").Mtime().Add(time.Second)
	if err := os.Chtimes(touched, later, later); err != nil {
		t.Fatal(err)
	}

	var last Progress
	if err := p.Hash(context.Background(), fileIndices(p), HashOptions{Progress: func(pr Progress) { last = pr }}); err != nil {
		t.Fatalf("per-file failures failed the analysis: %v", err)
	}
	for path, want := range map[string]string{
		"/removed": "no such file", "/grown": "changed since the inventory", "/touched": "changed since the inventory",
	} {
		e := entry(t, p, path)
		if !p.Keys.Of(e).IsZero() || !strings.Contains(p.AnalysisError(e), want) {
			t.Errorf("%s: key %v, error %q; want an error containing %q", path, p.Keys.Of(e), p.AnalysisError(e), want)
		}
	}
	if e := entry(t, p, "/kept"); p.Keys.Of(e) != HashBytes([]byte("still here")) || p.AnalysisError(e) != "" {
		t.Errorf("/kept = %+v", e)
	}
	if last.Hashed != 1 || last.AnalysisError != 3 {
		t.Errorf("last progress %+v", last)
	}
}

func TestHashRejectsBadIndices(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "d/f", "x")
	p := mustScan(t, root, Options{})
	for _, idx := range [][]int{{-1}, {2}, {0}} { // entry 0 is the directory /d
		if err := p.Hash(context.Background(), idx, HashOptions{}); err == nil {
			t.Errorf("Hash(%v) accepted", idx)
		}
	}
}

func TestHashCancelled(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "a", "a")
	writeFile(t, root, "b", "b")
	p := mustScan(t, root, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Hash(ctx, fileIndices(p), HashOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash with a cancelled context = %v", err)
	}
	for _, e := range p.Entries {
		if !p.Keys.Of(&e).IsZero() || e.AnalysisFailed {
			t.Errorf("%s touched after cancellation: %+v", e.Path(), e)
		}
	}
	// Cancellation during a read stops the stream.
	ctx, cancel = context.WithCancel(context.Background())
	_, _, err := hashStream(ctx, strings.NewReader(strings.Repeat("x", 100)), make([]byte, 10), func(int) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("hashStream cancelled mid-way = %v", err)
	}
}

func BenchmarkHash(b *testing.B) {
	dir := b.TempDir()
	data := make([]byte, 64<<20)
	fillRandom(data, 5)
	path := filepath.Join(dir, "big")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Run("HashFile-64MiB", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := HashFile(path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Part-1000x256KiB", func(b *testing.B) {
		root := filepath.Join(dir, "tree")
		for i := range 1000 {
			off := i * (256 << 10) % (len(data) - 256<<10)
			name := filepath.Join(root, string(rune('a'+i%10)), strings.Repeat("f", 1+i/10))
			if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(name, data[off:off+256<<10], 0o644); err != nil {
				b.Fatal(err)
			}
		}
		p, err := ScanPart(context.Background(), "A1", root, Options{})
		if err != nil {
			b.Fatal(err)
		}
		idx := fileIndices(p)
		b.SetBytes(int64(len(idx)) * 256 << 10)
		for b.Loop() {
			if err := p.Hash(context.Background(), idx, HashOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
