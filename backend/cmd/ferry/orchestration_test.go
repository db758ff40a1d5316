package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/internal/testcloud"
	"github.com/ferrysync/ferry/backend/protocol"
)

// loggedRequest is one request the proxy saw.
type loggedRequest struct {
	Method, Path string
	Status       int
	Member       protocol.MemberStatus // status updates only
	Applied      bool                  // status updates: the server applied it
}

// proxy is a request-logging reverse proxy in front of a real session server. Cut makes it
// drop every connection, websockets included, and refuse new ones until Restore.
type proxy struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	log    []loggedRequest
	cut    bool
	conns  map[net.Conn]struct{}
	onSent func(loggedRequest) // called after a request was answered
	rp     atomic.Pointer[httputil.ReverseProxy]
}

// Retarget sends the next requests to another server.
func (p *proxy) Retarget(backend string) {
	target, err := url.Parse(backend)
	if err != nil {
		p.t.Error(err)
		return
	}
	p.rp.Store(httputil.NewSingleHostReverseProxy(target))
}

func newProxy(t *testing.T, backend string) *proxy {
	target, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, conns: map[net.Conn]struct{}{}}
	p.rp.Store(httputil.NewSingleHostReverseProxy(target))
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if cut {
			hijackClose(w)
			return
		}
		var body []byte
		if r.Body != nil {
			body, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		p.rp.Load().ServeHTTP(rec, r)
		entry := loggedRequest{Method: r.Method, Path: r.URL.Path, Status: rec.status}
		if strings.HasSuffix(r.URL.Path, "/status") {
			var u protocol.StatusUpdate
			var res protocol.StatusResult
			_ = json.Unmarshal(body, &u)
			_ = json.Unmarshal(rec.body.Bytes(), &res)
			entry.Member, entry.Applied = u.Status, res.Applied
		}
		p.mu.Lock()
		p.log = append(p.log, entry)
		on := p.onSent
		p.mu.Unlock()
		if on != nil {
			on(entry)
		}
	}))
	p.srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		p.mu.Lock()
		defer p.mu.Unlock()
		switch s {
		case http.StateNew:
			p.conns[c] = struct{}{}
		case http.StateClosed:
			delete(p.conns, c)
		}
	}
	p.srv.Start()
	t.Cleanup(p.srv.Close)
	return p
}

// Cut drops every open connection and refuses new requests.
func (p *proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		_ = c.Close()
	}
}

func (p *proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

func (p *proxy) requests() []loggedRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]loggedRequest(nil), p.log...)
}

func (p *proxy) count(match func(loggedRequest) bool) int {
	n := 0
	for _, r := range p.requests() {
		if match(r) {
			n++
		}
	}
	return n
}

func underSync(r loggedRequest) bool { return strings.Contains(r.Path, "/synchronization") }

func statusApplied(s protocol.MemberStatus) func(loggedRequest) bool {
	return func(r loggedRequest) bool { return r.Member == s && r.Status == http.StatusOK && r.Applied }
}

func hijackClose(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			_ = c.Close()
			return
		}
	}
	http.Error(w, "cut off", http.StatusBadGateway)
}

type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }
func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack lets websockets through.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return r.ResponseWriter.(http.Hijacker).Hijack()
}

// startCloud runs a real session server (memory store) on loopback.
func startCloud(t testing.TB) string {
	return testcloud.Start(t, cloud.Config{Store: store.NewMemory()}, nil).URL
}

// tree writes n files of varied sizes under dir.
func tree(t *testing.T, dir string, n int) {
	t.Helper()
	at := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("d%02d", i%40), fmt.Sprintf("f%04d.txt", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte{byte('a' + i%26)}, 1+i%3000), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
}

