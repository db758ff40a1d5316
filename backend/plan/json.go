package plan

import (
	"bytes"

	"github.com/ferrysync/ferry/backend/jsonstream"
)

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

// JSON is the plan as `ferry plan --json` prints it (WriteJSON) and as it decodes.
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
			a := Action{Op: g.Op, Path: t.Path(), Group: g.ID()}
			if g.Source != nil {
				a.From, a.To = g.Source.Part, t.Part
				if g.Op != OpCopyDates {
					size := g.Size()
					a.Kind, a.Size = g.Kind, &size
				}
			} else {
				a.On = t.Part
			}
			fn(a)
		}
	}
}

func (p *Plan) nodes() map[string][]string {
	out := map[string][]string{}
	for _, part := range p.Parts {
		out[part.Node] = append(out[part.Node], part.Root)
	}
	return out
}

// WriteJSON writes the members of the plan's JSON into o, one action at a time: a plan of a
// million actions is never held as JSON.
func (p *Plan) WriteJSON(o *jsonstream.Object) {
	o.Member("nodes", p.nodes())
	actions := o.Array("actions")
	p.EachAction(func(a Action) { actions.Add(a) })
	actions.Close()
	writeRejected(o, "rejected", p.Rejected)
	writeRejected(o, "left_alone", p.LeftAlone)
	o.Member("summary", p.Summary())
	if p.Versions != nil {
		o.Member("versions", p.Versions)
	}
}

func writeRejected(o *jsonstream.Object, name string, rs []Rejected) {
	a := o.Array(name)
	for _, r := range rs {
		a.Add(RejectedJSON{Op: r.Op, From: r.From, To: r.To, On: r.On, Path: r.Path, Reason: string(r.Reason)})
	}
	a.Close()
}

// MarshalJSON writes the plan in the CLI's format.
func (p *Plan) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	o := jsonstream.New(&b, "")
	p.WriteJSON(o)
	if err := o.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
