package session

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/rules"
)

// The start data is what the oldest member sends every other member once it planned: the whole
// plan, every field of it (plan.Plan's own JSON is the command's summary, which drops roots,
// dates and content keys), or why there is no plan. It travels as JSON sealed in a blob.

const (
	startFormat = "ferry-start"
	// 2: directory dates (a phase after the copies, quiet groups), kept versions; 3: the
	// planner's refusal, its two-way record, and the answers to the plan before the run; 4: the
	// planner's terms.
	startVersion = 4
	maxStartData = 1 << 30
)

type startData struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	Error   string    `json:"error,omitempty"` // the oldest member could not plan, or gave up
	Plan    *wirePlan `json:"plan,omitempty"`
	startTerms
}

// startTerms come with a plan.
type startTerms struct {
	// Refused is why the planner refuses the plan it shows (past the deletion limit): nothing
	// runs.
	Refused string `json:"refused,omitempty"`
	// Record: the planner keeps a two-way record, which the other members' word on what the run
	// left on their nodes settles.
	Record bool `json:"record,omitempty"`
	// Terms are the planner's terms (WithTerms, ShareTerms), for a member saving the run as a
	// profile.
	Terms *Terms `json:"terms,omitempty"`
}

type wirePlan struct {
	Parts    []wirePart     `json:"parts"`
	Groups   []wireGroup    `json:"groups"`
	Rejected []wireRejected `json:"rejected"`
	Versions *plan.Versions `json:"versions,omitempty"`
}

type wirePart struct {
	Name  string  `json:"name"`
	Node  string  `json:"node"`
	Root  wireStr `json:"root"`
	Type  string  `json:"type"` // directory, file
	Files int     `json:"files,omitempty"`
	Empty bool    `json:"empty,omitempty"`
}

type wireGroup struct {
	ID        string         `json:"id"`
	Op        plan.Op        `json:"op"`
	RuleOp    string         `json:"rule_op"`
	ItemKind  string         `json:"item"` // file, directory
	Source    *wireEndpoint  `json:"source,omitempty"`
	Targets   []wireEndpoint `json:"targets"`
	Kind      plan.Kind      `json:"kind,omitempty"`
	DatesOnly bool           `json:"dates_only,omitempty"`
	Size      int64          `json:"size,omitempty"`
	Phase     plan.Phase     `json:"phase"`
	Targeted  bool           `json:"targeted,omitempty"`
	Quiet     bool           `json:"quiet,omitempty"`
}

type wireEndpoint struct {
	Part       string    `json:"part"`
	Node       string    `json:"node"`
	Root       wireStr   `json:"root"`
	Dir        wireStr   `json:"dir"`
	Path       wireStr   `json:"path"`
	Exists     bool      `json:"exists,omitempty"`
	Size       int64     `json:"size,omitempty"`
	ModTime    *[2]int64 `json:"mtime,omitempty"`
	BirthTime  *[2]int64 `json:"btime,omitempty"`
	ContentKey string    `json:"key,omitempty"` // hex
	KeepAs     wireStr   `json:"keep_as,omitempty"`
}

type wireRejected struct {
	Op     string  `json:"op"`
	From   string  `json:"from,omitempty"`
	To     string  `json:"to,omitempty"`
	On     string  `json:"on,omitempty"`
	Path   wireStr `json:"path"`
	Reason string  `json:"reason"`
}

// wireStr is a string that may not be UTF-8 (a Linux file name): a JSON string when it is
// UTF-8, {"b64": "…"} otherwise, so that every byte survives.
type wireStr string

func (s wireStr) MarshalJSON() ([]byte, error) {
	if utf8.ValidString(string(s)) {
		return json.Marshal(string(s))
	}
	return json.Marshal(map[string]string{"b64": base64.StdEncoding.EncodeToString([]byte(s))})
}

func (s *wireStr) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '{' {
		var v struct{ B64 string }
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		raw, err := base64.StdEncoding.DecodeString(v.B64)
		if err != nil {
			return err
		}
		*s = wireStr(raw)
		return nil
	}
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = wireStr(v)
	return nil
}

var sourceTypes = map[inventory.SourceType]string{inventory.SourceDir: "directory", inventory.SourceFile: "file"}

func sourceTypeOf(s string) (inventory.SourceType, bool) {
	for t, n := range sourceTypes {
		if n == s {
			return t, true
		}
	}
	return 0, false
}

func kindOf(s string) (inventory.Kind, bool) {
	switch s {
	case inventory.File.String():
		return inventory.File, true
	case inventory.Dir.String():
		return inventory.Dir, true
	}
	return 0, false
}

// encodeStart writes the start data: the plan, or the reason there is none.
func encodeStart(w io.Writer, p *plan.Plan, failure string) error {
	return encodeStartTerms(w, p, failure, startTerms{})
}

// encodeStartTerms is encodeStart with the plan's terms.
func encodeStartTerms(w io.Writer, p *plan.Plan, failure string, terms startTerms) error {
	sd := startData{Format: startFormat, Version: startVersion, Error: failure, startTerms: terms}
	if p != nil {
		sd.Plan = toWire(p)
	}
	return json.NewEncoder(w).Encode(sd)
}

