package main

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestParseNode(t *testing.T) {
	n, err := parseNode("Ab=/srv/a,rel")
	rel, _ := filepath.Abs("rel")
	if err != nil || n.Code != "Ab" || !slices.Equal(n.Roots, []string{"/srv/a", rel}) {
		t.Fatalf("parseNode: %+v, %v", n, err)
	}
	for _, v := range []string{"A", "a=/x", "ABC=/x", "A=", "A=/x,,/y"} {
		if _, err := parseNode(v); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
}
