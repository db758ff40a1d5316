package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ferrysync/ferry/app/notify"
	"github.com/ferrysync/ferry/backend/profile"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/rules"
)

// ProfileInfo is a saved profile as the Profiles screen lists it; a file that cannot be read has
// only File and Error.
type ProfileInfo struct {
	Name  string        `json:"name"`
	File  string        `json:"file"`
	Nodes []ProfileNode `json:"nodes"`
	// Mode is the preset, "custom" for a rules file, or the preset followed by " + rules".
	Mode string `json:"mode"`
	// Preset is the preset alone ("" for a rules file alone); HasRules tells a rules file.
	Preset   string `json:"preset"`
	HasRules bool   `json:"hasRules"`
	// Members are the other computers of a shared profile, by name; empty for one of this
	// computer alone.
	Members []string `json:"members"`
	// The safety settings of the profile's runs; empty (0 for the days) leaves the app's.
	MaxDelete    string      `json:"maxDelete"`
	Versions     string      `json:"versions"`
	VersionsKeep int         `json:"versionsKeep"`
	Created      string      `json:"created"` // RFC 3339
	Updated      string      `json:"updated"`
	LastRun      *ProfileRun `json:"lastRun,omitempty"`
	Error        string      `json:"error,omitempty"`
}

// ProfileNode is a node of a profile and its data sources.
type ProfileNode struct {
	Code    string   `json:"code"`
	Sources []string `json:"sources"`
}

// ProfileRun is how the last run of a profile ended.
type ProfileRun struct {
	At      string `json:"at"`     // RFC 3339
	Status  string `json:"status"` // done, errors, refused, aborted, failed
	Actions int    `json:"actions"`
	Errors  int    `json:"errors"`
	Bytes   int64  `json:"bytes"`
	Message string `json:"message,omitempty"`
}

// Profiles is the service of the session profiles, shared with `ferry profile`.
type Profiles struct {
	c *core
}

// profileRun ties the session a profile opened (its id: the session itself is let go when quit)
// to the profile, so that the end of its run is recorded in it.
type profileRun struct {
	name    string
	session string
	// shared keeps the members, secret and server of a shared profile (nil for one of this
	// computer alone): saving the session again keeps them.
	shared *profile.Profile
}

func (c *core) profileStore() *profile.Store { return profile.NewStore(c.configDir) }

// List lists the saved profiles by name, then the files that cannot be read.
func (p *Profiles) List() ([]ProfileInfo, error) {
	es, err := p.c.profileStore().List()
	if err != nil {
		return nil, err
	}
	out := make([]ProfileInfo, 0, len(es))
	for _, e := range es {
		if e.Err != nil {
			out = append(out, ProfileInfo{File: e.File, Nodes: []ProfileNode{}, Members: []string{}, Error: e.Err.Error()})
			continue
		}
		out = append(out, profileInfo(e.Profile, e.File))
	}
	return out, nil
}

// Names are the names of the readable profiles, for the tray.
func (p *Profiles) Names() []string {
	ps, err := p.List()
	if err != nil {
		return nil
	}
	var names []string
	for _, pi := range ps {
		if pi.Error == "" {
			names = append(names, pi.Name)
		}
	}
	return names
}

func profileInfo(pr *profile.Profile, file string) ProfileInfo {
	info := ProfileInfo{Name: pr.Name, File: file, Nodes: make([]ProfileNode, 0, len(pr.Nodes)),
		Preset: pr.Mode, HasRules: pr.Rules != nil, MaxDelete: pr.Safety.MaxDelete,
		Versions: pr.Safety.Versions, VersionsKeep: pr.Safety.VersionsKeep, Members: pr.MemberNames(),
		Created: pr.Created.Format(time.RFC3339), Updated: pr.Updated.Format(time.RFC3339)}
	for _, n := range pr.Nodes {
		info.Nodes = append(info.Nodes, ProfileNode{Code: n.Code, Sources: slices.Clone(n.Sources)})
	}
	switch {
	case pr.Mode != "" && pr.Rules != nil:
		info.Mode = pr.Mode + " + rules"
	case pr.Mode != "":
		info.Mode = pr.Mode
	default:
		info.Mode = ModeCustom
	}
	if r := pr.LastRun; r != nil {
		info.LastRun = &ProfileRun{At: r.At.Format(time.RFC3339), Status: r.Status, Actions: r.Actions,
			Errors: r.Errors, Bytes: r.Bytes, Message: r.Message}
	}
	return info
}

