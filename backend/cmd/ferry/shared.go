package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/profile"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/session"
)

// Shared profiles on the command line: --save-profile after ferry host or ferry join, ferry
// profile run NAME (joining a member's invitation, or hosting and inviting the others), and
// ferry join --profile NAME.

// invitationTTL is how long the server keeps a profile's invitation; the host removes it at
// the end.
const invitationTTL = time.Hour

// errDryRun: a shared profile's --dry-run showed the plan and refused it; nothing ran.
var errDryRun = errors.New("a dry run: nothing changed")

// invitedJoinWait bounds a join into the session of an invitation: the inviting member admits
// the profile's members without asking anyone.
const invitedJoinWait = 2 * time.Minute

// invitationPoll is how often ferry join --profile looks for the invitation.
const invitationPoll = time.Second

// sharedRun is a run of a shared profile, as its host or joining another member's session.
type sharedRun struct {
	p      *profile.Profile
	peers  []session.Peer
	secret crypto.ProfileSecret
	wait   time.Duration // the host's wait for the other members
	dryRun bool
	mc     *memberCommand // once the command has one
}

func newSharedRun(p *profile.Profile, wait time.Duration, dryRun bool) *sharedRun {
	r := &sharedRun{p: p, secret: p.ProfileSecret(), wait: wait, dryRun: dryRun}
	for _, m := range p.Members {
		r.peers = append(r.peers, session.Peer{Name: m.Name, ClientID: m.ClientID, Key: m.Key})
	}
	return r
}

// names are the other members' names, for a sentence.
func (r *sharedRun) names() string { return memberNames(r.p) }

func memberNames(p *profile.Profile) string {
	names := p.MemberNames()
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// invite leaves the invitation for the other members and says whom this member waits for.
func (r *sharedRun) invite(ctx context.Context, mc *memberCommand) error {
	err := within(ctx, 30*time.Second, func(ctx context.Context) error {
		return mc.m.Invite(ctx, r.secret, r.peers, invitationTTL)
	})
	if err != nil {
		return mc.interrupted(ctx, err)
	}
	if mc.steps != nil {
		_ = mc.steps.Encode(struct {
			Type    string   `json:"type"` // "waiting"
			Session string   `json:"session"`
			Members []string `json:"members"`
		}{"waiting", mc.m.ID(), r.p.MemberNames()})
		return nil
	}
	fmt.Fprintf(mc.err, "Session %s: waiting for %s (up to %s).\nOn %s, run: ferry profile run %s (or ferry join --profile %s)\n",
		mc.m.ID(), r.names(), r.wait, r.names(), quoteArg(r.p.Name), quoteArg(r.p.Name))
	return nil
}

// uninvite removes the invitation, whatever the run's end.
func (r *sharedRun) uninvite(work context.Context, mc *memberCommand) {
	err := within(work, 10*time.Second, func(ctx context.Context) error { return mc.m.Uninvite(ctx, r.secret) })
	if err != nil {
		mc.log.Warn("remove the invitation", "err", err)
	}
}

// lateError ends the host's wait for the other members.
func (r *sharedRun) lateError() error {
	return fmt.Errorf("%s did not join within %s: run ferry profile run %s on it while this one waits (or give a longer --wait)",
		r.names(), r.wait, quoteArg(r.p.Name))
}

// deadHostError ends a join into the session of an invitation that nobody answers.
func (r *sharedRun) deadHostError(id string) error {
	return fmt.Errorf("nobody admitted this member into session %s within %s: the member that invited to it may have stopped without removing its invitation (the server drops it within %s); run ferry profile run %s on that member again, its new invitation replaces the old one",
		id, invitedJoinWait, invitationTTL, quoteArg(r.p.Name))
}

// report is the run's report, once there is one.
func (r *sharedRun) report() *syncReport {
	if r.mc == nil || r.mc.report == nil {
		return nil
	}
	return &r.mc.report.syncReport
}

// quoteArg quotes a name for a command line when it needs it.
func quoteArg(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.", r))
	}) < 0 {
		return s
	}
	return strconv.Quote(s)
}