// decodeStart reads the start data; a plan that came with an error is an error.
func decodeStart(r io.Reader) (*plan.Plan, error) {
	p, _, err := decodeStartTerms(r)
	return p, err
}

// decodeStartTerms is decodeStart with the plan's terms.
func decodeStartTerms(r io.Reader) (*plan.Plan, startTerms, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxStartData+1))
	if err != nil {
		return nil, startTerms{}, err
	}
	if len(data) > maxStartData {
		return nil, startTerms{}, fmt.Errorf("start data over %d bytes", maxStartData)
	}
	var sd startData
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sd); err != nil {
		return nil, startTerms{}, fmt.Errorf("start data: %w", err)
	}
	switch {
	case sd.Format != startFormat || sd.Version != startVersion:
		return nil, startTerms{}, fmt.Errorf("start data: format %q version %d, want %s %d", sd.Format, sd.Version, startFormat, startVersion)
	case sd.Error != "":
		return nil, startTerms{}, &PlanError{Reason: sd.Error}
	case sd.Plan == nil:
		return nil, startTerms{}, errors.New("start data: no plan")
	}
	p, err := fromWire(sd.Plan)
	return p, sd.startTerms, err
}

// PlanError is the oldest member telling that there is no plan, and why.
type PlanError struct{ Reason string }

func (e *PlanError) Error() string { return "no plan from the oldest member: " + e.Reason }

func toWire(p *plan.Plan) *wirePlan {
	w := &wirePlan{Parts: []wirePart{}, Groups: []wireGroup{}, Rejected: []wireRejected{}, Versions: p.Versions}
	for _, pt := range p.Parts {
		w.Parts = append(w.Parts, wirePart{Name: pt.Name, Node: pt.Node, Root: wireStr(pt.Root), Type: sourceTypes[pt.Type],
			Files: pt.Files, Empty: pt.Empty})
	}
	for _, g := range p.Groups {
		wg := wireGroup{ID: g.ID(), Op: g.Op, RuleOp: g.RuleOp.String(), ItemKind: g.ItemKind.String(),
			Kind: g.Kind, DatesOnly: g.DatesOnly, Size: g.Size(), Phase: g.Phase, Targeted: g.Targeted, Quiet: g.Quiet,
			Targets: make([]wireEndpoint, 0, len(g.Targets))}
		if g.Source != nil {
			s := endpointToWire(*g.Source)
			wg.Source = &s
		}
		for _, t := range g.Targets {
			wg.Targets = append(wg.Targets, endpointToWire(t))
		}
		w.Groups = append(w.Groups, wg)
	}
	for _, r := range slices.Concat(p.Rejected, p.LeftAlone) {
		w.Rejected = append(w.Rejected, wireRejected{Op: r.Op, From: r.From, To: r.To, On: r.On, Path: wireStr(r.Path), Reason: string(r.Reason)})
	}
	return w
}

func endpointToWire(e plan.Endpoint) wireEndpoint {
	w := wireEndpoint{Part: e.Part, Node: e.Node, Root: wireStr(e.Root), Dir: wireStr(e.Dir), Path: wireStr(e.Path()),
		Exists: e.Exists(), Size: e.Size(), ModTime: inventory.Stamp(e.Mtime()), BirthTime: inventory.Stamp(e.Btime()),
		KeepAs: wireStr(e.KeepAs())}
	if !e.ContentKey().IsZero() {
		w.ContentKey = e.ContentKey().String()
	}
	return w
}

// fromWire rebuilds a plan and checks its shape: known operators, a source exactly for
// copies, targets, rooted paths without "..", parts that exist, a versions folder inside the
// data sources.
func fromWire(w *wirePlan) (*plan.Plan, error) {
	p := &plan.Plan{Versions: w.Versions}
	if v := w.Versions; v != nil {
		if err := v.Check(); err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		if v.Stamp == "" {
			return nil, errors.New("plan: versions without a run stamp")
		}
	}
	parts := &wireParts{node: map[string]string{}, places: map[plan.Place]*plan.Place{}}
	for _, pt := range w.Parts {
		typ, ok := sourceTypeOf(pt.Type)
		if !ok {
			return nil, fmt.Errorf("plan: part %s: source type %q", pt.Name, pt.Type)
		}
		if pt.Files < 0 {
			return nil, fmt.Errorf("plan: part %s: %d files", pt.Name, pt.Files)
		}
		parts.node[pt.Name] = pt.Node
		p.Parts = append(p.Parts, plan.PartInfo{Name: pt.Name, Node: pt.Node, Root: string(pt.Root), Type: typ, Files: pt.Files, Empty: pt.Empty})
	}
	for i, wg := range w.Groups {
		g, err := groupFromWire(wg, parts)
		if want := plan.IDPrefix + strconv.Itoa(i+1); err == nil && wg.ID != want {
			err = fmt.Errorf("id %q where the plan's order gives %s", wg.ID, want)
		}
		g.Num = uint32(i + 1)
		if err != nil {
			return nil, fmt.Errorf("plan: group %d (%s): %w", i, wg.ID, err)
		}
		p.Groups = append(p.Groups, g)
	}
	for _, r := range w.Rejected {
		pr := plan.Rejected{Op: r.Op, From: r.From, To: r.To, On: r.On, Path: string(r.Path), Reason: rules.Reason(r.Reason)}
		if pr.Reason == rules.BlockedByDoNothing {
			p.LeftAlone = append(p.LeftAlone, pr)
		} else {
			p.Rejected = append(p.Rejected, pr)
		}
	}
	return p, nil
}