// openedBy is the profile run that opened the session open now, nil when none did; c.mu held.
func (c *core) openedBy() *profileRun {
	if c.profile != nil && c.sess != nil && c.profile.session == c.sess.member.ID() {
		return c.profile
	}
	return nil
}

// Save saves this member's nodes and the rules in force as the profile name, replacing the
// profile of that name. After a run, the run is recorded as the profile's last one. The
// profile's deletion limit and kept versions are those of the profile that opened the session,
// else those of the profile replaced (Edit changes them); the settings' are not saved: they
// apply to every run of the app that its profile or rules file does not override.
func (p *Profiles) Save(name string) (ProfileInfo, error) {
	c := p.c
	if err := profile.CheckName(name); err != nil {
		return ProfileInfo{}, err
	}
	c.mu.Lock()
	pr := &profile.Profile{Name: name}
	for _, n := range c.nodes {
		node := profile.Node{Code: n.code}
		for _, s := range n.sources {
			node.Sources = append(node.Sources, s.path)
		}
		pr.Nodes = append(pr.Nodes, node)
	}
	a := &c.an
	switch {
	case slices.Contains(rules.Presets, a.mode):
		pr.Mode = a.mode
	case a.mode == ModeCustom && a.custom != nil:
		pr.Rules = &profile.RulesFile{Text: a.inForce}
	}
	pr.Safety = a.safety
	var last *profile.Run
	if c.sync.State == StateEnded {
		r := runOf(c.sync, time.Now())
		last = &r
	}
	sess := c.sess
	opened := c.openedBy()
	others := sess != nil && len(sess.info.Members) > 1
	planned := a.partNames() != nil
	from := a.presetFrom()
	c.mu.Unlock()
	s := c.profileStore()
	old, _ := s.Get(name)
	if others {
		if !planned { // the rules in force here did not plan the run: the planner's terms tell
			pr.Mode, pr.Rules = "", nil
		}
		if err := c.shareWith(pr, sess, opened, old, from); err != nil {
			return ProfileInfo{}, err
		}
	} else if opened != nil && opened.shared != nil {
		// A shared profile opened to change its folders keeps its members.
		pr.Members, pr.Secret, pr.Server = opened.shared.Members, opened.shared.Secret, opened.shared.Server
		if pr.Mode != "" {
			pr.From = opened.shared.From
		}
	}
	if pr.Mode == "" && pr.Rules == nil {
		return ProfileInfo{}, errors.New("choose the rules (a preset or a rules file) before saving a profile")
	}
	switch {
	case pr.Shared() && len(pr.Nodes) == 0:
		return ProfileInfo{}, errors.New("a profile needs a folder of this computer: add it on the Data step")
	case !pr.Shared() && len(pr.Nodes) < 2:
		return ProfileInfo{}, errors.New("a profile needs at least two data nodes: add them on the Data step")
	}
	pr.LastRun = last
	if old != nil && pr.Safety == (profile.Safety{}) {
		pr.Safety = old.Safety
	}
	if err := s.Save(pr); err != nil {
		return ProfileInfo{}, err
	}
	c.mu.Lock()
	if sess != nil && c.sess == sess {
		c.profile = &profileRun{name: name, session: sess.member.ID(), shared: sharedPart(pr)}
	}
	c.mu.Unlock()
	c.profilesChanged()
	return profileInfo(pr, s.Path(name)), nil
}

// ProfileEdit is what the Edit dialog changes in a profile: its name, its preset and its safety
// settings. Empty safety fields (0 days) leave the app's settings in force.
type ProfileEdit struct {
	Name string `json:"name"`
	// Preset is a preset, or "" to keep a rules file alone (a profile with one).
	Preset       string `json:"preset"`
	MaxDelete    string `json:"maxDelete"`
	Versions     string `json:"versions"`
	VersionsKeep int    `json:"versionsKeep"`
}

