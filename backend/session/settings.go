package session

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/rules"
)

// The session's settings, sealed with the session key: how every member scans and what the
// comparison reads. The oldest member sets them before it starts the inventory; the others read
// them from the session as the inventory starts.

const settingsLabel = "settings"

type settingsData struct {
	Version int              `json:"version"`
	Compare *compareSettings `json:"compare,omitempty"` // defaults when absent
	// Versions is the folder of kept versions, which no member's inventory lists (version 2).
	Versions string `json:"versions,omitempty"`
}

// sessionSettings are what the members share before the inventory.
type sessionSettings struct {
	Compare  compare.Settings
	Versions string // the folder of kept versions, relative to each root; "" for none
}

// compareSettings spell compare.Settings as a rules file does.
type compareSettings struct {
	DataType      string `json:"data_type"`
	Matching      string `json:"matching"`
	Case          string `json:"case"`
	Analysis      string `json:"analysis"`
	ExcludeHidden bool   `json:"exclude_hidden"`
	ExcludeSystem bool   `json:"exclude_system"`
}

func sealSettings(m *Member, ss sessionSettings) protocol.Blob {
	s := ss.Compare
	c := &compareSettings{DataType: s.DataType.String(), Matching: s.Matching.String(), Case: "insensitive",
		Analysis: s.Analysis.String(), ExcludeHidden: s.ExcludeHidden, ExcludeSystem: s.ExcludeSystem}
	if s.CaseSensitive {
		c.Case = "sensitive"
	}
	d := settingsData{Version: 1, Compare: c, Versions: ss.Versions}
	if ss.Versions != "" {
		d.Version = 2 // a member that cannot exclude the folder must not take part
	}
	data, _ := json.Marshal(d)
	return m.key.Seal(data, settingsLabel)
}

// setSettings shares the settings with the members; the server refuses it once the inventory
// started.
func (m *Member) setSettings(ctx context.Context, s sessionSettings) error {
	snap, err := m.c.UpdateSettings(ctx, m.ID(), sealSettings(m, s))
	if err != nil {
		return fmt.Errorf("share the settings: %w", err)
	}
	m.setSession(snap)
	return nil
}

// openSettings reads the settings of a session snapshot.
func openSettings(m *Member, sealed protocol.Blob) (sessionSettings, error) {
	ss := sessionSettings{Compare: compare.DefaultSettings()}
	if len(sealed) == 0 {
		return ss, nil
	}
	plain, err := m.key.Open(sealed, settingsLabel)
	if err != nil {
		return ss, fmt.Errorf("the session's settings do not open with the session key: %w", err)
	}
	var d settingsData
	if err := json.Unmarshal(plain, &d); err != nil {
		return ss, fmt.Errorf("the session's settings: %w", err)
	}
	if d.Version != 1 && d.Version != 2 {
		return ss, fmt.Errorf("the session's settings are of version %d, this instance reads versions 1 and 2", d.Version)
	}
	if d.Versions != "" {
		if err := rules.CheckVersionsDir(d.Versions); err != nil {
			return ss, fmt.Errorf("the session's settings: versions: %w", err)
		}
		ss.Versions = d.Versions
	}
	c := d.Compare
	if c == nil {
		return ss, nil
	}
	s := &ss.Compare
	if s.DataType, err = compare.ParseDataType(c.DataType); err != nil {
		return ss, fmt.Errorf("the session's settings: %w", err)
	}
	if s.Matching, err = compare.ParseMatching(c.Matching); err != nil {
		return ss, fmt.Errorf("the session's settings: %w", err)
	}
	if s.Analysis, err = compare.ParseAnalysis(c.Analysis); err != nil {
		return ss, fmt.Errorf("the session's settings: %w", err)
	}
	switch c.Case {
	case "sensitive":
		s.CaseSensitive = true
	case "insensitive":
	default:
		return ss, fmt.Errorf("the session's settings: case %q", c.Case)
	}
	s.ExcludeHidden, s.ExcludeSystem = c.ExcludeHidden, c.ExcludeSystem
	return ss, nil
}
