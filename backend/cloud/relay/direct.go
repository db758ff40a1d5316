package relay

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// Parts in a bucket: the owner asks an upload URL (UploadURL, which reserves the size), PUTs
// the part to the bucket and tells the server (Commit), which checks the object's size before
// counting it; recipients download with DownloadURL.

// ErrExpired refuses a commit whose upload URL expired: upload again with a new URL.
var ErrExpired = errors.New("expired")

var errDirect = refuse(ErrInvalid, "this server keeps relayed parts in a bucket: upload and download them with the URLs it gives")

func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Direct tells whether members move the parts' bytes themselves, with presigned URLs of a
// bucket, and confirm each upload with Commit.
func (s *Store) Direct() bool { return s.bytes.direct() }

// UploadURL reserves size bytes for part n as Reserve does and returns a presigned URL that
// stores exactly that many bytes until until.
func (s *Store) UploadURL(ctx context.Context, session, transfer string, n int, owner string, size int64, until time.Time) (string, error) {
	if s.bucket == nil {
		return "", refuse(ErrInvalid, "this relay storage keeps parts itself: it signs no bucket URLs")
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
		return "", refuse(ErrInvalid, "this relay storage keeps parts itself: it signs no bucket URLs")
	}
	if err := s.checkStored(session, transfer, n, member); err != nil {
		return "", err
	}
	return s.bucket.presignGet(ctx, session, transfer, n, time.Until(until))
}

// checkStored refuses a download of part n by member unless member is a recipient and the part
// is stored.
func (s *Store) checkStored(session, transfer string, n int, member string) error {
	if err := checkPart(n); err != nil {
		return err
	}
	t, err := s.readTransfer(session, transfer)
	if err != nil {
		return err
	}
	if !t.isRecipient(member) {
		return refuse(ErrForbidden, "only the recipients of transfer %s may download its parts", transfer)
	}
	p, err := readPart(s.transferDir(session, transfer), n)
	if err != nil {
		return err
	}
	return downloadable(t, p, n)
}

// Commit counts part n, which owner uploaded to the bucket, as stored and returns the
// transfer and the part's size. The object must have the size its upload URL reserved (an
// object of another size is deleted and refused), and the reservation must still hold
// (ErrExpired otherwise). Committing a stored part again changes nothing.
func (s *Store) Commit(ctx context.Context, session, transfer string, n int, owner string, members []string) (*Transfer, int64, error) {
	if s.bucket == nil {
		return nil, 0, refuse(ErrInvalid, "this relay storage stores parts as they are uploaded: there is nothing to commit")
	}
	if err := checkPart(n); err != nil {
		return nil, 0, err
	}
	t, unlock, err := s.lockTransfer(ctx, session, transfer)
	if err != nil {
		return nil, 0, err
	}
	defer unlock()
	dir := s.transferDir(session, transfer)
	old, err := readPart(dir, n)
	if err != nil {
		return nil, 0, err
	}
	m, err := s.readSession(session)
	if err != nil {
		return nil, 0, err
	}
	m.prune(s.now())
	key := reservationKey(transfer, n)
	r, reserved := m.Reserved[key]
	if !reserved && old != nil && !old.Deleted && t.Owner == owner {
		return t, old.Size, nil // committed already, and no new upload since
	}
	if err := uploadable(t, owner, n, old); err != nil {
		if errors.Is(err, ErrReceived) && old.Deleted {
			// A late upload with an old URL: its bytes must not stay.
			_ = s.bucket.remove(ctx, dir, session, transfer, n)
		}
		return nil, 0, err
	}
	if !reserved {
		return nil, 0, refuse(ErrExpired, "the upload URL of part %d of transfer %s expired before the upload was confirmed: upload it again with a new URL", n, transfer)
	}
	size, err := s.bucket.size(ctx, session, transfer, n)
	if errors.Is(err, errObjectMissing) {
		return nil, 0, refuse(ErrNotFound, "part %d of transfer %s is not in the bucket: upload it before confirming", n, transfer)
	}
	if err != nil {
		return nil, 0, err
	}
	if size != r.Size {
		if err := s.bucket.remove(ctx, dir, session, transfer, n); err != nil {
			return nil, 0, err
		}
		delete(m.Reserved, key)
		if err := s.writeSession(session, m); err != nil {
			return nil, 0, err
		}
		return nil, 0, refuse(ErrInvalid, "the upload of part %d has %d bytes but its URL was issued for %d: it was deleted", n, size, r.Size)
	}
	if err := s.checkQuota(session, m, key, size, old.stored()); err != nil {
		return nil, 0, err
	}
	p := &partMeta{N: n, Size: size, Received: []string{}}
	if err := s.writeJSON(metaPath(dir, n), p); err != nil {
		return nil, 0, err
	}
	m.Stored += size - old.stored()
	delete(m.Reserved, key)
	if err := s.settle(ctx, session, dir, t, p, m, members); err != nil {
		return nil, 0, err
	}
	return t, size, s.writeSession(session, m)
}

// sweepBucket deletes the objects of sessions the folder no longer has (ended, or lost with a
// folder that was not kept) and, after StaleAge, objects no stored part claims (uploads never
// confirmed, late uploads with old URLs).
func (s *Store) sweepBucket(ctx context.Context, exists func(ctx context.Context, session string) (bool, error)) error {
	if s.bucket == nil {
		return nil
	}
	gone := map[string]bool{}
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
		}
		if !g {
			if time.Since(o.modified) <= StaleAge {
				return nil
			}
			p, err := readPart(s.transferDir(o.session, o.transfer), o.n)
			if err != nil || (p != nil && !p.Deleted) {
				return nil
			}
		}
		if err := s.bucket.remove(ctx, "", o.session, o.transfer, o.n); err != nil {
			errs = append(errs, err)
		}
		return nil
	})
	return errors.Join(append(errs, err)...)
}
