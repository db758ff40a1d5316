package session_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/engine"
	"github.com/ferrysync/ferry/backend/internal/testcloud"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/rules"
	"github.com/ferrysync/ferry/backend/session"
)

func startServer(t *testing.T) string {
	return testcloud.Start(t, cloud.Config{Store: store.NewMemory()}, nil).URL
}

func newClient(t testing.TB, url string) *client.Client {
	id, err := crypto.LoadOrCreateIdentity(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(url, id, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(t.Context()); err != nil {
		t.Fatal(err)
	}
	return c
}

func files(t *testing.T, dir string, n int) {
	at := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("f%03d.txt", i))
		if err := os.WriteFile(p, []byte(fmt.Sprint("file ", i)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
}

type pair struct {
	first, second *session.Member
	plan          *plan.Plan
	dirs          map[string]string
}

// twoMembers makes a session whose first member holds nodes A and B and whose second member
// holds C and D, and a plan mirroring A onto B and C onto D.
func twoMembers(t *testing.T) *pair {
	url := startServer(t)
	ctx := t.Context()
	dirs := map[string]string{"A": t.TempDir(), "B": t.TempDir(), "C": t.TempDir(), "D": t.TempDir()}
	files(t, dirs["A"], 30)
	files(t, dirs["C"], 30)
	for code, at := range map[string]time.Time{"A": flowTime, "B": flowTime.Add(time.Hour), "C": flowTime, "D": flowTime.Add(time.Hour)} {
		if err := os.Chtimes(dirs[code], at, at); err != nil { // the targets' roots' dates differ
			t.Fatal(err)
		}
	}
	node := func(code string) plan.NodeSpec { return plan.NodeSpec{Code: code, Roots: []string{dirs[code]}} }

	first, err := session.Create(ctx, newClient(t, url), []plan.NodeSpec{node("A"), node("B")}, testOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = first.Close(context.Background(), 5*time.Second) })
	joinCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	second, err := session.Join(joinCtx, newClient(t, url), session.JoinRequest{
		ID: first.ID(), Password: first.Password(), Nodes: []plan.NodeSpec{node("C"), node("D")},
	}, testOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = second.Close(context.Background(), 5*time.Second) })

	req := plan.Request{Settings: compare.DefaultSettings()}
	for _, code := range []string{"A", "B", "C", "D"} {
		req.Nodes = append(req.Nodes, node(code))
	}
	ab, _ := rules.Preset("mirror", "A", "B")
	cd, _ := rules.Preset("mirror", "C", "D")
	req.Rules = append(ab, cd...)
	local, err := plan.Make(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.StartInventory(ctx); err != nil {
		t.Fatal(err)
	}
	return &pair{first: first, second: second, plan: local.Plan, dirs: dirs}
}

type result struct {
	out *engine.Outcome
	err error
}

// run synchronizes both members at once; abort[i] aborts member i when closed; hook observes
// each member's events and may act.
func (p *pair) run(t *testing.T, abort [2]chan struct{}, hook func(i int, e engine.Event)) [2]result {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var chans [2]chan result
	for i, m := range []*session.Member{p.first, p.second} {
		orch, mode := m.Starter(false, engine.CloudOptions{}).Choose(m.Members(ctx))
		if mode != engine.OrchestrationCloud {
			t.Fatalf("member %d: %s orchestration for a two-member session", i, mode)
		}
		chans[i] = make(chan result, 1)
		go func() {
			defer orch.Close()
			out, err := engine.Synchronize(ctx, engine.Run{
				Plan: p.plan, Self: m.Self(), Owner: m.Owner, Orchestrator: orch, Start: i == 0,
				Status: m.Status, Abort: abort[i],
				Event: func(e engine.Event) {
					if hook != nil {
						hook(i, e)
					}
				},
			})
			chans[i] <- result{out, err}
		}()
	}
	return [2]result{<-chans[0], <-chans[1]}
}

func ended(t *testing.T, r result, want protocol.EndStatus) *engine.Outcome {
	t.Helper()
	if r.err != nil {
		t.Fatalf("synchronize: %v", r.err)
	}
	if r.out.Sync.EndStatus != want {
		t.Fatalf("end status %q (%s), want %q", r.out.Sync.EndStatus, r.out.Sync.EndReason, want)
	}
	return r.out
}

func TestTwoMembersServerPath(t *testing.T) {
	t.Parallel()
	p := twoMembers(t)
	res := p.run(t, [2]chan struct{}{}, nil)
	for i := range 2 {
		out := ended(t, res[i], protocol.EndRegular)
		pr := out.Sync.Progress
		// 30 copies onto each target, and its root's date.
		if pr.TotalActions != 62 || pr.FinishedActions != 62 || pr.ErrorActions != 0 || len(pr.CompletedMembers) != 2 {
			t.Fatalf("member %d: progress %+v", i, pr)
		}
	}
	for _, d := range [][2]string{{"A", "B"}, {"C", "D"}} {
		for i := range 30 {
			name := fmt.Sprintf("f%03d.txt", i)
			want, _ := os.ReadFile(filepath.Join(p.dirs[d[0]], name))
			got, err := os.ReadFile(filepath.Join(p.dirs[d[1]], name))
			if err != nil || string(got) != string(want) {
				t.Fatalf("%s/%s: %q %v", d[1], name, got, err)
			}
		}
	}
}

// An abort from either member ends the run aborted for both. The abort is asked when the
// member sees the run start, before that member completes, so the run cannot end otherwise.
func TestTwoMembersAbort(t *testing.T) {
	t.Parallel()
	for who := range 2 {
		t.Run([]string{"first", "second"}[who], func(t *testing.T) {
			p := twoMembers(t)
			var abort [2]chan struct{}
			abort[who] = make(chan struct{})
			res := p.run(t, abort, func(i int, e engine.Event) {
				if i == who && e.Type == engine.EventStarted {
					close(abort[who])
				}
			})
			for i := range 2 {
				out := ended(t, res[i], protocol.EndAborted)
				if len(out.Sync.AbortRequestedBy) != 1 {
					t.Fatalf("abort requested by %v", out.Sync.AbortRequestedBy)
				}
			}
		})
	}
}

// A member quitting mid-run ends the run with an error for the other.
func TestTwoMembersQuitEndsWithError(t *testing.T) {
	t.Parallel()
	p := twoMembers(t)
	res := p.run(t, [2]chan struct{}{}, func(i int, e engine.Event) {
		if i == 1 && e.Type == engine.EventStarted {
			if _, err := p.second.Close(context.Background(), time.Second); err != nil {
				t.Errorf("quit: %v", err)
			}
		}
	})
	out := ended(t, res[0], protocol.EndError)
	if out.Sync.EndReason == "" {
		t.Fatal("no end reason")
	}
}