func groupFromWire(wg wireGroup, parts *wireParts) (plan.Group, error) {
	g := plan.Group{Op: wg.Op, Kind: wg.Kind, DatesOnly: wg.DatesOnly, Phase: wg.Phase, Targeted: wg.Targeted, Quiet: wg.Quiet}
	var ok bool
	if g.RuleOp, ok = rules.ParseOp(wg.RuleOp); !ok {
		return g, fmt.Errorf("operator %q", wg.RuleOp)
	}
	if g.ItemKind, ok = kindOf(wg.ItemKind); !ok {
		return g, fmt.Errorf("item kind %q", wg.ItemKind)
	}
	copies := false
	switch g.Op {
	case plan.OpCopy, plan.OpCopyContent:
		copies = true
		if g.Kind != plan.Full && g.Kind != plan.Delta {
			return g, fmt.Errorf("content copy of kind %q", g.Kind)
		}
	case plan.OpCopyDates:
		copies = true
	case plan.OpCreate, plan.OpDelete:
	default:
		return g, fmt.Errorf("op %q", g.Op)
	}
	// Directories' dates are the last phase, and the only groups that may name the root ("/")
	// or be quiet.
	dirDates := g.Op == plan.OpCopyDates && g.ItemKind == inventory.Dir
	if g.Phase > plan.PhaseDirDates || dirDates != (g.Phase == plan.PhaseDirDates) || g.Quiet && !dirDates ||
		wg.Size < 0 || len(wg.Targets) == 0 || copies != (wg.Source != nil) {
		return g, errors.New("malformed group")
	}
	if wg.Source != nil {
		s, err := endpointFromWire(*wg.Source, parts, dirDates)
		if err != nil {
			return g, fmt.Errorf("source: %w", err)
		}
		g.Source = &s
	}
	if wg.Size != g.Size() {
		return g, fmt.Errorf("size %d, its source's %d", wg.Size, g.Size())
	}
	for _, wt := range wg.Targets {
		t, err := endpointFromWire(wt, parts, dirDates)
		if err != nil {
			return g, fmt.Errorf("target: %w", err)
		}
		g.Targets = append(g.Targets, t)
	}
	return g, nil
}

// wireParts are the parts of a plan being rebuilt: their nodes by part name, and the places
// its locations share.
type wireParts struct {
	node   map[string]string
	places map[plan.Place]*plan.Place
}

func (wp *wireParts) place(p plan.Place) *plan.Place {
	if pl, ok := wp.places[p]; ok {
		return pl
	}
	wp.places[p] = &p
	return &p
}

// endpointFromWire rebuilds an endpoint; root tells whether it may be the root itself.
func endpointFromWire(w wireEndpoint, parts *wireParts, root bool) (plan.Endpoint, error) {
	place := parts.place(plan.Place{Part: w.Part, Node: w.Node, Root: string(w.Root), Dir: string(w.Dir)})
	var e plan.Endpoint
	if node, ok := parts.node[w.Part]; !ok || node != w.Node {
		return e, fmt.Errorf("part %s of node %s is not in the plan", w.Part, w.Node)
	}
	path := string(w.Path)
	if !(cleanItemPath(path) || root && path == "/") || w.Size < 0 {
		return e, fmt.Errorf("item path %q", path)
	}
	if w.KeepAs != "" && !cleanItemPath(string(w.KeepAs)) {
		return e, fmt.Errorf("conflict copy path %q", w.KeepAs)
	}
	mtime, err := inventory.Unstamp(w.ModTime)
	if err != nil {
		return e, err
	}
	btime, err := inventory.Unstamp(w.BirthTime)
	if err != nil {
		return e, err
	}
	var key inventory.ContentKey
	if w.ContentKey != "" {
		k, err := hex.DecodeString(w.ContentKey)
		if err != nil || len(k) != len(key) {
			return e, fmt.Errorf("content key %q", w.ContentKey)
		}
		copy(key[:], k)
	}
	if w.Exists {
		entry := inventory.Entry{Size: w.Size, ModTime: inventory.Nanos(mtime), BirthTime: inventory.Nanos(btime)}.At(path)
		e = plan.Found(place, &entry)
		e.SetContentKey(key)
	} else {
		e = plan.Endpoint{Location: plan.At(place, path)}
	}
	if w.KeepAs != "" {
		e.SetKeepAs(string(w.KeepAs))
	}
	return e, nil
}

// cleanItemPath accepts "/"-rooted, clean paths (so with no ".." element).
func cleanItemPath(p string) bool {
	return len(p) > 1 && p[0] == '/' && path.Clean(p) == p
}
