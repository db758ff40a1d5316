package engine

import (
	"iter"

	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Orchestration names how a run is orchestrated.
type Orchestration string

const (
	OrchestrationLocal Orchestration = "local" // one member: in memory, no synchronization request
	OrchestrationCloud Orchestration = "cloud" // the server's tracker
)

// SynchronizationStarter picks the orchestration of a run from the session's members at start
// and builds the group definitions the tracker needs.
type SynchronizationStarter struct {
	Session    string
	Self       string
	ForceCloud bool // orchestrate on the server even with one member
	// Cloud builds the server-orchestrated path; nil when there is no server to use.
	Cloud func() Orchestrator
}

// Choose returns the orchestrator for a session whose members are members: local for one member
// (nothing only other members would need is sent: no start data, no start call), the server's
// otherwise.
func (s SynchronizationStarter) Choose(members []string) (Orchestrator, Orchestration) {
	if len(members) == 1 && members[0] == s.Self && !s.ForceCloud || s.Cloud == nil {
		return NewLocalOrchestrator(s.Session, s.Self), OrchestrationLocal
	}
	return s.Cloud(), OrchestrationCloud
}

// Definitions are the groups of p as the tracker sees them: ops, sizes, members and nodes, no
// paths. owner gives the member owning a node. They are made as they are ranged over, which may
// be more than once.
func Definitions(p *plan.Plan, owner func(node string) string) iter.Seq[protocol.GroupDefinition] {
	return func(yield func(protocol.GroupDefinition) bool) {
		for i := range p.Groups {
			g := &p.Groups[i]
			if g.Quiet {
				continue // not an action: its member runs it and reports only its failure
			}
			d := protocol.GroupDefinition{ID: g.ID(), Op: g.Op.String(), Targets: make([]protocol.Target, 0, len(g.Targets))}
			if g.Op == plan.OpCopy || g.Op == plan.OpCopyContent {
				d.Source, d.Size = owner(g.Source.Node), g.Size()
			}
			for _, t := range g.Targets {
				d.Targets = append(d.Targets, protocol.Target{Member: owner(t.Node), Node: t.Node})
			}
			if !yield(d) {
				return
			}
		}
	}
}
