package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/internal/redistest"
	"github.com/ferrysync/ferry/backend/internal/s3test"
	"github.com/ferrysync/ferry/backend/protocol"
)

func TestMain(m *testing.M) { s3test.Main(m) }

// A relay backend as its members see it: parts go up and down through the server (folder) or
// directly with presigned URLs (bucket). The conformance cases run on both.
type backend struct {
	// open makes a store with opts on a fresh folder (and bucket).
	open func(t *testing.T, opts Options) *Store
	// stored counts the parts' bytes kept (files or objects) for the session.
	stored func(t *testing.T, s *Store) int
}

// share opens a second store on s's state, as another server process does: the same folder, or
// the same bucket and book.
func share(t *testing.T, s *Store) *Store {
	var (
		other *Store
		err   error
	)
	if s.book != nil {
		other, err = NewBucket(s.bucket, s.book, Options{Quota: s.quota, Now: s.now})
	} else {
		other, err = New(s.dir, Options{Quota: s.quota, Now: s.now})
	}
	if err != nil {
		t.Fatal(err)
	}
	return other
}

func folderBackend() backend {
	return backend{
		open: func(t *testing.T, opts Options) *Store {
			s, err := New(t.TempDir(), opts)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		stored: func(t *testing.T, s *Store) int {
			n := 0
			_ = filepath.WalkDir(s.sessionDir(session), func(path string, d os.DirEntry, err error) error {
				if err == nil && strings.HasSuffix(path, partSuffix) {
					n++
				}
				return nil
			})
			return n
		},
	}
}

// bucketBackend keeps the parts in a bucket of a real SeaweedFS and the bookkeeping in the book
// newBook makes.
func bucketBackend(t *testing.T, newBook func(t *testing.T) Book) backend {
	srv := s3test.Start(t)
	return backend{
		open: func(t *testing.T, opts Options) *Store {
			b, err := OpenBucket(context.Background(), BucketConfig{URL: srv.URL(srv.NewBucket(t), "relay"), Creds: srv.Creds()})
			if err != nil {
				t.Fatal(err)
			}
			s, err := NewBucket(b, newBook(t), opts)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		stored: func(t *testing.T, s *Store) int {
			return len(srv.Objects(t, s.bucket.name))
		},
	}
}

func memoryBook(*testing.T) Book { return store.NewMemory() }

// redisBook is a Redis store on a real redis-server, under a key prefix of its own.
func redisBook(t *testing.T) Book {
	r, err := store.NewRedis(context.Background(), redistest.URL(t), store.RedisOptions{Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// member moves parts as a member does.
type member struct {
	t   *testing.T
	s   *Store
	id  string
	ctx context.Context
}

// put uploads part n of data: Reserve and Put, or UploadURL, PUT and Commit.
func (m member) put(n int, data []byte) error {
	m.t.Helper()
	size := int64(len(data))
	until := time.Now().Add(time.Minute)
	if !m.s.Direct() {
		if err := m.s.Reserve(m.ctx, session, m.id, n, owner, size, until); err != nil {
			return err
		}
		_, err := m.s.Put(m.ctx, session, m.id, n, owner, size, bytes.NewReader(data), members)
		return err
	}
	u, err := m.s.UploadURL(m.ctx, session, m.id, n, owner, size, until)
	if err != nil {
		return err
	}
	if err := httpPut(m.ctx, u, data, size); err != nil {
		return err
	}
	_, _, err = m.s.Commit(m.ctx, session, m.id, n, owner, members)
	return err
}

func (m member) mustPut(n int, data []byte) {
	m.t.Helper()
	if err := m.put(n, data); err != nil {
		m.t.Fatalf("put part %d: %v", n, err)
	}
}

// read downloads part n for who.
func (m member) read(n int, who string) ([]byte, error) {
	m.t.Helper()
	if !m.s.Direct() {
		f, _, err := m.s.OpenPart(session, m.id, n, who)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return io.ReadAll(f)
	}
	u, err := m.s.DownloadURL(m.ctx, session, m.id, n, who, time.Now().Add(time.Minute))
	if err != nil {
		return nil, err
	}
	return httpGet(m.ctx, u)
}

func httpPut(ctx context.Context, u string, data []byte, length int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.ContentLength = length
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("PUT: %d %s", resp.StatusCode, body)
	}
	return nil
}

func httpGet(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("GET: %d %s", resp.StatusCode, body)
	}
	return body, err
}

func TestConformanceFolder(t *testing.T) { runConformance(t, folderBackend()) }

func TestConformanceS3(t *testing.T) { runConformance(t, bucketBackend(t, memoryBook)) }

func TestConformanceS3Redis(t *testing.T) { runConformance(t, bucketBackend(t, redisBook)) }

func runConformance(t *testing.T, b backend) {
	// setup opens a store with one transfer from owner to bob and carol.
	setup := func(t *testing.T, opts Options) member {
		s := b.open(t, opts)
		m := member{t: t, s: s, id: transferID(t), ctx: context.Background()}
		if _, _, err := s.Create(m.ctx, session, protocol.TransferRequest{ID: m.id, Kind: protocol.TransferContent, Recipients: []string{bob, carol}}, owner); err != nil {
			t.Fatal(err)
		}
		return m
	}
	usage := func(t *testing.T, s *Store) (stored, reserved int64) {
		stored, reserved, err := s.Usage(context.Background(), session)
		if err != nil {
			t.Fatal(err)
		}
		return stored, reserved
	}

	t.Run("RoundTripDeletesReceived", func(t *testing.T) {
		m := setup(t, Options{})
		one, two := bytes.Repeat([]byte{1}, 1000), bytes.Repeat([]byte{2}, 500)
		m.mustPut(1, one)
		m.mustPut(2, two)
		if got, _ := usage(t, m.s); got != 1500 {
			t.Fatalf("stored %d bytes, want 1500", got)
		}
		for _, who := range []string{bob, carol} {
			for n, want := range map[int][]byte{1: one, 2: two} {
				got, err := m.read(n, who)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("%s reads part %d: %d bytes, %v", who, n, len(got), err)
				}
			}
		}
		for _, who := range []string{bob, carol} {
			if err := m.s.Received(m.ctx, session, m.id, 1, who, members); err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := usage(t, m.s); got != 500 {
			t.Fatalf("stored %d bytes after part 1 was received, want 500", got)
		}
		if n := b.stored(t, m.s); n != 1 {
			t.Fatalf("%d parts kept after part 1 was received by all, want 1", n)
		}
		_, err := m.read(1, bob)
		wantKind(t, err, ErrNotFound)
		st, err := m.s.State(m.ctx, session, m.id, owner)
		if err != nil || len(st.Parts) != 2 || !st.Parts[0].Deleted || st.Parts[1].Deleted {
			t.Fatalf("state %+v %v", st, err)
		}
	})

	t.Run("Roles", func(t *testing.T) {
		m := setup(t, Options{})
		_, err := m.read(1, bob)
		wantKind(t, err, ErrNotFound)
		m.mustPut(1, []byte("sealed"))
		_, err = m.read(1, owner)
		wantKind(t, err, ErrForbidden)
		err = m.s.Reserve(m.ctx, session, m.id, 2, carol, 10, time.Now().Add(time.Minute))
		wantKind(t, err, ErrForbidden)
		err = m.s.Received(m.ctx, session, m.id, 1, owner, members)
		wantKind(t, err, ErrForbidden)
	})

	t.Run("ReplaceUntilReceived", func(t *testing.T) {
		m := setup(t, Options{})
		m.mustPut(1, []byte("first"))
		m.mustPut(1, []byte("second!"))
		got, err := m.read(1, bob)
		if err != nil || string(got) != "second!" {
			t.Fatalf("read %q %v", got, err)
		}
		if stored, _ := usage(t, m.s); stored != 7 {
			t.Fatalf("stored %d, want 7", stored)
		}
		if err := m.s.Received(m.ctx, session, m.id, 1, bob, members); err != nil {
			t.Fatal(err)
		}
		wantKind(t, m.put(1, []byte("third")), ErrReceived)
	})

	t.Run("Quota", func(t *testing.T) {
		m := setup(t, Options{Quota: 100})
		m.mustPut(1, make([]byte, 60))
		var qe *QuotaError
		if err := m.put(2, make([]byte, 50)); !errors.As(err, &qe) || qe.Stored != 60 || qe.Need != 50 {
			t.Fatalf("over quota: %v", err)
		}
		m.mustPut(2, make([]byte, 40))
		if stored, reserved := usage(t, m.s); stored != 100 || reserved != 0 {
			t.Fatalf("usage %d stored %d reserved, want 100 and 0", stored, reserved)
		}
	})

	t.Run("Complete", func(t *testing.T) {
		m := setup(t, Options{})
		m.mustPut(1, []byte("a"))
		_, err := m.s.Complete(m.ctx, session, m.id, owner, 2)
		wantKind(t, err, ErrConflict)
		m.mustPut(2, []byte("b"))
		if tr, err := m.s.Complete(m.ctx, session, m.id, owner, 2); err != nil || tr.TotalParts != 2 {
			t.Fatalf("complete: %+v %v", tr, err)
		}
		wantKind(t, m.put(3, []byte("c")), ErrConflict)
	})

	t.Run("MemberLeft", func(t *testing.T) {
		m := setup(t, Options{})
		m.mustPut(1, []byte("part"))
		if err := m.s.Received(m.ctx, session, m.id, 1, bob, members); err != nil {
			t.Fatal(err)
		}
		if err := m.s.MemberLeft(m.ctx, session, carol, []string{owner, bob}); err != nil {
			t.Fatal(err)
		}
		if n := b.stored(t, m.s); n != 0 {
			t.Fatalf("%d parts kept after the last recipient waited for left", n)
		}
		if err := m.s.MemberLeft(m.ctx, session, owner, []string{bob}); err != nil {
			t.Fatal(err)
		}
		_, err := m.s.State(m.ctx, session, m.id, bob)
		wantKind(t, err, ErrNotFound)
	})

	t.Run("DeleteTransferAndSession", func(t *testing.T) {
		m := setup(t, Options{})
		m.mustPut(1, []byte("one"))
		if err := m.s.Delete(m.ctx, session, m.id, owner); err != nil {
			t.Fatal(err)
		}
		if n := b.stored(t, m.s); n != 0 {
			t.Fatalf("%d parts kept after the transfer was deleted", n)
		}
		other := transferID(t)
		if _, _, err := m.s.Create(m.ctx, session, protocol.TransferRequest{ID: other, Kind: protocol.TransferContent, Recipients: []string{bob}}, owner); err != nil {
			t.Fatal(err)
		}
		m.id = other
		m.mustPut(1, []byte("two"))
		if err := m.s.DeleteSession(m.ctx, session); err != nil {
			t.Fatal(err)
		}
		if n := b.stored(t, m.s); n != 0 {
			t.Fatalf("%d parts kept after the session was deleted", n)
		}
	})

	// Two processes reserving at once cannot both take the last room of the quota, and each
	// sees the parts the other stored.
	t.Run("TwoProcesses", func(t *testing.T) {
		m := setup(t, Options{Quota: 100})
		other := share(t, m.s)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, s := range []*Store{m.s, other} {
			wg.Go(func() {
				errs[i] = s.Reserve(m.ctx, session, m.id, i+1, owner, 60, time.Now().Add(time.Minute))
			})
		}
		wg.Wait()
		var qe *QuotaError
		if (errs[0] == nil) == (errs[1] == nil) || !errors.As(errors.Join(errs...), &qe) {
			t.Fatalf("two reservations of 60 bytes of 100: %v", errs)
		}
		m.s = other
		n := 1
		if errs[0] != nil {
			n = 2
		}
		m.mustPut(n, make([]byte, 60))
		if st, err := m.s.State(m.ctx, session, m.id, bob); err != nil || len(st.Parts) != 1 || st.Parts[0].N != n {
			t.Fatalf("the other process sees %+v %v", st, err)
		}
	})

	// Two processes sweeping the same ended session at once both succeed, and nothing stays.
	t.Run("SweepTwoProcesses", func(t *testing.T) {
		m := setup(t, Options{})
		m.mustPut(1, []byte("left behind"))
		m.mustPut(2, []byte("and this"))
		other := share(t, m.s)
		gone := func(context.Context, string) (bool, error) { return false, nil }
		var wg sync.WaitGroup
		counts, errs := make([]int, 2), make([]error, 2)
		for i, s := range []*Store{m.s, other} {
			wg.Go(func() { counts[i], errs[i] = s.Sweep(m.ctx, gone) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil || counts[0]+counts[1] < 1 {
			t.Fatalf("sweeps: %v deleted, %v", counts, err)
		}
		if n := b.stored(t, m.s); n != 0 {
			t.Fatalf("%d parts kept after two sweeps of an ended session", n)
		}
		if stored, _, err := m.s.Usage(m.ctx, session); err != nil || stored != 0 {
			t.Fatalf("usage after the sweeps: %d %v", stored, err)
		}
	})

	t.Run("SweepEndedSession", func(t *testing.T) {
		m := setup(t, Options{})
		m.mustPut(1, []byte("left behind"))
		n, err := m.s.Sweep(m.ctx, func(context.Context, string) (bool, error) { return false, nil })
		if err != nil || n != 1 {
			t.Fatalf("sweep: %d %v", n, err)
		}
		if n := b.stored(t, m.s); n != 0 {
			t.Fatalf("%d parts kept after the sweep of an ended session", n)
		}
	})
}

// A presigned upload URL takes exactly the bytes reserved: a longer body is refused by the
// bucket (the Content-Length is signed) or, were it stored, by Commit, which deletes it; a part
// not uploaded cannot be committed, nor one whose URL expired before the commit.
func TestS3UploadChecks(t *testing.T) {
	b := bucketBackend(t, memoryBook)
	now := time.Now()
	clock := func() time.Time { return now }
	s := b.open(t, Options{Quota: 1000, Now: clock})
	ctx := context.Background()
	id := transferID(t)
	if _, _, err := s.Create(ctx, session, protocol.TransferRequest{ID: id, Kind: protocol.TransferContent, Recipients: []string{bob}}, owner); err != nil {
		t.Fatal(err)
	}
	u, err := s.UploadURL(ctx, session, id, 1, owner, 10, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if err := httpPut(ctx, u, make([]byte, 900), 900); err == nil {
		_, _, err := s.Commit(ctx, session, id, 1, owner, members)
		wantKind(t, err, ErrInvalid)
		t.Log("the bucket took a longer body than signed; the commit refused it")
	} else {
		t.Logf("the bucket refused a longer body than signed: %v", err)
	}
	if n := b.stored(t, s); n != 0 {
		t.Fatalf("%d objects kept after an oversized upload", n)
	}
	if stored, _, _ := s.Usage(context.Background(), session); stored != 0 {
		t.Fatalf("%d bytes counted after an oversized upload", stored)
	}

	_, _, err = s.Commit(ctx, session, id, 2, owner, members)
	wantKind(t, err, ErrExpired) // no reservation: no URL was asked
	if _, err := s.UploadURL(ctx, session, id, 2, owner, 5, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Commit(ctx, session, id, 2, owner, members)
	wantKind(t, err, ErrNotFound)

	u, err = s.UploadURL(ctx, session, id, 3, owner, 5, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if err := httpPut(ctx, u, []byte("sealed"[:5]), 5); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute) // the reservation lapses before the commit
	_, _, err = s.Commit(ctx, session, id, 3, owner, members)
	wantKind(t, err, ErrExpired)
	if _, err := s.UploadURL(ctx, session, id, 3, owner, 5, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, size, err := s.Commit(ctx, session, id, 3, owner, members); err != nil || size != 5 {
		t.Fatalf("commit again with a new URL: %d %v", size, err)
	}
	if _, size, err := s.Commit(ctx, session, id, 3, owner, members); err != nil || size != 5 {
		t.Fatalf("commit a stored part again: %d %v", size, err)
	}
}
