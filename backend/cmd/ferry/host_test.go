package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	mathrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ferrysync/ferry/backend/bytesize"
	"github.com/ferrysync/ferry/backend/internal/ferrycmd"
	"github.com/ferrysync/ferry/backend/internal/redistest"
	"github.com/ferrysync/ferry/backend/internal/s3test"
	"github.com/ferrysync/ferry/backend/internal/testio"
	"github.com/ferrysync/ferry/backend/internal/testlong"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Acceptance tests of sessions with several members: a real `ferry server` process with relay
// storage on disk against a private redis-server, and real `ferry host` and `ferry join`
// processes, each with a configuration folder (identity and trusted keys) of its own.

// e2eWait bounds every wait of these tests.
const e2eWait = 3 * time.Minute

// e2eFerry is the ferry command the member and server processes of these tests run.
func e2eFerry(t *testing.T) string { return ferrycmd.Build(t) }

// relayEnv is a `ferry server` with relay storage and Redis, which can be restarted on the same
// address, storage, Redis and token secret.
type relayEnv struct {
	t       *testing.T
	bin     string
	storage string
	redis   string
	prefix  string
	secret  string
	addr    string
	srv     *serverProcess
	logs    []*testio.Buffer // every server process's stderr, at debug level
	// With a bucket, the parts are objects of bucket on s3 and the bookkeeping lives in Redis
	// beside the sessions (storage is unused).
	s3     *s3test.Server
	bucket string
	// With a cluster, the processes share it instead of the Redis at redis.
	cluster *redistest.ClusterServer
	// rdb reads the bookkeeping. It is made before any proxy of the test, so that it is closed
	// after them: a proxy's Close waits for the handlers that read through it.
	rdb redis.UniversalClient
	// presence, when set, is the servers' --presence-timeout.
	presence time.Duration
	// quota, when set, is the servers' --storage-quota.
	quota string
}

func newRelayEnv(t *testing.T) *relayEnv { return newRelayEnvWith(t, nil) }

// newRelayEnvWith is newRelayEnv with setup applied before the first server starts (a bucket,
// a cluster); without a cluster, the processes share a Redis.
func newRelayEnvWith(t *testing.T, setup func(e *relayEnv)) *relayEnv {
	t.Helper()
	e := &relayEnv{t: t, bin: e2eFerry(t), storage: filepath.Join(t.TempDir(), "relay"),
		prefix: redistest.Prefix(t), secret: filepath.Join(t.TempDir(), "secret"), addr: "127.0.0.1:0"}
	if setup != nil {
		setup(e)
	}
	if e.cluster == nil {
		e.redis = redistest.URL(t)
		opt, err := redis.ParseURL(e.redis)
		if err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(opt)
		t.Cleanup(func() { _ = c.Close() })
		e.rdb = c
	} else {
		e.rdb = e.cluster.Client(t)
	}
	if err := os.WriteFile(e.secret, []byte(hex.EncodeToString(randomBytes(1, 32))), 0o600); err != nil {
		t.Fatal(err)
	}
	e.start()
	return e
}

func (e *relayEnv) start() {
	e.t.Helper()
	env, args := e.serverArgs()
	e.srv = startServer(e.t, e.bin, env, append(args, "--listen", e.addr)...)
	e.addr = strings.TrimPrefix(e.srv.URL, "http://")
	e.logs = append(e.logs, e.srv.stderr)
}

// serverArgs are the environment and flags of every server process of the env: the same
// storage, Redis (or cluster), prefix and secret.
func (e *relayEnv) serverArgs() (env, args []string) {
	args = []string{"--storage", e.storage}
	if e.s3 != nil {
		args, env = []string{"--storage", e.s3.URL(e.bucket, "relay")}, e.s3.Env()
	}
	if e.cluster != nil {
		args = append(args, "--redis-cluster", strings.Join(e.cluster.Addrs(), ","))
	} else {
		args = append(args, "--redis", e.redis)
	}
	if e.presence > 0 {
		args = append(args, "--presence-timeout", e.presence.String())
	}
	if e.quota != "" {
		args = append(args, "--storage-quota", e.quota)
	}
	return env, append(args, "--redis-prefix", e.prefix, "--secret-file", e.secret, "--log-level", "debug")
}

// relayDocs reads the relay bookkeeping of a bucket, kept in Redis beside the sessions: every
// field of every session's relay hash, by "KEY FIELD".
func (e *relayEnv) relayDocs() map[string]string {
	e.t.Helper()
	ctx := context.Background()
	docs := map[string]string{}
	var mu sync.Mutex
	scan := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, e.prefix+":relay:*", 1000).Iterator()
		for iter.Next(ctx) {
			m, err := c.HGetAll(ctx, iter.Val()).Result()
			if err != nil {
				return err
			}
			mu.Lock()
			for f, v := range m {
				docs[iter.Val()+" "+f] = v
			}
			mu.Unlock()
		}
		return iter.Err()
	}
	var err error
	switch c := e.rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *redis.Client:
		err = scan(ctx, c)
	}
	if err != nil {
		e.t.Errorf("read the relay bookkeeping: %v", err)
	}
	return docs
}

