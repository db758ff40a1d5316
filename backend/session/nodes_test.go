package session_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/session"
)

// Another member's nodes open with the session key, with their folders' names and no path.
func TestNodesOf(t *testing.T) {
	t.Parallel()
	url := newTestServer(t, store.NewMemory()).URL
	nodes := []plan.NodeSpec{{Code: "A", Roots: []string{"/home/ann/Pictures/2024", "/home/ann/notes.txt"}}}
	host, err := session.Create(t.Context(), newClient(t, url), nodes, testOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = host.Close(context.Background(), time.Second) })
	joiner, err := join(t, newClient(t, url), host.ID(), host.Password(), nil, testOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := joiner.Client().Session(t.Context(), host.ID())
	if err != nil {
		t.Fatal(err)
	}
	got := joiner.NodesOf(s.Members[0])
	if len(got) != 1 || got[0].Code != "A" || got[0].Machine == "" || len(got[0].Sources) != 2 {
		t.Fatalf("nodes %+v", got)
	}
	if src := got[0].Sources; src[0] != (session.SourceInfo{Code: "A1", Name: "2024"}) || src[1] != (session.SourceInfo{Code: "A2", Name: "notes.txt"}) {
		t.Fatalf("sources %+v", src)
	}
	for _, src := range got[0].Sources {
		if strings.Contains(src.Name, "/") {
			t.Fatalf("a path shown: %q", src.Name)
		}
	}
	// Under another session's key nothing opens: codes only.
	other := create(t, url, testOptions()...)
	if got := other.NodesOf(s.Members[0]); got[0].Machine != "" || got[0].Sources[0].Name != "" {
		t.Fatalf("opened with another key: %+v", got)
	}
}
