package remote

import (
	"slices"
	"strings"

	"github.com/ferrysync/ferry/backend/plan"
)

// Small files travel together: up to batchFiles files of at most smallFile bytes, batchBytes
// in all, per transfer. Every member derives the same batches from the plan, so these are part
// of the protocol, not settings.
const (
	smallFile  = 256 << 10
	batchFiles = 100
	batchBytes = 8 << 20
)

// Run is a synchronization as every member sees it, enough to derive the same transfers.
type Run struct {
	// Key identifies the synchronization, the same on every member (the session, who started
	// it and when).
	Key   string
	Plan  *plan.Plan
	Self  string                   // this member
	Owner func(node string) string // the member owning a node
}

// shipment is one content transfer: the full content of one group, a batch of small groups, or
// a delta for one target.
type shipment struct {
	id         string
	source     string   // the member reading the sources
	recipients []string // the members receiving, sorted
	groups     []*plan.Group
	target     *plan.Endpoint // the target of a delta
}

// relayedTargets are a content copy's targets on members other than its source's.
func relayedTargets(g *plan.Group, owner func(string) string) (source string, targets []*plan.Endpoint) {
	if (g.Op != plan.OpCopy && g.Op != plan.OpCopyContent) || g.Source == nil {
		return "", nil
	}
	source = owner(g.Source.Node)
	for i := range g.Targets {
		if owner(g.Targets[i].Node) != source {
			targets = append(targets, &g.Targets[i])
		}
	}
	return source, targets
}

// schedule lists the content transfers of a run in plan order, each named from the run key and
// its first group (and its target for a delta), as every member derives them.
func (c *Content) schedule(run Run) []*shipment {
	var out []*shipment
	open := map[string]*shipment{} // batches still taking files, by source and recipients
	fill := map[*shipment]int64{}
	for i := range run.Plan.Groups {
		g := &run.Plan.Groups[i]
		source, targets := relayedTargets(g, run.Owner)
		if len(targets) == 0 {
			continue
		}
		if g.Kind == plan.Delta {
			for _, t := range targets {
				out = append(out, &shipment{
					id:         c.transferID(run.Key, "delta", g.ID(), t.Part, t.Path()),
					source:     source,
					recipients: []string{run.Owner(t.Node)},
					groups:     []*plan.Group{g},
					target:     t,
				})
			}
			continue
		}
		var recipients []string
		for _, t := range targets {
			recipients = append(recipients, run.Owner(t.Node))
		}
		slices.Sort(recipients)
		recipients = slices.Compact(recipients)
		if g.Size() > smallFile {
			out = append(out, &shipment{id: c.transferID(run.Key, "full", g.ID()), source: source, recipients: recipients, groups: []*plan.Group{g}})
			continue
		}
		key := source + "\x00" + strings.Join(recipients, "\x00")
		b := open[key]
		if b != nil && (len(b.groups) == batchFiles || fill[b]+g.Size() > batchBytes) {
			b = nil
		}
		if b == nil {
			b = &shipment{id: c.transferID(run.Key, "batch", g.ID()), source: source, recipients: recipients}
			open[key] = b
			out = append(out, b)
		}
		b.groups = append(b.groups, g)
		fill[b] += g.Size()
	}
	return out
}

func (c *Content) transferID(parts ...string) string {
	return TransferID(c.x.key, "content\x00"+strings.Join(parts, "\x00"))
}
