package main

import (
	"bufio"
	"bytes"
	"context"
	cryptorand "crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/internal/s3test"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/session"
)

// Benchmarks of whole `ferry sync` processes beside cp -a and rsync -a on the same data, in the
// same run: the figures to read are the ratios within a family (build/bench/ratios.awk).
// Fixtures live under $FERRY_BENCH_DIR (default: <tmp>/ferry-bench) and are built once.

var (
	cliOnce   sync.Once
	cliBin    string // the ferry binary
	cliConfig string // its FERRY_CONFIG_DIR
	cliErr    error
	cliTrees  sync.Map // fixture name → src dir
	cliFiles  sync.Map // src dir → sorted relative file paths
)

// benchFerry builds the ferry command once per process into $FERRY_BENCH_DIR/cli-bin (replacing
// the previous build) and returns its path.
func benchFerry(b *testing.B) string {
	cliOnce.Do(func() {
		root, err := benchRootDir()
		if err != nil {
			cliErr = err
			return
		}
		dir := filepath.Join(root, "cli-bin")
		if cliErr = os.MkdirAll(dir, 0o755); cliErr != nil {
			return
		}
		cliBin, cliConfig = filepath.Join(dir, "ferry"), filepath.Join(dir, "config")
		tmp := fmt.Sprintf("%s.%d", cliBin, os.Getpid())
		cmd := exec.Command("go", "build", "-o", tmp, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			cliErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		cliErr = os.Rename(tmp, cliBin)
	})
	if cliErr != nil {
		b.Fatal(cliErr)
	}
	return cliBin
}

func benchRoot(b *testing.B) string {
	dir, err := benchRootDir()
	if err != nil {
		b.Fatal(err)
	}
	return dir
}

func benchRootDir() (string, error) {
	dir := os.Getenv("FERRY_BENCH_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "ferry-bench")
	}
	return dir, os.MkdirAll(dir, 0o755)
}

// benchTree writes count files of size(rng) random bytes, in folders of 100, under
// $FERRY_BENCH_DIR/name/src once, and returns that folder.
func benchTree(b *testing.B, name string, count int, size func(*rand.Rand) int) string {
	return benchTreeDirs(b, name, count, size, func(i int) string { return shortPath(i, 100) })
}

// benchTreeDirs is benchTree with the files at path(i), relative to src, in path order.
func benchTreeDirs(b *testing.B, name string, count int, size func(*rand.Rand) int, path func(i int) string) string {
	if v, ok := cliTrees.Load(name); ok {
		return v.(string)
	}
	dir := filepath.Join(benchRoot(b), name)
	src := filepath.Join(dir, "src")
	done := filepath.Join(dir, ".complete")
	if _, err := os.Stat(done); err != nil {
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, uint64(count)))
		buf := make([]byte, 1<<20)
		for i := range count {
			p := filepath.Join(src, path(i))
			if i == 0 || filepath.Dir(p) != filepath.Join(src, filepath.Dir(path(i-1))) {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					b.Fatal(err)
				}
			}
			f, err := os.Create(p)
			if err != nil {
				b.Fatal(err)
			}
			for left := size(rng); left > 0; {
				n := min(left, len(buf))
				for j := 0; j < n; j += 8 {
					binary.LittleEndian.PutUint64(buf[j:], rng.Uint64())
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
	cliTrees.Store(name, src)
	return src
}

func smallTree(b *testing.B) string {
	return benchTree(b, "cli-small-20000", 20_000, func(r *rand.Rand) int { return 1024 + r.IntN(15*1024+1) })
}

func largeTree(b *testing.B) string {
	return benchTree(b, "cli-large-4x256MiB", 4, func(*rand.Rand) int { return 256 << 20 })
}

func tinyTree(b *testing.B) string {
	return benchTree(b, "cli-tiny-10000", 10_000, func(r *rand.Rand) int { return 80 + r.IntN(41) })
}

// benchExec runs a command and fails the benchmark unless it exits 0; it returns stdout.
func benchExec(b *testing.B, env []string, name string, args ...string) string {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %s: %v\nstdout: %.2000s\nstderr: %.2000s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// ferrySync runs `ferry sync` mirroring src into dst and returns its stdout.
func ferrySync(b *testing.B, src, dst string, extra ...string) string {
	args := append([]string{"sync", "--node", "A=" + src, "--node", "B=" + dst, "--mode", "mirror", "--yes"}, extra...)
	return benchExec(b, append(os.Environ(), envConfigDir+"="+cliConfig), cliBin, args...)
}

func needRsync(b *testing.B) {
	if _, err := exec.LookPath("rsync"); err != nil {
		b.Skip("rsync is not on PATH (make deps-test installs it)")
	}
}

// targets holds a family's destination folders. They are removed when the family ends, not
// between runs: on ext4 without a journal, each file created within minutes of a mass removal
// pays a kernel check per recently freed inode (cp -a of 10k files went from 0.4 s to 4 s), so
// removing in between would slow down whichever tool runs next.
type targets struct{ dir string }

// lastPurge is when this process last removed many files.
var lastPurge atomic.Int64

// newTargets makes a family's target folder; families creating many files first wait until
// this process's last mass removal is 6 minutes old (the kernel's longest window).
func newTargets(b *testing.B, manyFiles bool) *targets {
	if t := lastPurge.Load(); manyFiles && t != 0 {
		if d := 6*time.Minute - time.Since(time.Unix(0, t)); d > 0 {
			b.Logf("waiting %s for recently removed files to stop slowing creations down", d.Round(time.Second))
			time.Sleep(d)
		}
	}
	dir, err := os.MkdirTemp(benchRoot(b), "cli-targets-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		os.RemoveAll(dir)
		if manyFiles {
			lastPurge.Store(time.Now().UnixNano())
		}
	})
	return &targets{dir}
}

// fresh stops the timer, makes a new empty folder and flushes what earlier runs left dirty.
func (t *targets) fresh(b *testing.B, tool string) string {
	b.StopTimer()
	defer b.StartTimer()
	dst, err := os.MkdirTemp(t.dir, tool+"-")
	if err != nil {
		b.Fatal(err)
	}
	benchExec(b, nil, "sync")
	return dst
}

// srcFiles lists src's files once.
func srcFiles(b *testing.B, src string) []string {
	if v, ok := cliFiles.Load(src); ok {
		return v.([]string)
	}
	files := walkFiles(b, src)
	cliFiles.Store(src, files)
	return files
}

func walkFiles(b *testing.B, root string) []string {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// checkMirror fails unless dst holds as many files as src, and some of them, sampled evenly,
// with src's size, modification time and content.
func checkMirror(b *testing.B, src, dst string) {
	b.Helper()
	want := srcFiles(b, src)
	if got := walkFiles(b, dst); len(got) != len(want) {
		b.Fatalf("%s holds %d files, %s %d", dst, len(got), src, len(want))
	}
	step := max(1, len(want)/16)
	for i := 0; i < len(want); i += step {
		sameFile(b, filepath.Join(src, want[i]), filepath.Join(dst, want[i]))
	}
	sameFile(b, filepath.Join(src, want[len(want)-1]), filepath.Join(dst, want[len(want)-1]))
}

func sameFile(b *testing.B, a, c string) {
	b.Helper()
	fa, err := os.Open(a)
	if err != nil {
		b.Fatal(err)
	}
	defer fa.Close()
	fc, err := os.Open(c)
	if err != nil {
		b.Fatal(err)
	}
	defer fc.Close()
	sa, _ := fa.Stat()
	sc, _ := fc.Stat()
	if sa.Size() != sc.Size() || !sa.ModTime().Equal(sc.ModTime()) {
		b.Fatalf("%s: %d bytes modified %s, want %d bytes modified %s", c, sc.Size(), sc.ModTime(), sa.Size(), sa.ModTime())
	}
	ba, bc := make([]byte, 1<<20), make([]byte, 1<<20)
	for {
		na, ea := io.ReadFull(fa, ba)
		nc, _ := io.ReadFull(fc, bc)
		if na != nc || !bytes.Equal(ba[:na], bc[:nc]) {
			b.Fatalf("%s differs from %s", c, a)
		}
		if ea != nil {
			return
		}
	}
}

// benchMirror times mirrors of src into an empty folder.
func benchMirror(b *testing.B, src string, size int64) {
	benchFerry(b)
	tg := newTargets(b, len(srcFiles(b, src)) >= 1000)
	b.Run("ferry", func(b *testing.B) {
		b.SetBytes(size)
		var dst string
		for b.Loop() {
			dst = tg.fresh(b, "ferry")
			ferrySync(b, src, dst)
		}
		checkMirror(b, src, dst)
	})
	b.Run("cp-a", func(b *testing.B) {
		b.SetBytes(size)
		var dst string
		for b.Loop() {
			dst = tg.fresh(b, "cp")
			benchExec(b, nil, "cp", "-a", src+"/.", dst)
		}
		checkMirror(b, src, dst)
	})
	// Ferry makes what it wrote durable (syncfs) before it reports the run done; cp with the
	// same guarantee.
	b.Run("cp-a+sync", func(b *testing.B) {
		b.SetBytes(size)
		var dst string
		for b.Loop() {
			dst = tg.fresh(b, "cp-sync")
			benchExec(b, nil, "cp", "-a", src+"/.", dst)
			benchExec(b, nil, "sync", "-f", dst)
		}
		checkMirror(b, src, dst)
	})
	b.Run("rsync-a", func(b *testing.B) {
		needRsync(b)
		b.SetBytes(size)
		var dst string
		for b.Loop() {
			dst = tg.fresh(b, "rsync")
			benchExec(b, nil, "rsync", "-a", src+"/", dst+"/")
		}
		checkMirror(b, src, dst)
	})
}

// BenchmarkSyncMirrorSmall: mirror 20k files of 1–16 KiB into an empty folder.
func BenchmarkSyncMirrorSmall(b *testing.B) { benchMirror(b, smallTree(b), 0) }

// BenchmarkSyncMirrorLarge: mirror 4 files of 256 MiB into an empty folder.
func BenchmarkSyncMirrorLarge(b *testing.B) { benchMirror(b, largeTree(b), 1<<30) }

// benchNoop times runs over src and a copy already in sync (made by one untimed ferry run).
func benchNoop(b *testing.B, src string) {
	benchFerry(b)
	dst := filepath.Join(filepath.Dir(src), "in-sync")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		b.Fatal(err)
	}
	ferrySync(b, src, dst)
	benchExec(b, nil, "sync")
	b.Run("ferry", func(b *testing.B) {
		for b.Loop() {
			if out := ferrySync(b, src, dst); !strings.HasPrefix(out, "Plan: 0 actions") {
				b.Fatalf("not a no-op:\n%.2000s", out)
			}
		}
		checkMirror(b, src, dst)
	})
	b.Run("rsync-a", func(b *testing.B) {
		needRsync(b)
		for b.Loop() {
			benchExec(b, nil, "rsync", "-a", src+"/", dst+"/")
		}
		checkMirror(b, src, dst)
	})
}

// BenchmarkSyncNoopSmall: the 20k small files, already in sync.
func BenchmarkSyncNoopSmall(b *testing.B) { benchNoop(b, smallTree(b)) }

// BenchmarkSyncNoopLarge: the 4 files of 256 MiB, already in sync.
func BenchmarkSyncNoopLarge(b *testing.B) { benchNoop(b, largeTree(b)) }

// BenchmarkOrchestration10k: mirror 10k files of about 100 B through a session server 20 ms
// away (per HTTP request), orchestrated on this machine and by the server.
func BenchmarkOrchestration10k(b *testing.B) {
	benchFerry(b)
	src := tinyTree(b)
	tg := newTargets(b, true)
	var local time.Duration
	b.Run("ferry-local", func(b *testing.B) { local = benchOrchestration(b, tg, src, "auto") })
	b.Run("ferry-cloud", func(b *testing.B) {
		cloud := benchOrchestration(b, tg, src, "cloud")
		if local > 0 {
			b.ReportMetric(float64(cloud)/float64(local), "cloud/local")
			b.Logf("wall time per run: local %s, cloud %s, cloud/local %.2f×",
				local.Round(time.Millisecond), cloud.Round(time.Millisecond), float64(cloud)/float64(local))
		}
	})
}

// benchOrchestration times ferry runs with --orchestration mode and returns the time per run.
func benchOrchestration(b *testing.B, tg *targets, src, mode string) time.Duration {
	p := newDelayProxy(b, startCloud(b), 20*time.Millisecond)
	var dst string
	for b.Loop() {
		dst = tg.fresh(b, "ferry-"+mode)
		ferrySync(b, src, dst, "--server", p.url, "--orchestration", mode)
	}
	checkMirror(b, src, dst)
	all, syncReqs := p.all.Load(), p.sync.Load()
	if (mode == "cloud") != (syncReqs > 0) {
		b.Fatalf("--orchestration %s: %d requests under /synchronization", mode, syncReqs)
	}
	b.ReportMetric(float64(all)/float64(b.N), "requests/op")
	b.ReportMetric(float64(syncReqs)/float64(b.N), "sync-requests/op")
	return b.Elapsed() / time.Duration(b.N)
}

// delayProxy forwards to a server after delay per HTTP request; websocket frames pass through
// the upgraded connection undelayed. It counts requests.
type delayProxy struct {
	url       string
	all, sync atomic.Int64
}

func newDelayProxy(b *testing.B, backend string, delay time.Duration) *delayProxy {
	target, err := url.Parse(backend)
	if err != nil {
		b.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	p := &delayProxy{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.all.Add(1)
		if strings.Contains(r.URL.Path, "/synchronization") {
			p.sync.Add(1)
		}
		time.Sleep(delay)
		rp.ServeHTTP(w, r)
	}))
	b.Cleanup(hs.Close)
	p.url = hs.URL
	return p
}

// BenchmarkRelayHostJoin1GiB relays a 1 GiB file (256 MiB with -short) from `ferry host` to
// `ferry join` through a `ferry server` on loopback with its relay storage on disk (whole runs:
// session, inventory, plan, sealed copy, durable write), beside the same bytes relayed unsealed
// through the same server by the client library alone (the relay's own speed: no session flow,
// no sealing, the same part size, four parts at once each way), and beside cp and cp followed
// by sync (as durable as Ferry's copy), in the same run; and the same host/join through a
// server whose relay storage is a bucket of a private SeaweedFS (ferry-s3). The ratios are
// logged at the end.
func BenchmarkRelayHostJoin1GiB(b *testing.B) {
	size := int64(1 << 30)
	if testing.Short() {
		size = 256 << 20
	}
	bin := benchFerry(b)
	src := filepath.Join(benchRoot(b), fmt.Sprintf("cli-relay-%dMiB", size>>20))
	file := filepath.Join(src, "big.bin")
	if fi, err := os.Stat(file); err != nil || fi.Size() != size {
		if err := os.MkdirAll(src, 0o755); err != nil {
			b.Fatal(err)
		}
		writeBig(b, file+".tmp", size, tOld)
		if err := os.Rename(file+".tmp", file); err != nil {
			b.Fatal(err)
		}
	}
	url := benchRelayServer(b, bin, nil, "--storage", b.TempDir())
	tg := newTargets(b, false)
	rate := map[string]float64{}
	record := func(b *testing.B, name string) { rate[name] = float64(size) * float64(b.N) / b.Elapsed().Seconds() }

	ferry := func(b *testing.B, name, url string) {
		b.SetBytes(size)
		var hr e2eReport
		var runs time.Duration // from the start of the synchronizations to their ends
		for b.Loop() {
			dst := tg.fresh(b, "relay-ferry")
			b.StopTimer()
			cfgA, cfgB := b.TempDir(), b.TempDir()
			b.StartTimer()
			hp, line := host(b, bin, url, cfgA, "--node", "A="+src, "--mode", "mirror", "--trust")
			jp := join(b, bin, url, cfgB, line, line.Password, "--node", "B="+dst, "--trust")
			hp.mustExit(b, 0)
			jp.mustExit(b, 0)
			b.StopTimer()
			sameFile(b, file, filepath.Join(dst, "big.bin"))
			hr = hp.report(b)
			runs += runTime(b, hp.stderr.String())
			os.RemoveAll(dst)
			b.StartTimer()
		}
		record(b, name)
		rate[name+"-run"] = float64(size) * float64(b.N) / runs.Seconds()
		b.ReportMetric(rate[name+"-run"]/1e6, "run-MB/s")
		b.ReportMetric(float64(hr.Transfers.BytesSent)/float64(hr.Transfers.PartsUploaded)/(1<<20), "MiB/part")
	}
	b.Run("ferry", func(b *testing.B) { ferry(b, "ferry", url) })
	// The same through a bucket of a private SeaweedFS on loopback: the parts go from the
	// members to the bucket and back, not through the server.
	b.Run("ferry-s3", func(b *testing.B) {
		s3 := s3test.Start(b)
		u := benchRelayServer(b, bin, s3.Env(), "--storage", s3.URL(s3.NewBucket(b), "relay"))
		ferry(b, "ferry-s3", u)
	})
	b.Run("plain-relay", func(b *testing.B) {
		a, c, session := plainMembers(b, url)
		b.SetBytes(size)
		for b.Loop() {
			dst := tg.fresh(b, "relay-plain")
			plainRelay(b, a, c, session, file, filepath.Join(dst, "big.bin"), size)
			b.StopTimer()
			sameFile(b, file, filepath.Join(dst, "big.bin"))
			os.RemoveAll(dst)
			b.StartTimer()
		}
		record(b, "plain-relay")
	})
	cp := func(name string, durable bool) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				dst := tg.fresh(b, "relay-cp")
				benchExec(b, nil, "cp", file, dst)
				if durable {
					benchExec(b, nil, "sync", "-f", dst)
				}
				b.StopTimer()
				os.RemoveAll(dst)
				b.StartTimer()
			}
			record(b, name)
		})
	}
	cp("cp", false)
	cp("cp+sync", true)
	if rate["ferry"] > 0 && rate["plain-relay"] > 0 && rate["cp"] > 0 {
		b.Logf("ferry host/join, whole runs: %.0f MB/s, %.0f%% of the unsealed relay (%.0f MB/s), %.0f%% of cp (%.0f MB/s), %.0f%% of cp+sync (%.0f MB/s)",
			rate["ferry"]/1e6, 100*rate["ferry"]/rate["plain-relay"], rate["plain-relay"]/1e6,
			100*rate["ferry"]/rate["cp"], rate["cp"]/1e6, 100*rate["ferry"]/rate["cp+sync"], rate["cp+sync"]/1e6)
		b.Logf("ferry host/join, synchronizations only (started to ended): %.0f MB/s, %.0f%% of the unsealed relay",
			rate["ferry-run"]/1e6, 100*rate["ferry-run"]/rate["plain-relay"])
	}
	if rate["ferry-s3"] > 0 && rate["ferry"] > 0 && rate["cp+sync"] > 0 {
		b.Logf("ferry host/join through a bucket (SeaweedFS on loopback): %.0f MB/s, %.0f%% of the folder storage (%.0f MB/s), %.0f%% of cp+sync (%.0f MB/s); synchronizations only %.0f MB/s",
			rate["ferry-s3"]/1e6, 100*rate["ferry-s3"]/rate["ferry"], rate["ferry"]/1e6,
			100*rate["ferry-s3"]/rate["cp+sync"], rate["cp+sync"]/1e6, rate["ferry-s3-run"]/1e6)
	}
}