// sameTrees fails unless b holds exactly a's files and folders, with a's contents and
// modification times (the folders' and the root's too).
func sameTrees(t *testing.T, a, b string) {
	t.Helper()
	seen := 0
	err := filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		sa, _ := os.Stat(p)
		sb, err := os.Stat(filepath.Join(b, rel))
		switch {
		case err != nil || sb.IsDir() != d.IsDir():
			return fmt.Errorf("%s differs: %v", rel, err)
		case !sa.ModTime().Equal(sb.ModTime()):
			return fmt.Errorf("%s: mtime %s, want %s", rel, sb.ModTime(), sa.ModTime())
		}
		seen++
		if d.IsDir() {
			return nil
		}
		want, _ := os.ReadFile(p)
		got, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil || !bytes.Equal(got, want) {
			return fmt.Errorf("%s differs: %v", rel, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	extra := 0
	_ = filepath.WalkDir(b, func(p string, d os.DirEntry, err error) error {
		if err == nil {
			extra++
		}
		return nil
	})
	if extra != seen {
		t.Fatalf("target holds %d files and folders, source %d", extra, seen)
	}
}

// syncWriter passes a run's stderr on and calls onEnd once the JSON event stream shows the end.
type syncWriter struct {
	mu         sync.Mutex
	buf        bytes.Buffer
	onEnd      func()
	ended      bool
	onProgress func() // once, at the first progress event
	progressed bool
}

func (w *syncWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(b)
	if !w.progressed && w.onProgress != nil && strings.Contains(w.buf.String(), `{"type":"progress"`) {
		w.progressed = true
		w.onProgress()
	}
	if !w.ended && strings.Contains(w.buf.String(), `{"type":"ended"`) {
		w.ended = true
		if w.onEnd != nil {
			go w.onEnd()
		}
	}
	return len(b), nil
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// ferryServer runs `ferry server` as a process (the test binary on PATH as ferry) on a free
// loopback port and returns its URL; it is stopped with SIGINT at the end of the test.
func ferryServer(t *testing.T) string {
	cmd := exec.Command("ferry", "server", "--listen", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ferry server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("ferry server did not say where it listens: %v", err)
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "ferry server listening on ")
	if !ok {
		t.Fatalf("ferry server said %q", line)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return url
}

// syncProcess runs `ferry sync` as a process with a config dir of its own; started, when set,
// receives the process once it runs (to signal it).
func syncProcess(t *testing.T, stderr io.Writer, started func(*os.Process), args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command("ferry", append([]string{"sync"}, args...)...)
	cmd.Env = append(os.Environ(), envConfigDir+"="+filepath.Join(t.TempDir(), "config"))
	var stdout bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(""), &stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ferry sync: %v", err)
	}
	if started != nil {
		started(cmd.Process)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String()
	}
	t.Fatalf("ferry sync: %v", err)
	return 0, ""
}

// A single-member mirror of 500 files makes no request under …/synchronization/, and its
// member statuses reach the server; forced cloud orchestration goes through the server's
// synchronization endpoints and gives the same trees.
func TestSingleMemberMakesNoSynchronizationRequest(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"auto", "cloud"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			p := newProxy(t, ferryServer(t))
			a, b := t.TempDir(), t.TempDir()
			tree(t, a, 500)
			var stderr syncWriter
			code, out := syncProcess(t, &stderr, nil, "--node", "A="+a, "--node", "B="+b,
				"--mode", "mirror", "--yes", "--json", "--server", p.srv.URL, "--orchestration", mode)
			if code != 0 {
				t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, stderr.String())
			}
			sameTrees(t, a, b)
			syncCalls := p.count(underSync)
			switch mode {
			case "auto":
				if syncCalls != 0 {
					t.Fatalf("%d requests under /synchronization/, want none", syncCalls)
				}
				if !strings.Contains(out, `"orchestration": "local"`) {
					t.Fatalf("report: %s", out)
				}
			case "cloud":
				if syncCalls < 3 { // start, results…, finished
					t.Fatalf("%d requests under /synchronization/, want start, results and finished", syncCalls)
				}
			}
			for _, s := range []protocol.MemberStatus{protocol.SynchronizationRunning, protocol.SynchronizationFinished} {
				if p.count(statusApplied(s)) != 1 {
					t.Fatalf("status %s did not reach the server once: %+v", s, p.requests())
				}
			}
			t.Logf("%s: %d requests in all, %d under /synchronization/", mode, len(p.requests()), syncCalls)
		})
	}
}

