package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/rules"
	"github.com/ferrysync/ferry/backend/session"
)

// memberOptions keep password hashing cheap and take new identity keys without asking: the
// trust questions are not what these tests are about.
func memberOptions() []session.Option {
	return []session.Option{session.WithPasswordParams(crypto.PasswordParams{Time: 1, MemoryKiB: 64, Threads: 1}), session.TrustNewKeys(true)}
}

// startServer runs a session server, with its relay, on a loopback port until the test ends.
func startServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv, err := cloud.NewServer(cloud.Config{Store: store.NewMemory(), StorageDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Run(ctx); close(done) }()
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
		_ = srv.Close()
		cancel()
		<-done
	})
	return hs
}

func loggedIn(t *testing.T, url string) *client.Client {
	t.Helper()
	id, err := crypto.NewIdentity()
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

// useMember makes m, on c, the app's session; members are its letters, this member's last.
func (a *testApp) useMember(m *session.Member, c *client.Client, letters ...string) {
	a.c.mu.Lock()
	defer a.c.mu.Unlock()
	info := SessionInfo{ID: m.ID(), Password: m.Password()}
	for i, l := range letters {
		info.Members = append(info.Members, Member{Letter: l, Self: i == len(letters)-1})
	}
	a.c.sess = &openSession{member: m, client: c, info: info}
}

// addNodes gives the app one node per folder.
func (a *testApp) addNodes(t *testing.T, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		n, err := a.Data.AddNode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Data.AddSource(n.Code, dir); err != nil {
			t.Fatal(err)
		}
	}
}

// joinOldest has another client create a session with nodes, as ferry host does, and the app
// join it as member B; it returns the other client's member, the session's oldest.
func (a *testApp) joinOldest(t *testing.T, url string, nodes []plan.NodeSpec) *session.Member {
	t.Helper()
	mo, err := session.Create(t.Context(), loggedIn(t, url), nodes, memberOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = mo.Close(context.Background(), time.Second) })
	cb := loggedIn(t, url)
	mb, err := session.Join(t.Context(), cb, session.JoinRequest{ID: mo.ID(), Password: mo.Password()}, memberOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	a.useMember(mb, cb, "A", "B")
	return mo
}

// followOldest starts the app's inventory in a session another member plans, and returns the
// end of the run that follows, the plan of that oldest member.
func (a *testApp) followOldest(t *testing.T) SyncStatus {
	t.Helper()
	mark := a.rec.mark()
	if err := a.Inventory.Start(); err != nil {
		t.Fatal(err)
	}
	if done := waitFor[InventoryDone](t, a.rec, mark, EventInventoryDone, nil); done.Error != "" {
		t.Fatal(done.Error)
	}
	return waitFor[SyncStatus](t, a.rec, mark, EventSyncDone, nil)
}

// otherMember is a member of the session on another client, as ferry join or ferry host runs
// it: its flow prepares and synchronizes in the background.
type otherMember struct {
	log  *slog.Logger
	m    *session.Member
	done chan error
}

func (o *otherMember) run(ctx context.Context, nodes []plan.NodeSpec, planning session.Planning) {
	flow := o.m.NewFlow(nodes, session.FlowOptions{Planning: planning, Logger: o.log})
	go func() {
		defer func() { _ = flow.Close(context.WithoutCancel(ctx)) }()
		if _, err := flow.Prepare(ctx); err != nil {
			o.done <- err
			return
		}
		out, err := flow.Synchronize(ctx, session.SyncOptions{})
		if err == nil && out.Sync.EndStatus != protocol.EndRegular {
			err = &endError{out.Sync}
		}
		o.done <- err
	}()
}

// joinAsC joins m's session from another client with the folder other as node C, and follows
// the oldest member's plan in the background.
func joinAsC(t *testing.T, serverURL string, m *session.Member, other string, log *slog.Logger) *otherMember {
	t.Helper()
	nodes := []plan.NodeSpec{{Code: "C", Roots: []string{other}}}
	mc, err := session.Join(t.Context(), loggedIn(t, serverURL), session.JoinRequest{ID: m.ID(), Password: m.Password(), Nodes: nodes}, memberOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = mc.Close(context.Background(), time.Second) })
	o := &otherMember{m: mc, done: make(chan error, 1), log: log}
	o.run(t.Context(), nodes, session.Planning{})
	return o
}