// relayDoc is a transfer's bookkeeping as relayDocs reads it.
type relayDoc struct {
	Kind  protocol.TransferKind `json:"kind"`
	Parts []struct {
		Size int64 `json:"size"`
	} `json:"parts"`
}

func (e *relayEnv) URL() string { return "http://" + e.addr }

// log is what every server process logged.
func (e *relayEnv) log() string {
	var b strings.Builder
	for _, l := range e.logs {
		b.WriteString(l.String())
	}
	return b.String()
}

// storedFiles lists the files in the relay storage or, with a bucket, its objects as "s3:KEY"
// and the bookkeeping as "redis:KEY FIELD".
func (e *relayEnv) storedFiles() []string {
	var files []string
	if e.s3 != nil {
		for k := range e.s3.Objects(e.t, e.bucket) {
			files = append(files, "s3:"+k)
		}
		for k := range e.relayDocs() {
			files = append(files, "redis:"+k)
		}
		return files
	}
	_ = filepath.WalkDir(e.storage, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	return files
}

// emptyStorage waits until the relay storage holds no file.
func (e *relayEnv) emptyStorage(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(e2eWait)
	for {
		files := e.storedFiles()
		if len(files) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the relay storage still holds %v", files)
		}
		time.Sleep(20 * time.Millisecond) // polled: the server deletes as members quit
	}
}

// memberProc is a running `ferry host` or `ferry join`.
type memberProc struct {
	name   string
	cmd    *exec.Cmd
	stdout *testio.Buffer
	stderr *testio.Buffer
	done   chan struct{}
	code   int
}

// startMember runs ferry with args and the configuration folder config; stdin is not a
// terminal.
func startMember(t testing.TB, bin, name, config string, args ...string) *memberProc {
	t.Helper()
	return startMemberWith(t, bin, name, config, nil, nil, args...)
}

// startMemberInput is startMember reading stdin (not a terminal) from it (empty when nil).
func startMemberInput(t testing.TB, bin, name, config string, stdin io.Reader, args ...string) *memberProc {
	t.Helper()
	return startMemberWith(t, bin, name, config, nil, stdin, args...)
}

// startMemberWith is startMemberInput with more environment variables.
func startMemberWith(t testing.TB, bin, name, config string, env []string, stdin io.Reader, args ...string) *memberProc {
	t.Helper()
	p := &memberProc{name: name, cmd: exec.Command(bin, args...), stdout: &testio.Buffer{}, stderr: &testio.Buffer{}, done: make(chan struct{})}
	p.cmd.Env = append(append(os.Environ(), envConfigDir+"="+config), env...)
	p.cmd.Stdin = stdin
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		err := p.cmd.Wait()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			p.code = ee.ExitCode()
		case err != nil:
			p.code = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *memberProc) wait(t testing.TB) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(e2eWait):
		t.Fatalf("%s still runs after %s\nstdout:\n%s\nstderr:\n%s", p.name, e2eWait, p.stdout, p.stderr)
		return 0
	}
}

// mustExit waits for the exit and fails unless the code is want.
func (p *memberProc) mustExit(t testing.TB, want int) {
	t.Helper()
	if code := p.wait(t); code != want {
		t.Fatalf("%s exited %d, want %d\nstdout:\n%s\nstderr:\n%s", p.name, code, want, p.stdout, p.stderr)
	}
}

// e2eReport is what the tests read of a member's report.
type e2eReport struct {
	Status    string            `json:"status"`
	Progress  protocol.Progress `json:"progress"`
	Errors    []string          `json:"errors"`
	Plan      plan.JSON         `json:"plan"`
	Transfers transferReport    `json:"transfers"`
}

// report reads the JSON report that ends stdout.
func (p *memberProc) report(t testing.TB) e2eReport {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(p.stdout.String()))
	var last e2eReport
	for n := 0; ; n++ {
		var r e2eReport
		err := dec.Decode(&r)
		if errors.Is(err, io.EOF) {
			if n == 0 {
				t.Fatalf("%s printed no report; stderr:\n%s", p.name, p.stderr)
			}
			return last
		}
		if err != nil {
			t.Fatalf("%s report: %v\n%s", p.name, err, p.stdout)
		}
		last = r
	}
}

func (r e2eReport) String() string {
	t := r.Transfers
	return fmt.Sprintf("%d parts uploaded (%d bytes), %d skipped as already stored, %d downloaded (%d bytes), %d retries",
		t.PartsUploaded, t.BytesSent, t.PartsSkipped, t.PartsDownloaded, t.BytesReceived, t.Retries)
}

// host starts `ferry host --yes` against url and returns it with its first line.
func host(t testing.TB, bin, url, config string, args ...string) (*memberProc, hostLine) {
	t.Helper()
	return hostInput(t, bin, url, config, nil, append([]string{"--yes"}, args...)...)
}

