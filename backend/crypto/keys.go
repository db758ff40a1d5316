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
	return atomicfile.Create(path, pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der}), 0o600)
}
