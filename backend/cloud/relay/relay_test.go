package relay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/protocol"
)

const (
	session = "123abc456"
	owner   = "owner-instance"
	bob     = "bob-instance"
	carol   = "carol-instance"
)

var members = []string{owner, bob, carol}

// fixture is a store on a temporary folder with one transfer from owner to bob and carol.
type fixture struct {
	t   *testing.T
	s   *Store
	dir string
	id  string
	ctx context.Context
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	dir := t.TempDir()
	s, err := New(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, s: s, dir: dir, id: transferID(t), ctx: context.Background()}
	st, created, err := s.Create(f.ctx, session, protocol.TransferRequest{ID: f.id, Kind: protocol.TransferInventory, Recipients: []string{bob, carol}}, owner)
	if err != nil || !created || st.ID != f.id || st.Owner != owner || len(st.Parts) != 0 || st.Complete {
		t.Fatalf("create: %+v %v %v", st, created, err)
	}
	return f
}

func (f *fixture) put(n int, data []byte) error {
	f.t.Helper()
	size := int64(len(data))
	if err := f.s.Reserve(f.ctx, session, f.id, n, owner, size, time.Now().Add(time.Minute)); err != nil {
		return err
	}
	_, err := f.s.Put(f.ctx, session, f.id, n, owner, size, bytes.NewReader(data), members)
	return err
}

func (f *fixture) mustPut(n int, data []byte) {
	f.t.Helper()
	if err := f.put(n, data); err != nil {
		f.t.Fatalf("put part %d: %v", n, err)
	}
}

func (f *fixture) read(n int, member string) ([]byte, error) {
	f.t.Helper()
	file, size, err := f.s.OpenPart(session, f.id, n, member)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	data, err := io.ReadAll(file)
	if err == nil && int64(len(data)) != size {
		f.t.Fatalf("part %d: read %d bytes, size %d", n, len(data), size)
	}
	return data, err
}

func (f *fixture) state(member string) *protocol.TransferState {
	f.t.Helper()
	st, err := f.s.State(f.ctx, session, f.id, member)
	if err != nil {
		f.t.Fatalf("state: %v", err)
	}
	return st
}

func (f *fixture) usage() int64 {
	f.t.Helper()
	stored, _, err := f.s.Usage(context.Background(), session)
	if err != nil {
		f.t.Fatal(err)
	}
	return stored
}

