package plan

import (
	"fmt"
	"time"

	"github.com/ferrysync/ferry/backend/rules"
)

// Versions is where a run keeps the files it replaces or deletes, the same for every member
// that applies the plan: each file goes to Dir/Stamp/<its path> in its data source root.
type Versions struct {
	// Dir is relative to each data source root (to the folder of a file data source); no
	// inventory lists it.
	Dir string `json:"dir"`
	// Stamp names the run's folder in Dir: the UTC time of the plan, as StampLayout.
	Stamp string `json:"stamp"`
	// KeepDays prunes, at the end of a successful run, the run folders older than this many
	// days; 0 keeps them all.
	KeepDays int `json:"keep_days,omitempty"`
}

// StampLayout is the time layout of a run's folder name, in UTC: 2026-12-05T201500Z.
const StampLayout = "2006-01-02T150405Z"

// Stamp names the folder of a run made at t.
func Stamp(t time.Time) string { return t.UTC().Format(StampLayout) }

// ParseStamp reads a run folder's name; ok is false for any other name.
func ParseStamp(name string) (t time.Time, ok bool) {
	t, err := time.Parse(StampLayout, name)
	return t, err == nil
}

// Check validates the setting; a stamp, when set, must be one.
func (v Versions) Check() error {
	if err := rules.CheckVersionsDir(v.Dir); err != nil {
		return fmt.Errorf("versions: %w", err)
	}
	if _, ok := ParseStamp(v.Stamp); v.Stamp != "" && !ok {
		return fmt.Errorf("versions: %q is not a run's folder name such as %s", v.Stamp, StampLayout)
	}
	if v.KeepDays < 0 {
		return fmt.Errorf("versions: keep %d days: want 0 or more", v.KeepDays)
	}
	return nil
}

// Older tells whether name is the folder of a run made more than KeepDays days before now;
// never when KeepDays is 0.
func (v Versions) Older(name string, now time.Time) bool {
	t, ok := ParseStamp(name)
	return ok && v.KeepDays > 0 && t.Before(now.Add(-time.Duration(v.KeepDays)*24*time.Hour))
}

// Exclude is what every scan of the run must leave out (inventory.Options.Exclude): the
// folder, when there is one.
func (v Versions) Exclude() []string {
	if v.Dir == "" {
		return nil
	}
	return []string{v.Dir}
}
