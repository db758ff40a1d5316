package session

import (
	"encoding/json"
	"path/filepath"

	"github.com/ferrysync/ferry/backend/protocol"
)

// NodeInfo is a node of a member as the other members are shown it: its code, the machine
// that declared it, and the names of its data sources (a folder's or a file's name, never its
// path).
type NodeInfo struct {
	Code    string
	Machine string
	Sources []SourceInfo
}

// SourceInfo is a data source by code and name.
type SourceInfo struct {
	Code string
	Name string
}

// NodesOf opens the nodes mb declared, sealed with the session key. What does not open (a
// member that is not this session's, tampered data) is shown by code alone.
func (m *Member) NodesOf(mb protocol.Member) []NodeInfo {
	out := make([]NodeInfo, 0, len(mb.Nodes))
	for _, n := range mb.Nodes {
		info := NodeInfo{Code: n.ID, Sources: make([]SourceInfo, 0, len(n.Sources))}
		var nd nodeData
		if plain, err := m.key.Open(n.Data, "node:"+n.ID); err == nil && json.Unmarshal(plain, &nd) == nil {
			info.Machine = nd.Machine
		}
		for _, s := range n.Sources {
			src := SourceInfo{Code: s.ID}
			var sd sourceData
			if plain, err := m.key.Open(s.Data, "source:"+s.ID); err == nil && json.Unmarshal(plain, &sd) == nil && sd.Path != "" {
				src.Name = filepath.Base(filepath.Clean(sd.Path))
			}
			info.Sources = append(info.Sources, src)
		}
		out = append(out, info)
	}
	return out
}
