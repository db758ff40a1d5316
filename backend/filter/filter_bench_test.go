package filter_test

import (
	"fmt"
	"testing"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/filter"
	"github.com/ferrysync/ferry/backend/internal/testinv"
	"github.com/ferrysync/ferry/backend/rules"
)

// filterBenchComparison compares three nodes over 100k files in 1000 directories: A holds every
// file, B seven in ten (one in five of them with other content), C three in ten.
func filterBenchComparison(files int) *compare.Comparison {
	exts := []string{".txt", ".jpg", ".md", ".tmp", ".bin"}
	var a, b, c []testinv.Entry
	for d := range files / 100 {
		dir := fmt.Sprintf("/dir%03d", d)
		a = append(a, testinv.Dir(dir))
		b = append(b, testinv.Dir(dir))
		c = append(c, testinv.Dir(dir))
	}
	for i := range files {
		p := fmt.Sprintf("/dir%03d/file_%05d%s", i/100, i, exts[i%len(exts)])
		size := int64(i%5000) * 512
		a = append(a, testinv.File(p, size, i%60000, testinv.Key(p)))
		if i%10 < 7 {
			k, m := p, i%60000
			if i%5 == 0 {
				k, m = p+"'", m+1
			}
			b = append(b, testinv.File(p, size, m, testinv.Key(k)))
		}
		if i%10 >= 7 {
			c = append(c, testinv.File(p, size, i%60000))
		}
	}
	return compare.Compare(testinv.Nodes(a, b, c), compare.DefaultSettings())
}

func BenchmarkFilter100k(b *testing.B) {
	c := filterBenchComparison(100_000)
	actions := map[*compare.Item][]filter.Action{}
	for i, it := range c.Items {
		if i%3 == 0 {
			actions[it] = []filter.Action{{Op: rules.Copy}, {Op: rules.Delete, Targeted: true}}
		}
	}
	env := filter.Env{
		Now:     testinv.T0.AddDate(0, 0, 20),
		Actions: func(it *compare.Item) []filter.Action { return actions[it] },
	}
	for _, bm := range []struct{ name, filter string }{
		{"text", "file_12"},
		{"words", "FILE 7 txt"},
		{"wildcard", "name==*_1*.jpg"},
		{"regex", `name=~^file_[0-9]*5\.txt$`},
		{"path", "path:dir042/"},
		{"presence", "on:B AND NOT on:C"},
		{"content", "A.content != B.content"},
		{"size", "A.size > 1mb OR B.size < A._"},
		{"date", "A.date > now-30d"},
		{"date-literal", "A.date >= 2024-02-01"},
		{"actions", "has:actions.copy-content > 0"},
		{"complex", "is:file (on:A OR only:B) NOT name==*.tmp AND (A.size > 10kb OR A.date >= 2024-01-01) AND NOT has:access-issue"},
	} {
		f, err := filter.Parse(bm.filter, c.Parts)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			matched := 0
			for b.Loop() {
				matched = 0
				for _, it := range c.Items {
					if f.Match(it, env) {
						matched++
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(c.Items)), "ns/item")
			b.ReportMetric(float64(matched), "matched")
		})
	}
}

func BenchmarkParse(b *testing.B) {
	parts := filterComparison().Parts
	const text = "is:file (on:A OR only:B) NOT name==*.tmp AND (A.size > 10kb OR A.date >= 2024-01-01) AND name=~^r"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := filter.Parse(text, parts); err != nil {
			b.Fatal(err)
		}
	}
}
