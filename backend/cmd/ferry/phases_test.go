package main

import (
	"encoding/json"
	"testing"
)

// The JSON report of ferry sync times its phases: the walk, the comparison, the plan, the
// synchronization and the session calls, which together fit within the whole run.
func TestSyncReportPhases(t *testing.T) {
	t.Parallel()
	a, b := t.TempDir(), t.TempDir()
	tree(t, a, 300)
	code, out, errOut := runFerry(t, t.TempDir(), "sync", "--node", "A="+a, "--node", "B="+b,
		"--mode", "mirror", "--yes", "--json")
	if code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	var rep struct{ Phases map[string]float64 }
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	sum := 0.0
	for _, k := range []string{"scan_s", "analysis_s", "compare_s", "plan_s", "apply_s", "session_s"} {
		v, ok := rep.Phases[k]
		if !ok || v < 0 {
			t.Fatalf("phase %s: %v in %v", k, v, rep.Phases)
		}
		sum += v
	}
	for _, k := range []string{"scan_s", "apply_s", "session_s"} {
		if rep.Phases[k] <= 0 {
			t.Errorf("phase %s took no time: %v", k, rep.Phases)
		}
	}
	if total := rep.Phases["total_s"]; total < sum {
		t.Errorf("total %v below the sum of the phases %v: %v", total, sum, rep.Phases)
	}
}
