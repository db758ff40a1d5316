package main

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/internal/s3test"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Acceptance tests of the relay through a bucket: a `ferry server --storage s3://…` against a
// private SeaweedFS (see s3test) and Redis, with real `ferry host` and `ferry join` processes.
// The members move the parts' bytes to and from the bucket themselves.

// newS3RelayEnv is a relayEnv whose parts go to a fresh bucket of the test S3 server.
func newS3RelayEnv(t *testing.T) *relayEnv {
	t.Helper()
	return newRelayEnvWith(t, withBucket)
}

// withBucket gives a relayEnv a fresh bucket of the test S3 server.
func withBucket(e *relayEnv) {
	srv := s3test.Start(e.t)
	e.s3, e.bucket = srv, srv.NewBucket(e.t)
}

// Two members mirror A → B through the bucket: new files, a large file sent as a delta, stale
// files deleted. No part's bytes pass through the server (no request to its relay URLs), a
// marker in every file's content and name is in no object of the bucket (read before each
// part's receipt is let through) nor in the bookkeeping, and the bucket ends empty.
func TestS3RelayHostJoinMirror(t *testing.T) {
	t.Parallel()
	e := newS3RelayEnv(t)
	marker := "FERRY-MARKER-" + hex.EncodeToString(randomBytes(uint64(time.Now().UnixNano()), 8))
	a, b := t.TempDir(), t.TempDir()
	content := func(n int) []byte { return bytes.Repeat([]byte("content with "+marker+"\n"), n) }
	for i := range 10 {
		put(t, filepath.Join(a, fmt.Sprintf("small/%s-%02d.txt", marker, i)), content(i+1), tOld)
	}
	const deltaSize = 24 << 20
	put(t, filepath.Join(a, marker+"-large-new.bin"), append(content(1), randomBytes(2, 8<<20)...), tOld)
	old := append(content(1), randomBytes(3, deltaSize)...)
	edited := bytes.Clone(old)
	copy(edited[deltaSize/2:], "a small edit in the middle of the file "+marker)
	put(t, filepath.Join(b, "edited.bin"), old, tOld)
	put(t, filepath.Join(a, "edited.bin"), edited, tNew)
	put(t, filepath.Join(b, "stale.txt"), []byte("only on B"), tOld)

	var (
		mu                         sync.Mutex
		leaks                      []string
		scans, objectsRead, direct atomic.Int64
	)
	leak := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		leaks = append(leaks, fmt.Sprintf(format, a...))
	}
	check := func() {
		scans.Add(1)
		for k, data := range e.s3.Objects(t, e.bucket) {
			objectsRead.Add(1)
			if strings.Contains(k, marker) || bytes.Contains(data, []byte(marker)) {
				leak("object %s", k)
			}
		}
		for k, v := range e.relayDocs() {
			if strings.Contains(k, marker) || strings.Contains(v, marker) {
				leak("bookkeeping %s", k)
			}
		}
	}
	proxy := spyProxy(t, e.URL(), func(r *http.Request, _ []byte) {
		if strings.Contains(r.URL.Path, "/relay/") {
			direct.Add(1)
		}
		if strings.HasSuffix(r.URL.Path, "/received") { // the part is still in the bucket
			check()
		}
	})

	hp, line := host(t, e.bin, proxy, t.TempDir(), "--node", "A="+a, "--mode", "mirror", "--trust")
	jp := join(t, e.bin, proxy, t.TempDir(), line, line.Password, "--node", "B="+b, "--trust")
	hp.mustExit(t, 0)
	jp.mustExit(t, 0)
	sameTrees(t, a, b)
	hr, jr := hp.report(t), jp.report(t)
	t.Logf("host: %s", hr)
	t.Logf("join: %s", jr)
	kinds := map[string]plan.Kind{}
	for _, act := range hr.Plan.Actions {
		kinds[act.Path] = act.Kind
	}
	if kinds["/edited.bin"] != plan.Delta {
		t.Fatalf("plan kinds %v: the edited file did not travel as a delta", kinds)
	}
	if hr.Transfers.PartsUploaded != jr.Transfers.PartsDownloaded || jr.Transfers.PartsUploaded != hr.Transfers.PartsDownloaded {
		t.Fatalf("parts: host %s; join %s", hr, jr)
	}
	if n := direct.Load(); n != 0 {
		t.Fatalf("%d requests went to the server's relay URLs: the parts did not go to the bucket", n)
	}
	if strings.Contains(e.log(), marker) {
		leak("the server log")
	}
	if len(leaks) > 0 {
		t.Fatalf("the marker reached the bucket or the server: %s", strings.Join(leaks, "; "))
	}
	t.Logf("%d checks of the bucket read %d objects, no marker", scans.Load(), objectsRead.Load())
	if scans.Load() < 4 || objectsRead.Load() < 4 {
		t.Fatal("too few objects read to tell")
	}
	e.emptyStorage(t)
}

