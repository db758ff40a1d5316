package crypto

import (
	"regexp"
	"testing"
)

func TestNewSessionPassword(t *testing.T) {
	t.Parallel()
	shape := regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}$`)
	seen := map[string]bool{}
	for range 200 {
		p, err := NewSessionPassword()
		if err != nil {
			t.Fatal(err)
		}
		if !shape.MatchString(p) {
			t.Fatalf("password %q", p)
		}
		if seen[p] {
			t.Fatalf("password %q drawn twice", p)
		}
		seen[p] = true
		n, err := NormalizePassword(p)
		if err != nil || len(n) != 20 {
			t.Fatalf("normalize %q: %q %v", p, n, err)
		}
	}
	if SessionPasswordBits < 90 {
		t.Fatalf("%d bits", SessionPasswordBits)
	}
}

func TestNormalizePassword(t *testing.T) {
	t.Parallel()
	want := "7K2QDM9XWA0F3HTRZ1NB"
	for _, typed := range []string{"7K2QD-M9XWA-0F3HT-RZ1NB", "7k2qd m9xwa of3ht rzinb", " 7K2QDM9XWA0F3HTRZLNB\t", "7k2qd-m9xwa-0f3ht-rz1nb"} {
		got, err := NormalizePassword(typed)
		if err != nil || got != want {
			t.Errorf("%q → %q %v, want %q", typed, got, err, want)
		}
	}
	if got, _ := NormalizePassword("7K2QD-M9XWA-0F3HT-RZ1NE"); got == want {
		t.Error("a typo was forgiven")
	}
	for _, bad := range []string{"", "  - -", string(make([]byte, MaxPasswordBytes+1))} {
		if _, err := NormalizePassword(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
