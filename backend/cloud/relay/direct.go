package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Parts in a bucket: the owner asks an upload URL (UploadURL, which reserves the size), PUTs
// the part to the bucket and tells the server (Commit), which checks the object's size before
// counting it; recipients download with DownloadURL. The bookkeeping (transfers, parts,
// receipts, sizes, reservations) lives in the session store (a Book), so that server processes
// on several machines need only the store and the bucket. Every change of a session's
// bookkeeping is one atomic update of the store; objects are deleted after the update that
// stops counting them, so a crash in between leaves an object no part claims, which Sweep
// removes.

// Book keeps the bookkeeping of a bucket's parts: the session store.
type Book = store.Relay

// DefaultBookTTL is how long a session's bookkeeping outlives its last change when
// Options.BookTTL is zero: as long as a session outlives its last change.
const DefaultBookTTL = 48 * time.Hour

// ErrExpired refuses a commit whose upload URL expired: upload again with a new URL.
var ErrExpired = errors.New("expired")

var errDirect = refuse(ErrInvalid, "this server keeps relayed parts in a bucket: upload and download them with the URLs it gives")

var errNotDirect = refuse(ErrInvalid, "this relay storage keeps parts itself: it signs no bucket URLs and needs no confirmation")

func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// NewBucket makes a relay storage whose parts are objects of b and whose bookkeeping lives in
// book.
func NewBucket(b *Bucket, book Book, opts Options) (*Store, error) {
	if b == nil || book == nil {
		return nil, errors.New("relay: a bucket storage needs a bucket and a book")
	}
	if opts.Quota < 0 {
		return nil, fmt.Errorf("relay: negative quota %d", opts.Quota)
	}
	if opts.BookTTL < 0 {
		return nil, fmt.Errorf("relay: negative bookkeeping TTL %v", opts.BookTTL)
	}
	if opts.Quota == 0 {
		opts.Quota = DefaultQuota
	}
	if opts.BookTTL == 0 {
		opts.BookTTL = DefaultBookTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Store{quota: opts.Quota, now: opts.Now, bytes: b, bucket: b, book: book, bookTTL: opts.BookTTL}, nil
}

// Direct tells whether members move the parts' bytes themselves, with presigned URLs of a
// bucket, and confirm each upload with Commit.
func (s *Store) Direct() bool { return s.bytes.direct() }

// transferDoc is a transfer's document in the book: the transfer and its parts, by number.
type transferDoc struct {
	Transfer
	Parts []*partMeta `json:"parts,omitempty"`
}

func (d *transferDoc) part(n int) *partMeta {
	i, ok := slices.BinarySearchFunc(d.Parts, n, func(p *partMeta, n int) int { return p.N - n })
	if !ok {
		return nil
	}
	return d.Parts[i]
}

func (d *transferDoc) setPart(p *partMeta) {
	i, ok := slices.BinarySearchFunc(d.Parts, p.N, func(q *partMeta, n int) int { return q.N - n })
	if ok {
		d.Parts[i] = p
	} else {
		d.Parts = slices.Insert(d.Parts, i, p)
	}
}

func (d *transferDoc) state() *protocol.TransferState {
	t := &d.Transfer
	st := &protocol.TransferState{
		ID: t.ID, Kind: t.Kind, Owner: t.Owner, Recipients: slices.Clone(t.Recipients),
		Parts: make([]protocol.PartInfo, len(d.Parts)), Complete: t.TotalParts > 0, TotalParts: t.TotalParts,
	}
	for i, p := range d.Parts {
		st.Parts[i] = protocol.PartInfo{N: p.N, Size: p.Size, Received: append([]string{}, p.Received...), Deleted: p.Deleted}
	}
	return st
}

// booked is a session's bookkeeping and one of its transfers (nil when none) as an update sees
// them; setting t to nil deletes the transfer.
type booked struct {
	m *sessionMeta
	t *transferDoc
}

func decodeBooked(d store.RelayDocs) (*booked, error) {
	b := &booked{m: &sessionMeta{}}
	if d.Session != nil {
		if err := json.Unmarshal(d.Session, b.m); err != nil {
			return nil, fmt.Errorf("decode the relay bookkeeping: %w", err)
		}
	}
	if b.m.Reserved == nil {
		b.m.Reserved = map[string]reservation{}
	}
	if d.Transfer != nil {
		b.t = &transferDoc{}
		if err := json.Unmarshal(d.Transfer, b.t); err != nil {
			return nil, fmt.Errorf("decode the relay bookkeeping of a transfer: %w", err)
		}
	}
	return b, nil
}

// read reads the bookkeeping of a session and of transfer ("" for none).
func (s *Store) read(ctx context.Context, session, transfer string) (*booked, error) {
	if err := checkIDs(session, transfer); err != nil {
		return nil, err
	}
	d, err := s.book.GetRelay(ctx, session, transfer)
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	return decodeBooked(d)
}

// update applies fn to the bookkeeping of a session and of transfer as one atomic change of the
// book; fn may run more than once, and store.ErrNoChange from it writes nothing.
func (s *Store) update(ctx context.Context, session, transfer string, fn func(*booked) error) error {
	if err := checkIDs(session, transfer); err != nil {
		return err
	}
	var refusal error
	err := s.book.UpdateRelay(ctx, session, transfer, s.bookTTL, func(d *store.RelayDocs) error {
		b, err := decodeBooked(*d)
		if err != nil {
			return err
		}
		b.m.prune(s.now())
		if err := fn(b); err != nil {
			var re *Error
			var qe *QuotaError
			if errors.As(err, &re) || errors.As(err, &qe) {
				refusal = err // nothing changes
				return store.ErrNoChange
			}
			return err
		}
		if d.Session, err = json.Marshal(b.m); err != nil {
			return err
		}
		d.Transfer = nil
		if b.t != nil {
			if d.Transfer, err = json.Marshal(b.t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		var re *Error
		if errors.As(err, &re) {
			return err
		}
		return fmt.Errorf("relay: %w", err)
	}
	return refusal
}

func noTransfer(session, transfer string) error {
	return refuse(ErrNotFound, "no transfer %s in session %s", transfer, session)
}

// settleBooked marks part p deleted when every recipient still among members has received it,
// and tells whether it did: its object is then to be deleted.
func settleBooked(t *transferDoc, p *partMeta, m *sessionMeta, members []string) bool {
	if p.Deleted {
		return false
	}
	for _, r := range t.Recipients {
		if slices.Contains(members, r) && !slices.Contains(p.Received, r) {
			return false
		}
	}
	p.Deleted = true
	m.Stored -= p.Size
	return true
}

// removeParts deletes the objects of parts the bookkeeping no longer counts.
func (s *Store) removeParts(ctx context.Context, session, transfer string, parts []int) error {
	var errs []error
	for _, n := range parts {
		errs = append(errs, s.bucket.remove(ctx, "", session, transfer, n))
	}
	return errors.Join(errs...)
}

func (s *Store) bookCreate(ctx context.Context, session string, req protocol.TransferRequest, owner string) (st *protocol.TransferState, created bool, err error) {
	err = s.update(ctx, session, req.ID, func(b *booked) error {
		created = false
		if b.t != nil {
			t := &b.t.Transfer
			if t.Owner != owner || t.Kind != req.Kind || !sameSet(t.Recipients, req.Recipients) {
				return refuse(ErrConflict, "transfer %s exists with another owner, kind or recipients", req.ID)
			}
			st = b.t.state()
			return store.ErrNoChange
		}
		if b.m.Transfers >= MaxTransfers {
			return refuse(ErrLimit, "session %s holds %d transfers, the most it may: delete finished ones", session, b.m.Transfers)
		}
		b.t = &transferDoc{Transfer: Transfer{ID: req.ID, Kind: req.Kind, Owner: owner, Recipients: slices.Clone(req.Recipients), Created: s.now().UTC()}}
		b.m.Transfers++
		st, created = b.t.state(), true
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return st, created, nil
}

func (s *Store) bookState(ctx context.Context, session, transfer, member string) (*protocol.TransferState, error) {
	b, err := s.read(ctx, session, transfer)
	if err != nil {
		return nil, err
	}
	if b.t == nil {
		return nil, noTransfer(session, transfer)
	}
	if b.t.Owner != member && !b.t.isRecipient(member) {
		return nil, refuse(ErrForbidden, "only the owner and the recipients of transfer %s may read it", transfer)
	}
	return b.t.state(), nil
}

func (s *Store) bookReserve(ctx context.Context, session, transfer string, n int, owner string, size int64, until time.Time) error {
	return s.update(ctx, session, transfer, func(b *booked) error {
		if b.t == nil {
			return noTransfer(session, transfer)
		}
		old := b.t.part(n)
		if err := uploadable(&b.t.Transfer, owner, n, old); err != nil {
			return err
		}
		key := reservationKey(transfer, n)
		if err := s.checkQuota(session, b.m, key, size, old.stored()); err != nil {
			return err
		}
		b.m.Reserved[key] = reservation{Size: size, Until: until.UTC()}
		return nil
	})
}

// UploadURL reserves size bytes for part n as Reserve does and returns a presigned URL that
// stores exactly that many bytes until until.
func (s *Store) UploadURL(ctx context.Context, session, transfer string, n int, owner string, size int64, until time.Time) (string, error) {
	if s.bucket == nil {
		return "", errNotDirect
	}
	if err := s.Reserve(ctx, session, transfer, n, owner, size, until); err != nil {
		return "", err
	}
	return s.bucket.presignPut(ctx, session, transfer, n, size, time.Until(until))
}

// DownloadURL returns a presigned URL of stored part n for member, a recipient, valid until
// until.
func (s *Store) DownloadURL(ctx context.Context, session, transfer string, n int, member string, until time.Time) (string, error) {
	if s.bucket == nil {
		return "", errNotDirect
	}
	if err := s.checkStored(ctx, session, transfer, n, member); err != nil {
		return "", err
	}
	return s.bucket.presignGet(ctx, session, transfer, n, time.Until(until))
}

// checkStored refuses a download of part n by member unless member is a recipient and the part
// is stored.
func (s *Store) checkStored(ctx context.Context, session, transfer string, n int, member string) error {
	if err := checkPart(n); err != nil {
		return err
	}
	b, err := s.read(ctx, session, transfer)
	if err != nil {
		return err
	}
	if b.t == nil {
		return noTransfer(session, transfer)
	}
	if !b.t.isRecipient(member) {
		return refuse(ErrForbidden, "only the recipients of transfer %s may download its parts", transfer)
	}
	return downloadable(&b.t.Transfer, b.t.part(n), n)
}

// Commit counts part n, which owner uploaded to the bucket, as stored and returns the
// transfer and the part's size. The object must have the size its upload URL reserved (an
// object of another size is deleted and refused), and the reservation must still hold
// (ErrExpired otherwise). Committing a stored part again changes nothing.
func (s *Store) Commit(ctx context.Context, session, transfer string, n int, owner string, members []string) (*Transfer, int64, error) {
	if s.bucket == nil {
		return nil, 0, errNotDirect
	}
	if err := checkPart(n); err != nil {
		return nil, 0, err
	}
	key := reservationKey(transfer, n)
	// check refuses what the bookkeeping says no to; done tells that the part is stored
	// already, its upload URL used.
	check := func(b *booked) (r reservation, done bool, err error) {
		if b.t == nil {
			return r, false, noTransfer(session, transfer)
		}
		old := b.t.part(n)
		r, reserved := b.m.Reserved[key]
		if !reserved && old != nil && !old.Deleted && b.t.Owner == owner {
			return r, true, nil
		}
		if err := uploadable(&b.t.Transfer, owner, n, old); err != nil {
			return r, false, err
		}
		if !reserved {
			return r, false, refuse(ErrExpired, "the upload URL of part %d of transfer %s expired before the upload was confirmed: upload it again with a new URL", n, transfer)
		}
		return r, false, nil
	}
	b, err := s.read(ctx, session, transfer)
	if err != nil {
		return nil, 0, err
	}
	b.m.prune(s.now())
	r, done, err := check(b)
	switch {
	case errors.Is(err, ErrReceived) && b.t.part(n).Deleted:
		// A late upload with an old URL: its bytes must not stay.
		_ = s.bucket.remove(ctx, "", session, transfer, n)
		return nil, 0, err
	case err != nil:
		return nil, 0, err
	case done:
		return &b.t.Transfer, b.t.part(n).Size, nil
	}
	size, err := s.bucket.size(ctx, session, transfer, n)
	if errors.Is(err, errObjectMissing) {
		return nil, 0, refuse(ErrNotFound, "part %d of transfer %s is not in the bucket: upload it before confirming", n, transfer)
	}
	if err != nil {
		return nil, 0, err
	}
	if size != r.Size {
		if err := s.bucket.remove(ctx, "", session, transfer, n); err != nil {
			return nil, 0, err
		}
		if err := s.update(ctx, session, transfer, func(b *booked) error {
			delete(b.m.Reserved, key)
			return nil
		}); err != nil {
			return nil, 0, err
		}
		return nil, 0, refuse(ErrInvalid, "the upload of part %d has %d bytes but its URL was issued for %d: it was deleted", n, size, r.Size)
	}
	var (
		t      Transfer
		remove bool
	)
	err = s.update(ctx, session, transfer, func(b *booked) error {
		remove = false
		r, done, err := check(b)
		if err != nil {
			return err
		}
		t = b.t.Transfer
		if done {
			size = b.t.part(n).Size
			return store.ErrNoChange
		}
		if r.Size != size {
			return refuse(ErrConflict, "part %d of transfer %s was given another upload URL meanwhile: upload it again", n, transfer)
		}
		old := b.t.part(n)
		if err := s.checkQuota(session, b.m, key, size, old.stored()); err != nil {
			return err
		}
		p := &partMeta{N: n, Size: size, Received: []string{}}
		b.t.setPart(p)
		b.m.Stored += size - old.stored()
		delete(b.m.Reserved, key)
		remove = settleBooked(b.t, p, b.m, members)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	if remove {
		if err := s.bucket.remove(ctx, "", session, transfer, n); err != nil {
			return nil, 0, err
		}
	}
	return &t, size, nil
}

func (s *Store) bookReceived(ctx context.Context, session, transfer string, n int, member string, members []string) error {
	var remove bool
	err := s.update(ctx, session, transfer, func(b *booked) error {
		remove = false
		if b.t == nil {
			return noTransfer(session, transfer)
		}
		if !b.t.isRecipient(member) {
			return refuse(ErrForbidden, "only the recipients of transfer %s may acknowledge its parts", transfer)
		}
		p := b.t.part(n)
		if p == nil {
			return refuse(ErrNotFound, "part %d of transfer %s has not been uploaded", n, transfer)
		}
		if slices.Contains(p.Received, member) {
			return store.ErrNoChange
		}
		p.Received = append(p.Received, member)
		remove = settleBooked(b.t, p, b.m, members)
		return nil
	})
	if err != nil || !remove {
		return err
	}
	return s.bucket.remove(ctx, "", session, transfer, n)
}

func (s *Store) bookComplete(ctx context.Context, session, transfer, owner string, parts int) (*Transfer, error) {
	var t Transfer
	err := s.update(ctx, session, transfer, func(b *booked) error {
		if b.t == nil {
			return noTransfer(session, transfer)
		}
		if b.t.Owner != owner {
			return refuse(ErrForbidden, "only the owner of transfer %s may complete it", transfer)
		}
		t = b.t.Transfer
		if b.t.TotalParts == parts {
			return store.ErrNoChange
		}
		if b.t.TotalParts != 0 {
			return refuse(ErrConflict, "transfer %s was completed with %d parts, not %d", transfer, b.t.TotalParts, parts)
		}
		for i, p := range b.t.Parts {
			if p.N > parts {
				return refuse(ErrConflict, "transfer %s has a part %d: it cannot complete with %d parts", transfer, p.N, parts)
			}
			if p.N != i+1 {
				return refuse(ErrConflict, "part %d of transfer %s has not been uploaded", i+1, transfer)
			}
		}
		if len(b.t.Parts) < parts {
			return refuse(ErrConflict, "part %d of transfer %s has not been uploaded", len(b.t.Parts)+1, transfer)
		}
		b.t.TotalParts = parts
		t = b.t.Transfer
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// dropTransfer takes transfer b.t off the session's counts and deletes its document.
func dropTransfer(b *booked) {
	for _, p := range b.t.Parts {
		b.m.Stored -= p.stored()
	}
	for k := range b.m.Reserved {
		if strings.HasPrefix(k, b.t.ID+"/") {
			delete(b.m.Reserved, k)
		}
	}
	b.m.Transfers = max(b.m.Transfers-1, 0)
	b.t = nil
}

func (s *Store) bookDelete(ctx context.Context, session, transfer, owner string) error {
	err := s.update(ctx, session, transfer, func(b *booked) error {
		if b.t == nil {
			return noTransfer(session, transfer)
		}
		if b.t.Owner != owner {
			return refuse(ErrForbidden, "only the owner of transfer %s may delete it", transfer)
		}
		dropTransfer(b)
		return nil
	})
	if err != nil {
		return err
	}
	return s.bucket.removeTransfer(ctx, session, transfer)
}

func (s *Store) bookDeleteSession(ctx context.Context, session string) error {
	if err := s.book.DeleteRelay(ctx, session); err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	return s.bucket.removeSession(ctx, session)
}

func (s *Store) bookMemberLeft(ctx context.Context, session, member string, members []string) error {
	ids, err := s.book.RelayTransfers(ctx, session)
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	var errs []error
	for _, id := range ids {
		var (
			removeAll bool
			remove    []int
		)
		err := s.update(ctx, session, id, func(b *booked) error {
			removeAll, remove = false, nil
			switch {
			case b.t == nil:
				return store.ErrNoChange
			case b.t.Owner == member:
				dropTransfer(b)
				removeAll = true
			case b.t.isRecipient(member):
				for _, p := range b.t.Parts {
					if settleBooked(b.t, p, b.m, members) {
						remove = append(remove, p.N)
					}
				}
				if remove == nil {
					return store.ErrNoChange
				}
			default:
				return store.ErrNoChange
			}
			return nil
		})
		switch {
		case err != nil:
			errs = append(errs, err)
		case removeAll:
			errs = append(errs, s.bucket.removeTransfer(ctx, session, id))
		default:
			errs = append(errs, s.removeParts(ctx, session, id, remove))
		}
	}
	return errors.Join(errs...)
}

func (s *Store) bookUsage(ctx context.Context, session string) (stored, reserved int64, err error) {
	b, err := s.read(ctx, session, "")
	if err != nil {
		return 0, 0, err
	}
	b.m.prune(s.now())
	return b.m.Stored, b.m.reservedBut(""), nil
}

// sweepBucket deletes the bookkeeping and objects of sessions that exists says are gone, and,
// after StaleAge, objects no stored part claims (uploads never confirmed, late uploads with old
// URLs, objects left by a crash between an update and its deletion). It works from the bucket's
// listing and the book alone, so several server processes may sweep at once: each deletion is
// harmless to repeat. It returns how many sessions it deleted.
func (s *Store) sweepBucket(ctx context.Context, exists func(ctx context.Context, session string) (bool, error)) (int, error) {
	gone := map[string]bool{}
	deleted := 0
	var errs []error
	err := s.bucket.objects(ctx, func(o object) error {
		g, seen := gone[o.session]
		if !seen {
			ok, err := exists(ctx, o.session)
			if err != nil {
				errs = append(errs, fmt.Errorf("session %s: %w", o.session, err))
				ok = true
			}
			g = !ok
			gone[o.session] = g
			if g {
				if err := s.bookDeleteSession(ctx, o.session); err != nil {
					errs = append(errs, err)
				} else {
					deleted++
				}
			}
		}
		if g || time.Since(o.modified) <= StaleAge {
			return nil
		}
		b, err := s.read(ctx, o.session, o.transfer)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if b.t != nil {
			if p := b.t.part(o.n); p != nil && !p.Deleted {
				return nil // a stored part
			}
		}
		if err := s.bucket.remove(ctx, "", o.session, o.transfer, o.n); err != nil {
			errs = append(errs, err)
		}
		return nil
	})
	return deleted, errors.Join(append(errs, err)...)
}
