// Package s3test gives tests a real S3-compatible server: a private SeaweedFS (weed, installed by
// `make deps-test`) on loopback ports with its data in a temporary folder, started once per test
// binary and stopped by Main. Tests that use it have S3 in their names, so `go test -run S3`
// selects them.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"go/build"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// The test key of the private server.
const (
	AccessKey = "ferrytestkey"
	SecretKey = "ferrytestsecret0123456789"
)

const (
	startAttempts = 3
	readyTimeout  = 90 * time.Second // weed starts master, volume, filer and S3 in turn
	pollInterval  = 100 * time.Millisecond
)

// Server is the private S3 server.
type Server struct {
	// Endpoint is its URL, http://127.0.0.1:PORT.
	Endpoint string
	client   *minio.Client
	stop     func()
}

var (
	once     sync.Once
	shared   *Server
	startErr error
	skipMsg  string
)

// Start returns the test binary's S3 server, starting it on first use. It skips t, naming
// `make deps-test`, when weed is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	once.Do(func() {
		bin := weedPath()
		if bin == "" {
			skipMsg = "weed (SeaweedFS) is not installed: run make deps-test, which builds it into $(go env GOPATH)/bin"
			return
		}
		var errs []error
		for range startAttempts {
			s, err := start(bin)
			if err == nil {
				shared = s
				return
			}
			errs = append(errs, err)
		}
		startErr = errors.Join(errs...)
	})
	if skipMsg != "" {
		t.Skip(skipMsg)
	}
	if startErr != nil {
		t.Fatalf("s3test: %v", startErr)
	}
	return shared
}

// Main runs the tests and stops the server, when one was started.
func Main(m *testing.M) { os.Exit(Wrap(m).Run()) }

// Runner runs tests, as *testing.M does.
type Runner interface{ Run() int }

// Wrap makes m stop the server, when one was started, after its tests, for a TestMain that
// hands m to another runner (testscript.Main).
func Wrap(m Runner) Runner { return stopAfter{m} }

type stopAfter struct{ m Runner }

func (s stopAfter) Run() int {
	code := s.m.Run()
	if shared != nil {
		shared.stop()
	}
	return code
}

// weedPath finds weed in PATH or in GOPATH/bin, where make deps-test puts it.
func weedPath() string {
	if p, err := exec.LookPath("weed"); err == nil {
		return p
	}
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		if p := filepath.Join(gobin, "weed"); isFile(p) {
			return p
		}
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		gopath = build.Default.GOPATH
	}
	for _, dir := range filepath.SplitList(gopath) {
		if p := filepath.Join(dir, "bin", "weed"); isFile(p) {
			return p
		}
	}
	return ""
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

func start(bin string) (*Server, error) {
	dir, err := os.MkdirTemp("", "ferry-s3test-")
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`{"identities":[{"name":"ferrytest","credentials":[{"accessKey":%q,"secretKey":%q}],"actions":["Admin","Read","Write","List","Tagging"]}]}`, AccessKey, SecretKey)
	cfgPath := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return nil, err
	}
	ports, err := freePorts(8)
	if err != nil {
		return nil, err
	}
	p := func(i int) string { return strconv.Itoa(ports[i]) }
	// -volume.max=0 would size the volume count from the free disk divided by the volume size,
	// and every bucket is a collection that claims volumes of its own: on a machine with 19 GB
	// free only two buckets could store anything. Volumes are not preallocated, so a fixed count
	// of small ones costs no disk.
	cmd := exec.Command(bin, "server", "-dir="+data, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port="+p(0), "-master.port.grpc="+p(1), "-volume.port="+p(2), "-volume.port.grpc="+p(3),
		"-filer", "-filer.port="+p(4), "-filer.port.grpc="+p(5),
		"-s3", "-s3.port="+p(6), "-s3.port.grpc="+p(7), "-s3.port.iceberg=0", "-s3.port.lance=0",
		"-s3.config="+cfgPath, "-master.volumeSizeLimitMB=256", "-volume.max=400")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Dir = dir
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start weed: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := sync.OnceFunc(func() {
		_ = cmd.Process.Kill()
		<-exited
		_ = os.RemoveAll(dir)
	})
	endpoint := "127.0.0.1:" + p(6)
	client, err := minio.New(endpoint, &minio.Options{
		Creds: credentials.NewStaticV4(AccessKey, SecretKey, ""), Region: "us-east-1", BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		stop()
		return nil, err
	}
	s := &Server{Endpoint: "http://" + endpoint, client: client, stop: stop}
	if err := s.waitReady(exited); err != nil {
		stop()
		return nil, fmt.Errorf("weed S3 on %s: %w; its output:\n%s", endpoint, err, out.tail(4000))
	}
	return s, nil
}