type endError struct{ s protocol.Synchronization }

func (e *endError) Error() string { return string(e.s.EndStatus) + ": " + e.s.EndReason }

// plan has the member, the session's oldest, wait for one other member, mirror its node A
// onto the node Ba, and run the plan.
func (o *otherMember) plan(t *testing.T, nodes []plan.NodeSpec, limit rules.DeleteLimit) {
	flow := o.m.NewFlow(nodes, session.FlowOptions{Planning: session.Planning{
		Settings:  compare.DefaultSettings(),
		Rules:     func([]string) ([]rules.Rule, error) { return rules.Preset(rules.PresetMirror, "A", "Ba") },
		MaxDelete: limit,
	}})
	go func() {
		defer func() { _ = flow.Close(context.Background()) }()
		if err := flow.AwaitMembers(t.Context(), 2); err != nil {
			o.done <- err
			return
		}
		if _, err := flow.Prepare(t.Context()); err != nil {
			o.done <- err
			return
		}
		out, err := flow.Synchronize(t.Context(), session.SyncOptions{})
		if err == nil && out.Sync.EndStatus != protocol.EndRegular {
			err = &endError{out.Sync}
		}
		o.done <- err
	}()
}

func (o *otherMember) wait(t *testing.T) {
	t.Helper()
	if err := o.end(t); err != nil {
		t.Fatalf("the other member: %v", err)
	}
}

// end waits for the other member's end.
func (o *otherMember) end(t *testing.T) error {
	t.Helper()
	select {
	case err := <-o.done:
		return err
	case <-time.After(time.Minute):
		t.Fatal("the other member did not end")
		return nil
	}
}

// copyRules copies the files of A that C lacks onto C.
const copyRules = `{"rules": [{"applies_to": "file", "conditions": [{"left": "A", "property": "presence", "op": "not-on", "right": "C"}],
  "actions": [{"op": "copy", "from": "A", "to": "C"}]}]}`

// The app, as the oldest member, inventories with another member, plans for the whole session
// and runs the plan with it: the other member's folder receives the files through the relay.
func TestOldestMemberPlansForTheSession(t *testing.T) {
	srv := startServer(t)
	a := newTestApp(t)
	ca := loggedIn(t, srv.URL)
	m, err := session.Create(t.Context(), ca, nil, memberOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	a.useMember(m, ca)
	src, dst, other := t.TempDir(), t.TempDir(), t.TempDir()
	writeFiles(t, src, map[string]string{"one.txt": "one", "d/two.txt": "two"}, at)
	a.addNodes(t, src, dst)
	if st, err := a.Rules.Save(copyRules); err != nil || len(st.Errors) != 0 {
		t.Fatalf("rules: %+v, %v", st, err)
	}

	o := joinAsC(t, srv.URL, m, other, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})))

	if done := a.inventory(t); done.Error != "" {
		t.Fatal(done.Error)
	}
	sum, err := a.Comparison.Summary()
	if err != nil || len(sum.Parts) != 3 {
		t.Fatalf("summary %+v, %v: want the parts of both members", sum, err)
	}
	st := a.synchronize(t)
	if st.EndStatus != string(protocol.EndRegular) || st.Orchestration != "cloud" || len(st.Errors) != 0 {
		t.Fatalf("status %+v", st)
	}
	o.wait(t)
	for name, want := range map[string]string{"one.txt": "one", "d/two.txt": "two"} {
		got, err := os.ReadFile(filepath.Join(other, name))
		if err != nil || string(got) != want {
			t.Fatalf("%s on the other member: %q, %v", name, got, err)
		}
	}
	if entries, _ := os.ReadDir(dst); len(entries) != 0 {
		t.Fatalf("B changed: %d entries", len(entries))
	}
}

