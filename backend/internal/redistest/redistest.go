// Package redistest gives tests a Redis server: the one named by FERRY_REDIS_URL, or else a
// private redis-server started for the test on a free loopback port. Tests that use it have
// Redis in their names, so `go test -run Redis` selects them.
package redistest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvURL names the variable that points the tests at an existing server, e.g.
// redis://127.0.0.1:6379/0. Tests share it and keep apart by key prefix (see Prefix).
const EnvURL = "FERRY_REDIS_URL"

const (
	startAttempts = 3                // a free port may be taken before redis-server binds it
	readyTimeout  = 10 * time.Second // from start to the first PONG
	pollInterval  = 5 * time.Millisecond
)

// URL returns the address of a Redis server for t: FERRY_REDIS_URL when set, otherwise a private
// redis-server that lives until t ends. It skips t when neither is available.
func URL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed: run make deps-test or set " + EnvURL)
	}
	return startPrivate(t, bin).URL
}

// Server is a private redis-server.
type Server struct {
	URL  string
	stop func()
}

// Stop kills the server at once (it is also stopped when the test ends); clients then find
// nothing listening at URL.
func (s *Server) Stop() { s.stop() }

// Private starts a private redis-server for t, even when FERRY_REDIS_URL is set, so that the
// test may stop it. It skips t when redis-server is not installed.
func Private(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed: run make deps-test")
	}
	return startPrivate(t, bin)
}

func startPrivate(t testing.TB, bin string) *Server {
	t.Helper()
	var errs []error
	for range startAttempts {
		s, err := start(t, bin)
		if err == nil {
			return s
		}
		errs = append(errs, err)
	}
	t.Fatalf("redistest: %v", errors.Join(errs...))
	return nil
}

// Prefix returns a key prefix no other test uses, even in another process sharing the server.
// When the server is FERRY_REDIS_URL, the keys under it are deleted when t ends.
func Prefix(t testing.TB) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("redistest: prefix: %v", err)
	}
	name := strings.NewReplacer("/", ".", " ", "_", "*", "_", "?", "_", "[", "_", "]", "_", `\`, "_").Replace(t.Name())
	p := "ferrytest:" + name + ":" + hex.EncodeToString(b[:])
	if u := os.Getenv(EnvURL); u != "" {
		t.Cleanup(func() { deleteKeys(t, u, p) })
	}
	return p
}

// start runs redis-server on a free port and waits until it answers PING.
func start(t testing.TB, bin string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := sync.OnceFunc(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	if err := waitReady(addr, exited); err != nil {
		stop()
		return nil, fmt.Errorf("redis-server on %s: %w; its output:\n%s", addr, err, out.String())
	}
	t.Cleanup(stop)
	return &Server{URL: "redis://" + addr + "/0", stop: stop}, nil
}

// waitReady polls PING until it answers, the process exits or the deadline passes.
func waitReady(addr string, exited <-chan struct{}) error {
	deadline := time.After(readyTimeout)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		err := ping(addr)
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("exited before answering PING")
		case <-deadline:
			return fmt.Errorf("no answer to PING within %v: %w", readyTimeout, err)
		case <-tick.C:
		}
	}
}

// ping sends one PING in the inline protocol, without a client library and its retries.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := io.WriteString(c, "PING\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// deleteKeys removes every key under prefix from the shared server.
func deleteKeys(t testing.TB, url, prefix string) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Errorf("redistest: %s: %v", EnvURL, err)
		return
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, prefix+":*", 500).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("redistest: list keys under %s: %v", prefix, err)
		return
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		if err := c.Del(ctx, keys[:n]...).Err(); err != nil {
			t.Errorf("redistest: delete keys under %s: %v", prefix, err)
			return
		}
		keys = keys[n:]
	}
}

// syncBuffer collects the server's output, written by the exec copier goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
