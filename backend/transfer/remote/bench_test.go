package remote_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/transfer/remote"
)

// benchFile is a file of size random bytes under $FERRY_BENCH_DIR (default: the system temp
// dir), built once.
func benchFile(b *testing.B, size int) string {
	dir := os.Getenv("FERRY_BENCH_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "ferry-bench")
	}
	src := filepath.Join(dir, fmt.Sprintf("relay-%dMiB", size>>20), "src")
	p := filepath.Join(src, "big.bin")
	if fi, err := os.Stat(p); err == nil && fi.Size() == int64(size) {
		return src
	}
	if err := os.MkdirAll(src, 0o755); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(p + ".tmp")
	if err != nil {
		b.Fatal(err)
	}
	for off := 0; off < size; off += 16 << 20 {
		if _, err := f.Write(random(uint64(off), min(16<<20, size-off))); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Chtimes(p+".tmp", t1, t1); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		b.Fatal(err)
	}
	return src
}

// BenchmarkRelay1GiB copies a 1 GiB file (256 MiB with -short) from one member to another
// through a session server on loopback, with its relay storage on disk: sealed as always, then
// with sealing off, then with cp (and cp followed by sync, as durable as Ferry's copy). The
// figures to read are the ratios the sealed run reports: x-plain (target: at least 0.6), x-cp
// and x-cp+sync.
func BenchmarkRelay1GiB(b *testing.B) {
	size := 1 << 30
	if testing.Short() {
		size = 256 << 20
	}
	src := benchFile(b, size)
	rate := map[string]float64{} // bytes per second
	record := func(b *testing.B, name string) {
		rate[name] = float64(size) * float64(b.N) / b.Elapsed().Seconds()
	}
	cp := func(b *testing.B, name string, durable bool) {
		b.SetBytes(int64(size))
		for b.Loop() {
			b.StopTimer()
			dst := b.TempDir()
			b.StartTimer()
			if out, err := exec.Command("cp", filepath.Join(src, "big.bin"), dst).CombinedOutput(); err != nil {
				b.Fatalf("cp: %v: %s", err, out)
			}
			if durable {
				if out, err := exec.Command("sync", "-f", dst).CombinedOutput(); err != nil {
					b.Fatalf("sync: %v: %s", err, out)
				}
			}
		}
		record(b, name)
	}
	relay := func(b *testing.B, name string, sealed bool) {
		srv := startServer(b)
		_, m := session(b, srv, 2, remote.Options{})
		if !sealed {
			remote.DisableSealing(m[0].x)
			remote.DisableSealing(m[1].x)
		}
		b.SetBytes(int64(size))
		i := 0
		for b.Loop() {
			b.StopTimer()
			dst := b.TempDir()
			r := &relayRun{p: mirrorPlan(b, src, dst, compare.Smart, false), m: m}
			i++
			key := fmt.Sprint("bench ", i)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			b.StartTimer()
			r.bothKey(ctx, b, key)
			b.StopTimer()
			cancel()
			for _, res := range r.received.all() {
				if res.Err != nil {
					b.Fatal(res.Err)
				}
			}
			if len(r.received.all()) != 1 {
				b.Fatalf("%d results", len(r.received.all()))
			}
			b.StartTimer()
		}
		record(b, name)
		st := m[0].x.Stats()
		b.ReportMetric(float64(st.BytesSent)/float64(st.PartsUploaded)/(1<<20), "MiB/part")
		if sealed && rate["plain"] > 0 {
			// The ratios to read: the relay with sealing to the relay without, and to cp.
			b.ReportMetric(rate[name]/rate["plain"], "x-plain")
			b.ReportMetric(rate[name]/rate["cp"], "x-cp")
			b.ReportMetric(rate[name]/rate["cp+sync"], "x-cp+sync")
		}
	}
	b.Run("cp", func(b *testing.B) { cp(b, "cp", false) })
	b.Run("cp+sync", func(b *testing.B) { cp(b, "cp+sync", true) })
	b.Run("plain", func(b *testing.B) { relay(b, "plain", false) })
	b.Run("sealed", func(b *testing.B) { relay(b, "sealed", true) })
}