// waitReady polls until an object can be stored and deleted, the process exits or the deadline
// passes.
func (s *Server) waitReady(exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	const probe = "ferry-probe"
	var err error
	for {
		err = s.client.MakeBucket(ctx, probe, minio.MakeBucketOptions{})
		if err == nil || minio.ToErrorResponse(err).Code == "BucketAlreadyOwnedByYou" || minio.ToErrorResponse(err).Code == "BucketAlreadyExists" {
			_, err = s.client.PutObject(ctx, probe, "probe", bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{})
			if err == nil {
				return s.client.RemoveObject(ctx, probe, "probe", minio.RemoveObjectOptions{})
			}
		}
		select {
		case <-exited:
			return errors.New("weed exited before it stored an object")
		case <-ctx.Done():
			return fmt.Errorf("no object stored within %v: %w", readyTimeout, err)
		case <-tick.C:
		}
	}
}

// Creds are the credentials of the test key.
func (s *Server) Creds() *credentials.Credentials {
	return credentials.NewStaticV4(AccessKey, SecretKey, "")
}

// Env is the environment that gives the test key to a ferry server process.
func (s *Server) Env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + AccessKey, "AWS_SECRET_ACCESS_KEY=" + SecretKey}
}

// NewBucket creates a bucket no other test uses and returns its name; its objects and itself
// are deleted when t ends.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	var b [5]byte
	_, _ = rand.Read(b[:])
	name := "ferry-" + hex.EncodeToString(b[:])
	ctx := context.Background()
	if err := s.client.MakeBucket(ctx, name, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("s3test: create bucket %s: %v", name, err)
	}
	t.Cleanup(func() {
		for o := range s.client.ListObjects(ctx, name, minio.ListObjectsOptions{Recursive: true}) {
			if o.Err == nil {
				_ = s.client.RemoveObject(ctx, name, o.Key, minio.RemoveObjectOptions{})
			}
		}
		_ = s.client.RemoveBucket(ctx, name)
	})
	return name
}

// URL is the --storage value of bucket under prefix.
func (s *Server) URL(bucket, prefix string) string {
	return "s3://" + bucket + "/" + prefix + "?endpoint=" + s.Endpoint + "&region=us-east-1"
}

// Objects reads every object of bucket: key → bytes. An object deleted between the listing and
// its reading is left out.
func (s *Server) Objects(t testing.TB, bucket string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	objs := map[string][]byte{}
	for o := range s.client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Errorf("s3test: list bucket %s: %v", bucket, o.Err)
			return objs
		}
		r, err := s.client.GetObject(ctx, bucket, o.Key, minio.GetObjectOptions{})
		var data []byte
		if err == nil {
			data, err = io.ReadAll(r)
			r.Close()
		}
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			continue // deleted since it was listed
		}
		if err != nil {
			t.Errorf("s3test: read %s: %v", o.Key, err)
			continue
		}
		objs[o.Key] = data
	}
	return objs
}

// Put stores data as key, as a client with the test key would (not through ferry).
func (s *Server) Put(t testing.TB, bucket, key string, data []byte) {
	t.Helper()
	if _, err := s.client.PutObject(context.Background(), bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("s3test: put %s: %v", key, err)
	}
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return strings.TrimSpace(s)
}
