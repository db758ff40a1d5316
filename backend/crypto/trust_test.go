package crypto

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func clientKey(t *testing.T, b byte) (string, ed25519.PublicKey) {
	t.Helper()
	pub := seededKey(b)
	id, err := ClientID(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id, pub
}

func TestTrustStore(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "ferry")
	s, err := OpenTrustStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	idA, pubA := clientKey(t, 1)
	idB, pubB := clientKey(t, 2)
	check := func(id string, pub ed25519.PublicKey, want TrustStatus) {
		t.Helper()
		if got, err := s.Check(id, pub); err != nil || got != want {
			t.Fatalf("Check(%s) = %v, %v; want %v", id, got, err, want)
		}
	}
	check(idA, pubA, TrustNew)
	if err := s.Remember(idA, pubA); err != nil {
		t.Fatal(err)
	}
	check(idA, pubA, TrustKnown)
	check(idB, pubB, TrustNew)
	if err := s.Remember(idA, pubA); err != nil {
		t.Fatalf("remember again: %v", err)
	}

	// Remembered per user: a new store on the same folder knows A.
	s2, err := OpenTrustStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s2.Check(idA, pubA); got != TrustKnown {
		t.Errorf("reopened: %v", got)
	}
	if runtime.GOOS != "windows" {
		assertMode(t, filepath.Join(dir, TrustFile), 0o600)
		assertMode(t, dir, 0o700)
	}
	assertNoTemp(t, dir)

	// A client id never pairs with another key: ClientID binds them, so the store refuses a
	// mismatched pair outright.
	if _, err := s.Check(idA, pubB); err == nil {
		t.Error("mismatched client id and key accepted")
	}
	if err := s.Remember(idA, pubB); err == nil {
		t.Error("mismatched client id and key remembered")
	}
	if err := s.Forget(idA); err != nil {
		t.Fatal(err)
	}
	check(idA, pubA, TrustNew)
	if err := s.Forget(idA); err != nil {
		t.Errorf("forget unknown: %v", err)
	}
}

func TestTrustStoreChanged(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	idA, pubA := clientKey(t, 1)
	_, pubB := clientKey(t, 2)
	fpB, _ := KeyFingerprint(pubB)
	// The store holds another key for A (as after a key change, or an edited file).
	writeFile(t, filepath.Join(dir, TrustFile), idA+" "+fpB.String()+"\n")
	s, err := OpenTrustStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Check(idA, pubA); err != nil || got != TrustChanged {
		t.Fatalf("Check = %v, %v; want changed", got, err)
	}
	before := readFile(t, filepath.Join(dir, TrustFile))
	if err := s.Remember(idA, pubA); !errors.Is(err, ErrKeyChanged) {
		t.Fatalf("Remember = %v, want ErrKeyChanged", err)
	}
	if string(readFile(t, filepath.Join(dir, TrustFile))) != string(before) {
		t.Error("changed key was replaced")
	}
	// Only an explicit Forget lets the new key in.
	if err := s.Forget(idA); err != nil {
		t.Fatal(err)
	}
	if err := s.Remember(idA, pubA); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Check(idA, pubA); got != TrustKnown {
		t.Errorf("after forget and remember: %v", got)
	}
}

func TestTrustStoreAtomicWrite(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("inode identity")
	}
	t.Parallel()
	dir := t.TempDir()
	s, err := OpenTrustStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	idA, pubA := clientKey(t, 1)
	idB, pubB := clientKey(t, 2)
	if err := s.Remember(idA, pubA); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, TrustFile)
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// Keep the old file open, as a concurrent reader would.
	old, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := s.Remember(idB, pubB); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(before, after) {
		t.Error("store rewritten in place, not replaced by a rename")
	}
	buf := make([]byte, 4096)
	n, _ := old.Read(buf)
	if strings.Contains(string(buf[:n]), idB) {
		t.Error("the old file saw the new entry")
	}
	content := string(readFile(t, path))
	if !strings.Contains(content, idA) || !strings.Contains(content, idB) {
		t.Errorf("content:\n%s", content)
	}
	assertMode(t, path, 0o600)
	assertNoTemp(t, dir)
}

func TestTrustStoreConcurrent(t *testing.T) {
	t.Parallel()
	s, err := OpenTrustStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			id, pub := clientKey(t, byte(i+1))
			if err := s.Remember(id, pub); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range 16 {
		id, pub := clientKey(t, byte(i+1))
		if got, err := s.Check(id, pub); err != nil || got != TrustKnown {
			t.Errorf("client %d: %v %v", i, got, err)
		}
	}
}

func TestTrustStoreRefusesBadFile(t *testing.T) {
	t.Parallel()
	idA, pubA := clientKey(t, 1)
	fpA, _ := KeyFingerprint(pubA)
	good := idA + " " + fpA.String() + "\n"
	for name, content := range map[string]string{
		"one field":       idA + "\n",
		"three fields":    idA + " " + fpA.String() + " x\n",
		"bad fingerprint": idA + " zz\n",
		"duplicate":       good + good,
		"huge":            strings.Repeat("#", maxTrustFile+1),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, TrustFile), content)
			if _, err := OpenTrustStore(dir); err == nil || !strings.Contains(err.Error(), "corrupt") {
				t.Errorf("err = %v, want corrupt", err)
			}
		})
	}
	t.Run("comments and blank lines", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, TrustFile), "# note\n\n  "+good)
		s, err := OpenTrustStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Check(idA, pubA); got != TrustKnown {
			t.Errorf("got %v", got)
		}
	})
	if runtime.GOOS != "windows" {
		t.Run("writable by others", func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, TrustFile)
			writeFile(t, path, good)
			if err := os.Chmod(path, 0o666); err != nil {
				t.Fatal(err)
			}
			if _, err := OpenTrustStore(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}
