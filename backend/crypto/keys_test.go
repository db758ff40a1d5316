package crypto

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestLoadOrCreateIdentity(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "conf", "ferry")
	id, err := LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(id.Private) != ed25519.PrivateKeySize {
		t.Fatalf("private key is %d bytes", len(id.Private))
	}
	want, err := ClientID(id.Public())
	if err != nil {
		t.Fatal(err)
	}
	if got := id.ClientID(); got != want || len(got) != 19 {
		t.Errorf("ClientID = %q, want %q", got, want)
	}
	msg := []byte("ferry")
	if !ed25519.Verify(id.Public(), msg, id.Sign(msg)) {
		t.Error("signature does not verify")
	}
	if runtime.GOOS != "windows" {
		assertMode(t, filepath.Join(dir, IdentityFile), 0o600)
		assertMode(t, dir, 0o700)
	}
	assertOnlyKey(t, dir)

	again, err := LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Private.Equal(id.Private) {
		t.Error("second load made a new key")
	}
}

func TestLoadOrCreateIdentityConcurrent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const n = 16
	ids := make([]*Identity, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { ids[i], errs[i] = LoadOrCreateIdentity(dir) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !ids[i].Private.Equal(ids[0].Private) {
			t.Fatalf("process %d got another identity", i)
		}
	}
	assertOnlyKey(t, dir)
}

func TestLoadIdentityRefusesOpenPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	t.Parallel()
	dir := t.TempDir()
	id, err := LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, IdentityFile)
	before := readFile(t, path)
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadOrCreateIdentity(dir)
		if err == nil || !strings.Contains(err.Error(), "chmod 600") || !strings.Contains(err.Error(), path) {
			t.Errorf("mode %04o: err = %v, want a refusal naming the file and chmod 600", mode, err)
		}
	}
	if !bytes.Equal(readFile(t, path), before) {
		t.Error("key file changed")
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	got, err := LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatalf("read-only for the owner: %v", err)
	}
	if !got.Private.Equal(id.Private) {
		t.Error("other key")
	}
}

func TestLoadIdentityCorrupt(t *testing.T) {
	t.Parallel()
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	good, err := NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	goodDER, err := x509.MarshalPKCS8PrivateKey(good.Private)
	if err != nil {
		t.Fatal(err)
	}
	goodPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: goodDER})
	cases := map[string][]byte{
		"empty":          {},
		"garbage":        []byte("not a key\n"),
		"raw bytes":      make([]byte, 32),
		"wrong type":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: goodDER}),
		"truncated DER":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: goodDER[:20]}),
		"not ed25519":    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}),
		"trailing data":  append(bytes.Clone(goodPEM), "junk"...),
		"truncated file": goodPEM[:len(goodPEM)/2],
		"huge":           bytes.Repeat([]byte{'a'}, 1<<20),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, IdentityFile)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadOrCreateIdentity(dir)
			if err == nil || !strings.Contains(err.Error(), "corrupt") {
				t.Fatalf("err = %v, want corrupt key file", err)
			}
			if !bytes.Equal(readFile(t, path), data) {
				t.Error("corrupt key file was replaced")
			}
		})
	}
	t.Run("good with trailing newline", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, IdentityFile), append(bytes.Clone(goodPEM), '\n'), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := LoadOrCreateIdentity(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Private.Equal(good.Private) {
			t.Error("other key")
		}
	})
}

func TestLoadIdentityNotRegular(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, IdentityFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateIdentity(dir); err == nil {
		t.Fatal("a directory was taken for a key")
	}
}

func TestDefaultConfigDir(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("XDG_CONFIG_HOME is read on Linux")
	}
	base := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", base)
	got, err := DefaultConfigDir()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(base, "ferry"); got != want {
		t.Errorf("DefaultConfigDir = %q, want %q", got, want)
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %04o, want %04o", path, got, want)
	}
}

func assertOnlyKey(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != IdentityFile {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("%s holds %v, want only %s", dir, names, IdentityFile)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
