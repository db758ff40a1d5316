package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Names holding escape sequences or newlines are shown quoted in the plan: printed raw, they would
// drive the terminal or fake plan lines.
func TestPlanQuotesControlCharacters(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "A"), filepath.Join(dir, "B")
	evil := "evil\x1b[2J\nname.txt"
	for _, d := range []string{a, b} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(a, evil), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a, "plain.txt"), []byte("y"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ferry", "plan", "--node", "A="+a, "--node", "B="+b, "--mode", "mirror")
	cmd.Env = append(os.Environ(), envConfigDir+"="+filepath.Join(dir, "config"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ferry plan: %v\n%s", err, out)
	}
	text := string(out)
	if strings.ContainsAny(text, "\x1b") || strings.Contains(text, "\nname.txt") {
		t.Fatalf("the plan prints the name raw:\n%q", text)
	}
	if !strings.Contains(text, `"/evil\x1b[2J\nname.txt"`) || !strings.Contains(text, " /plain.txt ") {
		t.Fatalf("the plan does not quote the name (and only it):\n%s", text)
	}
}

// A server that answers but cannot serve (503: its store is down) is a server outage: exit 3,
// as when it cannot be reached (the client gives up on 5xx as unreachable), and nothing changes.
func TestLoginServerErrorExits3(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"code":"unavailable","message":"the session store is down"}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "A"), filepath.Join(dir, "B")
	for _, d := range []string{a, b} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(a, "f.txt"), []byte("f"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ferry", "sync", "--node", "A="+a, "--node", "B="+b, "--mode", "mirror", "--yes", "--server", srv.URL)
	cmd.Env = append(os.Environ(), envConfigDir+"="+filepath.Join(dir, "config"))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitUnreachable {
		t.Fatalf("ferry sync against a 503 server: %v, want exit %d\n%s", err, exitUnreachable, out)
	}
	if _, err := os.Stat(filepath.Join(b, "f.txt")); !os.IsNotExist(err) {
		t.Fatalf("B/f.txt: %v; want nothing copied", err)
	}
}
