package plan

import "encoding/json"

// Action is one line of the plan JSON (`ferry plan --json`, `ferry sync --json`): one group target.
type Action struct {
	Op    Op     `json:"op"`
	From  string `json:"from,omitempty"`
	To    string `json:"to,omitempty"`
	On    string `json:"on,omitempty"`
	Path  string `json:"path"`
	Kind  Kind   `json:"kind,omitempty"`
	Size  *int64 `json:"size,omitempty"`
	Group string `json:"group"`
}

// RejectedJSON is one refused action in the plan JSON.
type RejectedJSON struct {
	Op     string `json:"op"`
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	On     string `json:"on,omitempty"`
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// JSON is the plan as `ferry plan --json` prints it.
type JSON struct {
	Nodes    map[string][]string `json:"nodes"`
	Actions  []Action            `json:"actions"`
	Rejected []RejectedJSON      `json:"rejected"`
	// LeftAlone are actions a do-nothing kept off their items.
	LeftAlone []RejectedJSON `json:"left_alone"`
	Summary   Summary        `json:"summary"`
	Versions  *Versions      `json:"versions,omitempty"`
}

// Actions flattens the groups into one action per target, in run order. Quiet groups are left
// out.
func (p *Plan) Actions() []Action {
	var out []Action
	p.EachAction(func(a Action) { out = append(out, a) })
	return out
}

// EachAction calls fn with the plan's actions in Actions order, without gathering them.
func (p *Plan) EachAction(fn func(Action)) {
	for _, g := range p.Groups {
		if g.Quiet {
			continue
		}
		for _, t := range g.Targets {
			a := Action{Op: g.Op, Path: t.Path, Group: g.ID}
			if g.Source != nil {
				a.From, a.To = g.Source.Part, t.Part
				if g.Op != OpCopyDates {
					size := g.Size
					a.Kind, a.Size = g.Kind, &size
				}
			} else {
				a.On = t.Part
			}
			fn(a)
		}
	}
}

// JSON renders the plan for the CLI and the app.
func (p *Plan) JSON() JSON {
	j := JSON{Nodes: map[string][]string{}, Actions: p.Actions(), Rejected: rejectedJSON(p.Rejected), LeftAlone: rejectedJSON(p.LeftAlone), Summary: p.Summary(), Versions: p.Versions}
	if j.Actions == nil {
		j.Actions = []Action{}
	}
	for _, part := range p.Parts {
		j.Nodes[part.Node] = append(j.Nodes[part.Node], part.Root)
	}
	return j
}

func rejectedJSON(rs []Rejected) []RejectedJSON {
	out := make([]RejectedJSON, 0, len(rs))
	for _, r := range rs {
		out = append(out, RejectedJSON{Op: r.Op, From: r.From, To: r.To, On: r.On, Path: r.Path, Reason: string(r.Reason)})
	}
	return out
}

// MarshalJSON writes the plan in the CLI's format.
func (p *Plan) MarshalJSON() ([]byte, error) { return json.Marshal(p.JSON()) }
