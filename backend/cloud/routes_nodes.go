package cloud

import (
	"net/http"
	"slices"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Data nodes and sources: each member edits its own, until the inventory starts.

// nodeEdit holds what a node route needs from its request.
type nodeEdit struct {
	id, instance string
}

// nodeRoute reads the session id and {instance} of a member route.
func nodeRoute(r *http.Request) (nodeEdit, error) {
	id, err := sessionID(r)
	return nodeEdit{id: id, instance: r.PathValue("instance")}, err
}

// pathID reads and checks a node or source id of the route.
func pathID(r *http.Request, name string) (string, error) {
	v := r.PathValue(name)
	return v, checkPattern(name+" id", v, protocol.NodeIDPattern, "1 to 64 letters, digits, '-' or '_'")
}

// ownNodes checks the caller may edit its nodes and returns its index.
func ownNodes(sess *store.Session, p principal, instance string) (int, error) {
	i, err := requireSelf(sess, p, instance)
	if err != nil {
		return -1, err
	}
	return i, requireNotStarted(sess, "data nodes and sources")
}

// ownNode finds one of the caller's own nodes by id, while nodes may still change.
func ownNode(sess *store.Session, p principal, instance, nodeID string) (*protocol.Member, int, error) {
	i, err := ownNodes(sess, p, instance)
	if err != nil {
		return nil, -1, err
	}
	m := &sess.Members[i]
	n := nodeIndex(m, nodeID)
	if n < 0 {
		return nil, -1, notFound("no node %s for member %s", nodeID, m.Letter)
	}
	return m, n, nil
}

func nodeIndex(m *protocol.Member, id string) int {
	return slices.IndexFunc(m.Nodes, func(n protocol.DataNode) bool { return n.ID == id })
}

// handleAddNode: POST …/members/{instance}/nodes. Adds a node, or replaces the data of the
// member's node with that id (its sources are kept).
func (s *Server) handleAddNode(w http.ResponseWriter, r *http.Request, p principal) error {
	route, err := nodeRoute(r)
	if err != nil {
		return err
	}
	req, err := decodeBody(w, r, decodeNodeRequest)
	if err != nil {
		return err
	}
	var node protocol.DataNode
	out, err := s.update(r.Context(), route.id, func(sess *store.Session) error {
		i, err := ownNodes(sess, p, route.instance)
		if err != nil {
			return err
		}
		for k := range sess.Members {
			if k != i && nodeIndex(&sess.Members[k], req.ID) >= 0 {
				return conflict(protocol.ErrCodeConflict, "node id %s is taken by member %s", req.ID, sess.Members[k].Letter)
			}
		}
		m := &sess.Members[i]
		if n := nodeIndex(m, req.ID); n >= 0 {
			m.Nodes[n].Data = req.Data
			node = m.Nodes[n]
			return nil
		}
		if len(m.Nodes) >= protocol.MaxNodes {
			return conflict(protocol.ErrCodeLimit, "a member has at most %d data nodes", protocol.MaxNodes)
		}
		node = protocol.DataNode{ID: req.ID, Data: req.Data, Sources: []protocol.DataSource{}}
		m.Nodes = append(m.Nodes, node)
		return nil
	})
	if err != nil {
		return err
	}
	s.publish(r.Context(), s.toSession(protocol.EventNodeAdded, route.id, p.InstanceID, node))
	s.writeJSON(w, http.StatusOK, out.Session)
	return nil
}

// handleRemoveNode: DELETE …/members/{instance}/nodes/{node}, with its sources.
func (s *Server) handleRemoveNode(w http.ResponseWriter, r *http.Request, p principal) error {
	route, err := nodeRoute(r)
	if err != nil {
		return err
	}
	nodeID, err := pathID(r, "node")
	if err != nil {
		return err
	}
	if _, err := decodeBody(w, r, decodeEmpty); err != nil {
		return err
	}
	var node protocol.DataNode
	out, err := s.update(r.Context(), route.id, func(sess *store.Session) error {
		m, n, err := ownNode(sess, p, route.instance, nodeID)
		if err != nil {
			return err
		}
		node = m.Nodes[n]
		m.Nodes = slices.Delete(m.Nodes, n, n+1)
		return nil
	})
	if err != nil {
		return err
	}
	s.publish(r.Context(), s.toSession(protocol.EventNodeRemoved, route.id, p.InstanceID, node))
	s.writeJSON(w, http.StatusOK, out.Session)
	return nil
}

// handleAddSource: POST …/nodes/{node}/sources. Adds a source, or replaces the data of the
// node's source with that id.
func (s *Server) handleAddSource(w http.ResponseWriter, r *http.Request, p principal) error {
	route, err := nodeRoute(r)
	if err != nil {
		return err
	}
	nodeID, err := pathID(r, "node")
	if err != nil {
		return err
	}
	req, err := decodeBody(w, r, decodeSourceRequest)
	if err != nil {
		return err
	}
	source := protocol.DataSource{ID: req.ID, Data: req.Data}
	out, err := s.update(r.Context(), route.id, func(sess *store.Session) error {
		m, n, err := ownNode(sess, p, route.instance, nodeID)
		if err != nil {
			return err
		}
		node := &m.Nodes[n]
		if k := slices.IndexFunc(node.Sources, func(d protocol.DataSource) bool { return d.ID == req.ID }); k >= 0 {
			node.Sources[k] = source
			return nil
		}
		if len(node.Sources) >= protocol.MaxSourcesNode {
			return conflict(protocol.ErrCodeLimit, "a node has at most %d data sources", protocol.MaxSourcesNode)
		}
		node.Sources = append(node.Sources, source)
		return nil
	})
	if err != nil {
		return err
	}
	s.publish(r.Context(), s.toSession(protocol.EventSourceAdded, route.id, p.InstanceID,
		protocol.SourceEvent{Node: nodeID, Source: source}))
	s.writeJSON(w, http.StatusOK, out.Session)
	return nil
}

// handleRemoveSource: DELETE …/nodes/{node}/sources/{source}.
func (s *Server) handleRemoveSource(w http.ResponseWriter, r *http.Request, p principal) error {
	route, err := nodeRoute(r)
	if err != nil {
		return err
	}
	nodeID, err := pathID(r, "node")
	if err != nil {
		return err
	}
	sourceID, err := pathID(r, "source")
	if err != nil {
		return err
	}
	if _, err := decodeBody(w, r, decodeEmpty); err != nil {
		return err
	}
	var source protocol.DataSource
	out, err := s.update(r.Context(), route.id, func(sess *store.Session) error {
		m, n, err := ownNode(sess, p, route.instance, nodeID)
		if err != nil {
			return err
		}
		node := &m.Nodes[n]
		k := slices.IndexFunc(node.Sources, func(d protocol.DataSource) bool { return d.ID == sourceID })
		if k < 0 {
			return notFound("no source %s in node %s", sourceID, nodeID)
		}
		source = node.Sources[k]
		node.Sources = slices.Delete(node.Sources, k, k+1)
		return nil
	})
	if err != nil {
		return err
	}
	s.publish(r.Context(), s.toSession(protocol.EventSourceRemoved, route.id, p.InstanceID,
		protocol.SourceEvent{Node: nodeID, Source: source}))
	s.writeJSON(w, http.StatusOK, out.Session)
	return nil
}

// handleStartInventory: POST /sessions/{id}/inventory/start, by the oldest member. Freezes
// membership, settings, nodes and sources until a reset.
func (s *Server) handleStartInventory(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := sessionID(r)
	if err != nil {
		return err
	}
	if _, err := decodeBody(w, r, decodeEmpty); err != nil {
		return err
	}
	out, err := s.update(r.Context(), id, func(sess *store.Session) error {
		if err := requireOldest(sess, p, "start the inventory"); err != nil {
			return err
		}
		if sess.InventoryStarted {
			return conflict(protocol.RefuseAlreadyStarted, "the inventory has already started")
		}
		if err := inventoryReady(sess); err != nil {
			return err
		}
		sess.InventoryStarted = true
		return nil
	})
	if err != nil {
		return err
	}
	s.publish(r.Context(), s.toSession(protocol.EventInventoryStarted, id, p.InstanceID, out.Session))
	s.writeJSON(w, http.StatusOK, protocol.StartInventoryResult{Started: true})
	return nil
}

// inventoryReady applies the validation matrix: at most 5 members, each with a node, each node
// with a source, 2 to 5 nodes in all (so one member with 2–5 nodes is enough).
func inventoryReady(sess *store.Session) error {
	if len(sess.Members) > protocol.MaxMembers {
		return conflict(protocol.RefuseTooManyMembers, "%d members: at most %d", len(sess.Members), protocol.MaxMembers)
	}
	nodes := 0
	for _, m := range sess.Members {
		if len(m.Nodes) == 0 {
			return conflict(protocol.RefuseMemberWithoutNode, "member %s has no data node", m.Letter)
		}
		for _, n := range m.Nodes {
			if len(n.Sources) == 0 {
				return conflict(protocol.RefuseNodeWithoutSource, "node %s of member %s has no data source", n.ID, m.Letter)
			}
		}
		nodes += len(m.Nodes)
	}
	switch {
	case nodes < 2:
		return conflict(protocol.RefuseTooFewNodes, "%d data node: at least 2 are needed", nodes)
	case nodes > protocol.MaxNodes:
		return conflict(protocol.RefuseTooManyNodes, "%d data nodes: at most %d", nodes, protocol.MaxNodes)
	}
	return nil
}
