package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/profile"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/rules"
	"github.com/ferrysync/ferry/backend/session"
)

// A shared profile is run with its other members: the computer that runs it creates a session
// and invites them (sealed with the profile's secret, signed with its key); their apps see the
// invitation (Invitations) and join with it (Join), no password typed and no key question
// asked; the inventory of the one that runs it waits for them all.

// invitationTTL is how long an invitation waits for the members.
const invitationTTL = time.Hour

// ProfileWaiting is how a shared profile's run waits for its members.
type ProfileWaiting struct {
	Profile string          `json:"profile"`
	Members []WaitingMember `json:"members"`
}

// WaitingMember is a member a shared profile's run waits for.
type WaitingMember struct {
	Name   string `json:"name"`
	Joined bool   `json:"joined"`
}

// ProfileInvitation is a shared profile another member runs and invites this computer to.
type ProfileInvitation struct {
	Profile string `json:"profile"`
	From    string `json:"from"` // the member waiting, by name
}

// sharedRun is the run of a shared profile this computer invited the members to.
type sharedRun struct {
	name    string
	sess    *openSession
	secret  crypto.ProfileSecret
	members []profile.Member
	// await is the count of members the next inventory waits for (0: none).
	await   int
	waiting bool // some members have not joined yet
}

func peersOf(ms []profile.Member) []session.Peer {
	out := make([]session.Peer, len(ms))
	for i, m := range ms {
		out[i] = session.Peer{Name: m.Name, ClientID: m.ClientID, Key: slices.Clone(m.Key)}
	}
	return out
}

// sharedPart is the members, secret, server and From of a shared profile; nil for another.
func sharedPart(pr *profile.Profile) *profile.Profile {
	if !pr.Shared() {
		return nil
	}
	return &profile.Profile{Members: slices.Clone(pr.Members), Secret: slices.Clone(pr.Secret), Server: pr.Server, From: pr.From}
}

func waitingFor(name string, ms []profile.Member, joined map[string]bool) ProfileWaiting {
	w := ProfileWaiting{Profile: name, Members: make([]WaitingMember, 0, len(ms))}
	for _, m := range ms {
		w.Members = append(w.Members, WaitingMember{Name: m.Name, Joined: joined[m.ClientID]})
	}
	return w
}

// terms are the rules and safety settings in force as the other members of the session keep
// them: the preset and the node it goes from (the first part unless set), or the rules text.
func (a *analysis) terms() session.Terms {
	t := session.Terms{MaxDelete: a.safety.MaxDelete, Versions: a.safety.Versions, VersionsKeep: a.safety.VersionsKeep}
	switch {
	case slices.Contains(rules.Presets, a.mode):
		t.Mode, t.From = a.mode, a.presetFrom()
	case a.mode == ModeCustom && a.custom != nil:
		t.Rules = a.inForce
	}
	return t
}

// shareWith makes pr a profile shared with the other members of sess: their keys as checked
// in the session, the secret of the shared profile that opened it (else the session's), and the
// server unless it is the one built into Ferry. The preset goes from the node it went from in
// this run (From), so that whichever member runs the profile next, it goes the same way. A
// member that did not plan takes the terms the planner shared; without them it keeps the preset
// of the profile it replaces, else update, which deletes nothing.
func (c *core) shareWith(pr *profile.Profile, sess *openSession, opened *profileRun, old *profile.Profile, from string) error {
	ctx, cancel := context.WithTimeout(c.life, sessionCallTimeout)
	sess.member.Members(ctx) // the members as they are now
	cancel()
	for _, p := range sess.member.Peers() {
		pr.Members = append(pr.Members, profile.Member{Name: p.Name, ClientID: p.ClientID, Key: slices.Clone(p.Key)})
	}
	if len(pr.Members) == 0 {
		return errors.New("the other computers of the session are not known yet: save the profile once they brought their folders")
	}
	secret := sess.member.ProfileSecret()
	pr.Secret = secret[:]
	if opened != nil && opened.shared != nil {
		pr.Secret = slices.Clone(opened.shared.Secret)
	}
	if !sess.info.Embedded {
		pr.Server = sess.info.ServerURL
	}
	if pr.Mode != "" {
		pr.From = from
		return nil
	}
	if pr.Rules != nil {
		return nil
	}
	if t, ok := sess.member.PlannerTerms(); ok && (t.Mode != "" || t.Rules != "") {
		pr.Mode, pr.From = t.Mode, t.From
		if t.Rules != "" {
			pr.Rules = &profile.RulesFile{Text: t.Rules}
		}
		if pr.Safety == (profile.Safety{}) {
			pr.Safety = profile.Safety{MaxDelete: t.MaxDelete, Versions: t.Versions, VersionsKeep: t.VersionsKeep}
		}
		return nil
	}
	pr.Mode = "update"
	if old != nil && slices.Contains(rules.Presets, old.Mode) {
		pr.Mode, pr.From = old.Mode, old.From
	}
	return nil
}

