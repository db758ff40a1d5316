package buildinfo

import "testing"

func TestVersion(t *testing.T) {
	old := version
	t.Cleanup(func() { version = old })
	for _, tc := range []struct{ stamped, want string }{
		{"v1.2.3-4-gabcdef0", "v1.2.3-4-gabcdef0"},
		// A test binary records no module version: the fallback applies.
		{"", "dev"},
	} {
		version = tc.stamped
		if got := Version(); got != tc.want {
			t.Errorf("stamped %q: Version() = %q, want %q", tc.stamped, got, tc.want)
		}
	}
}
