package inventory

import "testing"

func TestIsTempName(t *testing.T) {
	for name, want := range map[string]bool{
		".a.txt.ferry-k3j2.tmp":   true,
		"..ferry-1.tmp":           true,
		".relay.ferry-123456.tmp": true,
		".a.ferry-.tmp":           false,
		"a.ferry-1.tmp":           false,
		".a.ferry-1.tmpx":         false,
		".a.tmp":                  false,
		".ferry-1.tmp":            false,
	} {
		if got := IsTempName(name); got != want {
			t.Errorf("IsTempName(%q) = %v", name, got)
		}
	}
	if name := TempName("a.txt", "k3j2"); name != ".a.txt.ferry-k3j2.tmp" || !IsTempName(name) {
		t.Errorf("TempName = %q", name)
	}
}
