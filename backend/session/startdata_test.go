package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/rules"
	"github.com/ferrysync/ferry/backend/transfer/remote"
)

func write(t *testing.T, path, data string, at time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

// samplePlan is a mirror of a tree with a name that is not UTF-8, dates with nanoseconds,
// content keys (same size, other dates), a delta, deletes, creates and a refused delete.
func samplePlan(t *testing.T) *plan.Plan {
	t.Helper()
	a, b := t.TempDir(), t.TempDir()
	at := time.Date(2024, 5, 1, 8, 0, 0, 123456789, time.UTC)
	write(t, filepath.Join(a, "d", "new.txt"), "new", at)
	write(t, filepath.Join(a, "caf\xe9.txt"), "latin-1 name", at)
	write(t, filepath.Join(a, "same-size.txt"), "version A", at.Add(time.Hour))
	write(t, filepath.Join(b, "same-size.txt"), "version B", at)
	write(t, filepath.Join(a, "big.bin"), strings.Repeat("a", 100<<10), at.Add(time.Hour))
	write(t, filepath.Join(b, "big.bin"), strings.Repeat("b", 100<<10), at)
	write(t, filepath.Join(b, "gone", "x.txt"), "only on B", at)
	write(t, filepath.Join(b, "kept", ".hidden"), "hidden", at)
	if err := os.Mkdir(filepath.Join(a, "emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Preset("mirror", "A", "B")
	if err != nil {
		t.Fatal(err)
	}
	l, err := plan.Make(context.Background(), plan.Request{
		Nodes:    []plan.NodeSpec{{Code: "A", Roots: []string{a}}, {Code: "B", Roots: []string{b}}},
		Settings: compare.DefaultSettings(),
		Rules:    rs,
		Options: plan.Options{PreferDelta: func(int64, string, string) bool { return true },
			Versions: plan.Versions{Dir: ".v", KeepDays: 3}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return l.Plan
}

func TestStartDataRoundTrip(t *testing.T) {
	t.Parallel()
	p := samplePlan(t)
	kept := 0 // a two-way conflict keeps the target's edit aside
	for i := range p.Groups {
		if t0 := &p.Groups[i].Targets[0]; t0.Path() == "/same-size.txt" && p.Groups[i].Source != nil {
			t0.SetKeepAs("/same-size.conflict-B-20240501-080000.txt")
			kept++
		}
	}
	var kinds, keys, rejected, latin, roots, quiet int
	for _, g := range p.Groups {
		if g.Kind == plan.Delta {
			kinds++
		}
		if g.Targets[0].Path() == "/" {
			roots++
		}
		if g.Quiet {
			quiet++
		}
		if g.Source != nil && !g.Source.ContentKey().IsZero() {
			keys++
		}
		if strings.Contains(g.Targets[0].Path(), "\xe9") {
			latin++
		}
	}
	rejected = len(p.Rejected)
	if kinds == 0 || keys == 0 || rejected == 0 || latin == 0 || roots == 0 || quiet == 0 || kept == 0 {
		t.Fatalf("the sample lacks a case: %d deltas, %d keys, %d refused, %d latin-1 names, %d root dates, %d quiet dates, %d kept edits",
			kinds, keys, rejected, latin, roots, quiet, kept)
	}
	var buf bytes.Buffer
	terms := startTerms{Refused: "refusing to delete 3 of 3 files on B", Record: true}
	if err := encodeStartTerms(&buf, p, "", terms); err != nil {
		t.Fatal(err)
	}
	got, gotTerms, err := decodeStartTerms(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if gotTerms != terms {
		t.Fatalf("terms %+v, sent %+v", gotTerms, terms)
	}
	for i := range p.Parts {
		p.Parts[i].DirID = inventory.DirID{} // each member fills in its own: not sent
	}
	// An endpoint carries its entry's size, dates and content key, not the rest of the entry; its
	// place holds only the keys carried, in the order they come.
	places := map[plan.Place]*plan.Place{}
	carried := func(e *plan.Endpoint) {
		key, keepAs := e.ContentKey(), e.KeepAs()
		at := plan.Place{Part: e.Part, Node: e.Node, Root: e.Root, Dir: e.Dir}
		if places[at] == nil {
			places[at] = &at
		}
		e.Place = places[at]
		if x := e.Entry; x != nil {
			entry := inventory.Entry{Size: x.Size, ModTime: x.ModTime, BirthTime: x.BirthTime}.At(e.Path())
			*e = plan.Found(e.Place, &entry)
			e.SetContentKey(key)
		} else {
			e.Location = plan.At(e.Place, e.Path())
		}
		if keepAs != "" {
			e.SetKeepAs(keepAs)
		}
	}
	for i := range p.Groups {
		g := &p.Groups[i]
		if g.Source != nil {
			carried(g.Source)
		}
		for j := range g.Targets {
			carried(&g.Targets[j])
		}
	}
	if !reflect.DeepEqual(p, got) {
		t.Fatalf("the plan changed on the way:\nsent %+v\ngot  %+v", p, got)
	}

	buf.Reset()
	if err := encodeStart(&buf, nil, "the rules name part Z"); err != nil {
		t.Fatal(err)
	}
	var pe *PlanError
	if _, err := decodeStart(&buf); !errors.As(err, &pe) || pe.Reason != "the rules name part Z" {
		t.Fatalf("failure: %v", err)
	}
}

func TestStartDataRefusesMalformed(t *testing.T) {
	t.Parallel()
	p := samplePlan(t)
	var buf bytes.Buffer
	if err := encodeStart(&buf, p, ""); err != nil {
		t.Fatal(err)
	}
	good := buf.String()
	for name, edit := range map[string]func(string) string{
		"truncated": func(s string) string { return s[:len(s)/2] },
		"version":   func(s string) string { return strings.Replace(s, `"version":4`, `"version":3`, 1) },
		"phase past the last": func(s string) string {
			return strings.Replace(s, fmt.Sprintf(`"phase":%d`, plan.PhaseDirDates), fmt.Sprintf(`"phase":%d`, plan.PhaseDirDates+1), 1)
		},
		"file dates in the directory dates' phase": func(s string) string {
			return strings.Replace(s, `"rule_op":"copy-dates","item":"directory"`, `"rule_op":"copy-dates","item":"file"`, 1)
		},
		"versions outside the data sources": func(s string) string {
			return strings.Replace(s, `"versions":{"dir":".v"`, `"versions":{"dir":"../v"`, 1)
		},
		"versions without a run": func(s string) string {
			return strings.Replace(s, `"stamp":"`, `"stamp":"x`, 1)
		},
		"a copy to the root": func(s string) string {
			return strings.Replace(s, `"path":"/d/new.txt"`, `"path":"/"`, 1)
		},
		"dot-dot": func(s string) string {
			return strings.Replace(s, `"path":"/d/new.txt"`, `"path":"/d/../../new.txt"`, 1)
		},
		"unknown op": func(s string) string { return strings.Replace(s, `"op":"delete"`, `"op":"shred"`, 1) },
		"no part":    func(s string) string { return strings.Replace(s, `"part":"B"`, `"part":"Q"`, 1) },
		"a size that is not its source's": func(s string) string {
			return strings.Replace(s, `"size":102400,"phase"`, `"size":102399,"phase"`, 1)
		},
		"a size without a source": func(s string) string {
			return strings.Replace(s, `"phase":0}`, `"size":1,"phase":0}`, 1)
		},
		"ids out of the plan's order": func(s string) string {
			return strings.Replace(s, `"id":"AGID_2"`, `"id":"AGID_02"`, 1)
		},
		"extra field": func(s string) string { return strings.Replace(s, `"format"`, `"surprise":1,"format"`, 1) },
		"conflict copy outside": func(s string) string {
			return strings.Replace(s, `"path":"/d/new.txt"`, `"path":"/d/new.txt","keep_as":"/../x.txt"`, 1)
		},
	} {
		bad := edit(good)
		if bad == good {
			t.Fatalf("%s: the edit changed nothing", name)
		}
		if _, err := decodeStart(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSignaturesRoundTrip(t *testing.T) {
	t.Parallel()
	sigs := remote.SignatureSet{"B": {"/a": []byte("sig a"), "/d/b": bytes.Repeat([]byte{0}, 70000)}, "B2": {"/c": nil}}
	var buf bytes.Buffer
	if err := writeSignatures(&buf, sigs); err != nil {
		t.Fatal(err)
	}
	got, err := readSignatures(bytes.NewReader(buf.Bytes()), []string{"B", "B2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !bytes.Equal(got["B"]["/d/b"], sigs["B"]["/d/b"]) || string(got["B"]["/a"]) != "sig a" || len(got["B2"]["/c"]) != 0 {
		t.Fatalf("got %v", got)
	}
	if _, err := readSignatures(bytes.NewReader(buf.Bytes()), []string{"B"}); err == nil {
		t.Fatal("signatures of another member's part accepted")
	}
	if _, err := readSignatures(bytes.NewReader(buf.Bytes()[:buf.Len()-3]), []string{"B", "B2"}); err == nil {
		t.Fatal("truncated signatures accepted")
	}
}

// A plan that would write on this member's node outside its data sources is refused.
func TestCheckPlanConfinesOwnNodes(t *testing.T) {
	t.Parallel()
	p := samplePlan(t)
	id, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New("http://127.0.0.1:9", id, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var rootB string
	for _, pt := range p.Parts {
		if pt.Node == "B" {
			rootB = pt.Root
		}
	}
	key, err := crypto.NewSessionKey()
	if err != nil {
		t.Fatal(err)
	}
	m := &Member{c: c, key: key}
	f := &Flow{m: m, nodes: []plan.NodeSpec{{Code: "B", Roots: []string{rootB}}},
		owners: map[string]string{"A": "someone else", "B": c.InstanceID()}}
	f.sess.Settings = sealSettings(m, sessionSettings{Compare: compare.DefaultSettings(), Versions: p.Versions.Dir})
	if err := f.checkPlan(p); err != nil {
		t.Fatalf("a sound plan refused: %v", err)
	}
	for name, edit := range map[string]func(*plan.Plan){
		"dir": func(p *plan.Plan) {
			for i := range p.Groups {
				for j := range p.Groups[i].Targets {
					if t := &p.Groups[i].Targets[j]; t.Node == "B" {
						place := *t.Place // this target's alone
						place.Dir = "/etc"
						t.Place = &place
						return
					}
				}
			}
		},
		"root": func(p *plan.Plan) {
			for i := range p.Parts {
				if p.Parts[i].Node == "B" {
					p.Parts[i].Root = "/etc"
				}
			}
		},
		"node": func(p *plan.Plan) { p.Parts[0].Node = "Q" },
		// The inventories left out the settings' folder, not this one.
		"versions elsewhere": func(p *plan.Plan) { p.Versions.Dir = "elsewhere" },
		"no versions":        func(p *plan.Plan) { p.Versions = nil },
	} {
		bad := samplePlan(t)
		for i := range bad.Parts {
			if bad.Parts[i].Node == "B" {
				bad.Parts[i].Root = rootB // samplePlan made a new folder
			}
		}
		for i := range bad.Groups {
			for _, e := range append([]*plan.Endpoint{bad.Groups[i].Source}, ptrs(bad.Groups[i].Targets)...) {
				if e != nil && e.Node == "B" {
					e.Root, e.Dir = rootB, rootB
				}
			}
		}
		if err := f.checkPlan(bad); err != nil {
			t.Fatalf("%s: the sound copy was refused: %v", name, err)
		}
		edit(bad)
		if err := f.checkPlan(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func ptrs(es []plan.Endpoint) []*plan.Endpoint {
	out := make([]*plan.Endpoint, len(es))
	for i := range es {
		out[i] = &es[i]
	}
	return out
}