// hostInput starts `ferry host` reading stdin from in.
func hostInput(t testing.TB, bin, url, config string, in io.Reader, args ...string) (*memberProc, hostLine) {
	t.Helper()
	p := startMemberInput(t, bin, "ferry host", config, in, append([]string{"host", "--server", url, "--json"}, args...)...)
	out := p.stdout.Await(t, "session line", e2eWait, func(s string) bool { return strings.Contains(s, "\n") })
	var line hostLine
	if err := json.Unmarshal([]byte(out[:strings.IndexByte(out, '\n')]), &line); err != nil || line.Session == "" || line.Password == "" {
		t.Fatalf("first line %q: %v", out, err)
	}
	return p, line
}

// join starts `ferry join --yes` into the host's session.
func join(t testing.TB, bin, url, config string, h hostLine, password string, args ...string) *memberProc {
	t.Helper()
	return joinInput(t, bin, url, config, h, password, nil, append([]string{"--yes"}, args...)...)
}

// joinInput starts `ferry join` reading stdin from in.
func joinInput(t testing.TB, bin, url, config string, h hostLine, password string, in io.Reader, args ...string) *memberProc {
	t.Helper()
	return startMemberInput(t, bin, "ferry join "+strings.Join(args, " "), config, in,
		append([]string{"join", "--server", url, "--session", h.Session, "--password", password, "--json"}, args...)...)
}

func randomBytes(seed uint64, n int) []byte {
	var s [32]byte
	copy(s[:], strconv.FormatUint(seed, 10))
	b := make([]byte, n)
	_, _ = mathrand.NewChaCha8(s).Read(b)
	return b
}

var (
	tOld = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	tNew = tOld.Add(90 * time.Minute)
)

