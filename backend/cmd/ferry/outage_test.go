package main

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// memberBound is how long after a fault every other member must have ended.
const memberBound = 60 * time.Second

// startRelayedCopy starts a host and a joiner mirroring a big file from A to B, and returns
// once a quarter of it was uploaded.
func startRelayedCopy(t *testing.T, e *relayEnv, args ...string) (hp, jp *memberProc, a, b string, thaw func()) {
	t.Helper()
	size := int64(256 << 20) // large enough that a loaded machine freezes the joiner before it is done
	a, b = t.TempDir(), t.TempDir()
	writeBig(t, filepath.Join(a, "big.bin"), size, tOld)
	hp, line := host(t, e.bin, e.URL(), t.TempDir(), append([]string{"--node", "A=" + a, "--mode", "mirror", "--trust"}, args...)...)
	jp = join(t, e.bin, e.URL(), t.TempDir(), line, line.Password, append([]string{"--node", "B=" + b, "--trust"}, args...)...)
	// The joiner is frozen from the start of the synchronization until the caller's fault, so
	// that the parts wait in the storage and the copy cannot end first, however fast it goes.
	jp.stderr.Await(t, "synchronizing", e2eWait, func(s string) bool { return strings.Contains(s, `"step":"synchronizing"`) })
	thaw = jp.freeze(t)
	deadline := time.Now().Add(e2eWait)
	for contentStored(e) < size/4 {
		if time.Now().After(deadline) {
			t.Fatalf("the copy did not start; host:\n%s\njoin:\n%s", hp.stderr, jp.stderr)
		}
		time.Sleep(10 * time.Millisecond) // polled
	}
	return hp, jp, a, b, thaw
}

// endsWithin waits for p to exit 1 within bound of since, its stderr saying want.
func endsWithin(t *testing.T, p *memberProc, since time.Time, bound time.Duration, want string) {
	t.Helper()
	p.mustExit(t, exitActionError)
	took := time.Since(since)
	t.Logf("%s ended %s after the fault", p.name, took.Round(100*time.Millisecond))
	if took > bound {
		t.Errorf("%s ended %s after the fault, want within %s", p.name, took, bound)
	}
	if !strings.Contains(p.stderr.String(), want) {
		t.Errorf("%s stderr does not say %q:\n%s", p.name, want, p.stderr)
	}
}

// The server is killed in the middle of a relayed copy and never comes back: both members give
// the session up after --server-wait, with a message saying so, and B holds no partial file.
func TestRedisServerKilledEndsMembers(t *testing.T) {
	t.Parallel()
	e := newRelayEnv(t)
	hp, jp, _, b, thaw := startRelayedCopy(t, e, "--server-wait", "5s")
	if err := e.srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	thaw()
	for _, p := range []*memberProc{hp, jp} {
		endsWithin(t, p, killed, memberBound, "has not answered for 5s")
	}
	if exists(filepath.Join(b, "big.bin")) {
		t.Error("B holds big.bin although its copy never finished")
	}
}

// A server keeping its sessions in memory restarts on the same address in the middle of a
// run: it no longer knows the session, and both members end within seconds (long before the
// server wait) instead of waiting forever.
func TestServerRestartLosesSession(t *testing.T) {
	t.Parallel()
	e := newRelayEnv(t)
	e.redis = "" // memory: a restart loses every session
	e.srv.stop(t)
	e.addr = "127.0.0.1:0"
	e.start()
	hp, jp, _, _, thaw := startRelayedCopy(t, e)
	e.srv.stop(t)
	restarted := time.Now()
	e.start()
	thaw()
	for _, p := range []*memberProc{hp, jp} {
		endsWithin(t, p, restarted, 20*time.Second, "no longer knows this session")
	}
}

// Redis comes back empty while the server processes stay up (the push connections never
// break): the members find out by reading the session, and end.
func TestRedisEmptiedLosesSession(t *testing.T) {
	t.Parallel()
	e := newRelayEnv(t)
	hp, jp, _, _, thaw := startRelayedCopy(t, e, "--server-wait", "6s")
	opts, err := redis.ParseURL(e.redis)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, e.prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatalf("no key under %q", e.prefix)
	}
	if err := rdb.Del(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
	emptied := time.Now()
	thaw()
	for _, p := range []*memberProc{hp, jp} {
		endsWithin(t, p, emptied, 30*time.Second, "no longer knows this session")
	}
}

// The joiner is killed in the middle of a relayed copy: the server finds it gone, ends the run,
// and the host stops uploading and ends within the bound.
func TestRedisMemberKilledEndsHost(t *testing.T) {
	t.Parallel()
	e := newRelayEnvWith(t, func(e *relayEnv) { e.presence = 3 * time.Second })
	hp, jp, _, _, _ := startRelayedCopy(t, e) // killed frozen
	if err := jp.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	endsWithin(t, hp, killed, memberBound, "went away")
}