// Edit changes the name, preset and safety settings of the profile name; the nodes stay (Open
// changes them in the wizard). A new name must not be another profile's.
func (p *Profiles) Edit(name string, e ProfileEdit) (ProfileInfo, error) {
	c := p.c
	s := c.profileStore()
	pr, err := s.Get(name)
	if err != nil {
		return ProfileInfo{}, err
	}
	e.Name = strings.TrimSpace(e.Name)
	if err := profile.CheckName(e.Name); err != nil {
		return ProfileInfo{}, err
	}
	renamed := e.Name != name
	if renamed {
		if _, err := s.Get(e.Name); err == nil {
			return ProfileInfo{}, fmt.Errorf("a profile is already named %q: choose another name, or delete that profile first", e.Name)
		} else if !errors.Is(err, profile.ErrNotFound) {
			return ProfileInfo{}, err
		}
	}
	if e.Preset == "" && pr.Rules == nil {
		return ProfileInfo{}, fmt.Errorf("choose a preset for %q: it has no rules file", name)
	}
	pr.Name, pr.Mode = e.Name, e.Preset
	pr.Safety = profile.Safety{MaxDelete: strings.TrimSpace(e.MaxDelete), Versions: strings.TrimSpace(e.Versions), VersionsKeep: e.VersionsKeep}
	if err := s.Save(pr); err != nil {
		return ProfileInfo{}, err
	}
	if renamed {
		if err := s.Delete(name); err != nil {
			return ProfileInfo{}, fmt.Errorf("the profile was saved as %q, but %q stays: %w", e.Name, name, err)
		}
		c.mu.Lock()
		if c.profile != nil && c.profile.name == name {
			c.profile.name = e.Name
		}
		c.mu.Unlock()
	}
	c.profilesChanged()
	return profileInfo(pr, s.Path(pr.Name)), nil
}

// Delete deletes the profile name; its folders are left alone.
func (p *Profiles) Delete(name string) error {
	if err := p.c.profileStore().Delete(name); err != nil {
		return err
	}
	p.c.profilesChanged()
	return nil
}

// Open opens a new session with the profile's nodes and rules, ready to edit or to inventory; a
// session already open is quit first. A data source that is gone stops it before anything
// changes.
func (p *Profiles) Open(name string) error {
	return p.open(name, false, false)
}

// Run opens the profile as Open does and starts the inventory (inventory:progress,
// inventory:done): the comparison and the plan follow, up to the confirmation. The end of the
// synchronization is recorded in the profile. A shared profile joins the session another member
// invited it to, when one waits; otherwise it creates one, invites the members
// (profile:waiting) and its inventory waits for them.
func (p *Profiles) Run(name string) error {
	return p.open(name, true, false)
}

// open opens the profile name in a new session, and with inventory starts its inventory. A
// shared profile's run joins the session a member invited it to, or, unless joinOnly, creates
// one and invites the members, whom its inventory waits for.
func (p *Profiles) open(name string, inventory, joinOnly bool) error {
	c := p.c
	pr, err := c.profileStore().Get(name)
	if err != nil {
		return err
	}
	for _, n := range pr.Nodes {
		for _, src := range n.Sources {
			if _, err := os.Stat(src); err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("the folder %s of node %s is gone (a drive not connected, or a folder moved or renamed?): nothing was changed; connect it, or edit the profile", src, n.Code)
				}
				return fmt.Errorf("the folder %s of node %s cannot be read: %w", src, n.Code, err)
			}
		}
	}
	// One rules text stands for a preset with a rules file; the safety settings apply over it.
	text := ""
	if pr.Rules != nil {
		rulesOnly := *pr
		rulesOnly.Safety = profile.Safety{}
		if text, err = rulesOnly.RulesText(); err != nil {
			return err
		}
	}
	c.mu.Lock()
	err = c.idleLocked()
	open := c.sess != nil
	c.mu.Unlock()
	if err != nil {
		return err
	}
	sessions := &Sessions{c: c}
	if open {
		if err := sessions.Quit(); err != nil {
			return err
		}
	}
	hosting := false
	if pr.Shared() && inventory {
		if hosting, err = p.meet(pr, joinOnly); err != nil {
			return err
		}
	} else if _, err := sessions.Create(); err != nil {
		return err
	}
	data := &Data{c: c}
	for _, n := range data.Nodes() {
		if err := data.RemoveNode(n.Code); err != nil {
			return err
		}
	}
	for _, n := range pr.Nodes {
		if pr.Shared() {
			if err := data.addNodeCode(n.Code); err != nil {
				return fmt.Errorf("profile %q: %w", pr.Name, err)
			}
			for _, src := range n.Sources {
				if _, err := data.AddSource(n.Code, src); err != nil {
					return fmt.Errorf("profile %q: %w", pr.Name, err)
				}
			}
			continue
		}
		node, err := data.AddNode()
		if err != nil {
			return err
		}
		if node.Code != n.Code && !pr.Shared() {
			return fmt.Errorf("profile %q names its nodes %s: the app names them A, B, C… in order; run it with ferry profile run", pr.Name, nodeCodes(pr))
		}
		for _, src := range n.Sources {
			if _, err := data.AddSource(node.Code, src); err != nil {
				return fmt.Errorf("profile %q: %w", pr.Name, err)
			}
		}
	}
	r := &Rules{c: c}
	var st RulesState
	if text == "" {
		st, err = r.UsePreset(pr.Mode)
	} else {
		st, err = r.Save(text)
	}
	if err == nil && len(st.Errors) > 0 {
		err = errors.New(st.Errors[0].Msg)
	}
	if err != nil {
		return fmt.Errorf("profile %q: its rules: %w", pr.Name, err)
	}
	c.mu.Lock()
	if c.sess != nil {
		c.profile = &profileRun{name: pr.Name, session: c.sess.member.ID(), shared: sharedPart(pr)}
	}
	c.an.safety = pr.Safety
	if pr.Shared() && inventory && pr.Mode != "" && pr.Rules == nil {
		c.an.from = pr.From
		if c.an.from == "" {
			c.an.from = pr.Nodes[0].Code
		}
	}
	c.mu.Unlock()
	if !inventory {
		return nil
	}
	c.emit(EventProfileRun, pr.Name) // before the inventory's events
	if hosting {
		c.mu.Lock()
		sess := c.sess
		c.mu.Unlock()
		if sess != nil {
			c.sharedMembersChanged(sess) // who joined already
		}
	}
	return (&Inventory{c: c}).Start()
}

