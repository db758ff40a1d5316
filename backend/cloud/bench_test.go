package cloud

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/internal/redistest"
	"github.com/ferrysync/ferry/backend/protocol"
)

// The abuse benchmark runs the session server in a child process (this test binary again, with
// benchChildEnv set) so that its peak memory can be read from /proc, once without limits and
// once with the defaults, and attacks it as a hostile client would.

const benchChildEnv = "FERRY_BENCH_SERVER_LIMITS" // JSON of the child's Limits

func TestMain(m *testing.M) {
	if spec := os.Getenv(benchChildEnv); spec != "" {
		if err := runBenchChild(spec); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(redistest.Main(m))
}

// runBenchChild serves on a loopback port, prints its URL, and stops when stdin closes.
func runBenchChild(spec string) error {
	var lim Limits
	if err := json.Unmarshal([]byte(spec), &lim); err != nil {
		return fmt.Errorf("bench child: limits: %w", err)
	}
	srv, err := NewServer(Config{Store: store.NewMemory(), Limits: lim})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := NewHTTPServer(srv.Handler(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = srv.Run(ctx) }()
	go func() { _ = hs.Serve(ln) }()
	fmt.Printf("http://%s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = srv.Close()
	return hs.Close()
}

// benchChild is a running child server.
type benchChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	URL   string
	once  sync.Once
}

func startBenchChild(b *testing.B, lim Limits) *benchChild {
	b.Helper()
	spec, err := json.Marshal(lim)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchChildEnv+"="+string(spec))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &benchChild{cmd: cmd, stdin: stdin}
	b.Cleanup(c.stop)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("bench child: no URL: %v", err)
	}
	c.URL = strings.TrimSpace(line)
	return c
}

func (c *benchChild) stop() { c.once.Do(c.wait) }

func (c *benchChild) wait() {
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// peakMB is the child's peak resident memory (VmHWM) in MB.
func (c *benchChild) peakMB(b *testing.B) float64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		b.Fatalf("read the server's memory: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatalf("VmHWM %q: %v", rest, err)
			}
			return kb / 1024
		}
	}
	b.Fatal("no VmHWM in /proc/PID/status")
	return 0
}

// BenchmarkServerAbuse attacks a server without limits (NoLimits) and one with the default
// limits (Limits), and reports its peak memory in each phase: 3,000 session creations with
// the largest blobs, 8 concurrent 63 MiB synchronization starts, 200 trickling bodies. The
// trickle phase gives both servers a 2 s body timeout so that it ends soon.
func BenchmarkServerAbuse(b *testing.B) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		b.Skip("needs /proc to read the server's memory")
	}
	for _, mode := range []struct {
		name string
		lim  Limits
	}{
		{"NoLimits", Limits{Off: true}},
		{"Limits", Limits{BodyTimeout: 2 * time.Second}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			for b.Loop() {
				abuse(b, mode.lim)
			}
		})
	}
}

// abuse runs each phase against a new server, so that each peak is the phase's own.
func abuse(b *testing.B, lim Limits) {
	// 3,000 sessions with the largest blobs from one client, 16 at a time.
	child := startBenchChild(b, lim)
	b.ReportMetric(child.peakMB(b), "idle-MB")
	creator := cloudtest.LoggedIn(b, child.URL)
	blob := bytes.Repeat([]byte{'x'}, protocol.MaxBlobBytes)
	body, _ := json.Marshal(protocol.CreateSessionRequest{Settings: blob, PrivateData: blob})
	var created, refused atomic.Int64
	parallel(16, 3000, func(int) {
		if benchPost(b, creator, "/sessions", body) == http.StatusCreated {
			created.Add(1)
		} else {
			refused.Add(1)
		}
	})
	b.ReportMetric(float64(created.Load()), "sessions-created")
	b.ReportMetric(child.peakMB(b), "sessions-peak-MB")
	child.stop()

	// 8 concurrent starts of 63 MiB each, by the oldest member of a session ready for one.
	child = startBenchChild(b, lim)
	owner := cloudtest.LoggedIn(b, child.URL)
	s := owner.CreateSession("s")
	for _, n := range []string{"n1", "n2"} {
		base := "/sessions/" + s.ID + "/members/" + owner.Instance + "/nodes"
		owner.Must(http.MethodPost, base, protocol.NodeRequest{ID: n, Data: []byte("d")}, nil)
		owner.Must(http.MethodPost, base+"/"+n+"/sources", protocol.SourceRequest{ID: "s1", Data: []byte("d")}, nil)
	}
	owner.Must(http.MethodPost, "/sessions/"+s.ID+"/inventory/start", nil, nil)
	start := startBody(owner.Instance, 63<<20)
	answers := make([]int, 8)
	parallel(8, 8, func(i int) {
		answers[i] = benchPost(b, owner, "/sessions/"+s.ID+"/synchronization/start", start)
	})
	b.ReportMetric(child.peakMB(b), "starts-peak-MB")
	child.stop()

	// 200 bodies that trickle in: how many the server still holds after 4 s.
	child = startBenchChild(b, lim)
	held := trickle(b, child.URL, 200, 4*time.Second)
	b.ReportMetric(float64(held), "trickles-held")
	b.ReportMetric(child.peakMB(b), "trickle-peak-MB")
	child.stop()
	b.Logf("sessions: %d created, %d refused; starts answered %v; trickling bodies still held after 4 s: %d of 200",
		created.Load(), refused.Load(), answers, held)
}

// parallel runs n calls of f on workers goroutines.
func parallel(workers, n int, f func(i int)) {
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
}

// benchPost sends a JSON body with c's token and returns the status.
func benchPost(b *testing.B, c *cloudtest.Client, route string, body []byte) int {
	req, err := http.NewRequest(http.MethodPost, c.URL+protocol.APIPrefix+route, bytes.NewReader(body))
	if err != nil {
		b.Error(err)
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+c.Tokens.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 5 * time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		b.Errorf("POST %s: %v", route, err)
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// startBody is a valid synchronization start of about size bytes: delete groups on the
// member's node n1.
func startBody(member string, size int) []byte {
	var buf bytes.Buffer
	buf.Grow(size + 256)
	buf.WriteString(`{"groups":[`)
	for i := 0; buf.Len() < size-200; i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"id":"g%d","op":"delete","targets":[{"member":%q,"node":"n1"}]}`, i, member)
	}
	buf.WriteString(`]}`)
	return buf.Bytes()
}

// trickle opens n connections that each announce a 1 MiB body and send a byte every 100 ms,
// and tells how many the server has not cut off after d.
func trickle(b *testing.B, base string, n int, d time.Duration) int {
	u, err := url.Parse(base)
	if err != nil {
		b.Fatal(err)
	}
	var held atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	for range n {
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			b.Fatalf("dial: %v", err)
		}
		fmt.Fprintf(conn, "POST %s/auth/challenge HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", protocol.APIPrefix, u.Host, 1<<20)
		wg.Go(func() {
			defer conn.Close()
			cut := make(chan struct{})
			go func() {
				_, _ = conn.Read(make([]byte, 1)) // an answer or a close: cut off
				close(cut)
			}()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for time.Now().Before(deadline) {
				select {
				case <-cut:
					return
				case <-tick.C:
					if _, err := conn.Write([]byte{' '}); err != nil {
						return
					}
				}
			}
			select {
			case <-cut:
			default:
				held.Add(1)
			}
		})
	}
	wg.Wait()
	return int(held.Load())
}
