package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// onServer is a test app whose sessions are on url.
func onServer(t *testing.T, url string) *testApp {
	t.Helper()
	a := newTestApp(t)
	v := a.Settings.Get()
	v.ServerURL = url
	if err := a.Settings.Save(v); err != nil {
		t.Fatal(err)
	}
	return a
}

type joined struct {
	info SessionInfo
	err  error
}

func (a *testApp) joinAsync(id, password string) chan joined {
	done := make(chan joined, 1)
	go func() {
		info, err := a.Sessions.Join(id, password)
		done <- joined{info, err}
	}()
	return done
}

// answer waits for the next trust question after mark and answers it.
func (a *testApp) answer(t *testing.T, mark int, trusted bool) TrustQuestion {
	t.Helper()
	q := waitFor[TrustQuestion](t, a.rec, mark, EventTrustAsked, nil)
	if err := a.Sessions.AnswerTrust(q.ID, trusted); err != nil {
		t.Fatal(err)
	}
	if err := a.Sessions.AnswerTrust(q.ID, trusted); err == nil {
		t.Fatal("a question answered twice")
	}
	return q
}

// meeting is a session of two computers that trusted each other's keys.
type meeting struct {
	info                 SessionInfo   // the session, as its host created it
	joined               SessionInfo   // as the joiner joined it
	hostAsked, joinAsked TrustQuestion // the question each was asked about the other's key
}

// meet has host create a session and joiner join it, each trusting the other's key (the host
// is asked first), and waits until the host sees the joiner.
func meet(t *testing.T, host, joiner *testApp) meeting {
	t.Helper()
	hostMark, joinMark := host.rec.mark(), joiner.rec.mark()
	info, err := host.Sessions.Create()
	if err != nil {
		t.Fatal(err)
	}
	done := joiner.joinAsync(info.ID, info.Password)
	mt := meeting{info: info}
	mt.hostAsked = host.answer(t, hostMark, true)
	mt.joinAsked = joiner.answer(t, joinMark, true)
	j := <-done
	if j.err != nil {
		t.Fatalf("join: %v", j.err)
	}
	mt.joined = j.info
	waitFor[*SessionInfo](t, host.rec, hostMark, EventSessionChanged, func(info *SessionInfo) bool {
		return info != nil && len(info.Members) == 2
	})
	return mt
}

// Two computers that never met: each is asked about the other's key with the same twelve
// words; trusted on both sides, the join goes through, and the next join between them asks
// nothing. A third computer that the host's user refuses is told so in words.
func TestJoinAsksToCompareSafetyWords(t *testing.T) {
	srv := startServer(t)
	host, joiner := onServer(t, srv.URL), onServer(t, srv.URL)

	mt := meet(t, host, joiner) // the host checks the joiner first
	qh, qj := mt.hostAsked, mt.joinAsked
	if qj.Role != "host" || qh.Role != "joiner" {
		t.Fatalf("roles: the joiner sees %q, the host %q", qj.Role, qh.Role)
	}
	if len(qj.Words) != 12 || !slices.Equal(qj.Words, qh.Words) {
		t.Fatalf("safety words differ: %v and %v", qj.Words, qh.Words)
	}
	if qj.Computer == "" || qj.Computer == qh.Computer {
		t.Fatalf("computers: the joiner sees %q, the host %q", qj.Computer, qh.Computer)
	}
	if len(mt.joined.Members) != 2 {
		t.Fatalf("members after the join: %+v", mt.joined.Members)
	}

	// Once the host declares its folders (its inventory starts), the joiner sees them by name,
	// never by path.
	photos := filepath.Join(t.TempDir(), "Photos 2024")
	if err := os.Mkdir(photos, 0o755); err != nil {
		t.Fatal(err)
	}
	mark := joiner.rec.mark() // the host knows it is not alone (meet): one folder is enough
	host.addNodes(t, photos)
	if err := host.Inventory.Start(); err != nil {
		t.Fatal(err)
	}
	seen := waitFor[*SessionInfo](t, joiner.rec, mark, EventSessionChanged, func(info *SessionInfo) bool {
		return info != nil && len(info.Members) == 2 && len(info.Members[0].Nodes) == 1 && len(info.Members[0].Nodes[0].Sources) == 1
	})
	if n := seen.Members[0].Nodes[0]; len(n.Sources) != 1 || n.Sources[0].Name != "Photos 2024" || n.Machine == "" {
		t.Fatalf("the host's node as the joiner sees it: %+v", n)
	}
	if b, _ := json.Marshal(seen); strings.Contains(string(b), photos) {
		t.Fatalf("the joiner is shown the host's path: %s", b)
	}
	for _, a := range []*testApp{joiner, host} {
		if err := a.Sessions.Quit(); err != nil {
			t.Fatal(err)
		}
	}

	// Again: both keys are remembered, nobody is asked.
	hostMark, joinMark := host.rec.mark(), joiner.rec.mark()
	info, err := host.Sessions.Create()
	if err != nil {
		t.Fatal(err)
	}
	if j := <-joiner.joinAsync(info.ID, info.Password); j.err != nil {
		t.Fatalf("second join: %v", j.err)
	}
	for _, a := range []struct {
		app  *testApp
		mark int
	}{{host, hostMark}, {joiner, joinMark}} {
		if asked := a.app.rec.since(a.mark, EventTrustAsked); len(asked) != 0 {
			t.Fatalf("asked again about a trusted key: %+v", asked)
		}
	}

	// A stranger whose key the host's user refuses does not join, and is told why in words.
	stranger := onServer(t, srv.URL)
	hostMark = host.rec.mark()
	done := stranger.joinAsync(info.ID, info.Password)
	host.answer(t, hostMark, false)
	select {
	case j := <-done:
		if j.err == nil {
			t.Fatal("joined with the host's key refused")
		}
		for _, jargon := range []string{"validator", "client id", "untrusted_key"} {
			if strings.Contains(j.err.Error(), jargon) {
				t.Errorf("the refusal speaks of %q: %v", jargon, j.err)
			}
		}
		t.Logf("refusal: %v", j.err)
	case <-time.After(time.Minute):
		t.Fatal("the refused join did not end")
	}
}
