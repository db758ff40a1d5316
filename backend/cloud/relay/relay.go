// Package relay is the session server's relay storage: transfers of sealed parts (opaque bytes,
// encrypted by the members) waiting on disk for their recipients, with the state of each
// transfer beside them, so that a server restarted on the same folder resumes where it was.
//
// Layout of the storage folder:
//
//	{session}/.lock                       file lock: one change of the session at a time
//	{session}/session.json                bytes stored and reserved by upload URLs
//	{session}/{transfer}/transfer.json    kind, owner, recipients, total parts
//	{session}/{transfer}/{n}.json         part n: size, receipts, deleted
//	{session}/{transfer}/{n}.part         part n's sealed bytes
//	{session}/{transfer}/.tmp-*           uploads and metadata being written
//	.trash-{unix nanoseconds}-*           sessions and transfers being deleted
//
// A storage made by NewBucket has no folder: the parts are objects of a bucket (bucket.go) and
// the rest is kept in the session store (direct.go).
//
// Every file is written to a temporary name and renamed into place, under the session's locks,
// so readers and other server processes sharing the folder see each file whole. The store knows
// nothing of members: its callers check that the owner and recipients they name belong to the
// session, and pass the session's members where receipts decide deletions.
package relay

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferrysync/ferry/backend/atomicfile"
	"github.com/ferrysync/ferry/backend/bytesize"
	"github.com/ferrysync/ferry/backend/protocol"
)

// DefaultQuota is the bytes one session may keep when Options.Quota is zero.
const DefaultQuota = 8 << 30

const (
	dirMode      = 0o700
	fileMode     = 0o600
	sessionFile  = "session.json"
	transferFile = "transfer.json"
	tmpPrefix    = ".tmp-"
	trashPrefix  = ".trash-"
	partSuffix   = ".part"
	metaSuffix   = ".json"
	// MaxTransfers bounds the transfers one session holds at a time.
	MaxTransfers = 1 << 20
)

// Options tune a Store.
type Options struct {
	// Quota bounds the bytes one session keeps: parts stored plus sizes reserved by upload URLs
	// not used yet. DefaultQuota when zero.
	Quota int64
	// Sync makes every part and metadata file durable (fsync) before it is renamed into place.
	// Off by default: see the note on Store.Put.
	Sync bool
	// Now reads the clock of reservations; time.Now when nil.
	Now func() time.Time
	// BookTTL is how long the bookkeeping of a session kept by a Book outlives its last
	// change (NewBucket); DefaultBookTTL when zero.
	BookTTL time.Duration
}

// Store is a relay storage: a folder (New), or a bucket whose bookkeeping a Book keeps
// (NewBucket). It is safe for concurrent use, and for use by several server processes sharing
// the folder (on systems with flock) or the bucket and the Book.
type Store struct {
	dir    string
	quota  int64
	sync   bool
	now    func() time.Time
	locks  sessionLocks
	bytes  partBytes
	bucket *Bucket // nil: the parts are files of the folder
	// book keeps the bookkeeping of a bucket's parts (NewBucket); nil with a folder.
	book    Book
	bookTTL time.Duration
}

// New opens the storage folder dir, creating it when missing.
func New(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("relay: no storage folder")
	}
	if opts.Quota < 0 {
		return nil, fmt.Errorf("relay: negative quota %d", opts.Quota)
	}
	if opts.Quota == 0 {
		opts.Quota = DefaultQuota
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("relay: storage folder %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, dirMode); err != nil {
		return nil, fmt.Errorf("relay: create the storage folder: %w", err)
	}
	return &Store{dir: abs, quota: opts.Quota, sync: opts.Sync, now: opts.Now, bytes: folderBytes{}}, nil
}

// Quota is the bytes one session may keep.
func (s *Store) Quota() int64 { return s.quota }

// Errors. Each refusal is an *Error whose Kind is one of these, with a message for people.
var (
	ErrNotFound  = errors.New("not found")
	ErrForbidden = errors.New("forbidden")
	ErrConflict  = errors.New("conflict")
	ErrReceived  = errors.New("part already received") // a stored part cannot be replaced
	ErrInvalid   = errors.New("invalid")
	ErrLimit     = errors.New("limit")
)

