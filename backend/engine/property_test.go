package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/engine"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/rules"
)

var (
	names    = []string{"a", "b", "c", "d"}
	contents = [][]byte{nil, []byte("x"), []byte("y"), []byte("xy"), bytes.Repeat([]byte("z"), 70_000)}
	epoch    = time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
)

type file struct {
	content []byte
	mtime   time.Time
}

func genTree(t *rapid.T, label string) map[string]*file {
	out := map[string]*file{}
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		n := rapid.IntRange(0, 4).Draw(t, label+dir+"#n")
		for i := 0; i < n; i++ {
			name := rapid.SampledFrom(names).Draw(t, label+dir+"#name")
			p := dir + "/" + name
			if _, taken := out[p]; taken {
				continue
			}
			if depth < 3 && rapid.Bool().Draw(t, label+p+"#dir") {
				out[p] = nil
				walk(p, depth+1)
				continue
			}
			out[p] = &file{
				content: rapid.SampledFrom(contents).Draw(t, label+p+"#content"),
				mtime:   epoch.Add(time.Duration(rapid.IntRange(0, 3).Draw(t, label+p+"#mtime")) * 1_234_567_891),
			}
		}
	}
	walk("", 0)
	return out
}

func write(t testing.TB, root string, tr map[string]*file) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	paths := make([]string, 0, len(tr))
	for p := range tr {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(root, filepath.FromSlash(p))
		if tr[p] == nil {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, tr[p].content, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(full, tr[p].mtime, tr[p].mtime); err != nil {
			t.Fatal(err)
		}
	}
}

// snapshot reads a folder back: every file's content and mtime, every directory's mtime, the
// root's included.
func snapshot(t testing.TB, root string) map[string]string {
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = path.Clean("/" + filepath.ToSlash(rel))
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			out[rel] = fmt.Sprintf("dir@%d", info.ModTime().UnixNano())
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = fmt.Sprintf("%x@%d", data, info.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mirrorRequest(a, b string, analysis compare.Analysis) plan.Request {
	rs, _ := rules.Preset("mirror", "A", "B")
	s := compare.DefaultSettings()
	s.Analysis = analysis
	return plan.Request{
		Nodes:    []plan.NodeSpec{{Code: "A", Roots: []string{a}}, {Code: "B", Roots: []string{b}}},
		Settings: s,
		Rules:    rs,
	}
}

// TestMirrorConverges: for random trees A and B, applying the mirror plan makes B equal to A
// (content and mtimes of files and directories, the root's too), and planning again yields
// nothing, not even a quiet date.
func TestMirrorConverges(t *testing.T) {
	for _, analysis := range []compare.Analysis{compare.Smart, compare.Checksum} {
		t.Run(analysis.String(), func(t *testing.T) {
			rapid.Check(t, func(rt *rapid.T) {
				ta, tb := genTree(rt, "A"), genTree(rt, "B")
				if analysis == compare.Smart {
					// Smart analysis takes equal size and mtime for equal content, by design.
					for p, fb := range tb {
						if fa := ta[p]; fa != nil && fb != nil && len(fa.content) == len(fb.content) && fa.mtime.Equal(fb.mtime) {
							fb.content = fa.content
						}
					}
				}
				dir := t.TempDir()
				a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
				write(t, a, ta)
				write(t, b, tb)
				defer os.RemoveAll(dir)
				want := snapshot(t, a)

				ctx := context.Background()
				req := mirrorRequest(a, b, analysis)
				first, err := plan.Make(ctx, req)
				if err != nil {
					rt.Fatal(err)
				}
				if len(first.Plan.Rejected) > 0 {
					rt.Fatalf("mirror refused actions: %+v", first.Plan.Rejected)
				}
				if rep := engine.Apply(ctx, first.Plan, 4); len(rep.Errors) > 0 {
					rt.Fatalf("apply: %v", rep.Errors)
				}
				got := snapshot(t, b)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					rt.Fatalf("B differs from A after the mirror\nwant %v\ngot  %v", want, got)
				}
				if fmt.Sprint(snapshot(t, a)) != fmt.Sprint(want) {
					rt.Fatalf("A changed")
				}
				again, err := plan.Make(ctx, req)
				if err != nil {
					rt.Fatal(err)
				}
				if n := len(again.Plan.Groups); n != 0 || len(again.Plan.Rejected) != 0 {
					rt.Fatalf("second plan is not empty: %d groups %+v, refused %+v", n, again.Plan.Groups, again.Plan.Rejected)
				}
			})
		})
	}
}
