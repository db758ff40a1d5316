package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/engine"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
)

// Benchmarks run Ferry and the reference tools on the same data in the same run; the figures to
// read are the ratios between sub-benchmarks of one family. Fixtures live under
// $FERRY_BENCH_DIR (default: the system temp dir) and are built once per process.

var fixtures sync.Map // name → dir

func benchDir(b *testing.B) string {
	dir := os.Getenv("FERRY_BENCH_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "ferry-bench")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	return dir
}

// fixture builds a tree of count files of size bytes each (spread over folders of 100) once.
func fixture(b *testing.B, name string, count int, size func(i int) int) string {
	if v, ok := fixtures.Load(name); ok {
		return v.(string)
	}
	dir := filepath.Join(benchDir(b), name)
	done := filepath.Join(dir, ".complete")
	if _, err := os.Stat(done); err != nil {
		os.RemoveAll(dir)
		rng := rand.New(rand.NewPCG(1, uint64(count)))
		buf := make([]byte, 1<<20)
		for i := range count {
			p := filepath.Join(dir, "src", fmt.Sprintf("d%03d", i/100), fmt.Sprintf("f%05d.bin", i))
			if i%100 == 0 {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					b.Fatal(err)
				}
			}
			f, err := os.Create(p)
			if err != nil {
				b.Fatal(err)
			}
			for left := size(i); left > 0; {
				n := min(left, len(buf))
				for j := 0; j < n; j += 8 {
					buf[j] = byte(rng.Uint32())
				}
				if _, err := f.Write(buf[:n]); err != nil {
					b.Fatal(err)
				}
				left -= n
			}
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.WriteFile(done, nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	src := filepath.Join(dir, "src")
	fixtures.Store(name, src)
	return src
}

func smallFiles(b *testing.B, count int) string {
	return fixture(b, fmt.Sprintf("small-%d", count), count, func(i int) int { return 1024 + (i*7919)%(15*1024) })
}

func run(b *testing.B, name string, args ...string) {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func need(b *testing.B, tool string) {
	if _, err := exec.LookPath(tool); err != nil {
		b.Fatalf("%s is not installed: `make bench` installs it", tool)
	}
}

// freshTarget returns a new empty directory for one iteration. Old targets are removed when the
// sub-benchmark ends, not just before the next iteration: on ext4, creating files right after
// deleting thousands slows every tool down by an amount that depends on the order they run in.
func freshTarget(b *testing.B, name string) string {
	b.StopTimer()
	dst, err := os.MkdirTemp(benchDir(b), "target-"+name+"-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dst) })
	run(b, "sync")
	b.StartTimer()
	return dst
}

func mirror(b *testing.B, src, dst string) {
	req := mirrorRequest(src, dst, compare.Smart)
	l, err := plan.Make(context.Background(), req)
	if err != nil {
		b.Fatal(err)
	}
	if rep := engine.Apply(context.Background(), l.Plan, engine.DefaultWorkers); len(rep.Errors) > 0 {
		b.Fatal(rep.Errors[0])
	}
}

func countEntries(b *testing.B, root string) int {
	p, err := inventory.ScanPart(context.Background(), "A1", root, inventory.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return len(p.Entries)
}

// BenchmarkInventory100k: a warm scan of 100k files against rsync listing the same tree.
func BenchmarkInventory100k(b *testing.B) {
	src := smallFiles(b, 100_000)
	entries := countEntries(b, src)
	b.Run("ferry", func(b *testing.B) {
		for b.Loop() {
			if _, err := inventory.ScanPart(context.Background(), "A1", src, inventory.Options{}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(entries)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
	b.Run("rsync-list", func(b *testing.B) {
		need(b, "rsync")
		for b.Loop() {
			run(b, "rsync", "-a", "--list-only", src+"/")
		}
		b.ReportMetric(float64(entries)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
}

// BenchmarkPlan100k: plan a mirror between two identical 100k-file trees (two scans, comparison,
// rules) against rsync's dry run over the same pair.
func BenchmarkPlan100k(b *testing.B) {
	src := smallFiles(b, 100_000)
	dst := filepath.Join(filepath.Dir(src), "copy")
	if _, err := os.Stat(dst); err != nil {
		run(b, "cp", "-a", src, dst)
	}
	b.Run("ferry", func(b *testing.B) {
		for b.Loop() {
			l, err := plan.Make(context.Background(), mirrorRequest(src, dst, compare.Smart))
			if err != nil {
				b.Fatal(err)
			}
			if n := l.Plan.Summary().Actions; n != 0 {
				b.Fatalf("identical trees planned %d actions", n)
			}
		}
		b.ReportMetric(float64(len(l100k(b, src)))*float64(b.N)/b.Elapsed().Seconds(), "items/s")
	})
	b.Run("rsync-dry-run", func(b *testing.B) {
		need(b, "rsync")
		for b.Loop() {
			run(b, "rsync", "-a", "-n", "--delete", src+"/", dst+"/")
		}
	})
}

func l100k(b *testing.B, src string) []inventory.Entry {
	p, err := inventory.ScanPart(context.Background(), "A1", src, inventory.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return p.Entries
}

func benchApply(b *testing.B, src string, bytes int64) {
	b.Run("ferry", func(b *testing.B) {
		b.SetBytes(bytes)
		for b.Loop() {
			mirror(b, src, freshTarget(b, "ferry"))
		}
	})
	b.Run("cp-a", func(b *testing.B) {
		b.SetBytes(bytes)
		for b.Loop() {
			dst := freshTarget(b, "cp")
			run(b, "cp", "-a", src+"/.", dst)
		}
	})
	// Ferry makes what it wrote durable before it reports the run done; cp and rsync leave it in
	// the page cache. This line measures cp with the same guarantee.
	b.Run("cp-a+sync", func(b *testing.B) {
		b.SetBytes(bytes)
		for b.Loop() {
			dst := freshTarget(b, "cp-sync")
			run(b, "cp", "-a", src+"/.", dst)
			run(b, "sync", "-f", dst)
		}
	})
	b.Run("rsync-a", func(b *testing.B) {
		need(b, "rsync")
		b.SetBytes(bytes)
		for b.Loop() {
			dst := freshTarget(b, "rsync")
			run(b, "rsync", "-a", src+"/", dst+"/")
		}
	})
}

// BenchmarkApply20kSmall: mirror 20k files of 1–16 KiB into an empty folder.
func BenchmarkApply20kSmall(b *testing.B) { benchApply(b, smallFiles(b, 20_000), 0) }

// BenchmarkApply1GiB: mirror 4 files of 256 MiB into an empty folder.
func BenchmarkApply1GiB(b *testing.B) {
	src := fixture(b, "large-4x256MiB", 4, func(int) int { return 256 << 20 })
	benchApply(b, src, 1<<30)
}
