package app

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

var updateContract = flag.Bool("update", false, "rewrite frontend/src/lib/events.gen.ts from the Go types")

const eventsTS = "../frontend/src/lib/events.gen.ts"

// TestEventTypesGenerated checks that the frontend's types of the event payloads are those of
// EventPayloads: a Go change the frontend does not follow fails here (`make bindings` rewrites
// the file, and svelte-check then checks the frontend against it).
func TestEventTypesGenerated(t *testing.T) {
	models, err := os.ReadFile("../frontend/wailsjs/go/models.ts")
	if err != nil {
		t.Fatal(err)
	}
	modeled := map[string]bool{}
	for _, m := range regexp.MustCompile(`export class (\w+) \{`).FindAllSubmatch(models, -1) {
		modeled[string(m[1])] = true
	}
	want := eventTypesTS(modeled)
	if *updateContract {
		if err := os.WriteFile(eventsTS, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(eventsTS)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the Go types of the events: run `make bindings` and follow the change in the frontend\nwant:\n%s", eventsTS, want)
	}
}

// eventTypesTS writes the TypeScript types of the event payloads: the models Wails generates
// (modeled) are referred to by name through types.ts, every other struct is declared.
func eventTypesTS(modeled map[string]bool) []byte {
	g := tsGen{modeled: modeled, decls: map[string]string{}}
	var payloads strings.Builder
	for _, e := range EventPayloads {
		fmt.Fprintf(&payloads, "  '%s': %s\n", e.Name, g.typeOf(reflect.TypeOf(e.Payload)))
	}
	var b bytes.Buffer
	b.WriteString("// Generated from EventPayloads (app/events.go) by `make bindings`. DO NOT EDIT.\n")
	b.WriteString("// The payloads of the runtime events; the structs that no service method returns are declared\n")
	b.WriteString("// here, the others are the generated models (wailsjs/go/models.ts) as types.ts exports them.\n\n")
	b.WriteString("import type * as T from './types'\n")
	names := make([]string, 0, len(g.decls))
	for n := range g.decls {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "\nexport type %s = %s\n", n, g.decls[n])
	}
	fmt.Fprintf(&b, "\nexport type EventPayloads = {\n%s}\n", payloads.String())
	return b.Bytes()
}

type tsGen struct {
	modeled map[string]bool
	decls   map[string]string
}

func (g *tsGen) typeOf(t reflect.Type) string {
	if t == reflect.TypeOf(time.Time{}) {
		return "string"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.typeOf(t.Elem()) + " | null"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return g.typeOf(t.Elem()) + "[]"
	case reflect.Map:
		return fmt.Sprintf("Record<%s, %s>", g.typeOf(t.Key()), g.typeOf(t.Elem()))
	case reflect.Struct:
		if g.modeled[t.Name()] {
			return "T." + t.Name()
		}
		if _, ok := g.decls[t.Name()]; !ok {
			g.decls[t.Name()] = "" // declared once, even when it refers to itself
			g.decls[t.Name()] = g.structOf(t)
		}
		return t.Name()
	}
	panic(fmt.Sprintf("no TypeScript type for %s", t))
}

func (g *tsGen) structOf(t reflect.Type) string {
	var b strings.Builder
	b.WriteString("{\n")
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		optional := ""
		if strings.Contains(","+opts+",", ",omitempty,") {
			optional = "?"
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer && optional != "" {
			ft = ft.Elem()
		}
		fmt.Fprintf(&b, "  %s%s: %s\n", name, optional, g.typeOf(ft))
	}
	b.WriteString("}")
	return b.String()
}

