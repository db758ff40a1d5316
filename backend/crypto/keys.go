package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/ferrysync/ferry/backend/atomicfile"
)

// IdentityFile is the name of the installation's private key inside its configuration folder.
const IdentityFile = "identity.key"

const pemType = "PRIVATE KEY" // PKCS #8

// Identity is an installation's long-lived Ed25519 key pair. It proves at login that the
// installation holds the key its ClientID is derived from.
type Identity struct {
	Private ed25519.PrivateKey
}

// NewIdentity makes a new random identity.
func NewIdentity() (*Identity, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("new identity: %w", err)
	}
	return &Identity{Private: priv}, nil
}

// Public is the identity's public key.
func (id *Identity) Public() ed25519.PublicKey {
	return id.Private.Public().(ed25519.PublicKey)
}

// ClientID names the installation (see ClientID).
func (id *Identity) ClientID() string {
	s, err := ClientID(id.Public())
	if err != nil {
		// Unreachable for a key made by NewIdentity or LoadOrCreateIdentity.
		return ""
	}
	return s
}

// Sign signs msg with the private key.
func (id *Identity) Sign(msg []byte) []byte {
	return ed25519.Sign(id.Private, msg)
}

// DefaultConfigDir is where Ferry keeps its configuration and identity: the user's configuration
// folder (XDG_CONFIG_HOME, ~/Library/Application Support, %AppData%) followed by "ferry".
func DefaultConfigDir() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("config dir: %w", err)
	}
	return filepath.Join(dir, "ferry"), nil
}

// LoadOrCreateIdentity reads the identity kept in dir/identity.key, or creates one there when the
// file does not exist. The key is a PKCS #8 PEM file of mode 0600 in a folder created with mode
// 0700. A key file that others may read is refused, and so is a file that does not hold a key:
// an existing identity is never replaced.
func LoadOrCreateIdentity(dir string) (*Identity, error) {
	path := filepath.Join(dir, IdentityFile)
	id, err := loadIdentity(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return id, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	id, err = NewIdentity()
	if err != nil {
		return nil, err
	}
	switch err := writeIdentity(path, id); {
	case errors.Is(err, fs.ErrExist):
		// Another Ferry process created it first: use theirs.
		return loadIdentity(path)
	case err != nil:
		return nil, fmt.Errorf("identity: %w", err)
	}
	return id, nil
}

func loadIdentity(path string) (*Identity, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err // the caller creates one
	}
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("identity %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("identity %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("identity %s: key file is accessible to other users (mode %04o); "+
			"restrict it with chmod 600", path, perm)
	}
	const maxKeyFile = 16 << 10 // far more than a PEM Ed25519 key
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("identity %s: %w", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("identity %s: corrupt key file (larger than %d bytes)", path, maxKeyFile)
	}
	id, err := parseIdentity(data)
	if err != nil {
		return nil, fmt.Errorf("identity %s: corrupt key file (%v); move it away to create a new identity", path, err)
	}
	return id, nil
}

func parseIdentity(data []byte) (*Identity, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if block.Type != pemType {
		return nil, fmt.Errorf("PEM block is %q, want %q", block.Type, pemType)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("data after the PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, want Ed25519", key)
	}
	return &Identity{Private: priv}, nil
}

// writeIdentity writes the key without replacing a file that appeared meanwhile (fs.ErrExist).
func writeIdentity(path string, id *Identity) error {
	der, err := x509.MarshalPKCS8PrivateKey(id.Private)
	if err != nil {
		return err
	}
	return CreatePrivateFile(path, pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der}))
}

// CreatePrivateFile creates path holding data, readable by its owner only: it writes a
// temporary file beside it, syncs it and moves it into place without replacing a file that
// appeared meanwhile (an error wrapping fs.ErrExist).
func CreatePrivateFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := writeTempFile(dir, "."+filepath.Base(path)+"-*.tmp", data)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	// A hard link never replaces an existing file, unlike rename; fall back to rename where
	// the file system has no links.
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	return atomicfile.SyncDir(dir)
}

// writeTempFile writes data to a new file of mode 0600 in dir (named after pattern, as
// os.CreateTemp does) and syncs it; the caller moves it into place or removes it.
func writeTempFile(dir, pattern string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("write %s: %w", f.Name(), err)
	}
	return f.Name(), nil
}