// The app, joined to a session another member created, takes part in its inventory, receives
// the plan of that oldest member and runs its part: its node receives the files.
func TestOtherMemberFollowsTheOldest(t *testing.T) {
	srv := startServer(t)
	a := newTestApp(t)
	src, dst, untouched := t.TempDir(), t.TempDir(), t.TempDir()
	writeFiles(t, src, map[string]string{"one.txt": "one", "d/two.txt": "two"}, at)
	writeFiles(t, untouched, map[string]string{"keep.txt": "keep"}, at)

	oldestNodes := []plan.NodeSpec{{Code: "A", Roots: []string{src}}}
	mo := a.joinOldest(t, srv.URL, oldestNodes)
	a.addNodes(t, dst, untouched)
	if nodes := a.Data.Nodes(); len(nodes) != 2 || nodes[0].Code != "Ba" {
		t.Fatalf("nodes %+v: want Ba and Bb", nodes)
	}

	o := &otherMember{m: mo, done: make(chan error, 1)}
	o.plan(t, oldestNodes, rules.DeleteLimit{})

	st := a.followOldest(t)
	if st.EndStatus != string(protocol.EndRegular) || st.Orchestration != "cloud" || len(st.Errors) != 0 {
		t.Fatalf("status %+v", st)
	}
	o.wait(t)
	for name, want := range map[string]string{"one.txt": "one", "d/two.txt": "two"} {
		got, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil || string(got) != want {
			t.Fatalf("%s on this member: %q, %v", name, got, err)
		}
	}
	if entries, _ := os.ReadDir(untouched); len(entries) != 1 {
		t.Fatalf("Bb changed: %d entries", len(entries))
	}
}

// The plan of the oldest member deletes past this member's deletion limit: the app refuses it,
// and nothing runs on any member.
func TestOtherMemberRefusesDeletionsPastItsLimit(t *testing.T) {
	srv := startServer(t)
	a := newTestApp(t)
	src, dst, more := t.TempDir(), t.TempDir(), t.TempDir()
	files := map[string]string{}
	for i := range 12 {
		files[fmt.Sprintf("f%02d.txt", i)] = "on Ba"
	}
	writeFiles(t, dst, files, at)
	writeFiles(t, more, map[string]string{"keep.txt": "keep"}, at)

	oldestNodes := []plan.NodeSpec{{Code: "A", Roots: []string{src}}}
	mo := a.joinOldest(t, srv.URL, oldestNodes)
	a.addNodes(t, dst, more)
	o := &otherMember{m: mo, done: make(chan error, 1)}
	o.plan(t, oldestNodes, rules.DeleteLimit{Count: 100, IsCount: true, Set: true}) // the oldest allows them

	st := a.followOldest(t)
	if st.EndStatus != string(protocol.EndError) || len(st.Errors) != 1 || !strings.Contains(st.Errors[0], " refused: the plan deletes 12 of 12 files in Ba") ||
		!strings.Contains(st.Errors[0], "past its deletion limit of 50% (default) (its Settings)") || strings.Contains(st.Errors[0], "--max-delete") {
		t.Fatalf("status %+v: want the deletion limit's refusal in the app's words", st)
	}
	var nc *session.NotConfirmedError
	if err := o.end(t); !errors.As(err, &nc) || !nc.Answer.Limit {
		t.Fatalf("the oldest member: %v, want this member's refusal", err)
	}
	if strings.Contains(nc.Answer.Reason, dst) || strings.Contains(nc.Answer.Reason, "--max-delete") {
		t.Fatalf("the refusal %q names this computer's path or a flag", nc.Answer.Reason)
	}
	if got := errorText(nc); !strings.HasSuffix(got, "(its Settings): nothing changed") || strings.Contains(got, "did not agree") {
		t.Fatalf("the refusal on the oldest member's app: %q", got)
	}
	if entries, _ := os.ReadDir(dst); len(entries) != 12 {
		t.Fatalf("Ba holds %d files, want its 12", len(entries))
	}
}