// A part altered in the bucket between its upload and its download: the recipient refuses it,
// the copy is an error for both and the target stays as it was; the bucket ends empty.
func TestS3RelayTamperedPart(t *testing.T) {
	t.Parallel()
	e := newS3RelayEnv(t)
	a, b := t.TempDir(), t.TempDir()
	put(t, filepath.Join(a, "doc.txt"), []byte("the new version, from A"), tNew)
	put(t, filepath.Join(b, "doc.txt"), []byte("the old version on B"), tOld)
	var flipped atomic.Int64
	proxy := spyProxy(t, e.URL(), func(r *http.Request, _ []byte) {
		m := partDownload.FindStringSubmatch(r.URL.Path)
		if m == nil || e.transferKind(m[1], m[2]) != protocol.TransferContent {
			return
		}
		key := "relay/" + m[1] + "/" + m[2] + "/" + m[3]
		data, ok := e.s3.Objects(t, e.bucket)[key]
		if !ok {
			t.Errorf("no object %s in the bucket", key)
			return
		}
		data[len(data)/2] ^= 0x20
		e.s3.Put(t, e.bucket, key, data)
		flipped.Add(1)
	})
	hp, line := host(t, e.bin, e.URL(), t.TempDir(), "--node", "A="+a, "--mode", "mirror", "--trust")
	jp := join(t, e.bin, proxy, t.TempDir(), line, line.Password, "--node", "B="+b, "--trust")
	jp.mustExit(t, 1)
	hp.mustExit(t, 1)
	if flipped.Load() == 0 {
		t.Fatal("no content part was altered")
	}
	jr := jp.report(t)
	if len(jr.Errors) == 0 || !strings.Contains(strings.Join(jr.Errors, "\n"), "/doc.txt") {
		t.Fatalf("join errors %q", jr.Errors)
	}
	t.Logf("the joiner reported: %s", strings.Join(jr.Errors, "; "))
	got, _ := os.ReadFile(filepath.Join(b, "doc.txt"))
	if string(got) != "the old version on B" {
		t.Fatalf("the target changed: %q", got)
	}
	e.emptyStorage(t)
}

// The server stops in the middle of a relayed copy through the bucket and starts again on the
// same address, bucket, Redis (which keeps the bookkeeping) and secret: the upload resumes, no
// part goes twice and the bucket ends empty. In the 3 s outage, the members keep moving parts
// with the URLs they hold, and their confirmations and new URLs wait for the server.
func TestS3RelayServerRestart(t *testing.T) {
	t.Parallel()
	relayServerRestart(t, 96<<20, 3*time.Second, withBucket)
}

// `ferry server --storage s3://…` refuses to start, saying why, when the bucket is missing or
// the credentials are refused; --storage-meta, gone, is refused saying where the bookkeeping is.
func TestS3ServerStorageRefusals(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	bin := e2eFerry(t)
	bucket := srv.NewBucket(t)
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"missing bucket", srv.Env(), []string{"--storage", srv.URL("ferry-no-such-bucket", "")}, "does not exist"},
		{"wrong key", []string{"AWS_ACCESS_KEY_ID=nobody", "AWS_SECRET_ACCESS_KEY=wrong-secret"}, []string{"--storage", srv.URL(bucket, "")}, "check the endpoint and the credentials"},
		{"bad URL", srv.Env(), []string{"--storage", "s3://" + bucket + "?endpoint=ftp://x"}, "want http(s)://HOST[:PORT]"},
		{"storage-meta", srv.Env(), []string{"--storage", srv.URL(bucket, ""), "--storage-meta", t.TempDir()}, "the bookkeeping of relayed parts in a bucket now lives in the server's state"},
	} {
		cmd := exec.Command(bin, append([]string{"server", "--listen", "127.0.0.1:0"}, tc.args...)...)
		cmd.Env = append(os.Environ(), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(t.TempDir(), "none"))
		cmd.Env = append(cmd.Env, tc.env...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: %v, output %q, want %q", tc.name, err, out, tc.want)
		}
	}
}