// Error is a refusal: nothing changed.
type Error struct {
	Kind  error
	Msg   string
	Cause error // what the body reader said, for an upload cut short
}

func (e *Error) Error() string { return e.Msg }

func (e *Error) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Kind, e.Cause}
	}
	return []error{e.Kind}
}

func refuse(kind error, format string, a ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, a...)}
}

// QuotaError refuses a part that would take the session over its quota.
type QuotaError struct {
	Session  string
	Stored   int64 // bytes of the parts stored
	Reserved int64 // bytes reserved by other upload URLs
	Need     int64 // bytes the part adds
	Quota    int64
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("the relay storage of session %s is full: %s stored and %s reserved by uploads in progress, of a quota of %s; this part needs %s more",
		e.Session, bytesize.Size(e.Stored), bytesize.Size(e.Reserved), bytesize.Size(e.Quota), bytesize.Size(e.Need))
}

// Transfer is what a transfer is: who sends what to whom.
type Transfer struct {
	ID         string                `json:"id"`
	Kind       protocol.TransferKind `json:"kind"`
	Owner      string                `json:"owner"`
	Recipients []string              `json:"recipients"`
	TotalParts int                   `json:"total_parts,omitempty"` // set by Complete
	Created    time.Time             `json:"created"`
}

func (t *Transfer) isRecipient(member string) bool { return slices.Contains(t.Recipients, member) }

// partMeta is one uploaded part.
type partMeta struct {
	N        int      `json:"n"`
	Size     int64    `json:"size"`
	Received []string `json:"received"`
	Deleted  bool     `json:"deleted,omitempty"`
}

// sessionMeta is what the quota needs, kept per session so that no check lists transfers.
type sessionMeta struct {
	Stored    int64                  `json:"stored"`
	Transfers int                    `json:"transfers"`
	Reserved  map[string]reservation `json:"reserved,omitempty"` // by reservationKey
}

type reservation struct {
	Size  int64     `json:"size"`
	Until time.Time `json:"until"`
}

func reservationKey(transfer string, part int) string { return transfer + "/" + strconv.Itoa(part) }

// prune drops expired reservations.
func (m *sessionMeta) prune(now time.Time) {
	for k, r := range m.Reserved {
		if !now.Before(r.Until) {
			delete(m.Reserved, k)
		}
	}
}

// reservedBut sums the reservations other than key.
func (m *sessionMeta) reservedBut(key string) int64 {
	var n int64
	for k, r := range m.Reserved {
		if k != key {
			n += r.Size
		}
	}
	return n
}

// checkQuota refuses a part of size bytes replacing one of replaced bytes (0 for none) when the
// session would go over its quota.
func (s *Store) checkQuota(session string, m *sessionMeta, key string, size, replaced int64) error {
	reserved := m.reservedBut(key)
	if m.Stored-replaced+size+reserved > s.quota {
		return &QuotaError{Session: session, Stored: m.Stored, Reserved: reserved, Need: size - replaced, Quota: s.quota}
	}
	return nil
}

// --- paths ---

func (s *Store) sessionDir(session string) string { return filepath.Join(s.dir, session) }

func (s *Store) transferDir(session, transfer string) string {
	return filepath.Join(s.dir, session, transfer)
}

func partPath(dir string, n int) string { return filepath.Join(dir, strconv.Itoa(n)+partSuffix) }
func metaPath(dir string, n int) string { return filepath.Join(dir, strconv.Itoa(n)+metaSuffix) }

// checkIDs refuses ids that could name anything but a session's or a transfer's folder; the
// server checks the same patterns on input, this guards the paths.
func checkIDs(session, transfer string) error {
	if !protocol.SessionIDPattern.MatchString(session) {
		return refuse(ErrInvalid, "session id %q: want 3 digits, 3 lowercase letters, 3 digits", clip(session))
	}
	if transfer != "" && !protocol.TransferIDPattern.MatchString(transfer) {
		return refuse(ErrInvalid, "transfer id %q: want 22 base64url characters", clip(transfer))
	}
	return nil
}