func put(t testing.TB, path string, data []byte, at time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

// exists tells whether path exists.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// Two members, mirror A → B: new files (small ones batched, a large one), a large file on B
// that differs from A's by a small edit (a delta: A sends a small fraction of it), files and a
// folder only on B deleted. Both trees end equal, content and dates; the relay storage is empty
// once both left.
func TestRedisHostJoinMirror(t *testing.T) {
	t.Parallel()
	e := newRelayEnv(t)
	a, b := t.TempDir(), t.TempDir()
	for i := range 20 {
		put(t, filepath.Join(a, fmt.Sprintf("small/d%d/f%02d.txt", i%4, i)), fmt.Appendf(nil, "small file %d\n", i), tOld)
	}
	const newSize, deltaSize = 8 << 20, 24 << 20
	put(t, filepath.Join(a, "large-new.bin"), randomBytes(2, newSize), tOld)
	old := randomBytes(3, deltaSize)
	edited := bytes.Clone(old)
	copy(edited[deltaSize/2:], "a small edit in the middle of the file")
	put(t, filepath.Join(b, "edited.bin"), old, tOld)
	put(t, filepath.Join(a, "edited.bin"), edited, tNew)
	put(t, filepath.Join(b, "stale.txt"), []byte("only on B"), tOld)
	put(t, filepath.Join(b, "only-b", "x.txt"), []byte("only on B"), tOld)

	hp, line := host(t, e.bin, e.URL(), t.TempDir(), "--node", "A="+a, "--mode", "mirror", "--trust")
	jp := join(t, e.bin, e.URL(), t.TempDir(), line, line.Password, "--node", "B="+b, "--trust")
	hp.mustExit(t, 0)
	jp.mustExit(t, 0)
	sameTrees(t, a, b)
	if exists(filepath.Join(b, "only-b")) {
		t.Fatal("the folder only on B is still there")
	}
	hr, jr := hp.report(t), jp.report(t)
	t.Logf("host: %s", hr)
	t.Logf("join: %s", jr)
	kinds := map[string]plan.Kind{}
	for _, act := range hr.Plan.Actions {
		kinds[act.Path] = act.Kind
	}
	if kinds["/edited.bin"] != plan.Delta || kinds["/large-new.bin"] != plan.Full {
		t.Fatalf("plan kinds %v", kinds)
	}
	if hr.Status != "regular" || hr.Progress.ErrorActions != 0 || hr.Progress.FinishedActions != hr.Progress.TotalActions {
		t.Fatalf("host report %+v", hr)
	}
	// What A sent beyond the new files' bytes is the delta, the small files, the inventories
	// and the plan: a small fraction of the edited file.
	beyond := hr.Transfers.BytesSent - newSize
	t.Logf("A sent %d bytes beyond the new large file for a %d-byte file with a small edit (%.2f%%)",
		beyond, deltaSize, 100*float64(beyond)/deltaSize)
	if beyond > deltaSize/20 {
		t.Fatalf("A sent %d bytes beyond the new file: the edited file did not travel as a small delta", beyond)
	}
	if hr.Transfers.PartsUploaded != jr.Transfers.PartsDownloaded || jr.Transfers.PartsUploaded != hr.Transfers.PartsDownloaded {
		t.Fatalf("parts: host %s; join %s", hr, jr)
	}
	e.emptyStorage(t)
}

// Three members, two-way: each one's own files reach the two others, and the newest version of
// a file changed on one member replaces the others.
func TestRedisHostJoinThreeMembersTwoWay(t *testing.T) {
	t.Parallel()
	e := newRelayEnv(t)
	dirs := map[string]string{"A": t.TempDir(), "B": t.TempDir(), "C": t.TempDir()}
	for code, d := range dirs {
		put(t, filepath.Join(d, "only-"+code, "own.txt"), fmt.Appendf(nil, "only %s has this\n", code), tOld)
		put(t, filepath.Join(d, "only-"+code, "bigger.bin"), randomBytes(uint64(code[0]), 300<<10), tOld)
		if code == "C" {
			put(t, filepath.Join(d, "shared.txt"), []byte("changed on C, the newest"), tNew)
		} else {
			put(t, filepath.Join(d, "shared.txt"), []byte("first version"), tOld)
		}
		if err := os.Chtimes(d, tOld, tOld); err != nil { // the roots' dates are the same
			t.Fatal(err)
		}
	}
	hp, line := host(t, e.bin, e.URL(), t.TempDir(), "--node", "A="+dirs["A"], "--mode", "two-way", "--expect-members", "3", "--trust")
	jb := join(t, e.bin, e.URL(), t.TempDir(), line, line.Password, "--node", "B="+dirs["B"], "--trust")
	// C speaks text, as on a terminal.
	jc := startMember(t, e.bin, "ferry join (text)", t.TempDir(), "join", "--server", e.URL(), "--session", line.Session,
		"--password", line.Password, "--node", "C="+dirs["C"], "--trust", "--yes", "--verbose")
	for _, p := range []*memberProc{hp, jb} {
		p.mustExit(t, 0)
		t.Logf("%s: %s", p.name, p.report(t))
	}
	jc.mustExit(t, 0)
	text := jc.stdout.String()
	// 6 folders created, 12 copies of files found on one member, 2 of the changed one.
	for _, want := range []string{`Plan: 20 actions`, `copy +A → C +/only-A/own.txt`, `Synchronization done \(cloud orchestration\): 20 of 20 actions`, `Relay: `} {
		if !regexp.MustCompile(want).MatchString(text) {
			t.Fatalf("C's report lacks %q:\n%s", want, text)
		}
	}
	sameTrees(t, dirs["C"], dirs["A"])
	sameTrees(t, dirs["C"], dirs["B"])
	if got, _ := os.ReadFile(filepath.Join(dirs["A"], "shared.txt")); string(got) != "changed on C, the newest" {
		t.Fatalf("shared.txt on A: %q", got)
	}
	e.emptyStorage(t)
}

// spyProxy forwards to the server and lets a test look at (and act on) every request first;
// websockets pass through.
func spyProxy(t *testing.T, backend string, before func(r *http.Request, body []byte)) string {
	return newSpyProxy(t, backend, before).URL
}

// spy is a spyProxy. A request it cannot pass on (the server is gone) has its connection
// broken, as the server itself would, and is counted in unanswered.
type spy struct {
	URL        string
	unanswered atomic.Int64
}

func newSpyProxy(t *testing.T, backend string, before func(r *http.Request, body []byte)) *spy {
	t.Helper()
	target, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	p := &spy{}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ErrorHandler = func(_ http.ResponseWriter, r *http.Request, _ error) {
		if r.Context().Err() == nil { // not a client that stopped waiting
			p.unanswered.Add(1)
		}
		panic(http.ErrAbortHandler)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if r.Body != nil && r.Header.Get("Upgrade") == "" {
			body, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		before(r, body)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// downloadGate stands between a member and its servers and holds the member's downloads of
// content parts until opened: no file's content reaches the member before the test lets it,
// however fast the rest goes.
type downloadGate struct {
	proxies        []*spy
	held, open     chan struct{}
	heldOnce, once sync.Once
}

// partDownload matches the path of a part download: session, transfer, part.
var partDownload = regexp.MustCompile(`/sessions/([^/]+)/transfers/([^/]+)/parts/(\d+)/download$`)

// gateDownloads puts a gate before each of backends (a member's servers, in its order), all of
// them processes of e.
func gateDownloads(t *testing.T, e *relayEnv, backends ...string) *downloadGate {
	t.Helper()
	g := &downloadGate{held: make(chan struct{}), open: make(chan struct{})}
	for _, b := range backends {
		g.proxies = append(g.proxies, newSpyProxy(t, b, func(r *http.Request, _ []byte) {
			m := partDownload.FindStringSubmatch(r.URL.Path)
			if m == nil || e.transferKind(m[1], m[2]) != protocol.TransferContent {
				return
			}
			g.heldOnce.Do(func() { close(g.held) })
			select {
			case <-g.open:
			case <-r.Context().Done():
			}
		}))
	}
	t.Cleanup(g.release) // before the proxies' Close, which waits for the requests held
	return g
}

// URLs is the member's --server: the gates, in the order of the servers.
func (g *downloadGate) URLs() string {
	urls := make([]string, len(g.proxies))
	for i, p := range g.proxies {
		urls[i] = p.URL
	}
	return strings.Join(urls, ",")
}

// waitHeld returns once the member asked for a part of a file: a part is in the storage.
func (g *downloadGate) waitHeld(t *testing.T) {
	t.Helper()
	select {
	case <-g.held:
	case <-time.After(e2eWait):
		t.Fatal("the member asked for no part of a file: the copy did not start")
	}
}

func (g *downloadGate) release() { g.once.Do(func() { close(g.open) }) }

// unanswered counts the member's requests that met no server.
func (g *downloadGate) unanswered() int64 {
	var n int64
	for _, p := range g.proxies {
		n += p.unanswered.Load()
	}
	return n
}

// redisValues calls seen with every key and value in Redis.
func redisValues(ctx context.Context, rdb *redis.Client, seen func(key, value string)) error {
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, "*", 1000).Result()
		if err != nil {
			return err
		}
		for _, k := range keys {
			seen(k, k)
			typ, err := rdb.Type(ctx, k).Result()
			if err != nil {
				return err
			}
			var vals []string
			switch typ {
			case "string":
				v, _ := rdb.Get(ctx, k).Result()
				vals = []string{v}
			case "hash":
				m, _ := rdb.HGetAll(ctx, k).Result()
				for f, v := range m {
					vals = append(vals, f, v)
				}
			case "list":
				vals, _ = rdb.LRange(ctx, k, 0, -1).Result()
			case "set":
				vals, _ = rdb.SMembers(ctx, k).Result()
			case "zset":
				vals, _ = rdb.ZRange(ctx, k, 0, -1).Result()
			case "stream":
				msgs, _ := rdb.XRange(ctx, k, "-", "+").Result()
				for _, m := range msgs {
					vals = append(vals, fmt.Sprint(m.Values))
				}
			}
			for _, v := range vals {
				seen(k, v)
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

// A marker written into every source file and every file and folder name (the data sources'
// folders included) never reaches the server: not in any request it receives, not in its relay
// storage (every file, read while the parts are there: before each part's receipt is let
// through), not in Redis (every key and value, read at the same moments) and not in its log at
// debug level.
func TestRedisRelayNeverSeesNamesOrContent(t *testing.T) {
	t.Parallel()
	e := newRelayEnv(t)
	marker := "FERRY-MARKER-" + hex.EncodeToString(randomBytes(uint64(time.Now().UnixNano()), 8))
	root := t.TempDir()
	a, b := filepath.Join(root, marker+"-A"), filepath.Join(root, marker+"-B")
	content := func(n int) []byte {
		return bytes.Repeat([]byte("content with "+marker+"\n"), n)
	}
	put(t, filepath.Join(a, marker+"-dir", marker+"-small.txt"), content(3), tOld)
	put(t, filepath.Join(a, marker+"-dir", marker+"-sub", marker+"-larger.txt"), content(20000), tOld)
	old := content(50000)
	put(t, filepath.Join(b, marker+"-edited.txt"), old, tOld)
	put(t, filepath.Join(a, marker+"-edited.txt"), append(bytes.Clone(old), content(2)...), tNew)
	put(t, filepath.Join(b, marker+"-gone", marker+"-stale.txt"), content(1), tOld)

	opt, err := redis.ParseURL(e.redis)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	var leaks []string
	var mu sync.Mutex
	leak := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		leaks = append(leaks, fmt.Sprintf(format, a...))
	}
	var scans, redisKeys, partsRead atomic.Int64
	check := func() {
		scans.Add(1)
		for _, f := range e.storedFiles() {
			if strings.Contains(f, marker) {
				leak("storage file name %s", f)
			}
			if strings.HasSuffix(f, ".part") {
				partsRead.Add(1)
			}
			if data, err := os.ReadFile(f); err == nil && bytes.Contains(data, []byte(marker)) {
				leak("storage file %s", f)
			}
		}
		err := redisValues(context.Background(), rdb, func(k, v string) {
			redisKeys.Add(1)
			if strings.Contains(v, marker) {
				leak("redis key %s", k)
			}
		})
		if err != nil {
			leak("redis scan: %v", err)
		}
	}
	var requests atomic.Int64
	proxy := spyProxy(t, e.URL(), func(r *http.Request, body []byte) {
		requests.Add(1)
		if strings.Contains(r.URL.String(), marker) || bytes.Contains(body, []byte(marker)) {
			leak("request %s %s", r.Method, r.URL.Path)
		}
		if strings.HasSuffix(r.URL.Path, "/received") { // the part is still stored
			check()
		}
	})

	hp, line := host(t, e.bin, proxy, t.TempDir(), "--node", "A="+a, "--mode", "mirror", "--trust")
	jp := join(t, e.bin, proxy, t.TempDir(), line, line.Password, "--node", "B="+b, "--trust")
	hp.mustExit(t, 0)
	jp.mustExit(t, 0)
	sameTrees(t, a, b)
	check()
	if strings.Contains(e.log(), marker) {
		leak("the server log")
	}
	if !strings.Contains(e.log(), "level=DEBUG") {
		t.Fatal("the server did not log at debug level")
	}
	if len(leaks) > 0 {
		t.Fatalf("the marker reached the server: %s", strings.Join(leaks, "; "))
	}
	t.Logf("%d requests and %d checks of the storage (%d stored parts read) and of Redis (%d keys and values read), no marker",
		requests.Load(), scans.Load(), partsRead.Load(), redisKeys.Load())
	if scans.Load() < 4 || partsRead.Load() < 4 || redisKeys.Load() == 0 {
		t.Fatal("too few parts or keys read to tell")
	}
	if !strings.Contains(hp.stdout.String(), marker) {
		t.Fatal("the marker is not even in the host's report: the test data lacks it")
	}
}

// asHost reads the session through the API as the host: its identity key from its
// configuration folder, its instance id from its first line.
func asHost(t *testing.T, url, config string, line hostLine) []string {
	t.Helper()
	id := loadIdentity(t, config)
	c := newAPIClient(t, url, id.Private, line.Member)
	s := c.Session(line.Session)
	ids := make([]string, len(s.Members))
	for i, m := range s.Members {
		ids[i] = m.InstanceID
	}
	return ids
}

var stepLines = regexp.MustCompile(`"step":"waiting_for_members","ready":(\d)`)

// ready waits until the host's last waiting step says n members are ready.
func ready(t *testing.T, hp *memberProc, n int) {
	t.Helper()
	hp.stderr.Await(t, fmt.Sprintf("%d ready members", n), e2eWait, func(s string) bool {
		m := stepLines.FindAllStringSubmatch(s, -1)
		return len(m) > 0 && m[len(m)-1][1] == strconv.Itoa(n)
	})
}

// Joins refused, each with its reason's code on one line and exit 1, leaving the session's
// members as they were (read back as the host): a wrong password, an identity key the host
// does not trust (no --trust, no terminal), a sixth member, a join after the inventory started.
// The host's trusted keys are known from before; the fifth member joins in this process
// without nodes, so that the session is full and the inventory not started when the sixth
// asks. The run then completes for the five.
func TestRedisJoinRefusals(t *testing.T) {
	t.Parallel()
	e := newRelayEnv(t)
	hostCfg := t.TempDir()
	src := t.TempDir()
	put(t, filepath.Join(src, "dir", "file.txt"), []byte("from the host"), tOld)
	// Members whose keys the host trusts from an earlier session, and strangers.
	known := map[string]string{}
	for _, name := range []string{"wrong-password", "B", "C", "D", "E", "sixth", "late"} {
		known[name] = t.TempDir()
		trustKey(t, hostCfg, known[name])
	}
	stranger := t.TempDir()
	folders := map[string]string{}
	for _, name := range []string{"wrong-password", "stranger", "sixth", "late"} {
		folders[name] = t.TempDir()
		put(t, filepath.Join(folders[name], "mine.txt"), []byte("untouched: "+name), tOld)
	}

	hp, line := host(t, e.bin, e.URL(), hostCfg, "--node", "A="+src, "--mode", "mirror", "--expect-members", "5")
	members := []string{line.Member}
	refused := func(p *memberProc, code string) {
		t.Helper()
		p.mustExit(t, 1)
		lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
		last := lines[len(lines)-1]
		if !strings.HasPrefix(last, "ferry: ") || !strings.Contains(last, "("+code+")") {
			t.Fatalf("%s: last line %q, want the reason %s", p.name, last, code)
		}
		if got := asHost(t, e.URL(), hostCfg, line); !slices.Equal(got, members) {
			t.Fatalf("after the %s refusal the members are %v, want %v", code, got, members)
		}
	}
	refused(join(t, e.bin, e.URL(), known["wrong-password"], line, "WRONG-PASSW-ORD00-00000", "--node", "B="+folders["wrong-password"], "--trust"), protocol.JoinWrongPassword)
	refused(join(t, e.bin, e.URL(), stranger, line, line.Password, "--node", "B="+folders["stranger"], "--trust"), protocol.JoinUntrustedKey)
	if !strings.Contains(hp.stderr.String(), "refusing the new identity key of the joiner") {
		t.Fatalf("the host did not say why it refused the stranger:\n%s", hp.stderr)
	}

	dirs := map[string]string{"A": src}
	var procs []*memberProc
	for _, code := range []string{"B", "C", "D"} {
		dirs[code] = t.TempDir()
		procs = append(procs, join(t, e.bin, e.URL(), known[code], line, line.Password, "--node", code+"="+dirs[code], "--trust"))
		ready(t, hp, len(procs)+1)
	}
	members = asHost(t, e.URL(), hostCfg, line)
	if len(members) != 4 {
		t.Fatalf("members %v", members)
	}
	// The fifth joins without its node yet.
	dirs["E"] = t.TempDir()
	fifth := joinInProcess(t, e.URL(), known["E"], line)
	members = append(members, fifth.m.Self())
	if got := asHost(t, e.URL(), hostCfg, line); !slices.Equal(got, members) {
		t.Fatalf("members %v, want %v", got, members)
	}
	refused(join(t, e.bin, e.URL(), known["sixth"], line, line.Password, "--node", "F="+folders["sixth"], "--trust"), protocol.JoinSessionFull)

	fifth.declare(t, "E", dirs["E"])
	hp.stderr.Await(t, "inventory start", e2eWait, func(s string) bool { return strings.Contains(s, `"step":"inventory_started"`) })
	refused(join(t, e.bin, e.URL(), known["late"], line, line.Password, "--node", "F="+folders["late"], "--trust"), protocol.JoinInventoryStarted)

	hp.mustExit(t, 0)
	for _, p := range procs {
		p.mustExit(t, 0)
	}
	if err := fifth.wait(); err != nil {
		t.Fatalf("the fifth member: %v", err)
	}
	for code, d := range dirs {
		if code != "A" {
			sameTrees(t, src, d)
		}
	}
	for name, d := range folders {
		if got, err := os.ReadFile(filepath.Join(d, "mine.txt")); err != nil || string(got) != "untouched: "+name {
			t.Fatalf("%s's folder changed: %q %v", name, got, err)
		}
		if entries, _ := os.ReadDir(d); len(entries) != 1 {
			t.Fatalf("%s's folder holds %d entries", name, len(entries))
		}
	}
	e.emptyStorage(t)
}

// A part altered in the server's storage, between its upload and its download: the recipient
// refuses it, the copy is reported as an error (exit 1 for both, the error in the joiner's
// report) and the target file stays as it was. The alteration happens when the recipient asks
// for the part's URL, before it reads the part.
func TestRedisRelayTamperedPart(t *testing.T) {
	t.Parallel()
	e := newRelayEnv(t)
	a, b := t.TempDir(), t.TempDir()
	put(t, filepath.Join(a, "doc.txt"), []byte("the new version, from A"), tNew)
	put(t, filepath.Join(b, "doc.txt"), []byte("the old version on B"), tOld)
	put(t, filepath.Join(a, "other.txt"), []byte("unchanged everywhere"), tOld)
	put(t, filepath.Join(b, "other.txt"), []byte("unchanged everywhere"), tOld)
	var flipped atomic.Int64
	proxy := spyProxy(t, e.URL(), func(r *http.Request, _ []byte) {
		m := partDownload.FindStringSubmatch(r.URL.Path)
		if m == nil {
			return
		}
		dir := filepath.Join(e.storage, m[1], m[2])
		meta, err := os.ReadFile(filepath.Join(dir, "transfer.json"))
		var tr struct{ Kind protocol.TransferKind }
		if err != nil || json.Unmarshal(meta, &tr) != nil || tr.Kind != protocol.TransferContent {
			return
		}
		part := filepath.Join(dir, m[3]+".part")
		data, err := os.ReadFile(part)
		if err != nil {
			t.Errorf("read the stored part: %v", err)
			return
		}
		data[len(data)/2] ^= 0x20
		if err := os.WriteFile(part, data, 0o600); err != nil {
			t.Errorf("alter the stored part: %v", err)
			return
		}
		flipped.Add(1)
	})
	hp, line := host(t, e.bin, e.URL(), t.TempDir(), "--node", "A="+a, "--mode", "mirror", "--trust")
	jp := join(t, e.bin, proxy, t.TempDir(), line, line.Password, "--node", "B="+b, "--trust")
	jp.mustExit(t, 1)
	hp.mustExit(t, 1)
	if flipped.Load() == 0 {
		t.Fatal("no content part was altered")
	}
	jr, hr := jp.report(t), hp.report(t)
	if len(jr.Errors) == 0 || !strings.Contains(strings.Join(jr.Errors, "\n"), "/doc.txt") || hr.Progress.ErrorActions != 1 {
		t.Fatalf("join errors %q, host progress %+v", jr.Errors, hr.Progress)
	}
	t.Logf("the joiner reported: %s", strings.Join(jr.Errors, "; "))
	got, _ := os.ReadFile(filepath.Join(b, "doc.txt"))
	fi, _ := os.Stat(filepath.Join(b, "doc.txt"))
	if string(got) != "the old version on B" || !fi.ModTime().Equal(tOld) {
		t.Fatalf("the target changed: %q, modified %s", got, fi.ModTime())
	}
	if entries, _ := os.ReadDir(b); len(entries) != 2 {
		t.Fatalf("B holds %d entries: a temp file stayed?", len(entries))
	}
	e.emptyStorage(t)
}

// bigSize is the file of the long restart test: 256 MiB, 1 GiB with FERRY_E2E_BIG=1.
func bigSize() int64 {
	if os.Getenv("FERRY_E2E_BIG") == "1" {
		return 1 << 30
	}
	return 256 << 20
}

// writeBig writes size random bytes to path, modified at.
func writeBig(t testing.TB, path string, size int64, at time.Time) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var seed [32]byte
	copy(seed[:], "ferry relay test file")
	rng := mathrand.NewChaCha8(seed)
	buf := make([]byte, 4<<20)
	for left := size; left > 0; left -= int64(len(buf)) {
		b := buf[:min(int64(len(buf)), left)]
		_, _ = rng.Read(b)
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

// The server stops (SIGTERM) in the middle of a relayed copy of 128 MiB and comes back 2 s later
// on the same address, storage, Redis and secret: the run resumes and finishes, and no part is
// uploaded twice (every part A uploaded is one B downloaded; the parts the server held are
// skipped, not sent again). TestRedisRelayServerRestartLarge is the same with a 10 s outage.
func TestRedisRelayServerRestart(t *testing.T) {
	t.Parallel()
	relayServerRestart(t, 128<<20, 2*time.Second, nil)
}

// TestRedisRelayServerRestartLarge is TestRedisRelayServerRestart with a file of 256 MiB (1 GiB
// with FERRY_E2E_BIG=1) and a 10 s outage; it runs when FERRY_TEST_LONG is set (make test-long).
func TestRedisRelayServerRestartLarge(t *testing.T) {
	testlong.Need(t)
	relayServerRestart(t, bigSize(), 10*time.Second, nil)
}

// relayServerRestart runs the restart on an env that setup, when given, prepares.
func relayServerRestart(t *testing.T, size int64, outage time.Duration, setup func(e *relayEnv)) {
	t.Logf("a file of %d MiB, an outage of %s", size>>20, outage)
	// The session's storage holds less than the file (room for a part being waited for and
	// three of the largest beyond it), and the joiner's downloads are held until the server
	// is stopped: the host is in the middle of its upload when the server goes, and the joiner
	// asks for its parts while it is away, however fast the copy goes.
	e := newRelayEnvWith(t, func(e *relayEnv) {
		if setup != nil {
			setup(e)
		}
		e.quota = "80MiB"
	})
	a, b := t.TempDir(), t.TempDir()
	writeBig(t, filepath.Join(a, "big.bin"), size, tOld)
	hp, line := host(t, e.bin, e.URL(), t.TempDir(), "--node", "A="+a, "--mode", "mirror", "--trust")
	gate := gateDownloads(t, e, e.URL())
	jp := join(t, e.bin, gate.URLs(), t.TempDir(), line, line.Password, "--node", "B="+b, "--trust")
	gate.waitHeld(t)
	e.srv.stop(t)
	gate.release()
	t.Logf("server stopped with %s of %s uploaded; back in %s", bytesize.Format(contentStored(e)), bytesize.Format(size), outage)
	time.Sleep(outage) // the outage, on purpose
	e.start()

	hp.mustExit(t, 0)
	jp.mustExit(t, 0)
	sameTrees(t, a, b)
	hr, jr := hp.report(t), jp.report(t)
	t.Logf("host: %s", hr)
	t.Logf("join: %s", jr)
	if hr.Transfers.PartsUploaded != jr.Transfers.PartsDownloaded {
		t.Fatalf("A uploaded %d parts, B downloaded %d: some part went twice", hr.Transfers.PartsUploaded, jr.Transfers.PartsDownloaded)
	}
	if gate.unanswered() == 0 {
		t.Fatal("no request of the joiner met the server away")
	}
	t.Logf("%d requests of the joiner met the server away", gate.unanswered())
	e.emptyStorage(t)
}

// transferKind is the kind of a transfer in the storage's bookkeeping, "" when it holds none.
func (e *relayEnv) transferKind(session, transfer string) protocol.TransferKind {
	if e.s3 != nil {
		for k, v := range e.relayDocs() {
			var d relayDoc
			if strings.Contains(k, session) && strings.HasSuffix(k, transfer) && json.Unmarshal([]byte(v), &d) == nil {
				return d.Kind
			}
		}
		return ""
	}
	data, err := os.ReadFile(filepath.Join(e.storage, session, transfer, "transfer.json"))
	var tr struct{ Kind protocol.TransferKind }
	if err != nil || json.Unmarshal(data, &tr) != nil {
		return ""
	}
	return tr.Kind
}

// contentStored is how many bytes the content transfers in the storage have had uploaded,
// from the records of their parts (which stay after the parts' bytes are received and deleted).
func contentStored(e *relayEnv) int64 {
	var total int64
	if e.s3 != nil {
		for _, v := range e.relayDocs() {
			var d relayDoc
			if json.Unmarshal([]byte(v), &d) != nil || d.Kind != protocol.TransferContent {
				continue
			}
			for _, p := range d.Parts {
				total += p.Size
			}
		}
		return total
	}
	metas, _ := filepath.Glob(filepath.Join(e.storage, "*", "*", "transfer.json"))
	for _, m := range metas {
		data, err := os.ReadFile(m)
		var tr struct{ Kind protocol.TransferKind }
		if err != nil || json.Unmarshal(data, &tr) != nil || tr.Kind != protocol.TransferContent {
			continue
		}
		parts, _ := filepath.Glob(filepath.Join(filepath.Dir(m), "*.json"))
		for _, p := range parts {
			var part struct{ Size int64 }
			if data, err := os.ReadFile(p); err == nil && filepath.Base(p) != "transfer.json" && json.Unmarshal(data, &part) == nil {
				total += part.Size
			}
		}
	}
	return total
}
