package plan

import (
	"context"
	"fmt"
	"time"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/rules"
)

// NodeSpec is a data node declared on this machine: its code and its data sources.
type NodeSpec struct {
	Code  string
	Roots []string
}

// PartNames are the names the parts of these nodes will have in the comparison.
func PartNames(nodes []NodeSpec) []string {
	perNode := true
	for _, n := range nodes {
		perNode = perNode && len(n.Roots) == 1
	}
	var names []string
	for _, n := range nodes {
		for i := range n.Roots {
			if perNode {
				names = append(names, n.Code)
			} else {
				names = append(names, fmt.Sprintf("%s%d", n.Code, i+1))
			}
		}
	}
	return names
}

// Request is everything a local plan is made of.
type Request struct {
	Nodes    []NodeSpec
	Settings compare.Settings
	Rules    []rules.Rule
	Targeted []rules.Targeted
	Options  Options
	Progress func(inventory.Progress)
	// RemoveTemps removes the temp files a killed run left in the data sources while they are
	// scanned: set when the plan is made to be run, not when it is only shown.
	RemoveTemps bool
	// Scanned, when set, is told of every node once walked, or of the error that stopped its walk.
	Scanned func(code string, n *inventory.Node, err error)
	// Analysing, when set, is told once before the first content is read.
	Analysing func()
	// Sparse leaves out of the comparison the file items that Rules leave alone and whose
	// content needs no reading (compare.CompareOmitting), unless there are targeted actions: for
	// a plan evaluated with these rules only (Evaluate), not for a two-way run, which records
	// every item.
	Sparse bool
}

// Local is a plan made on this machine with the inventories and comparison behind it.
type Local struct {
	Nodes      []*inventory.Node
	Comparison *compare.Comparison
	Evaluation *rules.Result
	Plan       *Plan
	Timings    Timings
}

// Timings are how long the phases of a local plan took.
type Timings struct {
	Scan     time.Duration // the walks of the data sources
	Analysis time.Duration // the content keys the comparison needs
	Compare  time.Duration
	Plan     time.Duration // rules, targeted actions and the plan
}

// Check validates a request before anything is read: node codes and the parts rules name.
func (r *Request) Check() error {
	if len(r.Nodes) < 2 {
		return fmt.Errorf("a synchronization needs at least two nodes, got %d", len(r.Nodes))
	}
	seen := map[string]bool{}
	for _, n := range r.Nodes {
		if seen[n.Code] {
			return fmt.Errorf("node %s declared twice", n.Code)
		}
		seen[n.Code] = true
	}
	if r.Options.Versions.Dir != "" {
		if err := r.Options.Versions.Check(); err != nil {
			return err
		}
	}
	return rules.CheckParts(r.Rules, PartNames(r.Nodes))
}

// Make inventories the nodes, reads the content that the comparison needs, compares, evaluates the
// rules and builds the plan.
func Make(ctx context.Context, r Request) (*Local, error) {
	l, err := Inventory(ctx, r)
	if err != nil {
		return nil, err
	}
	if err := l.Evaluate(r); err != nil {
		return nil, err
	}
	return l, nil
}

// Inventory inventories the nodes, reads the content that the comparison needs and compares.
func Inventory(ctx context.Context, r Request) (*Local, error) {
	if err := r.Check(); err != nil {
		return nil, err
	}
	opts := inventory.Options{ExcludeHidden: r.Settings.ExcludeHidden, ExcludeSystem: r.Settings.ExcludeSystem,
		RemoveTemps: r.RemoveTemps, Exclude: r.Options.Versions.Exclude(), Progress: r.Progress}
	l := &Local{}
	start := time.Now()
	for _, n := range r.Nodes {
		if len(l.Nodes) > 0 {
			opts.Like = l.Nodes[0] // most trees synchronized hold most of the first one's paths
		}
		node, err := inventory.ScanNode(ctx, n.Code, n.Roots, opts)
		if r.Scanned != nil {
			r.Scanned(n.Code, node, err)
		}
		if err != nil {
			return nil, fmt.Errorf("inventory of node %s: %w", n.Code, err)
		}
		l.Nodes = append(l.Nodes, node)
	}
	var parts []*inventory.Part
	for _, n := range l.Nodes {
		parts = append(parts, n.Parts...)
	}
	l.Timings.Scan = time.Since(start)
	start = time.Now()
	l.Comparison = compare.CompareOmitting(l.Nodes, r.Settings, r.omitter())
	l.Timings.Compare = time.Since(start)
	start = time.Now()
	need := l.Comparison.ContentNeeded()
	analysing := false
	for i, idx := range need {
		if len(idx) == 0 {
			continue
		}
		if !analysing && r.Analysing != nil {
			r.Analysing()
		}
		analysing = true
		if err := parts[i].Hash(ctx, idx, inventory.HashOptions{Progress: r.Progress}); err != nil {
			return nil, fmt.Errorf("analysis of %s: %w", parts[i].Code, err)
		}
	}
	l.Comparison.Regroup(need)
	l.Timings.Analysis = time.Since(start)
	return l, nil
}

// omitter is what CompareOmitting leaves out for the request: nothing unless it is Sparse.
func (r *Request) omitter() func(*compare.Comparison) func(*compare.Item) bool {
	if !r.Sparse || len(r.Targeted) > 0 {
		return nil
	}
	return func(c *compare.Comparison) func(*compare.Item) bool {
		idle, err := rules.Idle(c, r.Rules)
		if err != nil {
			return nil // Evaluate reports it
		}
		return idle
	}
}

// Evaluate applies the request's rules and targeted actions to the comparison and builds the plan.
func (l *Local) Evaluate(r Request) error {
	start := time.Now()
	defer func() { l.Timings.Plan = time.Since(start) }()
	if r.Options.Consume && len(r.Options.Conflicts) == 0 {
		p, err := Evaluate(l.Comparison, r.Rules, r.Targeted, r.Options)
		if err != nil {
			return err
		}
		l.Plan, l.Comparison, l.Evaluation = p, nil, nil // taken apart as planned
		return nil
	}
	res, err := rules.Evaluate(l.Comparison, r.Rules, r.Targeted)
	if err != nil {
		return err
	}
	l.Evaluation = res
	l.Plan = Build(l.Comparison, res, r.Options)
	if r.Options.Consume {
		l.Comparison, l.Evaluation = nil, nil // taken apart by Build
	}
	return nil
}
