package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ferrysync/ferry/backend/internal/redistest"
)

// readmeCommands returns the `bin/ferry …` commands of the shell blocks of the README's section
// under heading, backslash continuations joined, split into words.
func readmeCommands(t *testing.T, heading string) [][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(data), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README has no %q", heading)
	}
	section, _, _ := strings.Cut(after, "\n## ")
	var cmds [][]string
	for {
		_, rest, ok := strings.Cut(section, "```sh\n")
		if !ok {
			break
		}
		block, rest, _ := strings.Cut(rest, "```")
		section = rest
		sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(block, "\\\n", " ")))
		for sc.Scan() {
			line, _, _ := strings.Cut(sc.Text(), "#")
			if f := strings.Fields(line); len(f) > 0 && f[0] == "bin/ferry" {
				cmds = append(cmds, f[1:])
			}
		}
	}
	if len(cmds) == 0 {
		t.Fatalf("no bin/ferry command after %q", heading)
	}
	return cmds
}

// replaceArgs returns args with every occurrence of each old string replaced.
func replaceArgs(args []string, oldNew ...string) []string {
	r := strings.NewReplacer(oldNew...)
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = r.Replace(a)
	}
	return out
}

// The README's examples work as written: the two server processes sharing Redis, a secret and
// the relay storage, then `ferry host` on one process and `ferry join` on the other mirroring a
// folder between two configuration folders ("machines"). Only addresses and folders are
// replaced by the test's own, and the password is given as a user would type it ($FERRY_PASSWORD,
// stdin not being a terminal here).
func TestRedisReadmeExamples(t *testing.T) {
	t.Parallel()
	bin := e2eFerry(t)
	servers := readmeCommands(t, "## The session server")
	var twoProcesses [][]string
	for _, c := range servers {
		if strings.Contains(strings.Join(c, " "), "--redis") {
			twoProcesses = append(twoProcesses, c)
		}
	}
	if len(twoProcesses) != 2 {
		t.Fatalf("want the two Redis server commands, got %q", twoProcesses)
	}
	tmp := t.TempDir()
	redisURL := redistest.URL(t)
	var urls []string
	for _, c := range twoProcesses {
		args := replaceArgs(c,
			":7420", "127.0.0.1:0", ":7421", "127.0.0.1:0",
			"redis://127.0.0.1:6379/0", redisURL,
			"/etc/ferry/secret", filepath.Join(tmp, "secret"),
			"/var/lib/ferry/relay", filepath.Join(tmp, "relay"))
		if args[0] != "server" || args[1] != "--listen" {
			t.Fatalf("server command %q", c)
		}
		srv := startServer(t, bin, nil, args[3:]...) // startServer gives --listen 127.0.0.1:0 first
		urls = append(urls, srv.URL)
	}

	members := readmeCommands(t, "## Between machines: `ferry host` and `ferry join`")
	if len(members) != 2 || members[0][0] != "host" || members[1][0] != "join" {
		t.Fatalf("want a host and a join command, got %q", members)
	}
	a, b := filepath.Join(tmp, "Photos"), filepath.Join(tmp, "backup")
	put(t, filepath.Join(a, "2024", "beach.jpg"), randomBytes(7, 300<<10), tOld)
	put(t, filepath.Join(a, "notes.txt"), []byte("hello\n"), tNew)
	if err := os.MkdirAll(b, 0o755); err != nil {
		t.Fatal(err)
	}
	hostArgs := replaceArgs(members[0], "http://ferry.example:7420", urls[0], "~/Photos", a)
	// Both answer "y" if asked to confirm the plan, as a user would.
	hp := startMemberWith(t, bin, "README host", filepath.Join(tmp, "machine1"), nil, strings.NewReader("y\n"), hostArgs...)
	out := hp.stdout.Await(t, "session and password", e2eWait, func(s string) bool { return strings.Contains(s, "Password: ") })
	session := regexp.MustCompile(`Session: (\S+)`).FindStringSubmatch(out)
	password := regexp.MustCompile(`Password: (\S+)`).FindStringSubmatch(out)
	if session == nil || password == nil {
		t.Fatalf("host printed %q", out)
	}
	joinArgs := replaceArgs(members[1], "http://ferry.example:7420", urls[1], "042kqd917", session[1], "/media/backup/Photos", b)
	jp := startMemberWith(t, bin, "README join", filepath.Join(tmp, "machine2"), []string{envPassword + "=" + password[1]}, strings.NewReader("y\n"), joinArgs...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("join stdout:\n%s\njoin stderr:\n%s", jp.stdout, jp.stderr)
		}
	})
	hp.mustExit(t, 0)
	jp.mustExit(t, 0)
	sameTrees(t, a, b)
}