// The server is cut off right after SynchronizationRunning was sent: the single-member run still
// completes with exit 0, and the final status reaches the server once it is back.
func TestSingleMemberSurvivesServerCutOff(t *testing.T) {
	t.Parallel()
	p := newProxy(t, ferryServer(t))
	var cutOnce sync.Once
	p.onSent = func(r loggedRequest) {
		if r.Member == protocol.SynchronizationRunning && r.Status == http.StatusOK {
			cutOnce.Do(p.Cut)
		}
	}
	a, b := t.TempDir(), t.TempDir()
	tree(t, a, 500)
	var cutAtEnd atomic.Bool
	stderr := &syncWriter{onEnd: func() {
		// The run ended while the server was unreachable; bring it back within the wait.
		p.mu.Lock()
		cutAtEnd.Store(p.cut)
		p.mu.Unlock()
		p.Restore()
	}}
	code, out := syncProcess(t, stderr, nil, "--node", "A="+a, "--node", "B="+b,
		"--mode", "mirror", "--yes", "--json", "--server", p.srv.URL, "--status-wait", "30s")
	if code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, stderr.String())
	}
	sameTrees(t, a, b)
	if p.count(statusApplied(protocol.SynchronizationFinished)) != 1 {
		t.Fatalf("the final status did not reach the server: %+v\nstderr %s", p.requests(), stderr.String())
	}
	if !strings.Contains(out, `"undelivered": 0`) {
		t.Fatalf("report: %s", out)
	}
	if !cutAtEnd.Load() {
		t.Fatal("the server was not cut off when the run ended")
	}
}

// The server loses the session during the run (an in-memory server restarted): the run completes,
// and the final status, which the new server refuses with 404, is reported as undelivered.
func TestSingleMemberSessionLostIsUndelivered(t *testing.T) {
	t.Parallel()
	p := newProxy(t, ferryServer(t))
	restarted := ferryServer(t)
	var once sync.Once
	p.onSent = func(r loggedRequest) {
		if r.Member == protocol.SynchronizationRunning && r.Status == http.StatusOK {
			once.Do(func() { p.Retarget(restarted) })
		}
	}
	a, b := t.TempDir(), t.TempDir()
	tree(t, a, 200)
	var stderr syncWriter
	code, out := syncProcess(t, &stderr, nil, "--node", "A="+a, "--node", "B="+b,
		"--mode", "mirror", "--yes", "--json", "--server", p.srv.URL, "--status-wait", "10s")
	if code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, stderr.String())
	}
	sameTrees(t, a, b)
	if strings.Contains(out, `"undelivered": 0`) || !strings.Contains(out, `"undelivered": `) {
		t.Fatalf("report: %s", out)
	}
	if !strings.Contains(stderr.String(), "did not reach the server") {
		t.Fatalf("stderr does not say the statuses were lost: %s", stderr.String())
	}
}

// SIGINT aborts a run cleanly: exit 4, the run ends aborted, what was
// copied is whole, and the member statuses still reach the server.
func TestSyncInterruptAborts(t *testing.T) {
	t.Parallel()
	// The signal goes at the first progress event. On a loaded machine this process may read
	// that event only once a small run has ended: then the run is made again, ten times larger.
	var p *proxy
	var a, b string
	for _, files := range []int{2000, 20000} {
		p = newProxy(t, ferryServer(t))
		a, b = t.TempDir(), t.TempDir()
		tree(t, a, files)
		proc := make(chan *os.Process, 1)
		stderr := &syncWriter{onProgress: func() { _ = (<-proc).Signal(os.Interrupt) }}
		code, out := syncProcess(t, stderr, func(p *os.Process) { proc <- p }, "--node", "A="+a, "--node", "B="+b,
			"--mode", "mirror", "--yes", "--json", "--server", p.srv.URL)
		var rep syncReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("report: %v\n%s\nstderr %s", err, out, stderr.String())
		}
		if code == 0 && rep.Status == string(protocol.EndRegular) && files == 2000 {
			t.Logf("%d files: the run ended before the signal, again with more", files)
			continue
		}
		if code != exitAborted {
			t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", code, exitAborted, out, stderr.String())
		}
		if rep.Status != string(protocol.EndAborted) || rep.Progress.FinishedActions >= rep.Progress.TotalActions {
			t.Fatalf("report: status %s, %d of %d actions", rep.Status, rep.Progress.FinishedActions, rep.Progress.TotalActions)
		}
		break
	}
	// Every file that exists on B is whole; no temp file is left.
	_ = filepath.WalkDir(b, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(b, path)
		want, rerr := os.ReadFile(filepath.Join(a, rel))
		got, _ := os.ReadFile(path)
		if rerr != nil || !bytes.Equal(got, want) {
			t.Errorf("%s on B is not a whole copy (%v)", rel, rerr)
		}
		return nil
	})
	if p.count(statusApplied(protocol.SynchronizationFinished)) != 1 {
		t.Fatal("the final status did not reach the server")
	}
	if p.count(underSync) != 0 {
		t.Fatal("the local abort called the server's synchronization routes")
	}
}
