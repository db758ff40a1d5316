package session

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/protocol"
)

// The session's settings, sealed with the session key: how every member scans and what the
// comparison reads. The oldest member sets them before it starts the inventory; the others read
// them from the session as the inventory starts.

const settingsLabel = "settings"

type settingsData struct {
	Version int              `json:"version"`
	Compare *compareSettings `json:"compare,omitempty"` // defaults when absent
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

func sealSettings(m *Member, s compare.Settings) protocol.Blob {
	c := &compareSettings{DataType: s.DataType.String(), Matching: s.Matching.String(), Case: "insensitive",
		Analysis: s.Analysis.String(), ExcludeHidden: s.ExcludeHidden, ExcludeSystem: s.ExcludeSystem}
	if s.CaseSensitive {
		c.Case = "sensitive"
	}
	data, _ := json.Marshal(settingsData{Version: 1, Compare: c})
	return m.key.Seal(data, settingsLabel)
}

// SetSettings shares the comparison settings with the members; the server refuses it once the
// inventory started.
func (m *Member) SetSettings(ctx context.Context, s compare.Settings) error {
	snap, err := m.c.UpdateSettings(ctx, m.ID(), sealSettings(m, s))
	if err != nil {
		return fmt.Errorf("share the settings: %w", err)
	}
	m.setSession(snap)
	return nil
}

// openSettings reads the settings of a session snapshot.
func openSettings(m *Member, sealed protocol.Blob) (compare.Settings, error) {
	s := compare.DefaultSettings()
	if len(sealed) == 0 {
		return s, nil
	}
	plain, err := m.key.Open(sealed, settingsLabel)
	if err != nil {
		return s, fmt.Errorf("the session's settings do not open with the session key: %w", err)
	}
	var d settingsData
	if err := json.Unmarshal(plain, &d); err != nil {
		return s, fmt.Errorf("the session's settings: %w", err)
	}
	if d.Version != 1 {
		return s, fmt.Errorf("the session's settings are of version %d, this instance reads version 1", d.Version)
	}
	c := d.Compare
	if c == nil {
		return s, nil
	}
	if s.DataType, err = compare.ParseDataType(c.DataType); err != nil {
		return s, fmt.Errorf("the session's settings: %w", err)
	}
	if s.Matching, err = compare.ParseMatching(c.Matching); err != nil {
		return s, fmt.Errorf("the session's settings: %w", err)
	}
	if s.Analysis, err = compare.ParseAnalysis(c.Analysis); err != nil {
		return s, fmt.Errorf("the session's settings: %w", err)
	}
	switch c.Case {
	case "sensitive":
		s.CaseSensitive = true
	case "insensitive":
	default:
		return s, fmt.Errorf("the session's settings: case %q", c.Case)
	}
	s.ExcludeHidden, s.ExcludeSystem = c.ExcludeHidden, c.ExcludeSystem
	return s, nil
}
