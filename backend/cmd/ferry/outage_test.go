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

// startRelayedCopy starts a host and a joiner mirroring a big file from A to B, and returns once
// a part of it is in the storage. The joiner's downloads of it are held until the caller's fault
// and release, so that the copy cannot end first, however fast it goes.
func startRelayedCopy(t *testing.T, e *relayEnv, args ...string) (hp, jp *memberProc, a, b string, release func()) {
	t.Helper()
	a, b = t.TempDir(), t.TempDir()
	writeBig(t, filepath.Join(a, "big.bin"), 64<<20, tOld)
	hp, line := host(t, e.bin, e.URL(), t.TempDir(), append([]string{"--node", "A=" + a, "--mode", "mirror", "--trust"}, args...)...)
	gate := gateDownloads(t, e, e.URL())
	jp = join(t, e.bin, gate.URLs(), t.TempDir(), line, line.Password, append([]string{"--node", "B=" + b, "--trust"}, args...)...)
	gate.waitHeld(t)
	return hp, jp, a, b, gate.release
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
	hp, jp, _, b, release := startRelayedCopy(t, e, "--server-wait", "5s")
	if err := e.srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	release()
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
	hp, jp, _, _, release := startRelayedCopy(t, e)
	e.srv.stop(t)
	restarted := time.Now()
	e.start()
	release()
	for _, p := range []*memberProc{hp, jp} {
		endsWithin(t, p, restarted, 20*time.Second, "no longer knows this session")
	}
}

// Redis comes back empty while the server processes stay up (the push connections never
// break): the members find out by reading the session, and end.
func TestRedisEmptiedLosesSession(t *testing.T) {
	t.Parallel()
	e := newRelayEnv(t)
	hp, jp, _, _, release := startRelayedCopy(t, e, "--server-wait", "6s")
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
	release()
	for _, p := range []*memberProc{hp, jp} {
		endsWithin(t, p, emptied, 30*time.Second, "no longer knows this session")
	}
}

// The joiner is killed in the middle of a relayed copy: the server finds it gone, ends the run,
// and the host stops uploading and ends within the bound.
func TestRedisMemberKilledEndsHost(t *testing.T) {
	t.Parallel()
	e := newRelayEnvWith(t, func(e *relayEnv) { e.presence = 3 * time.Second })
	hp, jp, _, _, _ := startRelayedCopy(t, e) // killed while its downloads are held
	if err := jp.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	endsWithin(t, hp, killed, memberBound, "went away")
}
