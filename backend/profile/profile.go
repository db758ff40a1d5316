// Package profile keeps session profiles: a saved synchronization (its nodes and data sources,
// its preset or rules, its safety settings and its last run) that runs again in one step. The
// Store keeps one versioned JSON file per profile in the user's configuration folder, shared by
// the ferry command and the desktop app.
package profile

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/rules"
)

// Version is the version of the profile files this package writes; it reads every version
// from 1. Version 2 added the members, secret and server of a shared profile: a file of version
// 1 is a profile of this machine alone.
const Version = 2

// MaxMembers is how many computers a shared profile holds, this one included: as many as a
// session takes.
const MaxMembers = protocol.MaxMembers

// MaxNameLen is the longest profile name, in characters.
const MaxNameLen = 64

// Profile is a saved synchronization of this machine's nodes, alone or, when it is shared,
// with the nodes its other members bring to a session.
type Profile struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
	Nodes   []Node `json:"nodes"`
	// Mode is a preset (rules.Presets) between the two nodes; empty when Rules alone decide.
	Mode string `json:"mode,omitempty"`
	// From is the node the preset goes from, in a shared profile maybe another member's; the
	// first node of the member running it when empty.
	From string `json:"from,omitempty"`
	// Rules is a rules file, kept whole: the file it came from may change or vanish.
	Rules  *RulesFile `json:"rules,omitempty"`
	Safety Safety     `json:"safety"`

	// Members are the other computers of a shared profile, keys trusted when it was saved.
	Members []Member `json:"members,omitempty"`
	// Secret is the crypto.ProfileSecret the members share: it seals and finds their
	// invitations. The server never has it.
	Secret []byte `json:"secret,omitempty"`
	// Server is the session server URL (several separated by commas); "" is the default.
	Server string `json:"server,omitempty"`

	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	LastRun *Run      `json:"last_run,omitempty"`
}

// Member is another member of a shared profile.
type Member struct {
	Name     string `json:"name"` // its computer name, as it declared it
	ClientID string `json:"client_id"`
	Key      []byte `json:"key"` // its Ed25519 public identity key, trusted when saved
}

// Shared tells whether the profile is run with other computers.
func (p *Profile) Shared() bool { return len(p.Members) > 0 }

// Node is a data node and its data sources (absolute paths).
type Node struct {
	Code    string   `json:"code"`
	Sources []string `json:"sources"`
}

// RulesFile is the text of a rules file and where it was read from.
type RulesFile struct {
	Text   string `json:"text"`
	Origin string `json:"origin,omitempty"`
}

// Safety overrides the rules file's safety settings, as ferry sync's flags do; empty fields
// leave them alone.
type Safety struct {
	MaxDelete    string `json:"max_delete,omitempty"`    // N files or P%
	Versions     string `json:"versions,omitempty"`      // folder of kept versions in each data source
	VersionsKeep int    `json:"versions_keep,omitempty"` // days; needs Versions (here or in the rules)
}

// Run is how a run of the profile ended.
type Run struct {
	At time.Time `json:"at"`
	// Status is done, errors (finished with failed or refused actions), refused (nothing
	// changed), aborted or failed.
	Status  string `json:"status"`
	Actions int    `json:"actions"` // actions that ran, failed ones included
	Errors  int    `json:"errors"`
	Bytes   int64  `json:"bytes"`             // content synchronized
	Message string `json:"message,omitempty"` // the error, for the ends other than done
}

// Run statuses.
const (
	StatusDone    = "done"
	StatusErrors  = "errors"
	StatusRefused = "refused"
	StatusAborted = "aborted"
	StatusFailed  = "failed"
)

