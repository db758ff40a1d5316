package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ferrysync/ferry/backend/profile"
)

// ferryDone runs ferry to its end with the configuration folder config and fails unless it
// exits want; it returns stdout and stderr.
func ferryDone(t *testing.T, bin, config string, want int, args ...string) (string, string) {
	t.Helper()
	p := startMember(t, bin, "ferry "+strings.Join(args, " "), config, args...)
	p.mustExit(t, want)
	return p.stdout.String(), p.stderr.String()
}

// awaitWaiting waits until a shared profile's host says it waits for the others.
func awaitWaiting(t *testing.T, p *memberProc) {
	t.Helper()
	p.stderr.Await(t, "the wait for the other members", e2eWait, func(s string) bool {
		return strings.Contains(s, `"type":"waiting"`) || strings.Contains(s, "waiting for")
	})
}

// readProfile reads a profile as ferry profile show --json prints it.
func readProfile(t *testing.T, bin, config, name string) profile.Profile {
	t.Helper()
	out, _ := ferryDone(t, bin, config, 0, "profile", "show", "--json", name)
	var p profile.Profile
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("profile show --json: %v\n%s", err, out)
	}
	return p
}

// Two computers, each with a configuration folder (identity, trusted keys, profiles) of its
// own, synchronize once with a password and save the session as a shared profile; then they
// synchronize again from the profile, either side hosting, no password given and no key
// question asked (stdin is no terminal and --trust is not given: a question would refuse).
func TestSharedProfileRunsAgainWithoutPassword(t *testing.T) {
	t.Parallel()
	bin := e2eFerry(t)
	srv := startServer(t, bin, nil, "--storage", filepath.Join(t.TempDir(), "relay"))
	cfgA, cfgB := t.TempDir(), t.TempDir()
	a, b := t.TempDir(), t.TempDir()
	put(t, filepath.Join(a, "one.txt"), []byte("one"), tOld)
	put(t, filepath.Join(b, "stale.txt"), []byte("only on B"), tOld)

	hp, line := host(t, bin, srv.URL, cfgA, "--node", "A="+a, "--mode", "mirror", "--trust", "--max-delete", "100%", "--save-profile", "laptops")
	jp := join(t, bin, srv.URL, cfgB, line, line.Password, "--node", "B="+b, "--trust", "--save-profile", "laptops")
	hp.mustExit(t, 0)
	jp.mustExit(t, 0)
	sameTrees(t, a, b)
	for _, p := range []*memberProc{hp, jp} {
		if !strings.Contains(p.stderr.String(), `Saved the shared profile "laptops"`) {
			t.Fatalf("%s saved no profile:\n%s", p.name, p.stderr)
		}
	}
	pa, pb := readProfile(t, bin, cfgA, "laptops"), readProfile(t, bin, cfgB, "laptops")
	idA, idB := loadIdentity(t, cfgA), loadIdentity(t, cfgB)
	if len(pa.Members) != 1 || pa.Members[0].ClientID != idB.ClientID() || len(pb.Members) != 1 || pb.Members[0].ClientID != idA.ClientID() {
		t.Fatalf("members: A's %+v, B's %+v", pa.Members, pb.Members)
	}
	if pa.ProfileSecret() != pb.ProfileSecret() || pa.Server != srv.URL || pb.Server != srv.URL {
		t.Fatalf("A's and B's profiles differ in secret or server: %q, %q", pa.Server, pb.Server)
	}
	// The joiner keeps the host's terms, so that it can host next time.
	if pb.Mode != "mirror" || pb.From != "A" || pb.Safety.MaxDelete != "100%" || pb.LastRun == nil || pb.LastRun.Status != profile.StatusDone {
		t.Fatalf("B's profile: %+v", pb)
	}
	out, _ := ferryDone(t, bin, cfgB, 0, "profile", "list")
	if !strings.Contains(out, "1, with "+pa.Members[0].Name) {
		t.Fatalf("profile list:\n%s", out)
	}
	out, _ = ferryDone(t, bin, cfgB, 0, "profile", "show", "laptops")
	for _, want := range []string{`With: +\S+ \(client id ` + idA.ClientID() + `\)`, `Server: +` + regexp.QuoteMeta(srv.URL), `Mode: +mirror from node A`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Fatalf("profile show lacks %q:\n%s", want, out)
		}
	}

	// A name taken, or invalid, is refused before any session is made.
	_, errOut := ferryDone(t, bin, cfgA, 2, "host", "--server", srv.URL, "--node", "A="+a, "--mode", "mirror", "--save-profile", "laptops")
	if !strings.Contains(errOut, "exists already") || !strings.Contains(errOut, "ferry profile delete laptops") {
		t.Fatalf("a taken name: %s", errOut)
	}
	ferryDone(t, bin, cfgB, 2, "join", "--server", srv.URL, "--session", line.Session, "--password", "x", "--node", "B="+b, "--save-profile", "../x")
	_, errOut = ferryDone(t, bin, cfgB, 2, "join", "--profile", "laptops", "--session", line.Session)
	if !strings.Contains(errOut, "without --server, --session") {
		t.Fatalf("--profile with --session: %s", errOut)
	}

	// B runs the profile and waits; A joins it with ferry join --profile. The mirror still
	// goes from A.
	put(t, filepath.Join(a, "two.txt"), []byte("two"), tNew)
	bp := startMember(t, bin, "B: profile run", cfgB, "profile", "run", "laptops", "--yes", "--json")
	awaitWaiting(t, bp)
	ap := startMember(t, bin, "A: join --profile", cfgA, "join", "--profile", "laptops", "--yes", "--json")
	bp.mustExit(t, 0)
	ap.mustExit(t, 0)
	sameTrees(t, a, b)
	if !exists(filepath.Join(b, "two.txt")) {
		t.Fatal("two.txt did not reach B")
	}

	// Both run the profile: the first hosts, the second joins it.
	put(t, filepath.Join(a, "three.txt"), []byte("three"), tNew)
	ap = startMember(t, bin, "A: profile run", cfgA, "profile", "run", "laptops", "--yes", "--json")
	awaitWaiting(t, ap)
	bp = startMember(t, bin, "B: profile run", cfgB, "profile", "run", "laptops", "--yes", "--json")
	ap.mustExit(t, 0)
	bp.mustExit(t, 0)
	sameTrees(t, a, b)
	if !exists(filepath.Join(b, "three.txt")) {
		t.Fatal("three.txt did not reach B")
	}
	for cfg, name := range map[string]string{cfgA: "A", cfgB: "B"} {
		if r := readProfile(t, bin, cfg, "laptops").LastRun; r == nil || r.Status != profile.StatusDone || r.Actions == 0 {
			t.Fatalf("%s's last run: %+v", name, r)
		}
	}

	// Both start at once: one hosts, the other joins it (having found its invitation, or
	// having left its own second).
	put(t, filepath.Join(a, "five.txt"), []byte("five"), tNew)
	ap = startMember(t, bin, "A: profile run", cfgA, "profile", "run", "laptops", "--yes", "--json")
	bp = startMember(t, bin, "B: profile run", cfgB, "profile", "run", "laptops", "--yes", "--json")
	ap.mustExit(t, 0)
	bp.mustExit(t, 0)
	sameTrees(t, a, b)

	// A dry run shows the plan and changes nothing; the other member is told why.
	put(t, filepath.Join(a, "four.txt"), []byte("four"), tNew)
	ap = startMember(t, bin, "A: profile run --dry-run", cfgA, "profile", "run", "laptops", "--dry-run")
	awaitWaiting(t, ap)
	bp = startMember(t, bin, "B: join --profile", cfgB, "join", "--profile", "laptops", "--yes")
	ap.mustExit(t, 0)
	bp.mustExit(t, 4)
	if !strings.Contains(ap.stdout.String(), "Plan: 2 actions") || !strings.Contains(bp.stderr.String(), "a dry run: nothing changed") || exists(filepath.Join(b, "four.txt")) {
		t.Fatalf("dry run: A printed\n%s\nB said\n%s", ap.stdout, bp.stderr)
	}
	if r := readProfile(t, bin, cfgA, "laptops").LastRun; r == nil || r.Actions == 0 {
		t.Fatalf("the dry run was recorded: %+v", r)
	}
}