// TestDesktopAPIDoc checks docs/desktop-api.md against the Go services: its services table lists
// every bound method and no other, and each type of its Types block has the JSON fields of the
// Go struct of that name, a result, a parameter or an event's (optional, with ?, exactly when
// omitted when empty).
func TestDesktopAPIDoc(t *testing.T) {
	data, err := os.ReadFile("../docs/desktop-api.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)

	// Services.
	structs := map[string]reflect.Type{}
	var collect func(reflect.Type)
	collect = func(t reflect.Type) {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			collect(t.Elem())
		case reflect.Struct:
			if _, seen := structs[t.Name()]; seen || t.PkgPath() != reflect.TypeOf(App{}).PkgPath() {
				return
			}
			structs[t.Name()] = t
			for i := range t.NumField() {
				collect(t.Field(i).Type)
			}
		}
	}
	want := map[string]bool{}
	for _, svc := range (&App{}).Bind() {
		st := reflect.TypeOf(svc)
		for i := range st.NumMethod() {
			m := st.Method(i)
			want[st.Elem().Name()+"."+m.Name] = true
			for j := range m.Type.NumOut() {
				collect(m.Type.Out(j))
			}
			for j := 1; j < m.Type.NumIn(); j++ { // after the receiver
				collect(m.Type.In(j))
			}
		}
	}
	for _, e := range EventPayloads {
		collect(reflect.TypeOf(e.Payload))
	}
	got := map[string]bool{}
	section := doc[strings.Index(doc, "## Services"):strings.Index(doc, "## Types")]
	service := ""
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || strings.HasPrefix(strings.TrimSpace(cells[1]), "service") || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") {
			continue
		}
		if s := strings.Trim(strings.TrimSpace(cells[1]), "`"); s != "" {
			service = s
		}
		for _, m := range regexp.MustCompile("`(\\w+)\\(").FindAllStringSubmatch(cells[2], -1) {
			got[service+"."+m[1]] = true
		}
	}
	for m := range want {
		if !got[m] {
			t.Errorf("docs/desktop-api.md: the services table lacks %s", m)
		}
	}
	for m := range got {
		if !want[m] {
			t.Errorf("docs/desktop-api.md: the services table lists %s, which no service has", m)
		}
	}

	// Types.
	goNames := map[string]string{"Settings": "UserSettings"}
	block := doc[strings.Index(doc, "## Types"):strings.Index(doc, "## Events")]
	for _, m := range regexp.MustCompile(`(?s)type (\w+) = \{(.*?)\}\n`).FindAllStringSubmatch(block, -1) {
		name := m[1]
		if n, ok := goNames[name]; ok {
			name = n
		}
		st, ok := structs[name]
		if !ok {
			t.Errorf("docs/desktop-api.md: type %s is no Go type of the services or events", m[1])
			continue
		}
		docFields := topLevelFields(m[2])
		goFields := map[string]bool{}
		for i := range st.NumField() {
			f := st.Field(i)
			jname, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || jname == "-" {
				continue
			}
			optional := strings.Contains(","+opts+",", ",omitempty,")
			goFields[jname] = optional
			if o, ok := docFields[jname]; !ok {
				t.Errorf("docs/desktop-api.md: type %s lacks %s", m[1], jname)
			} else if o != optional {
				t.Errorf("docs/desktop-api.md: type %s: %s optional is %v, Go omits it when empty: %v", m[1], jname, o, optional)
			}
		}
		for f := range docFields {
			if _, ok := goFields[f]; !ok {
				t.Errorf("docs/desktop-api.md: type %s has %s, which %s has not", m[1], f, name)
			}
		}
	}
}

// topLevelFields reads "a: string; b?: { c: number }[]" as a → false, b → true (optional).
func topLevelFields(body string) map[string]bool {
	out := map[string]bool{}
	depth, start := 0, 0
	field := func(s string) {
		name, _, ok := strings.Cut(s, ":")
		if name = strings.TrimSpace(name); ok && name != "" {
			out[strings.TrimSuffix(name, "?")] = strings.HasSuffix(name, "?")
		}
	}
	for i, r := range body {
		switch r {
		case '{':
			depth++
		case '}':
			depth--
		case ';':
			if depth == 0 {
				field(body[start:i])
				start = i + 1
			}
		}
	}
	field(body[start:])
	return out
}