// CheckName refuses a name that is empty, too long, or that could be read as a path or
// hide in a terminal.
func CheckName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errors.New("a profile needs a name")
	case !utf8.ValidString(name):
		return errors.New("the profile name is not valid text (UTF-8)")
	case utf8.RuneCountInString(name) > MaxNameLen:
		return fmt.Errorf("the profile name %q is too long: at most %d characters", name, MaxNameLen)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("the profile name %q starts or ends with a space: remove it", name)
	case name == "." || name == "..":
		return fmt.Errorf("%q cannot name a profile: choose a name with letters or digits", name)
	case strings.ContainsAny(name, `/\`):
		return fmt.Errorf("the profile name %q holds a slash: profile names are not paths", name)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("the profile name %q holds control characters", name)
	}
	return nil
}

// Check refuses a profile that cannot run: a bad name, fewer than two nodes (one is enough in
// a shared profile: the other members bring theirs), a node without data sources, a relative
// path, an unknown preset, no preset and no rules, and for a shared profile a bad secret,
// member or server.
func (p *Profile) Check() error {
	if err := CheckName(p.Name); err != nil {
		return err
	}
	if err := p.checkShared(); err != nil {
		return err
	}
	switch {
	case p.Shared() && len(p.Nodes) == 0:
		return fmt.Errorf("profile %q: give this computer's node", p.Name)
	case !p.Shared() && len(p.Nodes) < 2:
		return fmt.Errorf("profile %q: give at least two nodes", p.Name)
	}
	codes := map[string]bool{}
	for _, n := range p.Nodes {
		if n.Code == "" || codes[n.Code] {
			return fmt.Errorf("profile %q: node code %q is empty or given twice", p.Name, n.Code)
		}
		codes[n.Code] = true
		if len(n.Sources) == 0 {
			return fmt.Errorf("profile %q: node %s has no data source", p.Name, n.Code)
		}
		for _, s := range n.Sources {
			if !filepath.IsAbs(s) {
				return fmt.Errorf("profile %q: node %s: data source %q is not an absolute path", p.Name, n.Code, s)
			}
		}
	}
	if p.From != "" && !p.Shared() && !slices.ContainsFunc(p.Nodes, func(n Node) bool { return n.Code == p.From }) {
		return fmt.Errorf("profile %q: the mode goes from node %s, which it does not have", p.Name, p.From)
	}
	if p.Mode != "" && !slices.Contains(rules.Presets, p.Mode) {
		return fmt.Errorf("profile %q: unknown mode %q: want %s", p.Name, p.Mode, strings.Join(rules.Presets, ", "))
	}
	if p.Mode == "" && p.Rules == nil {
		return fmt.Errorf("profile %q: give a mode or a rules file", p.Name)
	}
	if p.Rules != nil {
		if _, err := rules.Parse(strings.NewReader(p.Rules.Text), nil); err != nil {
			return fmt.Errorf("profile %q: %w", p.Name, err)
		}
	}
	if p.Safety.MaxDelete != "" {
		if _, err := rules.ParseDeleteLimit(p.Safety.MaxDelete); err != nil {
			return fmt.Errorf("profile %q: max delete: %w", p.Name, err)
		}
	}
	if p.Safety.Versions != "" {
		if err := rules.CheckVersionsDir(p.Safety.Versions); err != nil {
			return fmt.Errorf("profile %q: versions: %w", p.Name, err)
		}
	}
	if p.Safety.VersionsKeep < 0 {
		return fmt.Errorf("profile %q: versions keep %d: want a number of days, 0 or more", p.Name, p.Safety.VersionsKeep)
	}
	return nil
}

// checkShared checks the members, secret and server of a shared profile, and that a profile of
// this computer alone has none of them.
func (p *Profile) checkShared() error {
	if !p.Shared() {
		if len(p.Secret) > 0 {
			return fmt.Errorf("profile %q holds a secret but no other member: save it again", p.Name)
		}
		return nil
	}
	if len(p.Secret) != 32 {
		return fmt.Errorf("profile %q: its secret is %d bytes, not 32: save it again from a session with its members", p.Name, len(p.Secret))
	}
	if n := len(p.Members); n > MaxMembers-1 {
		return fmt.Errorf("profile %q: %d other members, at most %d", p.Name, n, MaxMembers-1)
	}
	seen := map[string]bool{}
	for i, m := range p.Members {
		who := m.Name
		if who == "" {
			who = fmt.Sprintf("#%d", i+1)
		}
		switch {
		case strings.TrimSpace(m.Name) == "" || !utf8.ValidString(m.Name) || strings.IndexFunc(m.Name, unicode.IsControl) >= 0:
			return fmt.Errorf("profile %q: member %s has no name, or one that is not plain text", p.Name, who)
		case len(m.Key) != ed25519.PublicKeySize:
			return fmt.Errorf("profile %q: member %s: its key is %d bytes, not an Ed25519 public key (%d)", p.Name, who, len(m.Key), ed25519.PublicKeySize)
		}
		cid, err := crypto.ClientID(m.Key)
		if err != nil || cid != m.ClientID {
			return fmt.Errorf("profile %q: member %s: client id %q is not the one of its key: the file was changed; save the profile again", p.Name, who, m.ClientID)
		}
		if seen[cid] {
			return fmt.Errorf("profile %q: member %s (%s) is listed twice", p.Name, who, cid)
		}
		seen[cid] = true
	}
	for _, s := range strings.Split(p.Server, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("profile %q: server %q: want http://HOST[:PORT] or https://…", p.Name, s)
		}
	}
	return nil
}

// ProfileSecret is the secret of a shared profile (checked by Check).
func (p *Profile) ProfileSecret() crypto.ProfileSecret {
	var s crypto.ProfileSecret
	copy(s[:], p.Secret)
	return s
}

// MemberNames are the names of the other members, in order.
func (p *Profile) MemberNames() []string {
	names := make([]string, len(p.Members))
	for i, m := range p.Members {
		names[i] = m.Name
	}
	return names
}

// Specs are the profile's nodes as a plan request takes them.
func (p *Profile) Specs() []plan.NodeSpec {
	specs := make([]plan.NodeSpec, len(p.Nodes))
	for i, n := range p.Nodes {
		specs[i] = plan.NodeSpec{Code: n.Code, Roots: slices.Clone(n.Sources)}
	}
	return specs
}

// RulesText is one rules file that stands for the profile's preset, rules file and safety
// settings, for a front end that takes a single rules file: the preset's rules come first,
// then the file's, and the safety settings override the file's.
func (p *Profile) RulesText() (string, error) {
	names := plan.PartNames(p.Specs())
	return p.rulesText(func() ([]rules.Rule, error) { return rules.Preset(p.Mode, names[0], names[len(names)-1]) })
}

// RulesTextAcross is RulesText for a session's data parts, every member's nodes included (a
// shared profile's run): the preset goes from node From (this member's first when empty) to
// every other part, or between every two for two-way.
func (p *Profile) RulesTextAcross(parts []string) (string, error) {
	from := p.From
	if from == "" && len(p.Nodes) > 0 {
		from = p.Nodes[0].Code
	}
	return p.rulesText(func() ([]rules.Rule, error) { return rules.PresetAcross(p.Mode, from, parts) })
}

// rulesText makes the rules file of RulesText with the preset's rules.
func (p *Profile) rulesText(preset func() ([]rules.Rule, error)) (string, error) {
	file := map[string]json.RawMessage{}
	if p.Rules != nil {
		if err := json.Unmarshal([]byte(p.Rules.Text), &file); err != nil {
			return "", fmt.Errorf("profile %q: rules: %w", p.Name, err)
		}
	}
	var list []json.RawMessage
	if p.Mode != "" {
		rs, err := preset()
		if err != nil {
			return "", fmt.Errorf("profile %q: %w", p.Name, err)
		}
		var preset struct {
			Rules []json.RawMessage `json:"rules"`
		}
		if err := json.Unmarshal([]byte(rules.FileText(rs)), &preset); err != nil {
			return "", fmt.Errorf("profile %q: preset %s: %w", p.Name, p.Mode, err)
		}
		list = preset.Rules
	}
	if raw, ok := file["rules"]; ok {
		var own []json.RawMessage
		if err := json.Unmarshal(raw, &own); err != nil {
			return "", fmt.Errorf("profile %q: rules: %w", p.Name, err)
		}
		list = append(list, own...)
	}
	if list == nil {
		list = []json.RawMessage{}
	}
	file["rules"], _ = json.Marshal(list)
	if s := p.Safety; s != (Safety{}) {
		settings := map[string]json.RawMessage{}
		if raw, ok := file["settings"]; ok {
			if err := json.Unmarshal(raw, &settings); err != nil {
				return "", fmt.Errorf("profile %q: rules settings: %w", p.Name, err)
			}
		}
		if s.MaxDelete != "" {
			l, err := rules.ParseDeleteLimit(s.MaxDelete)
			if err != nil {
				return "", fmt.Errorf("profile %q: max delete: %w", p.Name, err)
			}
			if l.IsCount {
				settings["max_delete"], _ = json.Marshal(l.Count)
			} else {
				settings["max_delete"], _ = json.Marshal(s.MaxDelete)
			}
		}
		if s.Versions != "" {
			settings["versions"], _ = json.Marshal(s.Versions)
		}
		if s.VersionsKeep != 0 {
			settings["versions_keep"], _ = json.Marshal(s.VersionsKeep)
		}
		file["settings"], _ = json.Marshal(settings)
	}
	data, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		return "", fmt.Errorf("profile %q: rules: %w", p.Name, err)
	}
	return string(data) + "\n", nil
}
