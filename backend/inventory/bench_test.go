//go:build linux

package inventory

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// benchTree is a cached fixture of 100,000 small files in 1,000 leaf directories (10 × 100),
// built once under os.TempDir and reused by later runs.
var benchTree = sync.OnceValues(func() (string, error) {
	root := filepath.Join(os.TempDir(), "ferry-inventory-bench-100k-v1")
	done := root + ".done"
	if _, err := os.Stat(done); err == nil {
		return root, nil
	}
	if err := os.RemoveAll(root); err != nil {
		return "", err
	}
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 8)
		errs = make(chan error, 1000)
	)
	data := []byte("ferry benchmark file\n")
	for i := range 10 {
		for j := range 100 {
			dir := filepath.Join(root, fmt.Sprintf("d%02d", i), fmt.Sprintf("s%03d", j))
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := os.MkdirAll(dir, 0o755); err != nil {
					errs <- err
					return
				}
				for k := range 100 {
					if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%03d.txt", k)), data, 0o644); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return "", err
	}
	return root, os.WriteFile(done, nil, 0o644)
})

// cpuTime is the user and system CPU time of the process so far: a figure that other load on the
// machine does not inflate.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkScan100k(b *testing.B) {
	root, err := benchTree()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	p, err := ScanPart(ctx, "A1", root, Options{}) // warm the caches
	if err != nil {
		b.Fatal(err)
	}
	if len(p.Entries) != 101_010 {
		b.Fatalf("fixture has %d entries, want 101010", len(p.Entries))
	}
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for b.Loop() {
		if _, err := ScanPart(ctx, "A1", root, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	n := float64(len(p.Entries)) * float64(b.N)
	b.ReportMetric(n/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(cpuTime(b)-cpu0)/n, "cpu-ns/entry")
}

func BenchmarkFormat100k(b *testing.B) {
	root, err := benchTree()
	if err != nil {
		b.Fatal(err)
	}
	p, err := ScanPart(context.Background(), "A1", root, Options{})
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := p.WriteTo(&buf); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d entries, %d bytes", len(p.Entries), buf.Len())
	b.Run("write", func(b *testing.B) {
		for b.Loop() {
			if _, err := p.WriteTo(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(p.Entries))*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
	b.Run("read", func(b *testing.B) {
		for b.Loop() {
			if _, err := ReadPart(bytes.NewReader(buf.Bytes())); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(p.Entries))*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
}
