package main

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/internal/ferrycmd"
	"github.com/ferrysync/ferry/backend/internal/redistest"
	"github.com/ferrysync/ferry/backend/internal/testio"
	"github.com/ferrysync/ferry/backend/protocol"
)

// ferryBinary is the ferry command, for the server tests, which run it as a real process, with
// real signals.
func ferryBinary(t *testing.T) string { return ferrycmd.Build(t) }

// serverProcess is a running `ferry server`.
type serverProcess struct {
	cmd    *exec.Cmd
	URL    string
	stderr *testio.Buffer
	done   chan error
}

// startServer runs `ferry server --listen 127.0.0.1:0 args…` and waits for its listening line.
func startServer(t *testing.T, bin string, env []string, args ...string) *serverProcess {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"server", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &serverProcess{cmd: cmd, stderr: &testio.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = <-p.done // killed, or stopped and checked by the test
	})
	select {
	case line := <-lines:
		url, ok := strings.CutPrefix(line, "ferry server listening on ")
		if !ok {
			t.Fatalf("first line %q", line)
		}
		p.URL = url
	case err := <-p.done:
		t.Fatalf("server exited: %v\n%s", err, p.stderr)
	case <-time.After(cloudtest.Wait):
		t.Fatalf("no listening line\n%s", p.stderr)
	}
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *serverProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("server exit: %v\n%s", err, p.stderr)
		}
	case <-time.After(cloudtest.Wait):
		t.Fatalf("server still running after SIGTERM\n%s", p.stderr)
	}
}

func TestServerCommand(t *testing.T) {
	t.Parallel()
	storage := filepath.Join(t.TempDir(), "relay")
	p := startServer(t, ferryBinary(t), nil, "--log-level", "debug", "--storage", storage)
	if !strings.HasPrefix(p.URL, "http://127.0.0.1:") {
		t.Fatalf("url %q", p.URL)
	}
	a := cloudtest.LoggedIn(t, p.URL)
	s := a.CreateSession("settings")
	push, _ := a.Connect(s.ID)
	if fi, err := os.Stat(storage); err != nil || !fi.IsDir() {
		t.Fatalf("storage folder: %v", err)
	}
	p.stop(t)
	// Websockets are closed on the way out.
	if ce := push.Closed(); ce.Code != 1001 {
		t.Fatalf("push closed with %d", ce.Code)
	}
	logs := p.stderr.String()
	for _, want := range []string{"path=/api/v1/auth/login status=200", "path=/api/v1/sessions status=201", "msg=stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, a.Tokens.AccessToken) {
		t.Error("the log holds an access token")
	}
}

func TestServerCommandUsage(t *testing.T) {
	t.Parallel()
	short := filepath.Join(t.TempDir(), "short")
	if err := os.WriteFile(short, []byte("too short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"server", "--log-level", "loud"},
		{"server", "--secret-file", short},
		{"server", "--secret-file", filepath.Join(t.TempDir(), "missing")},
		{"server", "--listen", "nowhere"},
		{"server", "extra"},
		{"server", "--body-budget", "1MiB"}, // smaller than --max-start-body
		{"server", "--max-body", "none"},
		{"server", "--redis", "redis://127.0.0.1:1/0", "--redis-cluster", "127.0.0.1:2"},
		{"server", "--redis-cluster", "127.0.0.1:2,nowhere"},
		{"server", "--redis-replicas", "-2"},
		{"server", "--presence-timeout", "100ms"},
		{"server", "--storage-meta", t.TempDir()}, // gone: the bookkeeping is in the store
	} {
		var stderr bytes.Buffer
		if code := run(context.Background(), args, nil, &bytes.Buffer{}, &stderr); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, stderr.String())
		}
	}
}

// The limit flags reach the server: sessions per client and body sizes.
func TestServerLimitFlags(t *testing.T) {
	t.Parallel()
	p := startServer(t, ferryBinary(t), nil, "--client-sessions", "1", "--max-body", "4KiB")
	a := cloudtest.LoggedIn(t, p.URL)
	s := a.CreateSession("s")
	if st, perr := a.Call(http.MethodPost, "/sessions", protocol.CreateSessionRequest{Settings: []byte("s")}, nil); st != http.StatusTooManyRequests || perr.Code != protocol.ErrCodeSessionLimit {
		t.Errorf("a second session: %d %v, want 429 %s", st, perr, protocol.ErrCodeSessionLimit)
	}
	big := protocol.SettingsUpdate{Settings: make([]byte, 8<<10)}
	if st, perr := a.Call(http.MethodPut, "/sessions/"+s.ID+"/settings", big, nil); st != http.StatusRequestEntityTooLarge || perr.Code != protocol.ErrCodeTooLarge {
		t.Errorf("settings over --max-body: %d %v, want 413", st, perr)
	}
}

// Two `ferry server --redis` processes sharing one Redis and one secret: pushes and tokens cross
// between them.
func TestRedisTwoServerProcesses(t *testing.T) {
	t.Parallel()
	testTwoServerProcesses(t, "--redis", redistest.URL(t))
}

// The same with `ferry server --redis-cluster`, given two of the nodes of a Redis Cluster.
func TestRedisClusterTwoServerProcesses(t *testing.T) {
	t.Parallel()
	addrs := redistest.Cluster(t).Addrs()
	testTwoServerProcesses(t, "--redis-cluster", addrs[0]+","+addrs[len(addrs)-1])
}

