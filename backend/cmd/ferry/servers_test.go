package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ferrysync/ferry/backend/bytesize"
	"github.com/ferrysync/ferry/backend/internal/redistest"
)

// Sessions on a service of several server processes sharing one Redis, token secret and relay
// storage, each member given every URL.

// second starts another server process of e's service, on a port of its own.
func (e *relayEnv) second() *serverProcess {
	e.t.Helper()
	env, args := e.serverArgs()
	p := startServer(e.t, e.bin, env, args...)
	e.logs = append(e.logs, p.stderr)
	return p
}

// A big file is mirrored from the host to the joiner, the host listing the first process first
// and the joiner the second: the server process one of them talks to is killed (SIGKILL) in the
// middle of the copy, and never comes back. That member moves to the other process, keeping its
// session, and the run ends with exit 0 on both and equal trees. --server-wait is short: the
// service is not counted gone while one of its URLs answers.
func TestRedisHostJoinServerKilled(t *testing.T) {
	t.Parallel()
	hostJoinServerKilled(t, func(t *testing.T) *relayEnv { return newRelayEnv(t) })
}

// The same on the scale-out layout: two server processes on one Redis Cluster and one bucket
// (the members move the parts to and from the bucket, the bookkeeping is in the cluster). The
// bucket and the bookkeeping end empty.
func TestClusterS3HostJoinServerKilled(t *testing.T) {
	t.Parallel()
	hostJoinServerKilled(t, func(t *testing.T) *relayEnv {
		return newRelayEnvWith(t, func(e *relayEnv) {
			withBucket(e)
			e.cluster = redistest.Cluster(t)
		})
	})
}

// hostJoinServerKilled runs the kill of each member's server process on envs newEnv makes.
func hostJoinServerKilled(t *testing.T, newEnv func(t *testing.T) *relayEnv) {
	for _, c := range []struct {
		name   string
		victim int // the process killed: 0 the host's, 1 the joiner's
	}{{"host's server", 0}, {"joiner's server", 1}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			procs := []*serverProcess{e.srv, e.second()}
			hostURLs := procs[0].URL + "," + procs[1].URL
			// The joiner's downloads are held until the kill, so that the copy cannot end
			// first, however fast it goes.
			gate := gateDownloads(t, e, procs[1].URL, procs[0].URL)

			a, b := t.TempDir(), t.TempDir()
			writeBig(t, filepath.Join(a, "big.bin"), 64<<20, tOld)
			put(t, filepath.Join(a, "small", "note.txt"), []byte("a small file beside the big one\n"), tOld)
			hp, line := host(t, e.bin, hostURLs, t.TempDir(), "--node", "A="+a, "--mode", "mirror", "--trust",
				"--server-wait", "5s")
			jp := join(t, e.bin, gate.URLs(), t.TempDir(), line, line.Password, "--node", "B="+b, "--trust",
				"--server-wait", "5s")
			gate.waitHeld(t)
			victim := procs[c.victim]
			if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			t.Logf("killed the %s with %s uploaded", c.name, bytesize.Format(contentStored(e)))
			gate.release()

			hp.mustExit(t, 0)
			jp.mustExit(t, 0)
			sameTrees(t, a, b)
			hr, jr := hp.report(t), jp.report(t)
			t.Logf("host: %s", hr)
			t.Logf("join: %s", jr)
			if hr.Status != "regular" || hr.Progress.ErrorActions != 0 || hr.Progress.FinishedActions != hr.Progress.TotalActions {
				t.Fatalf("host report %+v", hr)
			}
			moved := []*memberProc{hp, jp}[c.victim]
			if !strings.Contains(moved.stderr.String(), "moving to the next one") {
				t.Errorf("%s did not say it moved to the next server:\n%s", moved.name, moved.stderr)
			}
			e.emptyStorage(t)
		})
	}
}

// The join hint warns about loopback servers only when every URL of the list is one.
func TestLoopbackURLList(t *testing.T) {
	t.Parallel()
	for u, want := range map[string]bool{
		"http://127.0.0.1:7420":                         true,
		"http://127.0.0.1:7420,http://localhost:7421":   true,
		"http://127.0.0.1:7420,https://ferry.example":   false,
		"https://ferry1.example,https://ferry2.example": false,
		"": false,
	} {
		if got := loopbackURL(u); got != want {
			t.Errorf("loopbackURL(%q) = %v, want %v", u, got, want)
		}
	}
}
