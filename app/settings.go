package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ferrysync/ferry/backend/atomicfile"
	"github.com/ferrysync/ferry/backend/buildinfo"
	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/rules"
)

// Themes of the window.
const (
	ThemeSystem = "system"
	ThemeLight  = "light"
	ThemeDark   = "dark"
)

// settingsFile is kept in the config folder beside the identity key.
const settingsFile = "settings.json"

// UserSettings are the user's choices, kept across runs. An empty ServerURL means the embedded
// session server.
type UserSettings struct {
	// ServerURL is the session server's URL, or several URLs of one service (server processes
	// sharing one Redis, token secret and relay storage) separated by commas: the client moves
	// to the next when its server stops answering.
	ServerURL string `json:"serverURL"`
	Theme     string `json:"theme"`
	// MaxDelete is the deletion limit past which a synchronization needs an explicit
	// confirmation: a number of files ("100") or a share of each destination's files ("20%"), as
	// rules.ParseDeleteLimit reads it. Empty is the default: more than 50% of 10 files or more,
	// or any deletion while another data source is empty.
	MaxDelete string `json:"maxDelete"`
	// Versions is the folder, relative to each data source, where a synchronization keeps the
	// files it replaces or deletes (".ferry-versions"), as rules.CheckVersionsDir accepts it;
	// empty keeps nothing. A rules file's versions overrides it.
	Versions string `json:"versions"`
	// VersionsKeep removes, at the end of a successful run, the kept versions older than this
	// many days; 0 keeps them all. 0 when Versions is empty. A rules file's versions_keep
	// overrides it.
	VersionsKeep int `json:"versionsKeep"`
	// IncludeHidden lists hidden files and folders (names starting with a dot) in the
	// inventories; by default they are left out. A rules file's exclude_hidden overrides it.
	IncludeHidden bool `json:"includeHidden"`
}

// DefaultSettings are the settings of a new installation.
func DefaultSettings() UserSettings { return UserSettings{Theme: ThemeSystem} }

// Settings is the service of the user's settings.
type Settings struct {
	c *core
}

// Get returns the settings in effect.
func (s *Settings) Get() UserSettings { return s.c.settings.get() }

// Save checks and stores the settings; a new server address applies to the next session. A new
// folder for kept versions applies to the plan at once, and when the inventory listed that folder
// (or left out the one before), the inventory runs again (inventory:progress, inventory:done).
func (s *Settings) Save(v UserSettings) error {
	v, err := checkSettings(v)
	if err != nil {
		return err
	}
	if err := s.c.settings.save(v); err != nil {
		return err
	}
	s.c.window().setTheme(v.Theme)
	s.c.versionsSaved(versionsOf(v))
	s.c.hiddenSaved(v.IncludeHidden)
	return nil
}

// compareDefaults are the comparison settings without a rules file: the defaults, with the
// hidden files of the user's settings.
func (c *core) compareDefaults() compare.Settings {
	s := compare.DefaultSettings()
	s.ExcludeHidden = !c.settings.get().IncludeHidden
	return s
}

// hiddenSaved applies a new choice about hidden files, unless a rules file in force makes it;
// an inventory that read otherwise runs again (inventory:progress, inventory:done).
func (c *core) hiddenSaved(include bool) {
	c.mu.Lock()
	a := &c.an
	if a.settings.ExcludeHidden == !include || (a.mode == ModeCustom && a.custom != nil && a.custom.SettingsSet["exclude_hidden"]) {
		c.mu.Unlock()
		return
	}
	a.settings.ExcludeHidden = !include
	rescan := c.idleLocked() == nil && a.inv != nil && !a.ran && a.needsInventory()
	c.mu.Unlock()
	if rescan {
		if err := (&Inventory{c: c}).Start(); err != nil {
			c.log.Warn("inventory after the choice about hidden files", "err", err)
		}
	}
}

// Version is Ferry's version.
func (s *Settings) Version() string { return buildinfo.Version() }