// A computer whose key changed (a new identity with a copy of B's profile: a reinstalled B, or
// anyone holding the file) cannot bring A into its session: its invitation is refused with a
// clear error and nothing changes; nor can it read A's invitation.
func TestSharedProfileRefusesAnotherKey(t *testing.T) {
	t.Parallel()
	bin := e2eFerry(t)
	srv := startServer(t, bin, nil, "--storage", filepath.Join(t.TempDir(), "relay"))
	cfgA, cfgB, cfgC := t.TempDir(), t.TempDir(), t.TempDir()
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	put(t, filepath.Join(a, "one.txt"), []byte("one"), tOld)
	hp, line := host(t, bin, srv.URL, cfgA, "--node", "A="+a, "--mode", "mirror", "--trust", "--save-profile", "laptops")
	jp := join(t, bin, srv.URL, cfgB, line, line.Password, "--node", "B="+b, "--trust", "--save-profile", "laptops")
	hp.mustExit(t, 0)
	jp.mustExit(t, 0)

	// C: B's profile pointing at C's own folder, and a new identity.
	pb := readProfile(t, bin, cfgB, "laptops")
	pb.Nodes[0].Sources = []string{c}
	if err := profile.NewStore(cfgC).Save(&pb); err != nil {
		t.Fatal(err)
	}
	put(t, filepath.Join(a, "new.txt"), []byte("new on A"), tNew)
	put(t, filepath.Join(c, "only-c.txt"), []byte("C's"), tOld)
	before := contents(t, a)

	cp := startMember(t, bin, "C: profile run", cfgC, "profile", "run", "laptops", "--yes", "--json", "--wait", "2m")
	awaitWaiting(t, cp)
	_, errOut := ferryDone(t, bin, cfgA, 1, "join", "--profile", "laptops", "--wait", "30s", "--yes")
	if !strings.Contains(errOut, "refused") || !strings.Contains(errOut, "signed by a key this profile does not trust") {
		t.Fatalf("A's join --profile: %s", errOut)
	}
	t.Logf("A's join --profile: %s", errOut)
	_, errOut = ferryDone(t, bin, cfgA, 1, "profile", "run", "laptops", "--yes")
	if !strings.Contains(errOut, "signed by a key this profile does not trust") || !strings.Contains(errOut, "nothing changed") {
		t.Fatalf("A's profile run: %s", errOut)
	}
	t.Logf("A's profile run: %s", errOut)
	if got := contents(t, a); !sameMap(got, before) || exists(filepath.Join(c, "new.txt")) || exists(filepath.Join(a, "only-c.txt")) {
		t.Fatalf("something changed: A holds %v", got)
	}
	// Interrupted, C removes its invitation.
	if err := cp.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	cp.mustExit(t, 4)

	// A runs the profile and waits for B; C, with its other key, is not invited: it cannot read
	// A's invitation, and A gives up waiting.
	ap := startMember(t, bin, "A: profile run", cfgA, "profile", "run", "laptops", "--yes", "--wait", "4s")
	awaitWaiting(t, ap)
	_, errOut = ferryDone(t, bin, cfgC, 1, "join", "--profile", "laptops", "--wait", "2s", "--yes")
	if !strings.Contains(errOut, "no invitation from") {
		t.Fatalf("C's join --profile: %s", errOut)
	}
	ap.mustExit(t, 1)
	if !strings.Contains(ap.stderr.String(), "did not join within 4s") {
		t.Fatalf("A's wait: %s", ap.stderr)
	}
	t.Logf("C's join --profile: %s\nA's wait: %s", errOut, ap.stderr)
	if got := contents(t, a); !sameMap(got, before) {
		t.Fatalf("something changed: A holds %v", got)
	}
}

// sameMap tells whether two maps are equal.
func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
