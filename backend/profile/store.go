package profile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ferrysync/ferry/backend/atomicfile"
)

// Dir is the folder of the profiles inside Ferry's configuration folder.
const Dir = "profiles"

// ErrNotFound is a profile name the store does not hold.
var ErrNotFound = errors.New("no such profile")

// Store keeps profiles, one file each, in a folder.
type Store struct {
	dir string
	now func() time.Time
}

// NewStore returns the store in configDir/profiles (crypto.DefaultConfigDir or
// FERRY_CONFIG_DIR); the folder is created on the first save.
func NewStore(configDir string) *Store {
	return &Store{dir: filepath.Join(configDir, Dir), now: time.Now}
}

// Path is the file that holds the profile name.
func (s *Store) Path(name string) string { return filepath.Join(s.dir, FileName(name)) }

// FileName is the file name of a profile: its name made safe for any file system (lower-case
// letters, digits and dashes), followed by a hash of the exact name, so that names differing
// only in case or punctuation have files of their own.
func FileName(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	slug := strings.TrimSuffix(b.String(), "-")
	sum := sha256.Sum256([]byte(name))
	h := hex.EncodeToString(sum[:4])
	if slug == "" {
		return h + ".json"
	}
	return slug + "-" + h + ".json"
}

// Entry is a profile file as List found it: its profile, or why it cannot be read.
type Entry struct {
	File    string
	Profile *Profile // nil when Err is set
	Err     error
}

// List reads every profile, sorted by name; a file that cannot be read is listed with its
// error after the others. Only a folder that cannot be read is an error; a missing one holds
// no profile.
func (s *Store) List() ([]Entry, error) {
	des, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the profiles folder: %w", err)
	}
	var out []Entry
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".json") || de.IsDir() {
			continue // atomicfile's temp files, and anything else
		}
		path := filepath.Join(s.dir, name)
		p, err := readFile(path)
		out = append(out, Entry{File: path, Profile: p, Err: err})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.Err == nil) != (b.Err == nil) {
			return a.Err == nil
		}
		if a.Err != nil {
			return a.File < b.File
		}
		return strings.ToLower(a.Profile.Name) < strings.ToLower(b.Profile.Name)
	})
	return out, nil
}

// Get reads the profile name: ErrNotFound when there is none, an error naming the file when it
// cannot be read.
func (s *Store) Get(name string) (*Profile, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	path := s.Path(name)
	p, err := readFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w %q: see the saved profiles with ferry profile list", ErrNotFound, name)
	}
	if err != nil {
		return nil, err
	}
	if p.Name != name {
		return nil, fmt.Errorf("profile file %s holds the profile %q, not %q: delete it or save %q again", path, p.Name, name, name)
	}
	return p, nil
}

// Save writes p, checked, as a new profile or over the one of the same name: Created is kept
// from the one it replaces, Updated is now, and the last run stays unless p has one.
func (s *Store) Save(p *Profile) error {
	if err := p.Check(); err != nil {
		return err
	}
	now := s.now().UTC().Truncate(time.Second)
	q := *p
	q.Version = Version
	q.Created, q.Updated = now, now
	// A file that cannot be read is replaced: the new profile is what the user asked for.
	if old, err := readFile(s.Path(p.Name)); err == nil && old.Name == p.Name {
		q.Created = old.Created
		if q.LastRun == nil {
			q.LastRun = old.LastRun
		}
	}
	if err := s.write(&q); err != nil {
		return err
	}
	*p = q
	return nil
}

// Recorded sets the last run of the profile name.
func (s *Store) Recorded(name string, r Run) error {
	p, err := s.Get(name)
	if err != nil {
		return err
	}
	r.At = r.At.UTC().Truncate(time.Second)
	p.LastRun = &r
	return s.write(p)
}

// Delete removes the profile name; a file that cannot be read is removed too.
func (s *Store) Delete(name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	path := s.Path(name)
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w %q: see the saved profiles with ferry profile list", ErrNotFound, name)
		}
		return fmt.Errorf("delete the profile %q: %w", name, err)
	}
	return atomicfile.SyncDir(s.dir)
}

func (s *Store) write(p *Profile) error {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("profile %q: %w", p.Name, err)
	}
	path := s.Path(p.Name)
	if err := atomicfile.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save the profile %q in %s: %w", p.Name, path, err)
	}
	return nil
}

// readFile reads and checks a profile file; every error but a missing file names the file.
func readFile(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("profile file %s cannot be read: %w", path, err)
	}
	var head struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("profile file %s is damaged (%v): delete it, or save the profile again", path, err)
	}
	switch {
	case head.Version > Version:
		return nil, fmt.Errorf("profile file %s is of version %d, made by a newer Ferry: this one reads version %d; update Ferry", path, head.Version, Version)
	case head.Version < 1:
		return nil, fmt.Errorf("profile file %s has no valid version: delete it, or save the profile again", path)
	}
	var p Profile
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("profile file %s is damaged (%v): delete it, or save the profile again", path, err)
	}
	if err := p.Check(); err != nil {
		return nil, fmt.Errorf("profile file %s is not valid: %w", path, err)
	}
	return &p, nil
}
