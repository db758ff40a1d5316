// Package tracker is the synchronization record: per-group tracking, progress counters and the
// end rule. The session server persists it through its store; a single-member session keeps it
// in memory. Both run this code.
package tracker

import (
	"slices"

	"github.com/ferrysync/ferry/backend/protocol"
)

// Group tracks one action group: whether its source was read and which targets succeeded or
// failed. A target is decided once: success and error exclude each other.
type Group struct {
	ID       string            `json:"id"`
	Op       string            `json:"op"`
	Source   string            `json:"source,omitempty"`    // member reading the content, content copies only
	SourceOK *bool             `json:"source_ok,omitempty"` // nil while the source is pending
	Size     int64             `json:"size,omitempty"`
	Targets  []protocol.Target `json:"targets"`
	Success  []protocol.Target `json:"success,omitempty"`
	Errors   []protocol.Target `json:"errors,omitempty"`
}

// IsFinished: a failed source finishes the group; a pending one holds it; otherwise every
// target must be decided.
func (g *Group) IsFinished() bool {
	if g.Source != "" && g.SourceOK == nil {
		return false
	}
	if g.Source != "" && !*g.SourceOK {
		return true
	}
	return len(g.Success)+len(g.Errors) >= len(g.Targets)
}

// IsError: the source or a target failed.
func (g *Group) IsError() bool {
	return (g.SourceOK != nil && !*g.SourceOK) || len(g.Errors) > 0
}

// IsSuccess: finished without error.
func (g *Group) IsSuccess() bool { return g.IsFinished() && !g.IsError() }

// Summary is the group's state as pushed.
func (g *Group) Summary() protocol.GroupSummary {
	return protocol.GroupSummary{Group: g.ID, Success: g.IsSuccess(), Error: g.IsError()}
}

func (g *Group) isTarget(t protocol.Target) bool { return slices.Contains(g.Targets, t) }
func (g *Group) decided(t protocol.Target) bool {
	return slices.Contains(g.Success, t) || slices.Contains(g.Errors, t)
}

// addSuccess marks an undecided target successful; false when it was a target already decided.
func (g *Group) addSuccess(t protocol.Target) bool {
	if g.decided(t) {
		return false
	}
	g.Success = append(g.Success, t)
	return true
}

func (g *Group) addError(t protocol.Target) bool {
	if g.decided(t) {
		return false
	}
	g.Errors = append(g.Errors, t)
	return true
}

// contentCopy tells whether the group writes content.
func contentCopy(op string) bool { return op == "copy" || op == "copy-content" }

// clone copies what results change; the targets, set once by build, are shared.
func (g *Group) clone() *Group {
	c := *g
	if g.SourceOK != nil {
		ok := *g.SourceOK
		c.SourceOK = &ok
	}
	c.Success = slices.Clone(g.Success)
	c.Errors = slices.Clone(g.Errors)
	return &c
}
