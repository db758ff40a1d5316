package jsonstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

type head struct {
	Status string   `json:"status"`
	Errors []string `json:"errors"`
	Skip   string   `json:"skip,omitempty"`
}

type elem struct {
	Path string `json:"path"`
	Size *int64 `json:"size,omitempty"`
}

type inner struct {
	Nodes   map[string][]string `json:"nodes"`
	Actions []elem              `json:"actions"`
	None    []elem              `json:"none"`
	Empty   struct{}            `json:"empty"`
}

type whole struct {
	head
	Plan  inner `json:"plan"`
	Count int   `json:"count"`
}

func sample() whole {
	size := int64(7)
	return whole{
		head: head{Status: "regular <&>", Errors: []string{"a \"b\"", "c\n"}},
		Plan: inner{Nodes: map[string][]string{"A": {"/x"}, "B": {"/y", "/z"}},
			Actions: []elem{{Path: "/a", Size: &size}, {Path: "/é\u2028"}}, None: []elem{}},
		Count: 3,
	}
}

func streamed(t *testing.T, v whole, indent string) string {
	t.Helper()
	var b bytes.Buffer
	o := New(&b, indent)
	o.Members(v.head)
	p := o.Object("plan")
	p.Member("nodes", v.Plan.Nodes)
	a := p.Array("actions")
	for _, e := range v.Plan.Actions {
		a.Add(e)
	}
	a.Close()
	p.Array("none").Close()
	if err := p.Object("empty").Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	o.Member("count", v.Count)
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestSameAsEncoder(t *testing.T) {
	for _, indent := range []string{"  ", "\t", ""} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", indent)
		if err := enc.Encode(sample()); err != nil {
			t.Fatal(err)
		}
		if got := streamed(t, sample(), indent); got != want.String() {
			t.Errorf("indent %q:\n%s\nwant:\n%s", indent, got, want.String())
		}
	}
}

func TestEmptyObject(t *testing.T) {
	var b bytes.Buffer
	o := New(&b, "  ")
	o.Members(struct {
		A string `json:"a,omitempty"`
	}{})
	if err := o.Close(); err != nil || b.String() != "{}\n" {
		t.Fatalf("%q, %v", b.String(), err)
	}
}

func TestMembersOfANonObject(t *testing.T) {
	var b bytes.Buffer
	o := New(&b, "  ")
	o.Members([]int{1})
	if err := o.Close(); err == nil || !strings.Contains(err.Error(), "not an object") {
		t.Fatalf("error %v", err)
	}
}

type failing struct{ after int }

var errFull = errors.New("disk full")

func (f *failing) Write(p []byte) (int, error) {
	if f.after -= len(p); f.after < 0 {
		return 0, errFull
	}
	return len(p), nil
}

func TestWriteErrorIsReturned(t *testing.T) {
	o := New(&failing{after: 100 << 10}, "  ")
	a := o.Array("many")
	for i := range 20000 {
		a.Add(elem{Path: strings.Repeat("x", i%50)})
	}
	a.Close()
	if err := o.Close(); !errors.Is(err, errFull) {
		t.Fatalf("error %v, want %v", err, errFull)
	}
}

func TestMarshalErrorIsReturned(t *testing.T) {
	var b bytes.Buffer
	o := New(&b, "")
	o.Member("bad", func() {})
	if err := o.Close(); err == nil {
		t.Fatal("a function was written as JSON")
	}
}