// profileServer is the session server of a shared profile: its own, else the settings' (or the
// built-in one).
func (c *core) profileServer(pr *profile.Profile) func() (string, bool, error) {
	return func() (string, bool, error) {
		if pr.Server != "" {
			return pr.Server, false, nil
		}
		return (&Sessions{c: c}).server()
	}
}

// meet opens the session of a shared profile's run: the one a member invited this computer to,
// or, unless joinOnly, a new one whose invitation it leaves for the members (hosting).
func (p *Profiles) meet(pr *profile.Profile, joinOnly bool) (hosting bool, err error) {
	c := p.c
	peers := peersOf(pr.Members)
	secret := pr.ProfileSecret()
	opts, err := c.trustOptions()
	if err != nil {
		return false, err
	}
	opts = append(opts, session.OnlyPeers(peers), session.WithLogger(c.log))
	// The members that join learn the terms, to save the run as this profile in turn.
	terms := session.Terms{Mode: pr.Mode, From: pr.From, MaxDelete: pr.Safety.MaxDelete, Versions: pr.Safety.Versions, VersionsKeep: pr.Safety.VersionsKeep}
	if terms.Mode != "" && terms.From == "" && len(pr.Nodes) > 0 {
		terms.From = pr.Nodes[0].Code
	}
	if pr.Rules != nil {
		terms.Rules = pr.Rules.Text
	}
	_, err = (&Sessions{c: c}).openOn(c.profileServer(pr), func(ctx context.Context, cl *client.Client) (*session.Member, error) {
		callCtx, cancel := context.WithTimeout(ctx, sessionCallTimeout)
		inv, err := session.FindInvitation(callCtx, cl, secret, peers)
		cancel()
		switch {
		case err == nil:
			if c.staleInvitation(pr.Name, inv.Session) {
				return nil, staleInvitationError(pr, inv)
			}
			joinCtx, cancel := context.WithTimeout(ctx, c.invitedJoinWait)
			defer cancel()
			m, err := session.Join(joinCtx, cl, session.JoinRequest{ID: inv.Session, Password: inv.Password}, opts...)
			if err != nil && ctx.Err() == nil && sessionGone(joinCtx, err) {
				c.log.Info("join by invitation", "profile", pr.Name, "session", inv.Session, "err", err)
				c.markStale(pr.Name, inv.Session)
				return m, staleInvitationError(pr, inv)
			}
			if err != nil {
				return m, fmt.Errorf("join the session %s invited this computer to: %w", memberName(pr, inv.HostKey), err)
			}
			return m, nil
		case !errors.Is(err, session.ErrNoInvitation):
			return nil, err
		case joinOnly:
			return nil, fmt.Errorf("no member of %q is waiting any more: run the profile to invite them", pr.Name)
		}
		callCtx, cancel = context.WithTimeout(ctx, sessionCallTimeout)
		defer cancel()
		m, err := session.Create(callCtx, cl, nil, append(opts, session.WithTerms(terms))...)
		if err != nil {
			return m, fmt.Errorf("create a session: %w", err)
		}
		if err := m.Invite(callCtx, secret, peers, invitationTTL); err != nil {
			return m, err
		}
		hosting = true
		return m, nil
	})
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	if hosting && c.sess != nil {
		c.shared = &sharedRun{name: pr.Name, sess: c.sess, secret: secret, members: slices.Clone(pr.Members),
			await: len(pr.Members) + 1, waiting: true}
	}
	c.mu.Unlock()
	return hosting, nil
}

// sessionGone tells whether err, from a join by invitation bounded by ctx, says that the
// invitation's session is gone or that no member is left to let this computer in.
func sessionGone(ctx context.Context, err error) bool {
	switch session.RefusalCode(err) {
	case protocol.JoinValidatorLeft, protocol.JoinSessionClosed, protocol.JoinInventoryStarted:
		return true
	}
	return ctx.Err() != nil || client.Code(err) == protocol.ErrCodeNotFound
}

// staleInvitation tells whether the invitation of profile name to session id let no one in.
func (c *core) staleInvitation(name, id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.staleInvites[name] == id
}

// markStale leaves the invitation of profile name to session id out from now on.
func (c *core) markStale(name, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.staleInvites == nil {
		c.staleInvites = map[string]string{}
	}
	c.staleInvites[name] = id
}

// staleInvitationError says that the invitation to pr's run leads nowhere, and what to do.
func staleInvitationError(pr *profile.Profile, inv crypto.Invitation) error {
	who := memberName(pr, inv.HostKey)
	return fmt.Errorf("%s invited this computer to run %q, but its session no longer lets anyone in (Ferry may have stopped on %s): run the profile there again, or here once its invitation expires, within %d minutes",
		who, pr.Name, who, int(session.InvitationMaxAge/time.Minute))
}