// checkSettings validates and normalizes settings.
func checkSettings(v UserSettings) (UserSettings, error) {
	v.ServerURL = strings.Join(client.ServerList(v.ServerURL), ",")
	for _, u := range client.ServerList(v.ServerURL) {
		if err := checkServerURL(u); err != nil {
			return v, err
		}
	}
	switch v.Theme {
	case "":
		v.Theme = ThemeSystem
	case ThemeSystem, ThemeLight, ThemeDark:
	default:
		return v, fmt.Errorf("theme %q: choose system, light or dark", v.Theme)
	}
	l, err := parseMaxDelete(v.MaxDelete)
	if err != nil {
		return v, err
	}
	text, _ := l.MarshalText()
	v.MaxDelete = string(text)
	v.Versions = strings.TrimSpace(v.Versions)
	if dir := strings.TrimRight(v.Versions, "/"); dir != "" {
		v.Versions = dir
	}
	if v.Versions != "" {
		if err := rules.CheckVersionsDir(v.Versions); err != nil {
			return v, fmt.Errorf("folder for kept versions %w; leave it empty to keep nothing", err)
		}
	}
	switch {
	case v.VersionsKeep < 0:
		return v, fmt.Errorf("kept versions: %d days: want a number of days, 0 or more (0 keeps them all)", v.VersionsKeep)
	case v.Versions == "":
		v.VersionsKeep = 0
	}
	return v, nil
}

// versionsOf is the kept-versions setting of the settings (plan.Options.Versions, unstamped).
func versionsOf(v UserSettings) plan.Versions {
	if v.Versions == "" {
		return plan.Versions{}
	}
	return plan.Versions{Dir: v.Versions, KeepDays: v.VersionsKeep}
}

// parseMaxDelete reads the deletion limit of the settings; empty is the default.
func parseMaxDelete(s string) (rules.DeleteLimit, error) {
	var l rules.DeleteLimit
	if err := l.UnmarshalText([]byte(strings.TrimSpace(s))); err != nil {
		return l, fmt.Errorf("%w; leave it empty for the default (more than 50%% of a destination's files)", err)
	}
	return l, nil
}

// checkServerURL accepts "" (the embedded server) or http(s)://host[:port][/path].
func checkServerURL(s string) error {
	if s == "" {
		return nil
	}
	bad := func(why string) error {
		return fmt.Errorf("server address %q: %s; give one such as https://ferry.example.org:7420 (several URLs of one service separated by commas), or leave it empty for the server built into Ferry", s, why)
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return bad("not an address")
	case u.Scheme != "http" && u.Scheme != "https":
		return bad("it must start with http:// or https://")
	case u.Host == "" || u.Hostname() == "":
		return bad("no host name")
	case u.User != nil:
		return bad("it must not hold a user name or password")
	case u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(s, "?#"):
		return bad("it must not hold a query or a fragment")
	}
	if p := u.Port(); p != "" {
		var n int
		if _, err := fmt.Sscanf(p, "%d", &n); err != nil || n < 1 || n > 65535 {
			return bad("the port must be between 1 and 65535")
		}
	}
	return nil
}

// settingsStore keeps the settings file: read once, written whole on every save.
type settingsStore struct {
	dir string

	mu  sync.Mutex
	cur UserSettings
}

// loadSettings reads dir/settings.json. A missing file gives the defaults; so does an unreadable
// or invalid one, which is left in place until the next save, and its error is returned too.
func loadSettings(dir string) (*settingsStore, error) {
	s := &settingsStore{dir: dir, cur: DefaultSettings()}
	data, err := os.ReadFile(filepath.Join(dir, settingsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read the settings: %w", err)
	}
	var v UserSettings
	if err := json.Unmarshal(data, &v); err != nil {
		return s, fmt.Errorf("settings file %s is not valid JSON (defaults used until the next save): %w", filepath.Join(dir, settingsFile), err)
	}
	if v, err = checkSettings(v); err != nil {
		return s, fmt.Errorf("settings file %s (defaults used until the next save): %w", filepath.Join(dir, settingsFile), err)
	}
	s.cur = v
	return s, nil
}

func (s *settingsStore) get() UserSettings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

func (s *settingsStore) save(v UserSettings) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("save the settings: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := atomicfile.WriteFile(filepath.Join(s.dir, settingsFile), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save the settings: %w", err)
	}
	s.cur = v
	return nil
}
