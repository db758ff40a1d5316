// Package ferrycmd builds the ferry command for the tests that run it as real processes (servers
// and members, with real signals), once per test binary.
package ferrycmd

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	once sync.Once
	bin  string
	err  error
)

// Build builds the ferry command once per test binary, without cgo and without the race
// detector (the processes move hundreds of MiB; their code is race-tested in its packages), into
// a folder of the system's temp dir, one name per checkout, that the next build replaces. It
// returns the command's path.
func Build(t testing.TB) string {
	t.Helper()
	once.Do(func() { bin, err = build() })
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func build() (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go" // where make test finds it too
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(os.TempDir(), "ferry-e2e")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp := filepath.Join(dir, fmt.Sprintf("ferry.%d", os.Getpid()))
	cmd := exec.Command(goBin, "build", "-o", tmp, "./backend/cmd/ferry")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build the ferry command: %v\n%s", err, out)
	}
	// One name per checkout: the tests of another worktree build their own. Renaming over a
	// build of another test binary is safe: a running process keeps the file it started from.
	sum := sha256.Sum256([]byte(root))
	path := filepath.Join(dir, "ferry-"+hex.EncodeToString(sum[:6]))
	return path, os.Rename(tmp, path)
}

// moduleRoot is the folder of the go.mod above the working directory (the test's package).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's folder")
		}
		dir = parent
	}
}
