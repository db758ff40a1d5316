package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/session"
)

// loadIdentity is the identity kept in a configuration folder (made when missing), as the
// ferry command loads it.
func loadIdentity(t *testing.T, config string) *crypto.Identity {
	t.Helper()
	id, err := crypto.LoadOrCreateIdentity(config)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// trustKey makes the installation of config trust the identity of other, as an earlier
// session with --trust would have.
func trustKey(t *testing.T, config, other string) {
	t.Helper()
	store, err := crypto.OpenTrustStore(config)
	if err != nil {
		t.Fatal(err)
	}
	id := loadIdentity(t, other)
	if err := store.Remember(id.ClientID(), id.Public()); err != nil {
		t.Fatal(err)
	}
}

// newAPIClient logs in to the server with key as instance.
func newAPIClient(t *testing.T, url string, key ed25519.PrivateKey, instance string) *cloudtest.Client {
	t.Helper()
	c := cloudtest.New(t, url)
	c.Key, c.Instance = key, instance
	c.Login()
	return c
}

// inProcessMember is a member that joins from the test process, through the session package
// as the command does, and declares its node when the test says.
type inProcessMember struct {
	m    *session.Member
	done chan error
}

// joinInProcess joins the host's session with the identity of config, without nodes.
func joinInProcess(t *testing.T, url, config string, line hostLine) *inProcessMember {
	t.Helper()
	c, err := client.New(url, loadIdentity(t, config), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), e2eWait)
	defer cancel()
	if err := c.Login(ctx); err != nil {
		t.Fatal(err)
	}
	store, err := crypto.OpenTrustStore(config)
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.Join(ctx, c, session.JoinRequest{ID: line.Session, Password: line.Password},
		session.WithTrust(store), session.TrustNewKeys(true))
	if err != nil {
		t.Fatal(err)
	}
	p := &inProcessMember{m: m, done: make(chan error, 1)}
	t.Cleanup(func() { _, _ = m.Close(context.Background(), time.Second) })
	return p
}

// declare declares the member's node and runs its part of the flow in the background.
func (p *inProcessMember) declare(t *testing.T, code, dir string) {
	t.Helper()
	nodes := []plan.NodeSpec{{Code: code, Roots: []string{dir}}}
	if err := p.m.Declare(t.Context(), nodes); err != nil {
		t.Fatal(err)
	}
	flow := p.m.NewFlow(nodes, session.FlowOptions{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
		defer cancel()
		err := func() error {
			if _, err := flow.Prepare(ctx); err != nil {
				return err
			}
			out, err := flow.Synchronize(ctx, session.SyncOptions{})
			if err != nil {
				return err
			}
			if out.Sync.EndStatus != protocol.EndRegular || len(out.Errors) > 0 {
				return fmt.Errorf("the run ended %s with %v", out.Sync.EndStatus, out.Errors)
			}
			return nil
		}()
		if cerr := flow.Close(ctx); err == nil && cerr != nil {
			err = cerr
		}
		if _, cerr := p.m.Close(ctx, 10*time.Second); err == nil && cerr != nil {
			err = cerr
		}
		p.done <- err
	}()
}

// wait waits for the member's flow to end.
func (p *inProcessMember) wait() error {
	select {
	case err := <-p.done:
		return err
	case <-time.After(e2eWait):
		return fmt.Errorf("still running after %s", e2eWait)
	}
}

// Bad command lines exit 2 before anything is asked of a server.
func TestHostJoinUsage(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(envConfigDir, filepath.Join(dir, "config"))
	for _, args := range [][]string{
		{"host", "--mode", "mirror"},
		{"host", "--node", "A=" + dir},
		{"host", "--node", "A=" + dir, "--mode", "sideways"},
		{"host", "--node", "A=" + dir, "--mode", "mirror", "--expect-members", "6"},
		{"host", "--node", "A=" + dir, "--mode", "mirror", "--expect-members", "1"},
		{"host", "--node", "a=" + dir, "--mode", "mirror"},
		{"host", "--node", "A=" + dir, "--rules", filepath.Join(dir, "missing.json")},
		{"host", "--node", "A=" + dir, "--mode", "mirror", "--versions", "../outside"},
		{"host", "--node", "A=" + dir, "--mode", "mirror", "--versions", "/abs"},
		{"host", "--node", "A=" + dir, "--mode", "mirror", "--versions-keep", "3"},
		{"host", "--node", "A=" + dir, "--mode", "mirror", "--max-delete", "lots"},
		{"join", "--node", "B=" + dir, "--server", "http://127.0.0.1:9", "--session", "123abc456", "--password", "x", "--max-delete", "101%"},
		{"join", "--node", "B=" + dir, "--session", "123abc456", "--password", "x"},
		{"join", "--node", "B=" + dir, "--server", "http://127.0.0.1:9"},
		{"join", "--server", "http://127.0.0.1:9", "--session", "123abc456", "--password", "x"},
		{"join", "--node", "B=" + dir, "--server", "http://127.0.0.1:9", "--session", "123abc456", "--password", "x", "extra"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, nil, &stdout, &stderr); code != exitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, exitUsage, stderr.String())
		}
	}
	// An unreachable server: exit 3.
	var stderr bytes.Buffer
	args := []string{"join", "--node", "B=" + dir, "--server", "http://127.0.0.1:9", "--session", "123abc456", "--password", "x"}
	if code := run(context.Background(), args, nil, &bytes.Buffer{}, &stderr); code != exitUnreachable {
		t.Errorf("unreachable server: exit %d, want %d\n%s", code, exitUnreachable, stderr.String())
	}
}