// runTime is how long the synchronization took, from its JSON events on stderr.
func runTime(b *testing.B, stderr string) time.Duration {
	for _, line := range strings.Split(stderr, "\n") {
		var e struct {
			Type string
			Sync struct{ Started, Ended time.Time } `json:"synchronization"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.Type == "ended" && !e.Sync.Ended.IsZero() {
			return e.Sync.Ended.Sub(e.Sync.Started)
		}
	}
	b.Fatalf("no end of the synchronization in:\n%.2000s", stderr)
	return 0
}

// benchRelayServer runs `ferry server` with relay storage (given by args) on a loopback port for
// the benchmark, with env added to its environment.
func benchRelayServer(b *testing.B, bin string, env []string, args ...string) string {
	cmd := exec.Command(bin, append([]string{"server", "--listen", "127.0.0.1:0", "--log-level", "warn"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	u, ok := strings.CutPrefix(strings.TrimSpace(line), "ferry server listening on ")
	if err != nil || !ok {
		b.Fatalf("ferry server said %q: %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return u
}

// plainMembers are two members of one session, in this process, for the unsealed relay.
func plainMembers(b *testing.B, url string) (sender, recipient *client.Client, id string) {
	login := func() *client.Client {
		ident, err := crypto.NewIdentity()
		if err != nil {
			b.Fatal(err)
		}
		c, err := client.New(url, ident, client.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Login(context.Background()); err != nil {
			b.Fatal(err)
		}
		return c
	}
	cheap := session.WithPasswordParams(crypto.PasswordParams{Time: 1, MemoryKiB: 64, Threads: 1})
	ma, err := session.Create(context.Background(), login(), nil, cheap, session.TrustNewKeys(true))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _, _ = ma.Close(context.Background(), time.Second) })
	mb, err := session.Join(context.Background(), login(), session.JoinRequest{ID: ma.ID(), Password: ma.Password()}, cheap, session.TrustNewKeys(true))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _, _ = mb.Close(context.Background(), time.Second) })
	return ma.Client(), mb.Client(), ma.ID()
}

// plainPart is the part size of the unsealed relay: the relay's largest.
const plainPart = 16 << 20

// plainRelay sends file from sender to recipient through the relay without sealing: parts
// uploaded four at once, downloaded four at once as they arrive, written in place into a temp
// file that is synced and renamed to dst.
func plainRelay(b *testing.B, sender, recipient *client.Client, session, file, dst string, size int64) {
	ctx := context.Background()
	var rnd [16]byte
	_, _ = cryptorand.Read(rnd[:])
	id := base64.RawURLEncoding.EncodeToString(rnd[:])
	if _, err := sender.CreateTransfer(ctx, session, protocol.TransferRequest{ID: id, Kind: protocol.TransferContent, Recipients: []string{recipient.InstanceID()}}); err != nil {
		b.Fatal(err)
	}
	parts := int((size + plainPart - 1) / plainPart)
	in, err := os.Open(file)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst + ".tmp")
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	var failed atomic.Pointer[error]
	fail := func(err error) { failed.CompareAndSwap(nil, &err) }
	work := func(do func(n int, buf []byte) error) *sync.WaitGroup {
		next := make(chan int)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				buf := make([]byte, plainPart)
				for n := range next {
					if err := do(n, buf); err != nil {
						fail(err)
					}
				}
			})
		}
		go func() {
			for n := 1; n <= parts && failed.Load() == nil; n++ {
				next <- n
			}
			close(next)
		}()
		return &wg
	}
	up := work(func(n int, buf []byte) error {
		k, err := in.ReadAt(buf, int64(n-1)*plainPart)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		return sender.UploadPart(ctx, session, id, n, buf[:k])
	})
	down := work(func(n int, _ []byte) error {
		for {
			data, err := recipient.DownloadPart(ctx, session, id, n)
			if client.Code(err) == protocol.ErrCodeNotFound {
				time.Sleep(2 * time.Millisecond) // not uploaded yet: the baseline polls
				continue
			}
			if err != nil {
				return err
			}
			if _, err := out.WriteAt(data, int64(n-1)*plainPart); err != nil {
				return err
			}
			return recipient.PartReceived(ctx, session, id, n)
		}
	})
	up.Wait()
	if err := sender.CompleteTransfer(ctx, session, id, parts); err != nil {
		fail(err)
	}
	down.Wait()
	if p := failed.Load(); p != nil {
		b.Fatal(*p)
	}
	if err := out.Sync(); err != nil {
		b.Fatal(err)
	}
	fi, err := in.Stat()
	if err == nil {
		err = os.Chtimes(dst+".tmp", fi.ModTime(), fi.ModTime())
	}
	if err == nil {
		err = os.Rename(dst+".tmp", dst)
	}
	if err != nil {
		b.Fatal(err)
	}
	if err := sender.CancelTransfer(ctx, session, id); err != nil && client.Code(err) != protocol.ErrCodeNotFound {
		b.Fatal(err)
	}
}

// BenchmarkAdmission is what a rerun between two machines pays to gather its members: from the
// start of `ferry join` (keys already trusted from an earlier run, the real password cost) to
// the host seeing both members ready, through a `ferry server` on loopback. Each iteration is a
// whole host and join; only the admission is timed.
func BenchmarkAdmission(b *testing.B) {
	bin := benchFerry(b)
	url := benchRelayServer(b, bin, nil, "--storage", b.TempDir())
	a, dst := b.TempDir(), b.TempDir()
	put(b, filepath.Join(a, "x.txt"), []byte("x"), tOld)
	cfgA, cfgB := b.TempDir(), b.TempDir()
	var admission time.Duration
	for i := 0; i < b.N+1; i++ { // the first run trusts the keys and is not counted
		hp, line := host(b, bin, url, cfgA, "--node", "A="+a, "--mode", "mirror", "--trust")
		start := time.Now()
		jp := join(b, bin, url, cfgB, line, line.Password, "--node", "B="+dst, "--trust")
		hp.stderr.Await(b, "both members ready", e2eWait, func(s string) bool { return strings.Contains(s, `"ready":2`) })
		if i > 0 {
			admission += time.Since(start)
		}
		hp.mustExit(b, 0)
		jp.mustExit(b, 0)
	}
	b.ReportMetric(float64(admission.Milliseconds())/float64(b.N), "ms/admission")
}

// The scale families: trees of many tiny files (100–500 B, 500 folders), the first mirror, a
// run already in sync and one after 1 % of the files changed, each beside rsync -a in the same
// run. Their paths are short and lower-case (/d000/f00000.bin); the Deep family's are as long
// as a photo library's and mix cases (deepPath). Besides the time, each reports the peak RSS of the process (/usr/bin/time, MB-peak) and,
// for Ferry, the bytes a file above its base (its peak on an empty tree, B/file). 200k files by
// default; the 1M families run with FERRY_BENCH_1M=1 only (about 10 minutes and 20 GB of inodes
// with BENCHTIME=1x).

const envBench1M = "FERRY_BENCH_1M"

// shortPath is a file of a fixture of short lower-case paths: d000/f00000.bin.
func shortPath(i, perDir int) string { return fmt.Sprintf("d%03d/f%05d.bin", i/perDir, i) }

// deepPath is a file of a fixture whose paths are long and mix cases as a photo library's
// do, 78–79 bytes: /Pictures/Camera Roll/2019/2019-06-12 Holiday trip 012/IMG_20190612_000123.JPG.
// Half the folders are under "documents", which sorts after "Pictures" in bytes and before it
// by linking key.
func deepPath(i, perDir int) string {
	d := i / perDir
	top := [...]string{"Pictures", "documents"}[d%2]
	year, month, day := 2015+d/2%10, 1+d%12, 1+d%28
	return fmt.Sprintf("%s/Camera Roll/%d/%d-%02d-%02d Holiday trip %03d/IMG_%d%02d%02d_%06d.JPG",
		top, year, year, month, day, d, year, month, day, i)
}

// scaleTree is the fixture of count tiny files in 500 folders, with short paths or deep ones.
func scaleTree(b *testing.B, count int, deep bool) string {
	if count > 200_000 && os.Getenv(envBench1M) == "" {
		b.Skipf("%d files: set %s=1 to run it", count, envBench1M)
	}
	name, path := fmt.Sprintf("cli-scale-%d", count), shortPath
	if deep {
		name, path = fmt.Sprintf("cli-scale-deep-%d", count), deepPath
	}
	return benchTreeDirs(b, name, count, func(r *rand.Rand) int { return 100 + r.IntN(401) },
		func(i int) string { return path(i, count/500) })
}

// benchExecRSS is benchExec that also returns the peak resident set of the process in bytes,
// as /usr/bin/time measures it: wait4's figure for a child of this process would count this
// process's own memory, which the child's address space shares until it execs.
func benchExecRSS(b *testing.B, env []string, name string, args ...string) (string, int64) {
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		b.Skip("/usr/bin/time is missing (Debian package time)")
	}
	f, err := os.CreateTemp(b.TempDir(), "rss-")
	if err != nil {
		b.Fatal(err)
	}
	f.Close()
	out := benchExec(b, env, "/usr/bin/time", append([]string{"-f", "%M", "-o", f.Name(), name}, args...)...)
	data, err := os.ReadFile(f.Name())
	if err != nil {
		b.Fatal(err)
	}
	lines := strings.Fields(string(data))
	if len(lines) == 0 {
		b.Fatalf("/usr/bin/time wrote %q", data)
	}
	kib, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	if err != nil {
		b.Fatalf("/usr/bin/time wrote %q: %v", data, err)
	}
	return out, kib << 10
}

// ferrySyncRSS is ferrySync that also returns the peak resident set.
func ferrySyncRSS(b *testing.B, src, dst string) (string, int64) {
	args := []string{"sync", "--node", "A=" + src, "--node", "B=" + dst, "--mode", "mirror", "--yes"}
	return benchExecRSS(b, append(os.Environ(), envConfigDir+"="+cliConfig), cliBin, args...)
}

var (
	baseOnce sync.Once
	baseRSS  int64
)

// ferryBaseRSS is the lowest peak RSS of three ferry runs between two empty folders.
func ferryBaseRSS(b *testing.B) int64 {
	baseOnce.Do(func() {
		dir := filepath.Join(benchRoot(b), "cli-empty")
		src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
		for _, d := range []string{src, dst} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		for range 3 {
			if _, peak := ferrySyncRSS(b, src, dst); baseRSS == 0 || peak < baseRSS {
				baseRSS = peak
			}
		}
	})
	return baseRSS
}

// scaleRun times one tool over count files with b.Loop; run does one timed iteration and
// returns the process's peak RSS. The largest peak is reported, and for Ferry the bytes a file
// above its base.
func scaleRun(b *testing.B, count int, ferry bool, run func(b *testing.B) int64) {
	var peak int64
	for b.Loop() {
		peak = max(peak, run(b))
	}
	b.ReportMetric(float64(peak)/1e6, "MB-peak")
	if ferry {
		b.ReportMetric(float64(peak-ferryBaseRSS(b))/float64(count), "B/file")
	}
}

// benchScaleMirror times first mirrors of count tiny files into empty folders.
func benchScaleMirror(b *testing.B, count int, deep bool) {
	src := scaleTree(b, count, deep)
	benchFerry(b)
	needRsync(b)
	ferryBaseRSS(b)
	tg := newTargets(b, true)
	b.Run("ferry", func(b *testing.B) {
		var dst string
		scaleRun(b, count, true, func(b *testing.B) int64 {
			dst = tg.fresh(b, "ferry")
			_, peak := ferrySyncRSS(b, src, dst)
			return peak
		})
		checkMirror(b, src, dst)
	})
	b.Run("rsync-a", func(b *testing.B) {
		var dst string
		scaleRun(b, count, false, func(b *testing.B) int64 {
			dst = tg.fresh(b, "rsync")
			_, peak := benchExecRSS(b, nil, "rsync", "-a", src+"/", dst+"/")
			return peak
		})
		checkMirror(b, src, dst)
	})
}

// scaleCopy is the copy of src kept beside the fixture for the family name, brought in sync
// (untimed) by the tool about to be timed on it.
func scaleCopy(b *testing.B, src, name, tool string) string {
	b.StopTimer()
	defer b.StartTimer()
	dst := filepath.Join(filepath.Dir(src), name)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		b.Fatal(err)
	}
	if tool == "ferry" {
		ferrySync(b, src, dst)
	} else {
		benchExec(b, nil, "rsync", "-a", src+"/", dst+"/")
	}
	benchExec(b, nil, "sync")
	return dst
}

// benchScaleRerun times runs over count tiny files already mirrored: in sync, or with 1 % of
// them changed (untimed) before each run when change is set.
func benchScaleRerun(b *testing.B, count int, deep, change bool) {
	src := scaleTree(b, count, deep)
	benchFerry(b)
	needRsync(b)
	ferryBaseRSS(b)
	name := map[bool]string{false: "in-sync", true: "changed"}[change]
	b.Run("ferry", func(b *testing.B) {
		dst := scaleCopy(b, src, name, "ferry")
		scaleRun(b, count, true, func(b *testing.B) int64 {
			if change {
				changeFiles(b, src)
			}
			out, peak := ferrySyncRSS(b, src, dst)
			if noop := strings.HasPrefix(out, "Plan: 0 actions"); noop == change {
				b.Fatalf("%s, yet the plan says:\n%.2000s", name, out)
			}
			return peak
		})
		checkMirror(b, src, dst)
	})
	b.Run("rsync-a", func(b *testing.B) {
		dst := scaleCopy(b, src, name, "rsync")
		scaleRun(b, count, false, func(b *testing.B) int64 {
			if change {
				changeFiles(b, src)
			}
			_, peak := benchExecRSS(b, nil, "rsync", "-a", src+"/", dst+"/")
			return peak
		})
		checkMirror(b, src, dst)
	})
}

// changeRound numbers the rounds of changes made to scale fixtures, so each changes other files.
var changeRound atomic.Int64

// changeFiles rewrites 1 % of src's files (untimed) with new content of 100–500 B.
func changeFiles(b *testing.B, src string) {
	b.StopTimer()
	defer b.StartTimer()
	files := srcFiles(b, src)
	round := changeRound.Add(1)
	rng := rand.New(rand.NewPCG(2, uint64(round)))
	buf := make([]byte, 512)
	for i := int(round % 100); i < len(files); i += 100 {
		n := 100 + rng.IntN(401)
		for j := 0; j < n; j += 8 {
			binary.LittleEndian.PutUint64(buf[j:], rng.Uint64())
		}
		if err := os.WriteFile(filepath.Join(src, files[i]), buf[:n], 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScale200kMirror: the first mirror of 200k tiny files.
func BenchmarkScale200kMirror(b *testing.B) { benchScaleMirror(b, 200_000, false) }

// BenchmarkScale200kInSync: 200k tiny files already in sync.
func BenchmarkScale200kInSync(b *testing.B) { benchScaleRerun(b, 200_000, false, false) }

// BenchmarkScale200kChanged: 200k tiny files, 1 % of them changed.
func BenchmarkScale200kChanged(b *testing.B) { benchScaleRerun(b, 200_000, false, true) }

// BenchmarkScale200kDeepMirror: the first mirror of 200k tiny files with long mixed-case paths.
func BenchmarkScale200kDeepMirror(b *testing.B) { benchScaleMirror(b, 200_000, true) }

// BenchmarkScale200kDeepInSync: 200k tiny files with long mixed-case paths, already in sync.
func BenchmarkScale200kDeepInSync(b *testing.B) { benchScaleRerun(b, 200_000, true, false) }

// BenchmarkScale1MMirror: the first mirror of 1M tiny files (FERRY_BENCH_1M=1).
func BenchmarkScale1MMirror(b *testing.B) { benchScaleMirror(b, 1_000_000, false) }

// BenchmarkScale1MInSync: 1M tiny files already in sync (FERRY_BENCH_1M=1).
func BenchmarkScale1MInSync(b *testing.B) { benchScaleRerun(b, 1_000_000, false, false) }

// BenchmarkScale1MChanged: 1M tiny files, 1 % of them changed (FERRY_BENCH_1M=1).
func BenchmarkScale1MChanged(b *testing.B) { benchScaleRerun(b, 1_000_000, false, true) }