// RunProfile runs a profile from the tray: the window shows it up to the confirmation. An error
// is told by a notification too, as the window may be hidden behind others.
func (a *App) RunProfile(name string) {
	a.ShowWindow()
	err := a.Profiles.Run(name)
	if err == nil {
		return
	}
	c := a.c
	c.log.Warn("run a profile from the tray", "profile", name, "err", err)
	c.mu.Lock()
	n := c.notifier
	c.mu.Unlock()
	if n == nil {
		return
	}
	ctx, cancel := context.WithTimeout(c.life, 5*time.Second)
	defer cancel()
	nt := notify.Notification{Summary: name + ": the synchronization cannot start", Body: err.Error(),
		Urgency: notify.UrgencyCritical, Category: "transfer.error"}
	if _, err := n.Send(ctx, nt); err != nil {
		c.log.Info("desktop notification", "err", err)
	}
}

func nodeCodes(pr *profile.Profile) string {
	codes := make([]string, len(pr.Nodes))
	for i, n := range pr.Nodes {
		codes[i] = n.Code
	}
	return strings.Join(codes, ", ")
}

// profileEnded records the end of a run in session sessionID in the profile that opened it, and
// returns the profile's name ("" when no profile did).
func (s *Synchronization) profileEnded(sessionID string, final SyncStatus) string {
	c := s.c
	c.mu.Lock()
	pr := c.profile
	c.mu.Unlock()
	if pr == nil || sessionID == "" || pr.session != sessionID {
		return ""
	}
	if err := c.profileStore().Recorded(pr.name, runOf(final, time.Now())); err != nil {
		c.log.Warn("record the run in its profile", "profile", pr.name, "err", err)
		return pr.name
	}
	c.profilesChanged()
	return pr.name
}

// runOf is a profile's record of an ended run.
func runOf(st SyncStatus, at time.Time) profile.Run {
	r := profile.Run{At: at, Actions: st.Progress.FinishedActions, Errors: st.Progress.ErrorActions, Bytes: st.Progress.SyncedVolume}
	switch {
	case st.EndStatus == string(protocol.EndAborted):
		r.Status = profile.StatusAborted
	case st.EndStatus != string(protocol.EndRegular):
		r.Status = profile.StatusFailed
	case r.Errors > 0 || len(st.Errors) > 0:
		r.Status = profile.StatusErrors
	default:
		r.Status = profile.StatusDone
	}
	switch {
	case st.EndReason != "":
		r.Message = st.EndReason
	case len(st.Errors) > 0:
		r.Message = st.Errors[0]
	}
	return r
}

// profilesChanged gives the tray the new list of profiles.
func (c *core) profilesChanged() {
	c.mu.Lock()
	t := c.tray
	c.mu.Unlock()
	if pt, ok := t.(profileTray); ok {
		pt.SetProfiles((&Profiles{c: c}).Names())
	}
}

// profileTray is a tray that lists the profiles to run.
type profileTray interface {
	SetProfiles(names []string)
}