// The session password comes from --password, the first line of --password-file, or
// $FERRY_PASSWORD; without any, a non-terminal stdin is a usage error naming the ways.
func TestJoinPasswordSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	if err := os.WriteFile(file, []byte("  7K2QD-MX0PA \nsecond line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\nx\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f       joinFlags
		env     string
		want    string
		wantErr string
	}{
		{f: joinFlags{password: "flag"}, env: "env", want: "flag"},
		{f: joinFlags{passwordFile: file}, env: "env", want: "7K2QD-MX0PA"},
		{env: " from-env\n", want: "from-env"},
		{f: joinFlags{password: "a", passwordFile: file}, wantErr: "not both"},
		{f: joinFlags{passwordFile: empty}, wantErr: "first line is empty"},
		{f: joinFlags{passwordFile: filepath.Join(dir, "missing")}, wantErr: "no such file"},
		{wantErr: "--password-file FILE, $FERRY_PASSWORD, or run on a terminal"},
	} {
		t.Setenv(envPassword, c.env)
		got, err := c.f.readPassword(strings.NewReader(""), &bytes.Buffer{})
		switch {
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%+v: error %v, want one saying %q", c.f, err, c.wantErr)
		case c.wantErr == "" && (err != nil || got != c.want):
			t.Errorf("%+v with $%s=%q: %q, %v; want %q", c.f, envPassword, c.env, got, err, c.want)
		}
	}
}

// The host's hint gives each other member a node code of its own, never asks for the password
// on the command line, and warns when the server is on a loopback address.
func TestJoinHint(t *testing.T) {
	nodes := []plan.NodeSpec{{Code: "A"}, {Code: "C"}}
	got := joinHint("http://127.0.0.1:7420", "042kqd917", nodes, 4)
	for _, want := range []string{"--node B=PATH", "--node D=PATH", "--node E=PATH", "only this machine can reach it"} {
		if !strings.Contains(got, want) {
			t.Errorf("hint lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "--node C=") || strings.Contains(got, "--password") {
		t.Errorf("hint reuses the host's code or shows the password:\n%s", got)
	}
	if got := joinHint("https://ferry.example.com", "042kqd917", nodes[:1], 2); strings.Contains(got, "loopback") || !strings.Contains(got, "--node B=PATH") {
		t.Errorf("hint for a public server:\n%s", got)
	}
}