func checkPart(n int) error {
	if n < 1 || n > protocol.MaxPartNumber {
		return refuse(ErrInvalid, "part %d: parts are numbered from 1 to %d", n, protocol.MaxPartNumber)
	}
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// --- files ---

// readJSON decodes the file at path into v; a missing file is fs.ErrNotExist.
func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// writeJSON writes v to path through a temporary file renamed into place.
func (s *Store) writeJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tmpPrefix+"meta-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && s.sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return s.syncDir(dir)
}

// syncDir makes renames in dir durable, when Sync is on.
func (s *Store) syncDir(dir string) error {
	if !s.sync {
		return nil
	}
	return atomicfile.SyncDir(dir)
}

func (s *Store) readSession(session string) (*sessionMeta, error) {
	var m sessionMeta
	err := readJSON(filepath.Join(s.sessionDir(session), sessionFile), &m)
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	if m.Reserved == nil {
		m.Reserved = map[string]reservation{}
	}
	return &m, err
}

func (s *Store) writeSession(session string, m *sessionMeta) error {
	return s.writeJSON(filepath.Join(s.sessionDir(session), sessionFile), m)
}

// lockTransfer takes the session's lock and reads a transfer under it; unlock releases the lock
// (on an error, nothing is held).
func (s *Store) lockTransfer(ctx context.Context, session, transfer string) (t *Transfer, unlock func(), err error) {
	if err := checkIDs(session, transfer); err != nil {
		return nil, nil, err
	}
	unlock, err = s.lock(ctx, session, false)
	if errors.Is(err, errNoSession) {
		return nil, nil, refuse(ErrNotFound, "no transfer %s in session %s", transfer, session)
	}
	if err != nil {
		return nil, nil, err
	}
	if t, err = s.readTransfer(session, transfer); err != nil {
		unlock()
		return nil, nil, err
	}
	return t, unlock, nil
}

