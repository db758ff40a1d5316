package transfer

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
)

// BenchmarkCopySmallFiles copies 2000 files of 4 KiB per op, one at a time and with one worker
// per CPU, each through temp file + fsync + rename.
func BenchmarkCopySmallFiles(b *testing.B) {
	const files, size = 2000, 4 << 10
	src, sdir := newRoot(b)
	paths := make([]string, files)
	for i := range files {
		paths[i] = fmt.Sprintf("/d%02d/f%04d.bin", i%20, i)
		writeFile(b, sdir, paths[i][1:], randomBytes(uint64(i), size), 0o644, time.Time{})
	}
	for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			dst, _ := newRoot(b)
			o := CopyOptions{Size: size, Dates: &Dates{ModTime: testTime}}
			b.SetBytes(files * size)
			for b.Loop() {
				work := make(chan string)
				var wg sync.WaitGroup
				for range workers {
					wg.Go(func() {
						for p := range work {
							if _, err := Copy(b.Context(), src, p, dst, p, o); err != nil {
								b.Error(err)
							}
						}
					})
				}
				for _, p := range paths {
					work <- p
				}
				close(work)
				wg.Wait()
			}
			b.ReportMetric(float64(files*b.N)/b.Elapsed().Seconds(), "files/s")
		})
	}
}

// BenchmarkCopyLarge copies a 256 MiB file (copy_file_range on ext4) and, for comparison, writes
// it through a user-space buffer; both include temp file, fsync and rename.
func BenchmarkCopyLarge(b *testing.B) {
	const size = 256 << 20
	src, sdir := newRoot(b)
	sp := writeFile(b, sdir, "large.bin", randomBytes(1, size), 0o644, time.Time{})
	b.Run("Copy", func(b *testing.B) {
		dst, _ := newRoot(b)
		b.SetBytes(size)
		var res Result
		for b.Loop() {
			var err error
			if res, err = Copy(b.Context(), src, "/large.bin", dst, "/large.bin", CopyOptions{Size: size}); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("via %s", res.method)
	})
	// The same write path fed through a user-space buffer (WriteFrom), for comparison.
	b.Run("stream", func(b *testing.B) {
		sf, err := os.Open(sp)
		if err != nil {
			b.Fatal(err)
		}
		defer sf.Close()
		dst, _ := newRoot(b)
		b.SetBytes(size)
		for b.Loop() {
			if _, err := WriteFrom(b.Context(), dst, "/large.bin", io.NewSectionReader(sf, 0, size), CopyOptions{Size: size}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDelta measures the delta steps on a 16 MiB file with three small edits; throughput is
// in file bytes.
func BenchmarkDelta(b *testing.B) {
	const size = 16 << 20
	old := randomBytes(5, size)
	cur := insertAt(old, 1_000_003, []byte("edit one"))
	cur = removeAt(cur, 7_000_001, 5000)
	cur = insertAt(cur, 12_345_678, randomBytes(6, 20_000))
	var sig, delta bytes.Buffer
	if err := Signature(b.Context(), bytes.NewReader(old), size, &sig); err != nil {
		b.Fatal(err)
	}
	if err := MakeDelta(b.Context(), bytes.NewReader(sig.Bytes()), bytes.NewReader(cur), &delta); err != nil {
		b.Fatal(err)
	}
	b.Logf("signature %d bytes, delta %d bytes", sig.Len(), delta.Len())

	b.Run("Signature", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if err := Signature(b.Context(), bytes.NewReader(old), size, io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("MakeDelta", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if err := MakeDelta(b.Context(), bytes.NewReader(sig.Bytes()), bytes.NewReader(cur), io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ApplyDelta", func(b *testing.B) {
		dst, dir := newRoot(b)
		b.SetBytes(size)
		for b.Loop() {
			b.StopTimer()
			writeFile(b, dir, "f", old, 0o644, time.Time{})
			b.StartTimer()
			if _, err := ApplyDelta(b.Context(), dst, "/f", bytes.NewReader(delta.Bytes()), CopyOptions{Size: int64(len(cur))}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("LocalCopyDelta", func(b *testing.B) {
		src, sdir := newRoot(b)
		writeFile(b, sdir, "f", cur, 0o644, time.Time{})
		dst, dir := newRoot(b)
		b.SetBytes(size)
		for b.Loop() {
			b.StopTimer()
			writeFile(b, dir, "f", old, 0o644, time.Time{})
			b.StartTimer()
			if _, err := Copy(b.Context(), src, "/f", dst, "/f", CopyOptions{Mode: Delta, Size: int64(len(cur))}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
