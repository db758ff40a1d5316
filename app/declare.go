package app

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/ferrysync/ferry/backend/plan"
)

// declarer puts this member's nodes on the session server: as the Data step changes them while
// other members are there to see them, and when the inventory starts. One declaration runs at a
// time; a live one declares the latest nodes, and nothing when they are those declared last.
type declarer struct {
	mu   sync.Mutex // held through a declaration
	last string     // the nodes declared last (declaredKey); "" when unknown
	poke chan struct{}
}

// kick asks the live declarer to look at the nodes again; nothing when it does not run.
func (d *declarer) kick() {
	select {
	case d.poke <- struct{}{}:
	default:
	}
}

// declaredKey names a list of nodes and their sources.
func declaredKey(specs []plan.NodeSpec) string {
	var b strings.Builder
	for _, s := range specs {
		b.WriteString(s.Code)
		for _, r := range s.Roots {
			b.WriteString("\x00" + r)
		}
		b.WriteString("\x01")
	}
	return b.String()
}

// declareLive keeps the session server's copy of this member's nodes up to date while the
// session is open and before the inventory, so that the other members see the folders as they
// are added; it ends with ctx.
func (s *Sessions) declareLive(ctx context.Context, sess *openSession) {
	c := s.c
	for {
		select {
		case <-sess.decl.poke:
		case <-ctx.Done():
			return
		}
		c.mu.Lock()
		ready := c.sess == sess && len(sess.info.Members) > 1 && c.inv == nil && c.run == nil && c.an.inv == nil
		var specs []plan.NodeSpec
		for _, spec := range c.specsLocked() {
			if len(spec.Roots) > 0 { // a node without a folder yet says nothing to the others
				specs = append(specs, spec)
			}
		}
		c.mu.Unlock()
		if !ready {
			continue
		}
		if err := sess.declare(ctx, specs, false); err != nil && ctx.Err() == nil {
			c.log.Info("declare the nodes to the session", "err", err)
		}
	}
}

// declare puts this member's nodes and sources on the session server, replacing those it
// declared before, unless they are declared already. For the inventory (inventory true), the
// oldest member resets a session inventoried before; a live declaration leaves such a session
// alone.
func (sess *openSession) declare(ctx context.Context, specs []plan.NodeSpec, inventory bool) error {
	d := &sess.decl
	d.mu.Lock()
	defer d.mu.Unlock()
	key := declaredKey(specs)
	if !inventory && key == d.last {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, sessionCallTimeout)
	defer cancel()
	m, cl := sess.member, sess.client
	id := m.ID()
	snap, err := cl.Session(ctx, id)
	if err != nil {
		return fmt.Errorf("read the session: %w", readable(err))
	}
	if !snap.InventoryStarted && key == d.last {
		return nil // declared as they are: declaring again would show the others a node without its sources for a moment
	}
	if snap.InventoryStarted {
		if !inventory {
			return nil // the next inventory declares them
		}
		oldest := len(snap.Members) > 0 && snap.Members[0].InstanceID == m.Self()
		if !oldest && key == d.last {
			return nil // the oldest member started the inventory with these nodes
		}
		if oldest {
			if _, err := cl.Reset(ctx, id); err != nil {
				return fmt.Errorf("reset the session for a new inventory: %w", readable(err))
			}
		}
	}
	d.last = ""
	for _, mb := range snap.Members {
		if mb.InstanceID != m.Self() {
			continue
		}
		for _, n := range mb.Nodes {
			if _, err := cl.RemoveNode(ctx, id, n.ID); err != nil {
				return fmt.Errorf("replace data node %s: %w", n.ID, readable(err))
			}
		}
	}
	if err := m.Declare(ctx, specs); err != nil {
		return readable(err)
	}
	d.last = key
	return nil
}