// readTransfer reads a transfer's description; a refusal (ErrNotFound) when there is none.
func (s *Store) readTransfer(session, transfer string) (*Transfer, error) {
	if err := checkIDs(session, transfer); err != nil {
		return nil, err
	}
	var t Transfer
	err := readJSON(filepath.Join(s.transferDir(session, transfer), transferFile), &t)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, refuse(ErrNotFound, "no transfer %s in session %s", transfer, session)
	}
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// readPart reads part n of a transfer; nil when it was never uploaded.
func readPart(dir string, n int) (*partMeta, error) {
	var p partMeta
	err := readJSON(metaPath(dir, n), &p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// readParts reads every uploaded part of a transfer, in order.
func readParts(dir string) ([]*partMeta, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var parts []*partMeta
	for _, e := range entries {
		n, ok := partNumber(e.Name(), metaSuffix)
		if !ok {
			continue
		}
		p, err := readPart(dir, n)
		if err != nil {
			return nil, err
		}
		if p != nil {
			parts = append(parts, p)
		}
	}
	slices.SortFunc(parts, func(a, b *partMeta) int { return cmp.Compare(a.N, b.N) })
	return parts, nil
}

// partNumber reads the n of "{n}{suffix}".
func partNumber(name, suffix string) (int, bool) {
	digits, ok := strings.CutSuffix(name, suffix)
	if !ok || digits == "" || digits[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil && n >= 1 && n <= protocol.MaxPartNumber
}

// moveToTrash renames path out of the way, to be removed outside the session's lock.
func (s *Store) moveToTrash(path string) (string, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	trash := filepath.Join(s.dir, fmt.Sprintf("%s%d-%s", trashPrefix, time.Now().UnixNano(), hex.EncodeToString(b[:])))
	if err := os.Rename(path, trash); err != nil {
		return "", err
	}
	return trash, nil
}

// --- transfers ---

// Create makes a transfer of owner, or returns the existing one (created false) when owner
// sends the same kind to the same recipients again. The caller checked that owner and the
// recipients are members.
func (s *Store) Create(ctx context.Context, session string, req protocol.TransferRequest, owner string) (st *protocol.TransferState, created bool, err error) {
	if err := checkIDs(session, req.ID); err != nil {
		return nil, false, err
	}
	if s.book != nil {
		return s.bookCreate(ctx, session, req, owner)
	}
	unlock, err := s.lock(ctx, session, true)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	dir := s.transferDir(session, req.ID)
	t, err := s.readTransfer(session, req.ID)
	if err == nil {
		if t.Owner != owner || t.Kind != req.Kind || !sameSet(t.Recipients, req.Recipients) {
			return nil, false, refuse(ErrConflict, "transfer %s exists with another owner, kind or recipients", req.ID)
		}
		st, err := s.state(dir, t)
		return st, false, err
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, false, err
	}
	m, err := s.readSession(session)
	if err != nil {
		return nil, false, err
	}
	if m.Transfers >= MaxTransfers {
		return nil, false, refuse(ErrLimit, "session %s holds %d transfers, the most it may: delete finished ones", session, m.Transfers)
	}
	t = &Transfer{ID: req.ID, Kind: req.Kind, Owner: owner, Recipients: slices.Clone(req.Recipients), Created: s.now().UTC()}
	if err := os.Mkdir(dir, dirMode); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, false, fmt.Errorf("create transfer %s: %w", req.ID, err)
	}
	if err := s.writeJSON(filepath.Join(dir, transferFile), t); err != nil {
		return nil, false, err
	}
	m.Transfers++
	if err := s.writeSession(session, m); err != nil {
		return nil, false, err
	}
	st, err = s.state(dir, t)
	return st, true, err
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// State reads a transfer for its owner or one of its recipients.
func (s *Store) State(ctx context.Context, session, transfer, member string) (*protocol.TransferState, error) {
	if s.book != nil {
		return s.bookState(ctx, session, transfer, member)
	}
	t, unlock, err := s.lockTransfer(ctx, session, transfer)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if t.Owner != member && !t.isRecipient(member) {
		return nil, refuse(ErrForbidden, "only the owner and the recipients of transfer %s may read it", transfer)
	}
	return s.state(s.transferDir(session, transfer), t)
}

func (s *Store) state(dir string, t *Transfer) (*protocol.TransferState, error) {
	parts, err := readParts(dir)
	if err != nil {
		return nil, fmt.Errorf("read the parts of transfer %s: %w", t.ID, err)
	}
	st := &protocol.TransferState{
		ID: t.ID, Kind: t.Kind, Owner: t.Owner, Recipients: slices.Clone(t.Recipients),
		Parts: make([]protocol.PartInfo, len(parts)), Complete: t.TotalParts > 0, TotalParts: t.TotalParts,
	}
	for i, p := range parts {
		st.Parts[i] = protocol.PartInfo{N: p.N, Size: p.Size, Received: append([]string{}, p.Received...), Deleted: p.Deleted}
	}
	return st, nil
}

// uploadable refuses an upload of part n by member.
func uploadable(t *Transfer, member string, n int, old *partMeta) error {
	switch {
	case t.Owner != member:
		return refuse(ErrForbidden, "only the owner of transfer %s may upload its parts", t.ID)
	case t.TotalParts > 0 && n > t.TotalParts:
		return refuse(ErrConflict, "transfer %s is complete with %d parts: there is no part %d", t.ID, t.TotalParts, n)
	case old != nil && (len(old.Received) > 0 || old.Deleted):
		return refuse(ErrReceived, "part %d of transfer %s was received already: it cannot be replaced", n, t.ID)
	}
	return nil
}

// stored is the bytes a part holds on disk (0 when none).
func (p *partMeta) stored() int64 {
	if p == nil || p.Deleted {
		return 0
	}
	return p.Size
}

// Reserve checks that owner may upload part n of size bytes and reserves the bytes until
// until, so that uploads in progress cannot together exceed the quota. Asking again for the
// same part replaces its reservation.
func (s *Store) Reserve(ctx context.Context, session, transfer string, n int, owner string, size int64, until time.Time) error {
	if err := checkPart(n); err != nil {
		return err
	}
	if size < 1 || size > protocol.MaxPartSize {
		return refuse(ErrInvalid, "part size %d: want 1 to %d bytes", size, protocol.MaxPartSize)
	}
	if s.book != nil {
		return s.bookReserve(ctx, session, transfer, n, owner, size, until)
	}
	t, unlock, err := s.lockTransfer(ctx, session, transfer)
	if err != nil {
		return err
	}
	defer unlock()
	dir := s.transferDir(session, transfer)
	old, err := readPart(dir, n)
	if err != nil {
		return err
	}
	if err := uploadable(t, owner, n, old); err != nil {
		return err
	}
	m, err := s.readSession(session)
	if err != nil {
		return err
	}
	m.prune(s.now())
	key := reservationKey(transfer, n)
	if err := s.checkQuota(session, m, key, size, old.stored()); err != nil {
		return err
	}
	m.Reserved[key] = reservation{Size: size, Until: until.UTC()}
	return s.writeSession(session, m)
}

// Put stores part n of a transfer from body, which must hold exactly size bytes, and returns
// the transfer. The bytes are streamed into a temporary file beside the part and renamed into
// place under the session's lock; an upload cut short, too long or refused leaves nothing.
// After the part is stored, receipts and members decide as in Received (a part nobody left
// in members waits for is deleted at once).
//
// The part is not fsynced (unless Options.Sync): a relayed part is transit data, usually read
// back from the page cache and deleted within seconds, often before it would ever be written
// out. BenchmarkPut (16 MiB parts stored, read back and deleted) measured 1.1–1.2 GB/s without
// fsync and 0.43–0.58 GB/s with it, on an SSD; a disk shared with other work does worse. What
// fsync would protect against is narrow: only a crash of the machine (not of the process) loses
// unsynced parts; Repair at restart then drops parts whose files are missing or short, so the
// uploader sees them missing and sends them again; and a damaged part cannot pass for a good
// one, since every part is sealed with an AEAD that its recipients check.
func (s *Store) Put(ctx context.Context, session, transfer string, n int, owner string, size int64, body io.Reader, members []string) (*Transfer, error) {
	if err := checkPart(n); err != nil {
		return nil, err
	}
	if s.bytes.direct() {
		return nil, errDirect
	}
	if size < 1 || size > protocol.MaxPartSize {
		return nil, refuse(ErrInvalid, "part size %d: want 1 to %d bytes", size, protocol.MaxPartSize)
	}
	// Refuse before reading the body when the state already says no; checked again at commit.
	t, err := s.readTransfer(session, transfer)
	if err != nil {
		return nil, err
	}
	dir := s.transferDir(session, transfer)
	old, err := readPart(dir, n)
	if err != nil {
		return nil, err
	}
	if err := uploadable(t, owner, n, old); err != nil {
		return nil, err
	}
	m, err := s.readSession(session)
	if err != nil {
		return nil, err
	}
	m.prune(s.now())
	key := reservationKey(transfer, n)
	if err := s.checkQuota(session, m, key, size, old.stored()); err != nil {
		return nil, err
	}

	tmp, err := s.receive(dir, n, size, body)
	if err != nil {
		return nil, err
	}
	committed := false
	defer func() {
		if !committed {
			_ = os.Remove(tmp)
		}
	}()

	t, unlock, err := s.lockTransfer(ctx, session, transfer)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if old, err = readPart(dir, n); err != nil {
		return nil, err
	}
	if err := uploadable(t, owner, n, old); err != nil {
		return nil, err
	}
	if m, err = s.readSession(session); err != nil {
		return nil, err
	}
	m.prune(s.now())
	if err := s.checkQuota(session, m, key, size, old.stored()); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, partPath(dir, n)); err != nil {
		return nil, fmt.Errorf("store part %d of transfer %s: %w", n, transfer, err)
	}
	committed = true
	p := &partMeta{N: n, Size: size, Received: []string{}}
	if err := s.writeJSON(metaPath(dir, n), p); err != nil {
		return nil, err
	}
	m.Stored += size - old.stored()
	delete(m.Reserved, key)
	if err := s.settle(ctx, session, dir, t, p, m, members); err != nil {
		return nil, err
	}
	return t, s.writeSession(session, m)
}

// receive streams body into a temporary file of dir and returns its path; the file holds
// exactly size bytes or is removed.
func (s *Store) receive(dir string, n int, size int64, body io.Reader) (string, error) {
	f, err := os.CreateTemp(dir, tmpPrefix+strconv.Itoa(n)+"-*")
	if errors.Is(err, fs.ErrNotExist) {
		return "", refuse(ErrNotFound, "the transfer was deleted")
	}
	if err != nil {
		return "", fmt.Errorf("create a temporary part: %w", err)
	}
	// One byte more than size shows a body longer than announced.
	src := &countingReader{r: io.LimitReader(body, size+1)}
	buf := make([]byte, 1<<20)
	// writerOnly hides f's ReadFrom, which would copy through a 32 KiB buffer.
	_, err = io.CopyBuffer(writerOnly{f}, src, buf)
	switch {
	case src.err != nil:
		err = &Error{Kind: ErrInvalid, Msg: fmt.Sprintf("the upload of part %d ended after %d of %d bytes: %v", n, src.n, size, src.err), Cause: src.err}
	case err != nil:
		err = fmt.Errorf("write part %d: %w", n, err)
	case src.n != size:
		err = refuse(ErrInvalid, "the upload of part %d has %d bytes, want %d", n, src.n, size)
	case s.sync:
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write part %d: %w", n, cerr)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

type countingReader struct {
	r   io.Reader
	n   int64
	err error // a read error other than EOF
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += int64(k)
	if err != nil && err != io.EOF {
		c.err = err
	}
	return k, err
}

type writerOnly struct{ io.Writer }

// settle deletes part p's bytes when every recipient still among members has received it. It
// writes p's metadata and updates m, which the caller writes.
func (s *Store) settle(ctx context.Context, session, dir string, t *Transfer, p *partMeta, m *sessionMeta, members []string) error {
	if p.Deleted {
		return nil
	}
	for _, r := range t.Recipients {
		if slices.Contains(members, r) && !slices.Contains(p.Received, r) {
			return nil
		}
	}
	p.Deleted = true
	// The metadata goes first: a crash in between leaves a file no metadata claims, which
	// Repair removes.
	if err := s.writeJSON(metaPath(dir, p.N), p); err != nil {
		return err
	}
	if err := s.bytes.remove(ctx, dir, session, t.ID, p.N); err != nil {
		return fmt.Errorf("transfer %s: %w", t.ID, err)
	}
	m.Stored -= p.Size
	return nil
}

// OpenPart opens part n for member, a recipient, to send it; the caller closes the file. The
// bytes stay readable even if the part is deleted meanwhile.
func (s *Store) OpenPart(session, transfer string, n int, member string) (*os.File, int64, error) {
	if err := checkPart(n); err != nil {
		return nil, 0, err
	}
	if s.bytes.direct() {
		return nil, 0, errDirect
	}
	t, err := s.readTransfer(session, transfer)
	if err != nil {
		return nil, 0, err
	}
	if !t.isRecipient(member) {
		return nil, 0, refuse(ErrForbidden, "only the recipients of transfer %s may download its parts", transfer)
	}
	dir := s.transferDir(session, transfer)
	p, err := readPart(dir, n)
	if err != nil {
		return nil, 0, err
	}
	if err := downloadable(t, p, n); err != nil {
		return nil, 0, err
	}
	f, err := os.Open(partPath(dir, n))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, refuse(ErrNotFound, "part %d of transfer %s was deleted: every recipient received it", n, transfer)
	}
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

func downloadable(t *Transfer, p *partMeta, n int) error {
	switch {
	case p == nil:
		return refuse(ErrNotFound, "part %d of transfer %s has not been uploaded", n, t.ID)
	case p.Deleted:
		return refuse(ErrNotFound, "part %d of transfer %s was deleted: every recipient received it", n, t.ID)
	}
	return nil
}

// CheckDownload tells whether member, a recipient, may download part n (it is stored).
func (s *Store) CheckDownload(ctx context.Context, session, transfer string, n int, member string) error {
	if s.bytes.direct() {
		return s.checkStored(ctx, session, transfer, n, member)
	}
	f, _, err := s.OpenPart(session, transfer, n, member)
	if err != nil {
		return err
	}
	return f.Close()
}

// Received records that member, a recipient, has part n; once every recipient among members
// has it, its bytes are deleted. Saying it again changes nothing.
func (s *Store) Received(ctx context.Context, session, transfer string, n int, member string, members []string) error {
	if err := checkPart(n); err != nil {
		return err
	}
	if s.book != nil {
		return s.bookReceived(ctx, session, transfer, n, member, members)
	}
	t, unlock, err := s.lockTransfer(ctx, session, transfer)
	if err != nil {
		return err
	}
	defer unlock()
	if !t.isRecipient(member) {
		return refuse(ErrForbidden, "only the recipients of transfer %s may acknowledge its parts", transfer)
	}
	dir := s.transferDir(session, transfer)
	p, err := readPart(dir, n)
	if err != nil {
		return err
	}
	if p == nil {
		return refuse(ErrNotFound, "part %d of transfer %s has not been uploaded", n, transfer)
	}
	if slices.Contains(p.Received, member) {
		return nil
	}
	p.Received = append(p.Received, member)
	if err := s.writeJSON(metaPath(dir, n), p); err != nil {
		return err
	}
	m, err := s.readSession(session)
	if err != nil {
		return err
	}
	if err := s.settle(ctx, session, dir, t, p, m, members); err != nil {
		return err
	}
	return s.writeSession(session, m)
}

// Complete records that the transfer has parts parts, all uploaded, and returns it. Completing
// again with the same count changes nothing.
func (s *Store) Complete(ctx context.Context, session, transfer, owner string, parts int) (*Transfer, error) {
	if err := checkPart(parts); err != nil {
		return nil, refuse(ErrInvalid, "parts %d: want 1 to %d", parts, protocol.MaxPartNumber)
	}
	if s.book != nil {
		return s.bookComplete(ctx, session, transfer, owner, parts)
	}
	t, unlock, err := s.lockTransfer(ctx, session, transfer)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if t.Owner != owner {
		return nil, refuse(ErrForbidden, "only the owner of transfer %s may complete it", transfer)
	}
	if t.TotalParts == parts {
		return t, nil
	}
	if t.TotalParts != 0 {
		return nil, refuse(ErrConflict, "transfer %s was completed with %d parts, not %d", transfer, t.TotalParts, parts)
	}
	dir := s.transferDir(session, transfer)
	uploaded, err := readParts(dir)
	if err != nil {
		return nil, err
	}
	for i, p := range uploaded {
		if p.N > parts {
			return nil, refuse(ErrConflict, "transfer %s has a part %d: it cannot complete with %d parts", transfer, p.N, parts)
		}
		if p.N != i+1 {
			return nil, refuse(ErrConflict, "part %d of transfer %s has not been uploaded", i+1, transfer)
		}
	}
	if len(uploaded) < parts {
		return nil, refuse(ErrConflict, "part %d of transfer %s has not been uploaded", len(uploaded)+1, transfer)
	}
	t.TotalParts = parts
	if err := s.writeJSON(filepath.Join(dir, transferFile), t); err != nil {
		return nil, err
	}
	return t, nil
}

// Delete deletes a transfer and its parts, for its owner.
func (s *Store) Delete(ctx context.Context, session, transfer, owner string) error {
	if err := checkIDs(session, transfer); err != nil {
		return err
	}
	if s.book != nil {
		return s.bookDelete(ctx, session, transfer, owner)
	}
	unlock, err := s.lock(ctx, session, false)
	if errors.Is(err, errNoSession) {
		return refuse(ErrNotFound, "no transfer %s in session %s", transfer, session)
	}
	if err != nil {
		return err
	}
	t, err := s.readTransfer(session, transfer)
	if err == nil && t.Owner != owner {
		err = refuse(ErrForbidden, "only the owner of transfer %s may delete it", transfer)
	}
	var trash string
	if err == nil {
		trash, err = s.deleteLocked(ctx, session, transfer)
	}
	unlock()
	if trash != "" {
		_ = os.RemoveAll(trash)
	}
	return err
}

// deleteLocked moves a transfer to the trash and takes it off the session's counts; the caller
// holds the lock and removes the trash after releasing it.
func (s *Store) deleteLocked(ctx context.Context, session, transfer string) (trash string, err error) {
	dir := s.transferDir(session, transfer)
	parts, err := readParts(dir)
	if err != nil {
		return "", err
	}
	m, err := s.readSession(session)
	if err != nil {
		return "", err
	}
	if trash, err = s.moveToTrash(dir); err != nil {
		return "", fmt.Errorf("delete transfer %s: %w", transfer, err)
	}
	for _, p := range parts {
		m.Stored -= p.stored()
	}
	for k := range m.Reserved {
		if strings.HasPrefix(k, transfer+"/") {
			delete(m.Reserved, k)
		}
	}
	m.Transfers = max(m.Transfers-1, 0)
	if err := s.writeSession(session, m); err != nil {
		return trash, err
	}
	return trash, s.bytes.removeTransfer(ctx, session, transfer)
}

// DeleteSession deletes every transfer and part of a session (reset, end, expiry).
func (s *Store) DeleteSession(ctx context.Context, session string) error {
	if err := checkIDs(session, ""); err != nil {
		return err
	}
	if s.book != nil {
		return s.bookDeleteSession(ctx, session)
	}
	unlock, err := s.lock(ctx, session, false)
	if errors.Is(err, errNoSession) {
		return nil
	}
	if err != nil {
		return err
	}
	trash, err := s.moveToTrash(s.sessionDir(session))
	if err == nil {
		err = s.bytes.removeSession(ctx, session)
	}
	unlock()
	if err != nil {
		return fmt.Errorf("delete the relay folder of session %s: %w", session, err)
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("delete the relay folder of session %s: %w", session, err)
	}
	return nil
}

// MemberLeft applies a member's quit: its transfers go, and the parts it was the last
// recipient (among members, who remain) to wait for are deleted.
func (s *Store) MemberLeft(ctx context.Context, session, member string, members []string) error {
	if err := checkIDs(session, ""); err != nil {
		return err
	}
	if s.book != nil {
		return s.bookMemberLeft(ctx, session, member, members)
	}
	unlock, err := s.lock(ctx, session, false)
	if errors.Is(err, errNoSession) {
		return nil
	}
	if err != nil {
		return err
	}
	var trash []string
	defer func() {
		unlock()
		for _, t := range trash {
			_ = os.RemoveAll(t)
		}
	}()
	ids, err := s.transferIDs(session)
	if err != nil {
		return err
	}
	for _, id := range ids {
		t, err := s.readTransfer(session, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		switch {
		case t.Owner == member:
			tr, err := s.deleteLocked(ctx, session, id)
			if err != nil {
				return err
			}
			trash = append(trash, tr)
		case t.isRecipient(member):
			if err := s.settleAll(ctx, session, t, members); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Store) settleAll(ctx context.Context, session string, t *Transfer, members []string) error {
	dir := s.transferDir(session, t.ID)
	parts, err := readParts(dir)
	if err != nil {
		return err
	}
	m, err := s.readSession(session)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if err := s.settle(ctx, session, dir, t, p, m, members); err != nil {
			return err
		}
	}
	return s.writeSession(session, m)
}

// transferIDs lists the transfers of a session.
func (s *Store) transferIDs(session string) ([]string, error) {
	entries, err := os.ReadDir(s.sessionDir(session))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && protocol.TransferIDPattern.MatchString(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// Usage tells the bytes a session stores and has reserved.
func (s *Store) Usage(ctx context.Context, session string) (stored, reserved int64, err error) {
	if err := checkIDs(session, ""); err != nil {
		return 0, 0, err
	}
	if s.book != nil {
		return s.bookUsage(ctx, session)
	}
	m, err := s.readSession(session)
	if err != nil {
		return 0, 0, err
	}
	m.prune(s.now())
	return m.Stored, m.reservedBut(""), nil
}
