package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ferrysync/ferry/backend/plan"
)

var nodeCode = regexp.MustCompile(`^[A-Z][a-z]?$`)

// parseNode reads a "--node A=PATH[,PATH…]" value: a node code (A, B, or Aa with several
// nodes per member) and its data sources, made absolute.
func parseNode(v string) (plan.NodeSpec, error) {
	code, roots, ok := strings.Cut(v, "=")
	if !ok || !nodeCode.MatchString(code) || roots == "" {
		return plan.NodeSpec{}, fmt.Errorf("node %q: want CODE=PATH[,PATH…] with a code such as A or B", v)
	}
	n := plan.NodeSpec{Code: code}
	for _, r := range strings.Split(roots, ",") {
		if r == "" {
			return plan.NodeSpec{}, fmt.Errorf("node %s: empty path", code)
		}
		abs, err := filepath.Abs(r)
		if err != nil {
			return plan.NodeSpec{}, fmt.Errorf("node %s: %w", code, err)
		}
		n.Roots = append(n.Roots, abs)
	}
	return n, nil
}
