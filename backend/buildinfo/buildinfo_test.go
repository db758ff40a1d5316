package buildinfo

import "testing"

func TestVersionStamped(t *testing.T) {
	old := version
	t.Cleanup(func() { version = old })
	version = "v1.2.3-4-gabcdef0"
	if got := Version(); got != "v1.2.3-4-gabcdef0" {
		t.Fatalf("Version() = %q, want the stamped version", got)
	}
}

func TestVersionUnstamped(t *testing.T) {
	old := version
	t.Cleanup(func() { version = old })
	version = ""
	// A test binary records no module version: the fallback applies.
	if got := Version(); got != "dev" {
		t.Fatalf("Version() = %q, want dev", got)
	}
}