// profileSaver saves a shared profile after a run (--save-profile).
type profileSaver struct {
	store *profile.Store
	name  string
}

// newProfileSaver checks --save-profile before any session is made: a valid name that no
// profile has.
func newProfileSaver(name string) (*profileSaver, error) {
	if name == "" {
		return nil, nil
	}
	if err := profile.CheckName(name); err != nil {
		return nil, usageError("--save-profile: %w", err)
	}
	s, err := profileStore()
	if err != nil {
		return nil, err
	}
	switch _, err := s.Get(name); {
	case err == nil:
		return nil, usageError("--save-profile: a profile named %q exists already: choose another name, or delete it first with ferry profile delete %s", name, quoteArg(name))
	case !errors.Is(err, profile.ErrNotFound):
		return nil, usageError("--save-profile: %w", err)
	}
	return &profileSaver{store: s, name: name}, nil
}

// save keeps the run as a shared profile when it ended done (its actions' errors or not):
// this member's nodes, the planner's terms, the server, the other members and the secret.
func (ps *profileSaver) save(mc *memberCommand, nodes []plan.NodeSpec, t session.Terms, server string, runErr error) {
	rep := mc.report
	if rep == nil || rep.Status != string(protocol.EndRegular) {
		fmt.Fprintf(mc.err, "ferry: the profile %q was not saved: the run did not end done\n", ps.name)
		return
	}
	if len(mc.peers) == 0 {
		fmt.Fprintf(mc.err, "ferry: the profile %q was not saved: no other member's key is known\n", ps.name)
		return
	}
	if t.Mode == "" && t.Rules == "" {
		fmt.Fprintf(mc.err, "ferry: the profile %q was not saved: the member that planned did not share its mode or rules (an older Ferry?)\n", ps.name)
		return
	}
	secret := mc.m.ProfileSecret()
	p := &profile.Profile{Name: ps.name, Mode: t.Mode, From: t.From, Server: server, Secret: secret[:],
		Safety: profile.Safety{MaxDelete: t.MaxDelete, Versions: t.Versions, VersionsKeep: t.VersionsKeep}}
	if t.Rules != "" {
		p.Rules = &profile.RulesFile{Text: t.Rules}
	}
	for _, n := range nodes {
		p.Nodes = append(p.Nodes, profile.Node{Code: n.Code, Sources: n.Roots})
	}
	for _, peer := range mc.peers {
		p.Members = append(p.Members, profile.Member{Name: peer.Name, ClientID: peer.ClientID, Key: peer.Key})
	}
	outcome := runOutcome(&rep.syncReport, runErr)
	outcome.At = time.Now()
	p.LastRun = &outcome
	if err := ps.store.Save(p); err != nil {
		fmt.Fprintf(mc.err, "ferry: the profile %q was not saved: %v\n", ps.name, err)
		return
	}
	fmt.Fprintf(mc.err, "Saved the shared profile %q with %s: run it again with ferry profile run %s\n",
		p.Name, memberNames(p), quoteArg(p.Name))
}