// A computer that joins brings one folder: the session, with the oldest member's, has two,
// and the mirror runs onto it.
func TestOtherMemberWithOneFolder(t *testing.T) {
	srv := startServer(t)
	a := newTestApp(t)
	src, dst := t.TempDir(), t.TempDir()
	writeFiles(t, src, map[string]string{"one.txt": "one"}, at)

	oldestNodes := []plan.NodeSpec{{Code: "A", Roots: []string{src}}}
	mo := a.joinOldest(t, srv.URL, oldestNodes)
	a.addNodes(t, dst)

	o := &otherMember{m: mo, done: make(chan error, 1)}
	o.plan(t, oldestNodes, rules.DeleteLimit{})
	if st := a.followOldest(t); st.EndStatus != string(protocol.EndRegular) {
		t.Fatalf("status %+v", st)
	}
	o.wait(t)
	if got, err := os.ReadFile(filepath.Join(dst, "one.txt")); err != nil || string(got) != "one" {
		t.Fatalf("one.txt on this member: %q, %v", got, err)
	}
}

// deleteOnC deletes the files of C that A lacks.
const deleteOnC = `{"rules": [{"applies_to": "file", "conditions": [{"left": "C", "property": "presence", "op": "not-on", "right": "A"}],
  "actions": [{"op": "delete", "on": "C"}]}]}`

// noPath fails when what the app hands the webview holds the other computer's folder path.
func noPath(t *testing.T, what string, v any, path string) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), path) {
		t.Fatalf("%s holds the other computer's path %s: %s", what, path, data)
	}
	return string(data)
}

// The oldest member's app shows the other computer's data source by code, name and computer,
// never by its path: on the confirmation, the comparison and the summary.
func TestOtherComputerPathsStayOffScreen(t *testing.T) {
	srv := startServer(t)
	a := newTestApp(t)
	ca := loggedIn(t, srv.URL)
	m, err := session.Create(t.Context(), ca, nil, memberOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	a.useMember(m, ca)
	src, dst := t.TempDir(), t.TempDir()
	other := filepath.Join(t.TempDir(), "photos-backup")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, src, map[string]string{"one.txt": "one"}, at)
	files := map[string]string{}
	for i := range 12 {
		files[fmt.Sprintf("f%02d.txt", i)] = "on C"
	}
	writeFiles(t, other, files, at)
	a.addNodes(t, src, dst)
	if st, err := a.Rules.Save(deleteOnC); err != nil || len(st.Errors) != 0 {
		t.Fatalf("rules: %+v, %v", st, err)
	}

	o := joinAsC(t, srv.URL, m, other, nil)

	if done := a.inventory(t); done.Error != "" {
		t.Fatal(done.Error)
	}
	conf, err := a.Synchronization.Confirmation()
	if err != nil {
		t.Fatal(err)
	}
	noPath(t, "the confirmation", conf, other)
	if len(conf.Deletions) != 1 || conf.Deletions[0].Root != "photos-backup" || conf.Deletions[0].Computer == "" || !conf.OverLimit {
		t.Fatalf("deletions %+v: want C's by name and computer, past the limit", conf.Deletions)
	}
	sum, err := a.Comparison.Summary()
	if err != nil {
		t.Fatal(err)
	}
	noPath(t, "the comparison's summary", sum, other)
	page, err := a.Comparison.Page("", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	noPath(t, "the comparison's page", page, other)

	if err := a.Synchronization.AllowDeletions(conf.Revision); err != nil {
		t.Fatal(err)
	}
	st := a.synchronize(t)
	noPath(t, "the summary", st, other)
	if st.EndStatus != string(protocol.EndRegular) {
		t.Fatalf("status %+v", st)
	}
	o.wait(t)
	if entries, _ := os.ReadDir(other); len(entries) != 0 {
		t.Fatalf("C holds %d entries, want none", len(entries))
	}
}

// A ferry join's refusal names its paths and flags: the app shows neither.
func TestRefusalOfAnotherMemberWithoutPaths(t *testing.T) {
	e := &plan.DeleteLimitError{Limit: rules.DeleteLimit{Count: 10, IsCount: true, Set: true},
		Over: []plan.Deletions{{Part: "Ba", Node: "Ba", Root: "/tmp/x/two/photos-backup", Deletes: 50, Files: 60}}}
	nc := &session.NotConfirmedError{Who: "member B", Answer: session.Answer{Reason: e.Error(), Limit: true}}
	got := errorText(fmt.Errorf("propose the plan: %w", nc))
	want := "member B refused: the plan deletes 50 of 60 files on Ba, past its deletion limit of 10: nothing changed"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
