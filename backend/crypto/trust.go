package crypto

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/ferrysync/ferry/backend/atomicfile"
)

// TrustFile is the name of the trust store inside the configuration folder.
const TrustFile = "trusted_keys"

const maxTrustFile = 1 << 20

// TrustStatus is what a trust store knows of a client's identity key.
type TrustStatus int

const (
	// TrustNew: the client id is unknown; ask the user to compare safety words.
	TrustNew TrustStatus = iota
	// TrustKnown: the client id is remembered with this very key.
	TrustKnown
	// TrustChanged: the client id is remembered with another key. Refuse, and warn the user.
	TrustChanged
)

func (s TrustStatus) String() string {
	switch s {
	case TrustNew:
		return "new"
	case TrustKnown:
		return "known"
	case TrustChanged:
		return "changed"
	}
	return fmt.Sprintf("TrustStatus(%d)", int(s))
}

// ErrKeyChanged: Remember was asked to replace a remembered key; Forget it first.
var ErrKeyChanged = errors.New("identity key changed for a known client id")

// TrustStore remembers, per user, which identity key each client id had when the user first
// trusted it (trust on first use). It is a text file of "client-id fingerprint" lines in the
// configuration folder, mode 0600, rewritten whole through a synced temporary file and a
// rename. Operations are serialized within a process; two processes remembering at once may
// lose one entry, which is then New again (asked again), never wrongly trusted.
type TrustStore struct {
	dir string
	mu  sync.Mutex
}

// OpenTrustStore opens the store kept in dir (see DefaultConfigDir), creating dir with mode
// 0700 if needed. The file itself is created by the first Remember.
func OpenTrustStore(dir string) (*TrustStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("trust store: %w", err)
	}
	s := &TrustStore{dir: dir}
	if _, err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *TrustStore) path() string { return filepath.Join(s.dir, TrustFile) }

// Check tells whether pub is the key remembered for clientID. clientID must be pub's ClientID.
func (s *TrustStore) Check(clientID string, pub ed25519.PublicKey) (TrustStatus, error) {
	fp, err := checkClientKey(clientID, pub)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load()
	if err != nil {
		return 0, err
	}
	switch known, ok := m[clientID]; {
	case !ok:
		return TrustNew, nil
	case known == fp:
		return TrustKnown, nil
	default:
		return TrustChanged, nil
	}
}

// Remember trusts pub for clientID from now on. Remembering the same key again is a no-op; a
// different key for a known client id is refused with ErrKeyChanged.
func (s *TrustStore) Remember(clientID string, pub ed25519.PublicKey) error {
	fp, err := checkClientKey(clientID, pub)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load()
	if err != nil {
		return err
	}
	if known, ok := m[clientID]; ok {
		if known != fp {
			return fmt.Errorf("trust store: %s: %w", clientID, ErrKeyChanged)
		}
		return nil
	}
	m[clientID] = fp
	return s.save(m)
}

// Forget drops what is remembered for clientID, after the user chose to trust a new key.
func (s *TrustStore) Forget(clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load()
	if err != nil {
		return err
	}
	if _, ok := m[clientID]; !ok {
		return nil
	}
	delete(m, clientID)
	return s.save(m)
}

func checkClientKey(clientID string, pub ed25519.PublicKey) (Fingerprint, error) {
	want, err := ClientID(pub)
	if err != nil {
		return Fingerprint{}, fmt.Errorf("trust store: %w", err)
	}
	if clientID != want {
		return Fingerprint{}, fmt.Errorf("trust store: client id %q does not belong to the key (%s)", clientID, want)
	}
	return KeyFingerprint(pub)
}

// load reads the file; a missing file is an empty store.
func (s *TrustStore) load() (map[string]Fingerprint, error) {
	path := s.path()
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]Fingerprint{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("trust store: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("trust store %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("trust store %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("trust store %s: writable by other users (mode %04o); restrict it with chmod 600", path, perm)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxTrustFile+1))
	if err != nil {
		return nil, fmt.Errorf("trust store %s: %w", path, err)
	}
	if len(data) > maxTrustFile {
		return nil, fmt.Errorf("trust store %s: corrupt (larger than %d bytes)", path, maxTrustFile)
	}
	m := map[string]Fingerprint{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 {
			return nil, fmt.Errorf("trust store %s:%d: corrupt: want \"client-id fingerprint\"", path, line)
		}
		fp, err := ParseFingerprint(fields[1])
		if err != nil {
			return nil, fmt.Errorf("trust store %s:%d: corrupt: %v", path, line, err)
		}
		if _, dup := m[fields[0]]; dup {
			return nil, fmt.Errorf("trust store %s:%d: corrupt: client id %s listed twice", path, line, fields[0])
		}
		m[fields[0]] = fp
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("trust store %s: corrupt: %w", path, err)
	}
	return m, nil
}

// save writes m to a temporary file, syncs it and renames it over the store.
func (s *TrustStore) save(m map[string]Fingerprint) error {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var buf bytes.Buffer
	buf.WriteString("# Ferry: identity keys trusted on first use (client id, SHA-256 of the Ed25519 key)\n")
	for _, id := range ids {
		fmt.Fprintf(&buf, "%s %s\n", id, m[id])
	}

	if err := atomicfile.WriteFile(s.path(), buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("trust store: %w", err)
	}
	return nil
}
