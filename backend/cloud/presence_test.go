package cloud

import (
	"net/http"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/protocol"
)

const testPresenceTimeout = 300 * time.Millisecond

func shortPresence(c *Config) { c.PresenceTimeout = testPresenceTimeout }

// Closing a member's websocket makes it absent for the others after the presence timeout, and
// reconnecting makes it present again.
var _ = register("Presence", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore, shortPresence)
	tm := e.twoMembers()
	if m := tm.A.Session(tm.ID).Members; !m[0].Present || !m[1].Present {
		t.Fatalf("connected members not present: %+v", m)
	}
	tm.PushB.Close()
	closed := time.Now()
	if ev := tm.PushA.Wait(protocol.EventMemberAbsent, tm.ID); ev.Member != tm.B.Instance {
		t.Fatalf("member_absent for %s, want B", ev.Member)
	}
	if d := time.Since(closed); d < testPresenceTimeout-testPresenceTimeout/3 {
		t.Fatalf("absent after %v, before the presence timeout", d)
	}
	if m := tm.A.Session(tm.ID).Members[1]; m.Present {
		t.Fatal("B still present in the session")
	}
	// A stays present all along: its connection keeps it so.
	if m := tm.A.Session(tm.ID).Members[0]; !m.Present {
		t.Fatal("A absent")
	}
	tm.B.Connect(tm.ID)
	if ev := tm.PushA.Wait(protocol.EventMemberPresent, tm.ID); ev.Member != tm.B.Instance {
		t.Fatalf("member_present for %s, want B", ev.Member)
	}
})

// A member that leaves while it is the only one connected is still reported absent (the
// process keeps watching the session for a while), and creating a session while connected
// makes the creator present at once.
var _ = register("PresenceAlone", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore, shortPresence)
	a := e.client()
	other := a.CreateSession("other")
	p, _ := a.Connect(other.ID)
	s := a.CreateSession("s")
	if !s.Members[0].Present {
		t.Fatal("a connected creator is not present")
	}
	p.Close()
	deadline := time.Now().Add(10 * time.Second)
	for a.Session(other.ID).Members[0].Present {
		if time.Now().After(deadline) {
			t.Fatal("never marked absent")
		}
		time.Sleep(testPresenceTimeout / 10)
	}
})

// A session followed by a connected member outlives its TTL; one nobody follows expires.
var _ = register("SessionKeptWhileConnected", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore, shortPresence, func(c *Config) { c.SessionTTL = time.Second })
	a := e.client()
	kept := a.CreateSession("kept")
	idle := a.CreateSession("idle")
	a.Connect(kept.ID)
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := a.Call(http.MethodGet, "/sessions/"+idle.ID, nil, nil)
		if st == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the idle session never expired")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st, perr := a.Call(http.MethodGet, "/sessions/"+kept.ID, nil, nil); st != http.StatusOK {
		t.Fatalf("followed session: %d %v", st, perr)
	}
})
