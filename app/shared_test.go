package app

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/profile"
	"github.com/ferrysync/ferry/backend/protocol"
)

// runTogether waits for the inventory of both members, runs the plan of host and waits for the
// end on both. The first run (preset "") starts both inventories and chooses the mirror preset
// after them; a profile's run has started them, and its preset is in force.
func runTogether(t *testing.T, host, guest *testApp, preset string) {
	t.Helper()
	hostMark, guestMark := host.rec.mark(), guest.rec.mark()
	first := preset == ""
	if first {
		for _, a := range []*testApp{host, guest} {
			if err := a.Inventory.Start(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if d := waitFor[InventoryDone](t, host.rec, hostMark, EventInventoryDone, nil); d.Error != "" {
		t.Fatalf("inventory: %s", d.Error)
	}
	if first {
		if _, err := host.Rules.UsePreset("mirror"); err != nil {
			t.Fatal(err)
		}
	} else if st := host.Rules.Get(); st.Mode != preset {
		t.Fatalf("the profile's rules: %+v", st)
	}
	if conf, err := host.Synchronization.Confirmation(); err != nil || conf.Actions == 0 {
		t.Fatalf("confirmation %+v, %v", conf, err)
	}
	if st := host.synchronize(t); st.EndStatus != "regular" {
		t.Fatalf("the host's run: %+v", st)
	}
	if st := waitFor[SyncStatus](t, guest.rec, guestMark, EventSyncDone, nil); st.EndStatus != "regular" {
		t.Fatalf("the guest's run: %+v", st)
	}
}

// TestSharedProfile: two computers run a mirror together and save it as a profile on both.
// Then the first runs the profile: it invites the second and waits for it; the second finds the
// invitation and joins with no password and no key question; the run goes through the
// inventory and the confirmation of the first, and both end on the summary. Another computer
// sees no invitation.
func TestSharedProfile(t *testing.T) {
	srv := startServer(t)
	host, guest := onServer(t, srv.URL), onServer(t, srv.URL)
	src, dst := t.TempDir(), t.TempDir()
	writeFiles(t, src, map[string]string{"one.txt": "one"}, at)

	// The first run: a session of two, trusted on both sides.
	meet(t, host, guest)
	hostMark := host.rec.mark()
	host.addNodes(t, src)
	guest.addNodes(t, dst)
	// The host starts once it sees the guest's folder, as its user would.
	waitFor[*SessionInfo](t, host.rec, hostMark, EventSessionChanged, func(info *SessionInfo) bool {
		return info != nil && len(memberNodes(info, "B")) == 1
	})
	runTogether(t, host, guest, "")

	machine, _ := os.Hostname()
	for _, a := range []*testApp{host, guest} {
		saved, err := a.Profiles.Save("Weekly")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(saved.Members, []string{machine}) || len(saved.Nodes) != 1 || saved.LastRun == nil {
			t.Fatalf("saved %+v", saved)
		}
	}
	hp, err := profile.NewStore(host.c.configDir).Get("Weekly")
	if err != nil {
		t.Fatal(err)
	}
	gp, err := profile.NewStore(guest.c.configDir).Get("Weekly")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(hp.Secret, gp.Secret) || hp.Server != srv.URL || gp.Server != srv.URL || hp.Mode != "mirror" || gp.Mode != "mirror" || gp.From != hp.Nodes[0].Code {
		t.Fatalf("the host saved %+v, the guest %+v: want one secret, the server and the host's mirror from its node", hp, gp)
	}
	if hp.Members[0].ClientID == gp.Members[0].ClientID {
		t.Fatal("both profiles name the same member")
	}
	for _, a := range []*testApp{host, guest} {
		if err := a.Sessions.Quit(); err != nil {
			t.Fatal(err)
		}
	}
	if got := guest.Profiles.Invitations(); len(got) != 0 {
		t.Fatalf("invitations before any run: %+v", got)
	}

	// A run cancelled while it waits: its invitation goes with the session.
	if err := host.Profiles.Run("Weekly"); err != nil {
		t.Fatal(err)
	}
	if got := guest.Profiles.Invitations(); len(got) != 1 {
		t.Fatalf("the guest's invitations while the host waits: %+v", got)
	}
	if err := host.Sessions.Quit(); err != nil {
		t.Fatal(err)
	}
	if got := guest.Profiles.Invitations(); len(got) != 0 {
		t.Fatalf("the guest's invitations after the host cancelled: %+v", got)
	}

	// The second run, from the profile.
	writeFiles(t, src, map[string]string{"two.txt": "second"}, at)
	hostMark, guestMark := host.rec.mark(), guest.rec.mark()
	if err := host.Profiles.Run("Weekly"); err != nil {
		t.Fatal(err)
	}
	w := waitFor[ProfileWaiting](t, host.rec, hostMark, EventProfileWaiting, nil)
	if w.Profile != "Weekly" || len(w.Members) != 1 || w.Members[0].Name != machine || w.Members[0].Joined {
		t.Fatalf("waiting %+v", w)
	}
	if stranger := onServer(t, srv.URL); len(stranger.Profiles.Invitations()) != 0 {
		t.Fatal("a computer outside the profile sees its invitation")
	}
	invs := guest.Profiles.Invitations()
	if len(invs) != 1 || invs[0].Profile != "Weekly" || invs[0].From != machine {
		t.Fatalf("the guest's invitations: %+v", invs)
	}
	if err := guest.Profiles.Join("Weekly"); err != nil {
		t.Fatal(err)
	}
	waitFor[ProfileWaiting](t, host.rec, hostMark, EventProfileWaiting, func(w ProfileWaiting) bool {
		return len(w.Members) == 1 && w.Members[0].Joined
	})
	runTogether(t, host, guest, "mirror")
	if asked := host.rec.since(hostMark, EventTrustAsked); len(asked) != 0 {
		t.Fatalf("the host was asked about a key: %+v", asked)
	}
	if asked := guest.rec.since(guestMark, EventTrustAsked); len(asked) != 0 {
		t.Fatalf("the guest was asked about a key: %+v", asked)
	}
	if got, err := os.ReadFile(filepath.Join(dst, "two.txt")); err != nil || string(got) != "second" {
		t.Fatalf("two.txt on the guest: %q, %v", got, err)
	}
	if got := guest.Profiles.Invitations(); len(got) != 0 {
		t.Fatalf("invitations while in the session: %+v", got)
	}
	for _, a := range []*testApp{host, guest} {
		p, err := profile.NewStore(a.c.configDir).Get("Weekly")
		if err != nil || p.LastRun == nil || p.LastRun.Status != profile.StatusDone || p.LastRun.Bytes != int64(len("second")) {
			t.Fatalf("the run recorded: %+v (%+v), %v", p, p.LastRun, err)
		}
	}

	// The guest saves the run again: it takes the terms of the host's profile run, the mirror
	// from the host's node.
	if _, err := guest.Profiles.Save("Weekly"); err != nil {
		t.Fatal(err)
	}
	if gp, err = profile.NewStore(guest.c.configDir).Get("Weekly"); err != nil || gp.Mode != "mirror" || gp.From != hp.Nodes[0].Code {
		t.Fatalf("the guest saved again %+v, %v: want the mirror from the host's node %s", gp, err, hp.Nodes[0].Code)
	}

	// The other way: the guest runs the profile, and the host's Run joins the session it waits
	// in rather than creating one. The mirror still goes from the host's folder.
	for _, a := range []*testApp{host, guest} {
		if err := a.Sessions.Quit(); err != nil {
			t.Fatal(err)
		}
	}
	writeFiles(t, src, map[string]string{"three.txt": "three"}, at)
	writeFiles(t, dst, map[string]string{"stray.txt": "stray"}, at)
	hostMark, guestMark = host.rec.mark(), guest.rec.mark()
	if err := guest.Profiles.Run("Weekly"); err != nil {
		t.Fatal(err)
	}
	if err := host.Profiles.Run("Weekly"); err != nil {
		t.Fatal(err)
	}
	if h, g := host.Sessions.Current(), guest.Sessions.Current(); h == nil || g == nil || h.ID != g.ID {
		t.Fatalf("the host is in %+v, the guest in %+v: want one session", h, g)
	}
	if w := host.rec.since(hostMark, EventProfileWaiting); len(w) != 0 {
		t.Fatalf("the host that joined waits for members: %+v", w)
	}
	waitFor[ProfileWaiting](t, guest.rec, guestMark, EventProfileWaiting, func(w ProfileWaiting) bool {
		return len(w.Members) == 1 && w.Members[0].Joined
	})
	runTogether(t, guest, host, "mirror")
	if got, err := os.ReadFile(filepath.Join(dst, "three.txt")); err != nil || string(got) != "three" {
		t.Fatalf("three.txt on the guest: %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(dst, "stray.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stray.txt on the guest after a mirror from the host: %v", err)
	}
	if _, err := os.Stat(filepath.Join(src, "stray.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the mirror went from the guest: stray.txt on the host (%v)", err)
	}
}

// TestSharedProfileOpen: a shared profile opened to change its folders keeps its node codes,
// its members, its secret and the node its preset goes from when saved again.
func TestSharedProfileOpen(t *testing.T) {
	a := newTestApp(t)
	other, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	secret, err := crypto.NewProfileSecret()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := profile.NewStore(a.c.configDir)
	saved := &profile.Profile{Name: "Weekly", Mode: "mirror", From: "Aa", Secret: secret[:],
		Nodes:   []profile.Node{{Code: "Ba", Sources: []string{dir}}},
		Members: []profile.Member{{Name: "laptop-a", ClientID: other.ClientID(), Key: other.Public()}}}
	if err := s.Save(saved); err != nil {
		t.Fatal(err)
	}
	if err := a.Profiles.Open("Weekly"); err != nil {
		t.Fatal(err)
	}
	if nodes := a.Data.Nodes(); len(nodes) != 1 || nodes[0].Code != "Ba" {
		t.Fatalf("nodes of the opened profile: %+v", nodes)
	}
	if _, err := a.Profiles.Save("Weekly"); err != nil {
		t.Fatal(err)
	}
	p, err := s.Get("Weekly")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Shared() || !slices.Equal(p.Secret, saved.Secret) || p.From != "Aa" || p.Nodes[0].Code != "Ba" || p.Members[0].Name != "laptop-a" {
		t.Fatalf("saved again: %+v", p)
	}
}

// sharedPair saves one shared profile "Weekly" on host and guest, as a run together would, and
// returns the host's identity and the profile's secret.
func sharedPair(t *testing.T, url string, host, guest *testApp) (*crypto.Identity, crypto.ProfileSecret) {
	t.Helper()
	secret, err := crypto.NewProfileSecret()
	if err != nil {
		t.Fatal(err)
	}
	var ids [2]*crypto.Identity
	for i, a := range []*testApp{host, guest} {
		if ids[i], err = (&Sessions{c: a.c}).identity(); err != nil {
			t.Fatal(err)
		}
	}
	for i, a := range []*testApp{host, guest} {
		other := ids[1-i]
		pr := &profile.Profile{Name: "Weekly", Mode: "mirror", From: "Aa", Secret: secret[:], Server: url,
			Nodes:   []profile.Node{{Code: []string{"Aa", "Ba"}[i], Sources: []string{t.TempDir()}}},
			Members: []profile.Member{{Name: []string{"laptop-a", "laptop-b"}[1-i], ClientID: other.ClientID(), Key: other.Public()}}}
		if err := profile.NewStore(a.c.configDir).Save(pr); err != nil {
			t.Fatal(err)
		}
	}
	return ids[0], secret
}

// leaveInvitation has cl create a session that nobody follows (its process was killed) and
// invite guest to it, as a shared profile's run does; it returns the session id.
func leaveInvitation(t *testing.T, cl *client.Client, secret crypto.ProfileSecret, guest string) string {
	t.Helper()
	key, err := crypto.NewSessionKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := cl.CreateSession(t.Context(), protocol.CreateSessionRequest{Settings: key.Seal([]byte(`{"version":1}`), "settings")})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := secret.SealInvitation(crypto.Invitation{Session: s.ID, Password: "amber-tide-6142", Servers: cl.BaseURLs(), Issued: time.Now().UTC()}, cl.Identity())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.PutInvitation(t.Context(), secret.InvitationKey(), protocol.InvitationPut{Guests: []string{guest}, Sealed: sealed, TTLSeconds: 3600}); err != nil {
		t.Fatal(err)
	}
	return s.ID
}

// A shared profile's invitation whose session is gone, or whose member no longer answers (its
// Ferry was killed): Join fails with a sentence that says what to do, and the invitation is no
// longer listed nor joined again; the next run's invitation is listed.
func TestStaleInvitation(t *testing.T) {
	srv := startServer(t)
	host, guest := onServer(t, srv.URL), onServer(t, srv.URL)
	hostID, secret := sharedPair(t, srv.URL, host, guest)
	guestID, err := (&Sessions{c: guest.c}).identity()
	if err != nil {
		t.Fatal(err)
	}
	guest.c.invitedJoinWait = 2 * time.Second // nobody answers: how long the join waits
	cl, err := client.New(srv.URL, hostID, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Login(t.Context()); err != nil {
		t.Fatal(err)
	}
	joinFails := func(what string) {
		t.Helper()
		if got := guest.Profiles.Invitations(); len(got) != 1 || got[0].From != "laptop-a" {
			t.Fatalf("%s: invitations %+v", what, got)
		}
		for range 2 { // and again, with the invitation no longer listed
			err := guest.Profiles.Join("Weekly")
			if err == nil || !strings.HasPrefix(err.Error(), `laptop-a invited this computer to run "Weekly", but its session no longer lets anyone in`) ||
				!strings.Contains(err.Error(), "run the profile there again") {
				t.Fatalf("%s: join: %v", what, err)
			}
			if got := guest.Profiles.Invitations(); len(got) != 0 {
				t.Fatalf("%s: invitations after the join failed: %+v", what, got)
			}
		}
		if cur := guest.Sessions.Current(); cur != nil {
			t.Fatalf("%s: in session %+v", what, cur)
		}
	}

	// The session is gone.
	id := leaveInvitation(t, cl, secret, guestID.ClientID())
	if err := cl.Quit(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	joinFails("a session gone")

	// The session is there, with no member to let anyone in.
	leaveInvitation(t, cl, secret, guestID.ClientID())
	joinFails("a member that no longer answers")

	// The host runs the profile again: its new invitation is listed.
	if err := host.Profiles.Run("Weekly"); err != nil {
		t.Fatal(err)
	}
	if got := guest.Profiles.Invitations(); len(got) != 1 || got[0].Profile != "Weekly" {
		t.Fatalf("invitations of the new run: %+v", got)
	}
	if err := host.Sessions.Quit(); err != nil {
		t.Fatal(err)
	}
}