// files lists the files under the transfer's folder, temporary ones included.
func (f *fixture) files() []string {
	f.t.Helper()
	entries, err := os.ReadDir(filepath.Join(f.dir, session, f.id))
	if err != nil {
		f.t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func wantKind(t *testing.T, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error %v, want %v", err, kind)
	}
	var re *Error
	if !errors.As(err, &re) || re.Msg == "" {
		t.Fatalf("error %v is not a refusal with a message", err)
	}
}

func TestRoundTrip(t *testing.T) {
	f := newFixture(t, Options{})
	one, two := bytes.Repeat([]byte{1}, 1000), bytes.Repeat([]byte{2}, 500)
	f.mustPut(1, one)
	f.mustPut(2, two)
	if got := f.usage(); got != 1500 {
		t.Fatalf("stored %d, want 1500", got)
	}
	for _, who := range []string{bob, carol} {
		if data, err := f.read(1, who); err != nil || !bytes.Equal(data, one) {
			t.Fatalf("%s reads part 1: %v", who, err)
		}
	}
	// Received by bob only: kept; by carol too: deleted, its info stays.
	if err := f.s.Received(f.ctx, session, f.id, 1, bob, members); err != nil {
		t.Fatal(err)
	}
	if _, err := f.read(1, carol); err != nil {
		t.Fatalf("part 1 gone before carol had it: %v", err)
	}
	if err := f.s.Received(f.ctx, session, f.id, 1, carol, members); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Received(f.ctx, session, f.id, 1, carol, members); err != nil {
		t.Fatalf("second receipt: %v", err)
	}
	_, err := f.read(1, bob)
	wantKind(t, err, ErrNotFound)
	if _, err := os.Stat(filepath.Join(f.dir, session, f.id, "1.part")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("part 1's file: %v", err)
	}
	if got := f.usage(); got != 500 {
		t.Fatalf("stored %d after deletion, want 500", got)
	}
	st := f.state(carol)
	if len(st.Parts) != 2 || !st.Parts[0].Deleted || st.Parts[0].Size != 1000 || !slices.Equal(st.Parts[0].Received, []string{bob, carol}) ||
		st.Parts[1].Deleted || st.Parts[1].N != 2 || len(st.Parts[1].Received) != 0 {
		t.Fatalf("state: %+v", st)
	}
	if _, err := f.s.Complete(f.ctx, session, f.id, owner, 2); err != nil {
		t.Fatal(err)
	}
	if st := f.state(owner); !st.Complete || st.TotalParts != 2 {
		t.Fatalf("after complete: %+v", st)
	}
	if err := f.s.Delete(f.ctx, session, f.id, owner); err != nil {
		t.Fatal(err)
	}
	_, err = f.s.State(f.ctx, session, f.id, owner)
	wantKind(t, err, ErrNotFound)
	if got := f.usage(); got != 0 {
		t.Fatalf("stored %d after delete", got)
	}
}

func TestCreateResume(t *testing.T) {
	f := newFixture(t, Options{})
	f.mustPut(1, []byte("sealed"))
	// Same owner, kind and recipients (in another order): the state, with the stored part.
	st, created, err := f.s.Create(f.ctx, session, protocol.TransferRequest{ID: f.id, Kind: protocol.TransferInventory, Recipients: []string{carol, bob}}, owner)
	if err != nil || created || len(st.Parts) != 1 || st.Parts[0].Size != 6 {
		t.Fatalf("resume: %+v %v %v", st, created, err)
	}
	for _, c := range []struct {
		req   protocol.TransferRequest
		owner string
	}{
		{protocol.TransferRequest{ID: f.id, Kind: protocol.TransferPlan, Recipients: []string{bob, carol}}, owner},
		{protocol.TransferRequest{ID: f.id, Kind: protocol.TransferInventory, Recipients: []string{bob}}, owner},
		{protocol.TransferRequest{ID: f.id, Kind: protocol.TransferInventory, Recipients: []string{owner, carol}}, bob},
	} {
		_, _, err := f.s.Create(f.ctx, session, c.req, c.owner)
		wantKind(t, err, ErrConflict)
	}
	_, _, err = f.s.Create(f.ctx, session, protocol.TransferRequest{ID: "../../etc/passwd12345", Kind: protocol.TransferPlan}, owner)
	wantKind(t, err, ErrInvalid)
}

func TestRoles(t *testing.T) {
	f := newFixture(t, Options{})
	f.mustPut(1, []byte("x"))
	until := time.Now().Add(time.Minute)
	wantKind(t, f.s.Reserve(f.ctx, session, f.id, 2, bob, 1, until), ErrForbidden)
	_, err := f.s.Put(f.ctx, session, f.id, 2, bob, 1, strings.NewReader("y"), members)
	wantKind(t, err, ErrForbidden)
	_, _, err = f.s.OpenPart(session, f.id, 1, owner)
	wantKind(t, err, ErrForbidden)
	_, _, err = f.s.OpenPart(session, f.id, 1, "stranger")
	wantKind(t, err, ErrForbidden)
	_, err = f.s.State(f.ctx, session, f.id, "stranger")
	wantKind(t, err, ErrForbidden)
	wantKind(t, f.s.Received(f.ctx, session, f.id, 1, owner, members), ErrForbidden)
	_, err = f.s.Complete(f.ctx, session, f.id, bob, 1)
	wantKind(t, err, ErrForbidden)
	wantKind(t, f.s.Delete(f.ctx, session, f.id, bob), ErrForbidden)
	_, _, err = f.s.OpenPart(session, f.id, 2, bob)
	wantKind(t, err, ErrNotFound)
	wantKind(t, f.s.Received(f.ctx, session, f.id, 2, bob, members), ErrNotFound)
	wantKind(t, f.s.Reserve(f.ctx, session, f.id, 0, owner, 1, until), ErrInvalid)
	wantKind(t, f.s.Reserve(f.ctx, session, f.id, 1, owner, protocol.MaxPartSize+1, until), ErrInvalid)
	if st := f.state(bob); len(st.Parts) != 1 {
		t.Fatalf("refusals changed the state: %+v", st)
	}
}

func TestReplaceUntilReceived(t *testing.T) {
	f := newFixture(t, Options{})
	f.mustPut(1, []byte("first"))
	f.mustPut(1, []byte("second!"))
	if data, err := f.read(1, bob); err != nil || string(data) != "second!" {
		t.Fatalf("replaced part: %q %v", data, err)
	}
	if got := f.usage(); got != 7 {
		t.Fatalf("stored %d, want 7", got)
	}
	if err := f.s.Received(f.ctx, session, f.id, 1, bob, members); err != nil {
		t.Fatal(err)
	}
	wantKind(t, f.put(1, []byte("third")), ErrReceived)
	if data, _ := f.read(1, carol); string(data) != "second!" {
		t.Fatalf("part after a refused replacement: %q", data)
	}
}

func TestBadBodies(t *testing.T) {
	f := newFixture(t, Options{})
	before := f.files()
	cut := errors.New("connection reset")
	for name, body := range map[string]io.Reader{
		"short": strings.NewReader("12345"),
		"long":  strings.NewReader("1234567890+"),
		"cut":   io.MultiReader(strings.NewReader("12345"), errReader{cut}),
	} {
		_, err := f.s.Put(f.ctx, session, f.id, 1, owner, 10, body, members)
		wantKind(t, err, ErrInvalid)
		if name == "cut" && !errors.Is(err, cut) {
			t.Errorf("cut upload: %v does not carry the reader's error", err)
		}
		if got := f.files(); !slices.Equal(got, before) {
			t.Fatalf("%s upload left files: %v, before %v", name, got, before)
		}
	}
	if st := f.state(owner); len(st.Parts) != 0 || f.usage() != 0 {
		t.Fatalf("bad uploads stored something: %+v", st)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestQuota(t *testing.T) {
	f := newFixture(t, Options{Quota: 100})
	f.mustPut(1, make([]byte, 60))
	err := f.put(2, make([]byte, 41))
	var qe *QuotaError
	if !errors.As(err, &qe) || qe.Stored != 60 || qe.Need != 41 || qe.Quota != 100 || !strings.Contains(qe.Error(), "60 B stored") {
		t.Fatalf("over quota: %v", err)
	}
	if st := f.state(owner); len(st.Parts) != 1 || f.usage() != 60 {
		t.Fatalf("refused part stored: %+v", st)
	}
	// Replacing a part counts only the difference.
	f.mustPut(1, make([]byte, 100))
	// Reservations count: a URL issued for 30 bytes leaves 10 for another part.
	f.mustPut(1, make([]byte, 60))
	if err := f.s.Reserve(f.ctx, session, f.id, 2, owner, 30, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Reserve(f.ctx, session, f.id, 3, owner, 11, time.Now().Add(time.Minute)); !errors.As(err, &qe) || qe.Reserved != 30 {
		t.Fatalf("reservation ignored: %v", err)
	}
	// Asking again for part 2 replaces its reservation rather than adding to it.
	if err := f.s.Reserve(f.ctx, session, f.id, 2, owner, 40, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// An expired reservation frees its bytes.
	if err := f.s.Reserve(f.ctx, session, f.id, 2, owner, 40, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Reserve(f.ctx, session, f.id, 3, owner, 40, time.Now().Add(time.Minute)); err != nil {
		t.Fatalf("expired reservation still counted: %v", err)
	}
}

func TestComplete(t *testing.T) {
	f := newFixture(t, Options{})
	f.mustPut(1, []byte("a"))
	f.mustPut(3, []byte("c"))
	for _, n := range []int{2, 3} {
		_, err := f.s.Complete(f.ctx, session, f.id, owner, n)
		wantKind(t, err, ErrConflict)
	}
	_, err := f.s.Complete(f.ctx, session, f.id, owner, 0)
	wantKind(t, err, ErrInvalid)
	f.mustPut(2, []byte("b"))
	if _, err := f.s.Complete(f.ctx, session, f.id, owner, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Complete(f.ctx, session, f.id, owner, 3); err != nil {
		t.Fatalf("complete again: %v", err)
	}
	_, err = f.s.Complete(f.ctx, session, f.id, owner, 4)
	wantKind(t, err, ErrConflict)
	wantKind(t, f.put(4, []byte("d")), ErrConflict)
	f.mustPut(3, []byte("C")) // not received yet: may be replaced
}

func TestMemberLeft(t *testing.T) {
	f := newFixture(t, Options{})
	f.mustPut(1, []byte("one"))
	f.mustPut(2, []byte("two"))
	if err := f.s.Received(f.ctx, session, f.id, 1, bob, members); err != nil {
		t.Fatal(err)
	}
	// bob's own transfer to carol.
	bobs := transferID(t)
	if _, _, err := f.s.Create(f.ctx, session, protocol.TransferRequest{ID: bobs, Kind: protocol.TransferPlan, Recipients: []string{carol}}, bob); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Put(f.ctx, session, bobs, 1, bob, 4, strings.NewReader("plan"), members); err != nil {
		t.Fatal(err)
	}
	// carol quits: part 1 (bob has it) goes, part 2 waits for bob.
	left := []string{owner, bob}
	if err := f.s.MemberLeft(f.ctx, session, carol, left); err != nil {
		t.Fatal(err)
	}
	st := f.state(bob)
	if !st.Parts[0].Deleted || st.Parts[1].Deleted {
		t.Fatalf("after carol left: %+v", st.Parts)
	}
	// bob quits: his transfer goes, and part 2 has nobody left to wait for.
	if err := f.s.MemberLeft(f.ctx, session, bob, []string{owner}); err != nil {
		t.Fatal(err)
	}
	if st := f.state(owner); !st.Parts[1].Deleted {
		t.Fatalf("after bob left: %+v", st.Parts)
	}
	_, err := f.s.State(f.ctx, session, bobs, carol)
	wantKind(t, err, ErrNotFound)
	if got := f.usage(); got != 0 {
		t.Fatalf("stored %d", got)
	}
}

func TestDeleteSession(t *testing.T) {
	f := newFixture(t, Options{})
	f.mustPut(1, []byte("one"))
	if err := f.s.DeleteSession(f.ctx, session); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(f.dir); len(entries) != 0 {
		t.Fatalf("storage folder after deletion: %v", entries)
	}
	_, err := f.s.State(f.ctx, session, f.id, owner)
	wantKind(t, err, ErrNotFound)
	if err := f.s.DeleteSession(f.ctx, session); err != nil {
		t.Fatalf("delete again: %v", err)
	}
	// The transfer can be made afresh.
	if _, created, err := f.s.Create(f.ctx, session, protocol.TransferRequest{ID: f.id, Kind: protocol.TransferPlan, Recipients: []string{bob}}, owner); err != nil || !created {
		t.Fatalf("create after delete: %v %v", created, err)
	}
}

func TestSweep(t *testing.T) {
	f := newFixture(t, Options{})
	f.mustPut(1, []byte("one"))
	const live = "999zzz999"
	id := transferID(t)
	if _, _, err := f.s.Create(f.ctx, live, protocol.TransferRequest{ID: id, Kind: protocol.TransferPlan, Recipients: []string{bob}}, owner); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(f.dir, live, id, tmpPrefix+"1-old")
	fresh := filepath.Join(f.dir, live, id, tmpPrefix+"2-new")
	oldTrash := filepath.Join(f.dir, trashPrefix+"1-abc")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(oldTrash, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * StaleAge)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	failing := errors.New("store unreachable")
	// A failing lookup deletes nothing.
	if n, err := f.s.Sweep(f.ctx, func(context.Context, string) (bool, error) { return false, failing }); n != 0 || !errors.Is(err, failing) {
		t.Fatalf("sweep with a failing store: %d %v", n, err)
	}
	if _, err := f.s.State(f.ctx, session, f.id, owner); err != nil {
		t.Fatalf("state after a failed sweep: %v", err)
	}
	n, err := f.s.Sweep(f.ctx, func(_ context.Context, id string) (bool, error) { return id == live, nil })
	if n != 1 || err != nil {
		t.Fatalf("sweep: %d %v", n, err)
	}
	entries, _ := os.ReadDir(f.dir)
	if len(entries) != 1 || entries[0].Name() != live {
		t.Fatalf("storage folder after sweep: %v", entries)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale temporary file: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatalf("fresh temporary file: %v", err)
	}
}

// After a crash: a part file whose metadata is missing, metadata whose file is short, and
// counts that disagree. Repair settles them all.
func TestRepair(t *testing.T) {
	f := newFixture(t, Options{})
	f.mustPut(1, []byte("one"))
	f.mustPut(2, []byte("two"))
	f.mustPut(3, []byte("three"))
	dir := filepath.Join(f.dir, session, f.id)
	if err := os.Remove(filepath.Join(dir, "1.json")); err != nil { // file without metadata
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "2.part"), []byte("t"), 0o600); err != nil { // short file
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(f.dir, session, transferID(t)), 0o700); err != nil { // no description
		t.Fatal(err)
	}
	s2, err := New(f.dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Repair(f.ctx); err != nil {
		t.Fatal(err)
	}
	st, err := s2.State(f.ctx, session, f.id, owner)
	if err != nil || len(st.Parts) != 1 || st.Parts[0].N != 3 {
		t.Fatalf("state after repair: %+v %v", st, err)
	}
	if got := f.files(); !slices.Equal(got, []string{"3.json", "3.part", transferFile}) {
		t.Fatalf("files after repair: %v", got)
	}
	if stored, _, _ := s2.Usage(context.Background(), session); stored != 5 {
		t.Fatalf("stored %d after repair, want 5", stored)
	}
	if ids, _ := s2.transferIDs(session); len(ids) != 1 {
		t.Fatalf("transfers after repair: %v", ids)
	}
}

// Two stores on one folder stand for two server processes: concurrent uploads through both
// never take the session over its quota, and the counts stay exact.
func TestTwoProcessesShareQuota(t *testing.T) {
	f := newFixture(t, Options{Quota: 10 * 100})
	other, err := New(f.dir, Options{Quota: 10 * 100})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored, refused := 0, 0
	for i := range 30 {
		s := []*Store{f.s, other}[i%2]
		wg.Go(func() {
			_, err := s.Put(f.ctx, session, f.id, i+1, owner, 100, bytes.NewReader(make([]byte, 100)), members)
			var qe *QuotaError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				stored++
			case errors.As(err, &qe):
				refused++
			default:
				t.Errorf("put %d: %v", i+1, err)
			}
		})
	}
	wg.Wait()
	if stored != 10 || refused != 20 {
		t.Fatalf("%d stored, %d refused; want 10 and 20", stored, refused)
	}
	st := f.state(owner)
	if len(st.Parts) != 10 || f.usage() != 1000 {
		t.Fatalf("%d parts, %d bytes", len(st.Parts), f.usage())
	}
	// Deleting the session while the other store waits for its lock.
	wg.Go(func() {
		if err := other.Received(f.ctx, session, f.id, st.Parts[0].N, bob, members); err != nil && !errors.Is(err, ErrNotFound) {
			t.Errorf("received during deletion: %v", err)
		}
	})
	if err := f.s.DeleteSession(f.ctx, session); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if _, err := f.s.State(f.ctx, session, f.id, owner); !errors.Is(err, ErrNotFound) {
		t.Fatalf("state after deletion: %v", err)
	}
}

func TestLockHonoursContext(t *testing.T) {
	f := newFixture(t, Options{})
	unlock, err := f.s.lock(f.ctx, session, false)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithCancel(f.ctx)
	cancel()
	if err := f.s.Received(ctx, session, f.id, 1, bob, members); !errors.Is(err, context.Canceled) {
		t.Fatalf("received while locked, with a cancelled context: %v", err)
	}
}
