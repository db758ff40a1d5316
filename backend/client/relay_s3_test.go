package client

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/cloud/relay"
	"github.com/ferrysync/ferry/backend/internal/s3test"
	"github.com/ferrysync/ferry/backend/protocol"
)

// bucketSpy sees the requests that go to the object store: how many by method, whether any
// carried an Authorization header, and it can spoil the signature of the next ones.
type bucketSpy struct {
	host    string
	mu      sync.Mutex
	methods map[string]int
	auth    int
	spoil   map[string]int // method → next requests whose signature is spoiled
}

func (s *bucketSpy) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == s.host {
		s.mu.Lock()
		s.methods[r.Method]++
		if r.Header.Get("Authorization") != "" {
			s.auth++
		}
		if s.spoil[r.Method] > 0 {
			s.spoil[r.Method]--
			q := r.URL.Query()
			q.Set("X-Amz-Signature", strings.Repeat("0", 64))
			r = r.Clone(r.Context())
			r.URL.RawQuery = q.Encode()
		}
		s.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (s *bucketSpy) count(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.methods[method]
}

// The relay calls against a server whose parts are in a bucket: the parts go to and from the
// bucket (another host than the server's), with no Authorization header; a refused signature
// is answered by a new URL; a part all recipients have is deleted from the bucket.
func TestS3RelayCalls(t *testing.T) {
	s3 := s3test.Start(t)
	name := s3.NewBucket(t)
	b, err := relay.OpenBucket(t.Context(), relay.BucketConfig{URL: s3.URL(name, "p"), Creds: s3.Creds()})
	if err != nil {
		t.Fatal(err)
	}
	srv, fault := relayServer(t, cloud.Config{StorageBucket: b})
	u, _ := url.Parse(s3.Endpoint)
	spy := &bucketSpy{host: u.Host, methods: map[string]int{}, spoil: map[string]int{}}
	ctx := t.Context()
	a, bob, session := relayPair(t, srv)
	for _, c := range []*Client{a, bob} {
		c.http = &http.Client{Transport: spy}
	}
	req := protocol.TransferRequest{ID: "BBBBBBBBBBBBBBBBBBBBBB", Kind: protocol.TransferContent, Recipients: []string{bob.InstanceID()}}
	if _, err := a.CreateTransfer(ctx, session, req); err != nil {
		t.Fatal(err)
	}
	one := bytes.Repeat([]byte("1"), 3<<20)
	spy.mu.Lock()
	spy.spoil[http.MethodPut] = 1
	spy.spoil[http.MethodGet] = 1
	spy.mu.Unlock()
	if err := a.UploadPart(ctx, session, req.ID, 1, one); err != nil {
		t.Fatal(err)
	}
	if err := a.UploadPart(ctx, session, req.ID, 2, []byte("two")); err != nil {
		t.Fatal(err)
	}
	if err := a.CompleteTransfer(ctx, session, req.ID, 2); err != nil {
		t.Fatal(err)
	}
	if got, err := bob.DownloadPart(ctx, session, req.ID, 1); err != nil || !bytes.Equal(got, one) {
		t.Fatalf("download part 1: %d bytes, %v", len(got), err)
	}
	if got, err := bob.DownloadPart(ctx, session, req.ID, 2); err != nil || string(got) != "two" {
		t.Fatalf("download part 2: %q %v", got, err)
	}
	if n := spy.count(http.MethodPut); n != 3 {
		t.Fatalf("%d uploads reached the bucket, want 3 (one refused, then two)", n)
	}
	if n := spy.count(http.MethodGet); n != 3 {
		t.Fatalf("%d downloads reached the bucket, want 3 (one refused, then two)", n)
	}
	if n := fault.count(http.MethodPut) + fault.count(http.MethodGet); n != 0 {
		t.Fatalf("%d requests went to the server's relay URLs", n)
	}
	if spy.auth != 0 {
		t.Fatalf("%d requests to the bucket carried an Authorization header", spy.auth)
	}
	for n := 1; n <= 2; n++ {
		if err := bob.PartReceived(ctx, session, req.ID, n); err != nil {
			t.Fatal(err)
		}
	}
	if objs := s3.Objects(t, name); len(objs) != 0 {
		t.Fatalf("the bucket still holds %d objects once every part was received", len(objs))
	}
	st, err := a.TransferState(ctx, session, req.ID)
	if err != nil || len(st.Parts) != 2 || !st.Parts[0].Deleted || !st.Parts[1].Deleted {
		t.Fatalf("state %+v %v", st, err)
	}
	// A download of a deleted part is refused by the server before any URL.
	if _, err := bob.DownloadPart(ctx, session, req.ID, 1); Code(err) != protocol.ErrCodeNotFound {
		t.Fatalf("download a deleted part: %v", err)
	}
}

// The object store's XML errors map to the codes the retries know.
func TestS3PartErrors(t *testing.T) {
	for _, tc := range []struct {
		status      int
		code, want  string
		unreachable bool
	}{
		{http.StatusForbidden, "AccessDenied", protocol.ErrCodeURLExpired, false},
		{http.StatusForbidden, "SignatureDoesNotMatch", protocol.ErrCodeURLExpired, false},
		{http.StatusNotFound, "NoSuchKey", protocol.ErrCodeNotFound, false},
		{http.StatusServiceUnavailable, "SlowDown", "", true},
		{http.StatusInternalServerError, "InternalError", "", true},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(tc.status)
			_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + tc.code + `</Code><Message>Request has expired</Message></Error>`))
		}))
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		err = partError(resp)
		resp.Body.Close()
		srv.Close()
		if tc.want != "" && Code(err) != tc.want {
			t.Errorf("%d %s: code %q, want %q (%v)", tc.status, tc.code, Code(err), tc.want, err)
		}
		if got := errors.Is(err, ErrUnreachable); got != tc.unreachable {
			t.Errorf("%d %s: unreachable %v, want %v", tc.status, tc.code, got, tc.unreachable)
		}
		if !strings.Contains(err.Error(), tc.code) {
			t.Errorf("%d %s: the message %q does not name the store's code", tc.status, tc.code, err)
		}
	}
}