func testTwoServerProcesses(t *testing.T, storeFlag, storeAddr string) {
	prefix := redistest.Prefix(t)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("a shared secret of at least 32 bytes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{storeFlag, storeAddr, "--redis-prefix", prefix}
	bin := ferryBinary(t)
	one := startServer(t, bin, nil, append(args, "--secret-file", secret)...)
	two := startServer(t, bin, []string{envServerSecret + "=a shared secret of at least 32 bytes"}, args...)

	a := cloudtest.LoggedIn(t, one.URL)
	b := cloudtest.LoggedIn(t, two.URL)
	s := a.CreateSession("s")
	pa, _ := a.Connect(s.ID)
	joinReq, ticket := b.AskToJoin(s.ID)
	pb, _ := b.Connect(s.ID)
	pa.Wait(protocol.EventJoinRequested, s.ID)
	a.Must(http.MethodPost, "/sessions/"+s.ID+"/join/"+ticket+"/admit", a.Admission(s.ID, joinReq), nil)
	pb.Wait(protocol.EventJoinAdmitted, s.ID)
	pb.Wait(protocol.EventMemberJoined, s.ID)
	b.Must(http.MethodPost, "/sessions/"+s.ID+"/members/"+b.Instance+"/nodes", protocol.NodeRequest{ID: "nb", Data: []byte("n")}, nil)
	if n := cloudtest.Decode[protocol.DataNode](t, pa.Wait(protocol.EventNodeAdded, s.ID)); n.ID != "nb" {
		t.Fatalf("node_added: %+v", n)
	}
	// A's token works on process two.
	a.URL = two.URL
	if got := a.Session(s.ID); len(got.Members) != 2 {
		t.Fatalf("members through process two: %+v", got.Members)
	}
	one.stop(t)
	two.stop(t)
}

// TestServerConfigFile runs the server as its package does: settings from a config file, and a
// secret created on the first start and kept on the next.
func TestServerConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret := filepath.Join(dir, "state", "secret")
	if err := os.Mkdir(filepath.Dir(secret), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "server.conf")
	storage := filepath.Join(dir, "state", "relay")
	put(t, conf, []byte("# ferry server settings\nlisten = 127.0.0.1:1\nredis =\n"+
		"storage = "+storage+"\nsecret-file = "+secret+"\ngenerate-secret = true\nlog-level = debug\n"), time.Now())
	bin := ferryBinary(t)

	p := startServer(t, bin, nil, "--config", conf) // --listen on the command line wins
	cloudtest.LoggedIn(t, p.URL)
	p.stop(t)
	st, err := os.Stat(secret)
	if err != nil {
		t.Fatalf("secret not created: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("secret mode %v, want 0600", st.Mode().Perm())
	}
	first, _ := os.ReadFile(secret)
	if got, err := readSecret(secret); err != nil || len(got) < 32 {
		t.Fatalf("generated secret: %d bytes, %v", len(got), err)
	}
	if fi, err := os.Stat(storage); err != nil || !fi.IsDir() {
		t.Fatalf("storage from the config file: %v", err)
	}
	if !strings.Contains(p.stderr.String(), "level=DEBUG") {
		t.Fatalf("log-level from the config file not applied:\n%s", p.stderr)
	}

	startServer(t, bin, nil, "--config", conf).stop(t)
	if again, _ := os.ReadFile(secret); !bytes.Equal(first, again) || len(first) == 0 {
		t.Fatal("the secret changed on the second start")
	}
}

func TestServerConfigFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct{ conf, want string }{
		{"listen = 127.0.0.1:0\nport = 1\n", `server.conf:2: unknown setting "port"`},
		{"listen\n", "server.conf:1: want name = value"},
		{"storage-quota = lots\n", "server.conf:1: storage-quota"},
		{"config = other.conf\n", `unknown setting "config"`},
	} {
		conf := filepath.Join(dir, "server.conf")
		put(t, conf, []byte(tc.conf), time.Now())
		var stderr bytes.Buffer
		code := run(context.Background(), []string{"server", "--config", conf}, nil, &bytes.Buffer{}, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", tc.conf, code, stderr.String(), exitUsage, tc.want)
		}
	}
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"server", "--config", filepath.Join(dir, "missing.conf")}, nil, &bytes.Buffer{}, &stderr); code != exitUsage {
		t.Errorf("missing config file: exit %d, %s", code, stderr.String())
	}
	if code := run(context.Background(), []string{"server", "--generate-secret"}, nil, &bytes.Buffer{}, &stderr); code != exitUsage ||
		!strings.Contains(stderr.String(), "--generate-secret needs --secret-file") {
		t.Errorf("--generate-secret alone: exit %d, %s", code, stderr.String())
	}
}

// A secret file of raw random bytes is taken whole even when its last byte is a newline; a text
// secret loses the line ending an editor adds.
func TestSecretFileBytes(t *testing.T) {
	t.Parallel()
	raw := append(bytes.Repeat([]byte{0xff, 0x01}, 16), '\n')
	for _, c := range []struct{ in, want []byte }{
		{raw, raw},
		{[]byte("c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNl\r\n"), []byte("c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNl")},
		{[]byte("plain text secret\n\n"), []byte("plain text secret")},
	} {
		if got := secretBytes(c.in); !bytes.Equal(got, c.want) {
			t.Errorf("secretBytes(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := readSecret(file); err != nil || len(got) != 33 {
		t.Fatalf("readSecret: %d bytes, %v; want 33", len(got), err)
	}
}