// memberName is the name of the member whose key is key, in words.
func memberName(pr *profile.Profile, key []byte) string {
	for _, m := range pr.Members {
		if slices.Equal(m.Key, key) {
			return m.Name
		}
	}
	return "another member"
}

// sharedMembersChanged tells, while a shared profile's run waits for its members, who joined
// (profile:waiting); once all did, the invitation is removed.
func (c *core) sharedMembersChanged(sess *openSession) {
	c.mu.Lock()
	sr := c.shared
	c.mu.Unlock()
	if sr == nil || sr.sess != sess {
		return
	}
	ctx, cancel := context.WithTimeout(c.life, sessionCallTimeout)
	defer cancel()
	sess.member.Members(ctx)
	joined := map[string]bool{}
	for _, p := range sess.member.Peers() {
		joined[p.ClientID] = true
	}
	w := waitingFor(sr.name, sr.members, joined)
	all := !slices.ContainsFunc(w.Members, func(m WaitingMember) bool { return !m.Joined })
	c.mu.Lock()
	emit := c.shared == sr && sr.waiting
	if emit && all {
		sr.waiting = false
	}
	c.mu.Unlock()
	if !emit {
		return
	}
	c.emit(EventProfileWaiting, w)
	if all {
		if err := sess.member.Uninvite(ctx, sr.secret); err != nil {
			c.log.Info("remove the profile's invitation", "profile", sr.name, "err", err)
		}
	}
}

// uninvite removes the invitation of the shared profile's run in sess that still waits.
func (c *core) uninvite(sess *openSession) {
	c.mu.Lock()
	sr := c.shared
	c.shared = nil
	c.mu.Unlock()
	if sr == nil || sr.sess != sess || !sr.waiting {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.life), sessionCallTimeout)
	defer cancel()
	if err := sess.member.Uninvite(ctx, sr.secret); err != nil {
		c.log.Info("remove the profile's invitation", "profile", sr.name, "err", err)
	}
}

// Invitations are the shared profiles whose run another member started and that wait for this
// computer; none while a session is open. A server that cannot be reached counts as none, and
// an invitation whose session let no one in (Join) is left out.
func (p *Profiles) Invitations() []ProfileInvitation {
	c := p.c
	c.mu.Lock()
	busy := c.sess != nil || c.sessBusy || c.closing
	c.mu.Unlock()
	out := []ProfileInvitation{}
	if busy {
		return out
	}
	es, err := c.profileStore().List()
	if err != nil {
		return out
	}
	for _, e := range es {
		pr := e.Profile
		if e.Err != nil || !pr.Shared() {
			continue
		}
		cl, err := c.finder(pr)
		if err != nil {
			c.log.Info("look for invitations", "profile", pr.Name, "err", err)
			continue
		}
		ctx, cancel := context.WithTimeout(c.life, sessionCallTimeout)
		inv, err := session.FindInvitation(ctx, cl, pr.ProfileSecret(), peersOf(pr.Members))
		cancel()
		if err != nil {
			if !errors.Is(err, session.ErrNoInvitation) || errors.Is(err, crypto.ErrInvitation) {
				c.log.Info("look for invitations", "profile", pr.Name, "err", err)
			}
			continue
		}
		if c.staleInvitation(pr.Name, inv.Session) {
			continue
		}
		out = append(out, ProfileInvitation{Profile: pr.Name, From: memberName(pr, inv.HostKey)})
	}
	return out
}

// finder is a client logged in to the server of pr, kept for the next look.
func (c *core) finder(pr *profile.Profile) (*client.Client, error) {
	url, _, err := c.profileServer(pr)()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	cl := c.finders[url]
	c.mu.Unlock()
	if cl != nil {
		return cl, nil
	}
	id, err := (&Sessions{c: c}).identity()
	if err != nil {
		return nil, err
	}
	cl, err = client.New(url, id, client.Options{Logger: c.log})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(c.life, sessionCallTimeout)
	defer cancel()
	if err := cl.Login(ctx); err != nil {
		return nil, fmt.Errorf("log in to %s: %w", strings.TrimSpace(url), err)
	}
	c.mu.Lock()
	if c.finders == nil {
		c.finders = map[string]*client.Client{}
	}
	c.finders[url] = cl
	c.mu.Unlock()
	return cl, nil
}

// Join joins the session another member of the shared profile name invited this computer to,
// with the profile's folders, and starts this computer's inventory: the run then follows the
// member that invited it, up to the summary. A session that is gone, or that lets no one in
// within a minute (its Ferry was stopped), is said in words, and its invitation left out.
func (p *Profiles) Join(name string) error {
	return p.open(name, true, true)
}