// sharedLogin logs in to the profile's server, for the invitation.
func sharedLogin(ctx context.Context, p *profile.Profile) (*client.Client, error) {
	if p.Server == "" {
		return nil, usageError("profile %q has no server: save it again from a run with --server", p.Name)
	}
	c, err := newClient(p.Server, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	if err := within(ctx, 30*time.Second, c.Login); err != nil {
		return nil, beforeSession(fmt.Errorf("log in to %s: %w", p.Server, err))
	}
	return c, nil
}

// nodeArgs are a profile's nodes as --node values.
func nodeArgs(p *profile.Profile) []string {
	var out []string
	for _, n := range p.Nodes {
		out = append(out, n.Code+"="+strings.Join(n.Sources, ","))
	}
	return out
}

// invitedFlags are the ferry join flags of a shared profile's run into the session of inv.
func invitedFlags(r *sharedRun, inv crypto.Invitation, yes, asJSON bool) joinFlags {
	var f joinFlags
	f.register(&cobra.Command{})
	f.nodes = nodeArgs(r.p)
	f.server = r.p.Server
	if len(inv.Servers) > 0 {
		f.server = strings.Join(inv.Servers, ",")
	}
	f.session, f.password = inv.Session, inv.Password
	f.yes, f.json = yes, asJSON
	f.shared = r
	return f
}

// runSharedProfile runs a shared profile: it joins the session another member invites to, or
// creates one, invites the others and runs it as ferry host does.
func runSharedProfile(ctx context.Context, r *sharedRun, rf profileRunFlags, stdin io.Reader, stdout, stderr io.Writer) error {
	p := r.p
	c, err := sharedLogin(ctx, p)
	if err != nil {
		return err
	}
	inv, err := session.FindInvitation(ctx, c, r.secret, r.peers)
	switch {
	case err == nil:
		return r.joinInvited(ctx, inv, rf, stdin, stdout, stderr)
	case errors.Is(err, crypto.ErrInvitation):
		return &exitError{code: exitActionError, err: refusedInvitation(p, err)}
	case !errors.Is(err, session.ErrNoInvitation):
		return beforeSession(err)
	}

	f, cleanup, err := sharedHostFlags(r, rf)
	if err != nil {
		return err
	}
	defer cleanup()
	err = runHost(ctx, f, stdin, stdout, stderr)
	if errors.Is(err, session.ErrInvitationTaken) && ctx.Err() == nil {
		// Another member invited first (both started at once): join its session instead.
		inv, ferr := session.FindInvitation(ctx, c, r.secret, r.peers)
		if ferr == nil {
			return r.joinInvited(ctx, inv, rf, stdin, stdout, stderr)
		}
	}
	return err
}

// joinInvited joins the session another member of the profile invites to.
func (r *sharedRun) joinInvited(ctx context.Context, inv crypto.Invitation, rf profileRunFlags, stdin io.Reader, stdout, stderr io.Writer) error {
	if !rf.json {
		fmt.Fprintf(stderr, "Joining the session %s that another member of %q runs\n", inv.Session, r.p.Name)
	}
	f := invitedFlags(r, inv, rf.yes, rf.json)
	nodes, err := f.nodeSpecs()
	if err != nil {
		return err
	}
	return joinSession(ctx, f, nodes, nil, stdin, stdout, stderr)
}

// sharedHostFlags are the ferry host flags of a shared profile's run; cleanup removes the
// rules file written for it.
func sharedHostFlags(r *sharedRun, rf profileRunFlags) (hostFlags, func(), error) {
	p := r.p
	var f hostFlags
	cleanup := func() {}
	cmd := &cobra.Command{}
	f.register(cmd)
	f.versions.register(cmd)
	fl := cmd.Flags()
	var setErr error
	set := func(name, value string) {
		if err := fl.Set(name, value); err != nil && setErr == nil {
			setErr = usageError("profile %q: %s: %w", p.Name, name, err)
		}
	}
	setSafety(set, p.Safety)
	if setErr != nil {
		return f, cleanup, setErr
	}
	if p.Rules != nil {
		dir, err := os.MkdirTemp("", "ferry-profile-")
		if err != nil {
			return f, cleanup, err
		}
		cleanup = func() { os.RemoveAll(dir) }
		f.rulesFile = filepath.Join(dir, "rules.json")
		if err := os.WriteFile(f.rulesFile, []byte(p.Rules.Text), 0o600); err != nil {
			cleanup()
			return f, func() {}, fmt.Errorf("write the profile's rules for the run: %w", err)
		}
	}
	f.nodes = nodeArgs(p)
	f.server, f.mode, f.from = p.Server, p.Mode, p.From
	f.expect = 1 + len(p.Members)
	f.yes, f.json = rf.yes, rf.json
	f.shared = r
	return f, cleanup, nil
}

// runJoinProfile is ferry join --profile: wait for the invitation of another member of the
// profile, then join its session.
func runJoinProfile(ctx context.Context, f joinFlags, stdin io.Reader, stdout, stderr io.Writer) error {
	if f.server != "" || f.session != "" || f.password != "" || f.passwordFile != "" || len(f.nodes) > 0 || f.saveProfile != "" {
		return usageError("--profile takes the server, session, password and nodes from the profile and the invitation: give it without --server, --session, --password, --node and --save-profile")
	}
	s, err := profileStore()
	if err != nil {
		return err
	}
	p, err := s.Get(f.profile)
	if err != nil {
		return profileError(err)
	}
	if !p.Shared() {
		return usageError("profile %q is of this computer alone: run it with ferry profile run %s", p.Name, quoteArg(p.Name))
	}
	started := time.Now()
	record := func(run profile.Run) {
		run.At = started
		if err := s.Recorded(p.Name, run); err != nil {
			fmt.Fprintf(stderr, "ferry: the outcome of the run could not be recorded in the profile: %v\n", err)
		}
	}
	if err := sourcesPresent(p); err != nil {
		record(profile.Run{Status: profile.StatusFailed, Message: err.Error()})
		return err
	}
	r := newSharedRun(p, 0, false)
	c, err := sharedLogin(ctx, p)
	if err != nil {
		return err
	}
	if !f.json {
		fmt.Fprintf(stderr, "Waiting for an invitation from %s (up to %s)\n", r.names(), f.wait)
	}
	waitCtx, cancel := context.WithTimeout(ctx, f.wait)
	inv, err := session.AwaitInvitation(waitCtx, c, r.secret, r.peers, invitationPoll)
	cancel()
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return &exitError{code: exitAborted, err: fmt.Errorf("aborted while waiting for the invitation: %w", err)}
	case errors.Is(err, crypto.ErrInvitation):
		return &exitError{code: exitActionError, err: refusedInvitation(p, err)}
	case errors.Is(err, session.ErrNoInvitation):
		return &exitError{code: exitActionError, err: fmt.Errorf("profile %q: no invitation from %s within %s: run ferry profile run %s on it, then this again", p.Name, r.names(), f.wait, quoteArg(p.Name))}
	default:
		return beforeSession(err)
	}
	jf := invitedFlags(r, inv, f.yes, f.json)
	jf.memberFlags.confirmFlags, jf.trust = f.confirmFlags, false
	jf.statusWait, jf.serverWait, jf.logLevel = f.statusWait, f.serverWait, f.logLevel
	nodes, err := jf.nodeSpecs()
	if err != nil {
		return err
	}
	err = joinSession(ctx, jf, nodes, nil, stdin, stdout, stderr)
	if !notConfirmedHere(err) {
		record(runOutcome(r.report(), err))
	}
	return err
}

// refusedInvitation says why an invitation found was not taken, and what to do.
func refusedInvitation(p *profile.Profile, err error) error {
	why := strings.TrimPrefix(err.Error(), crypto.ErrInvitation.Error()+": ")
	return fmt.Errorf("profile %q: the invitation left on the server was refused (%s): nothing changed. If a member of the profile has a new identity key, delete the profile (ferry profile delete %s) and save it again from a run with --save-profile",
		p.Name, why, quoteArg(p.Name))
}

// notConfirmedHere tells whether this member's user did not confirm the plan: nothing ran.
func notConfirmedHere(err error) bool {
	var nc *session.NotConfirmedError
	return errors.As(err, &nc) && nc.Self && !nc.Answer.Limit
}

// sourcesPresent refuses a profile whose data source is gone: it would be read as empty.
func sourcesPresent(p *profile.Profile) error {
	for _, n := range p.Nodes {
		for _, src := range n.Sources {
			if _, err := os.Stat(src); err != nil {
				err = fmt.Errorf("profile %q: node %s: data source %s %v: nothing was changed; connect it, or save the profile again with ferry profile save", p.Name, n.Code, src, statReason(err))
				return &exitError{code: exitUsage, err: err}
			}
		}
	}
	return nil
}
