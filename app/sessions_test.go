package app

import (
	"strings"
	"testing"
)

// TestJoinRefused: a second app joins the first one's session through its server; without a
// trusted key the join is refused with a reason, and the joiner has no session.
func TestJoinRefused(t *testing.T) {
	first := newTestApp(t)
	info, err := first.Sessions.Create()
	if err != nil {
		t.Fatal(err)
	}
	second := newTestApp(t)
	if err := second.Settings.Save(UserSettings{ServerURL: info.ServerURL}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ id, password, says string }{
		{"12-abc", info.Password, "session id"},
		{info.ID, " ", "password"},
		{info.ID, info.Password, "refused"},
	} {
		_, err := second.Sessions.Join(c.id, c.password)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("Join(%q, %q): %v, want %q", c.id, c.password, err, c.says)
		}
	}
	if second.Sessions.Current() != nil {
		t.Fatal("the joiner has a session after a refusal")
	}
	if cur := first.Sessions.Current(); cur == nil || len(cur.Members) != 1 {
		t.Fatalf("the first app's session: %+v", cur)
	}
}
