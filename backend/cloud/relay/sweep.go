package relay

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ferrysync/ferry/backend/protocol"
)

// StaleAge is how old a temporary file or a trash folder must be before a sweep removes it:
// far longer than any upload in progress, which writes its temporary file all along.
const StaleAge = time.Hour

// Sweep deletes the relay state of every session for which exists says false (the session
// ended or expired), the trash left by interrupted deletions and stale temporary files. An
// error of exists for one session leaves that session alone. It returns how many sessions it
// deleted.
func (s *Store) Sweep(ctx context.Context, exists func(ctx context.Context, session string) (bool, error)) (int, error) {
	if s.book != nil {
		return s.sweepBucket(ctx, exists)
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, fmt.Errorf("relay: list the storage folder: %w", err)
	}
	deleted := 0
	var errs []error
	for _, e := range entries {
		if ctx.Err() != nil {
			return deleted, context.Cause(ctx)
		}
		name := e.Name()
		switch {
		case strings.HasPrefix(name, trashPrefix):
			if trashStale(name) {
				if err := os.RemoveAll(filepath.Join(s.dir, name)); err != nil {
					errs = append(errs, err)
				}
			}
		case e.IsDir() && protocol.SessionIDPattern.MatchString(name):
			ok, err := exists(ctx, name)
			if err != nil {
				errs = append(errs, fmt.Errorf("session %s: %w", name, err))
				continue
			}
			if !ok {
				if err := s.DeleteSession(ctx, name); err != nil {
					errs = append(errs, err)
					continue
				}
				deleted++
				continue
			}
			if err := s.removeStaleTemps(name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return deleted, errors.Join(errs...)
}

// trashStale tells whether the trash folder name (".trash-{unix ns}-…") is older than StaleAge:
// a younger one may still be being removed by the process that made it.
func trashStale(name string) bool {
	stamp, _, _ := strings.Cut(strings.TrimPrefix(name, trashPrefix), "-")
	ns, err := strconv.ParseInt(stamp, 10, 64)
	return err != nil || time.Since(time.Unix(0, ns)) > StaleAge
}

// removeStaleTemps removes the temporary files of a session's transfers older than StaleAge.
func (s *Store) removeStaleTemps(session string) error {
	ids, err := s.transferIDs(session)
	if err != nil {
		return err
	}
	for _, id := range ids {
		dir := s.transferDir(session, id)
		entries, err := os.ReadDir(dir)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return err
		}
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), tmpPrefix) {
				continue
			}
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > StaleAge {
				_ = os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	return nil
}

// Repair brings every session's files in line with its metadata after a crash: part files no
// metadata claims (or that were deleted) are removed, metadata whose part file is missing or has
// the wrong size is dropped (the uploader sees the part missing and sends it again), transfers
// without a description are removed, and each session's counts are recomputed. It runs at start,
// session by session under their locks, so it is safe beside other server processes.
func (s *Store) Repair(ctx context.Context) error {
	if s.book != nil {
		return nil // the book changes atomically: nothing to repair
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("relay: list the storage folder: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if e.IsDir() && protocol.SessionIDPattern.MatchString(e.Name()) {
			if err := s.repairSession(ctx, e.Name()); err != nil {
				errs = append(errs, fmt.Errorf("relay: repair session %s: %w", e.Name(), err))
			}
		}
	}
	return errors.Join(errs...)
}

func (s *Store) repairSession(ctx context.Context, session string) error {
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
	m, err := s.readSession(session)
	if err != nil {
		// An unreadable session file is rebuilt from the transfers.
		m = &sessionMeta{Reserved: map[string]reservation{}}
	}
	m.prune(s.now())
	m.Stored, m.Transfers = 0, 0
	ids, err := s.transferIDs(session)
	if err != nil {
		return err
	}
	for _, id := range ids {
		dir := s.transferDir(session, id)
		if _, err := s.readTransfer(session, id); err != nil {
			t, err := s.moveToTrash(dir)
			if err != nil {
				return err
			}
			trash = append(trash, t)
			continue
		}
		stored, err := repairTransfer(dir)
		if err != nil {
			return fmt.Errorf("transfer %s: %w", id, err)
		}
		m.Stored += stored
		m.Transfers++
	}
	return s.writeSession(session, m)
}

// repairTransfer reconciles one transfer's part files with their metadata and returns the bytes
// it stores.
func repairTransfer(dir string) (int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var stored int64
	for _, e := range entries {
		name := e.Name()
		if n, ok := partNumber(name, metaSuffix); ok {
			p, err := readPart(dir, n)
			if err != nil || p == nil || p.N != n {
				if err := os.Remove(metaPath(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return 0, err
				}
				continue
			}
			if p.Deleted {
				continue
			}
			fi, err := os.Stat(partPath(dir, n))
			if err != nil || fi.Size() != p.Size {
				// Lost or short: the part was not uploaded after all.
				if err := os.Remove(metaPath(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return 0, err
				}
				continue
			}
			stored += p.Size
		}
	}
	for _, e := range entries {
		n, ok := partNumber(e.Name(), partSuffix)
		if !ok {
			continue
		}
		p, err := readPart(dir, n)
		if err == nil && p != nil && !p.Deleted {
			continue
		}
		if err := os.Remove(partPath(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, err
		}
	}
	return stored, nil
}
