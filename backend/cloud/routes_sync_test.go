package cloud

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Synchronizations of a two-member session, both members logged in for real and following the
// session on their websockets.

// syncEnv is a two-member session whose inventory started: A, the oldest, and B, one node each.
type syncEnv struct {
	*twoMembers
	NodeA, NodeB string
}

// startInventory gives each member of tm a node and starts the inventory.
func startInventory(t *testing.T, tm *twoMembers) *syncEnv {
	t.Helper()
	addNodes(t, tm.A, tm.ID, 1)
	addNodes(t, tm.B, tm.ID, 1)
	tm.A.Must(http.MethodPost, "/sessions/"+tm.ID+"/inventory/start", nil, nil)
	s := tm.B.Session(tm.ID)
	return &syncEnv{twoMembers: tm, NodeA: s.Members[0].Nodes[0].ID, NodeB: s.Members[1].Nodes[0].ID}
}

func (se *syncEnv) route(suffix string) string {
	return "/sessions/" + se.ID + "/synchronization" + suffix
}

// groups: a copy from A to B, a creation on both, a deletion on A: 4 actions, 100 bytes.
func (se *syncEnv) groups() []protocol.GroupDefinition {
	a, b := se.A.Instance, se.B.Instance
	return []protocol.GroupDefinition{
		{ID: "AGID_1", Op: "copy", Source: a, Size: 100, Targets: []protocol.Target{{Member: b, Node: se.NodeB}}},
		{ID: "AGID_2", Op: "create", Targets: []protocol.Target{{Member: a, Node: se.NodeA}, {Member: b, Node: se.NodeB}}},
		{ID: "AGID_3", Op: "delete", Targets: []protocol.Target{{Member: a, Node: se.NodeA}}},
	}
}

// start has A start the run with groups.
func (se *syncEnv) start(t *testing.T) protocol.Synchronization {
	t.Helper()
	var run protocol.Synchronization
	if st, perr := se.A.Call(http.MethodPost, se.route("/start"), protocol.StartSynchronization{Groups: se.groups()}, &run); st != http.StatusCreated {
		t.Fatalf("start: %d %v", st, perr)
	}
	return run
}

// get reads the run as c sees it, as JSON for before/after comparisons.
func (se *syncEnv) get(t *testing.T, c *cloudtest.Client) (protocol.Synchronization, string) {
	t.Helper()
	var run protocol.Synchronization
	c.Must(http.MethodGet, se.route(""), nil, &run)
	b, err := json.Marshal(run)
	if err != nil {
		t.Fatal(err)
	}
	return run, string(b)
}

// syncEvents reads p's synchronization pushes about session id until one of type last.
func syncEvents(t *testing.T, p *cloudtest.Push, id string, last protocol.EventType) []protocol.Event {
	t.Helper()
	var out []protocol.Event
	deadline := time.Now().Add(cloudtest.Wait)
	for {
		e, ok := p.NextWithin(time.Until(deadline))
		if !ok {
			t.Fatalf("no %s push within %v; got %v (connection: %v)", last, cloudtest.Wait, types(out), p.Err())
		}
		if e.Session != id || !strings.HasPrefix(string(e.Type), "synchronization_") {
			continue
		}
		out = append(out, e)
		if e.Type == last {
			return out
		}
	}
}

func types(evs []protocol.Event) []protocol.EventType {
	out := make([]protocol.EventType, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

func wantTypes(t *testing.T, who string, evs []protocol.Event, want ...protocol.EventType) {
	t.Helper()
	if got := types(evs); !slices.Equal(got, want) {
		t.Fatalf("%s's synchronization pushes: %v, want %v", who, got, want)
	}
}

func ok(group string, kind protocol.ResultKind, node string) protocol.ActionResult {
	return protocol.ActionResult{Group: group, Kind: kind, Node: node}
}

var _ = register("SyncTwoMembers", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore)
	syncHappyPath(t, startInventory(t, e.twoMembers()))
})

// syncHappyPath runs start → results from both (one batch twice) → finished from both, and
// checks every answer and every push both members receive.
func syncHappyPath(t *testing.T, se *syncEnv) {
	a, b := se.A, se.B
	if st, perr := b.Call(http.MethodGet, se.route(""), nil, nil); st != http.StatusNotFound || perr.Code != protocol.ErrCodeNotFound {
		t.Fatalf("get before the start: %d %v", st, perr)
	}
	run := se.start(t)
	if run.Session != se.ID || run.StartedBy != a.Instance || run.IsEnded() ||
		!slices.Equal(run.Progress.Members, []string{a.Instance, b.Instance}) ||
		run.Progress.TotalActions != 4 || run.Progress.TotalVolume != 100 || run.Progress.Version != 1 {
		t.Fatalf("started %+v", run)
	}
	// The session cannot be reset while the run runs.
	if st, perr := a.Call(http.MethodPost, "/sessions/"+se.ID+"/reset", nil, nil); st != http.StatusConflict || perr.Code != errCodeSyncRunning {
		t.Fatalf("reset while running: %d %v", st, perr)
	}
	if !a.Session(se.ID).InventoryStarted {
		t.Fatal("a refused reset reset the session")
	}

	var prog protocol.SyncProgress
	a.Must(http.MethodPost, se.route("/results"), protocol.ActionResults{Results: []protocol.ActionResult{
		ok("AGID_2", protocol.ResultCreated, se.NodeA), ok("AGID_3", protocol.ResultDeleted, ""),
	}}, &prog)
	if prog.Progress.FinishedActions != 2 || len(prog.Groups) != 2 {
		t.Fatalf("A's results: %+v", prog)
	}
	batch := protocol.ActionResults{Results: []protocol.ActionResult{
		{Group: "AGID_1", Kind: protocol.ResultCopied, Node: se.NodeB, Bytes: 40}, ok("AGID_2", protocol.ResultCreated, ""),
	}}
	b.Must(http.MethodPost, se.route("/results"), batch, &prog)
	if p := prog.Progress; p.FinishedActions != 4 || p.ErrorActions != 0 || p.SyncedVolume != 100 || len(prog.Groups) != 2 {
		t.Fatalf("B's results: %+v", prog)
	}
	// The same batch again (its answer lost, say) counts once and pushes nothing.
	var again protocol.SyncProgress
	b.Must(http.MethodPost, se.route("/results"), batch, &again)
	if again.Progress.Version != prog.Progress.Version || again.Progress.FinishedActions != 4 || len(again.Groups) != 0 {
		t.Fatalf("resent batch: %+v, after %+v", again, prog)
	}

	a.Must(http.MethodPost, se.route("/finished"), nil, &run)
	if run.IsEnded() || !slices.Equal(run.Progress.CompletedMembers, []string{a.Instance}) {
		t.Fatalf("A finished: %+v", run)
	}
	b.Must(http.MethodPost, se.route("/finished"), nil, &run)
	if !run.IsEnded() || run.EndStatus != protocol.EndRegular {
		t.Fatalf("B finished: %+v", run)
	}
	// Finished again changes nothing.
	var same protocol.Synchronization
	b.Must(http.MethodPost, se.route("/finished"), nil, &same)
	if same.Progress.Version != run.Progress.Version {
		t.Fatalf("finished again: version %d, was %d", same.Progress.Version, run.Progress.Version)
	}

	for who, p := range map[string]*cloudtest.Push{"A": se.PushA, "B": se.PushB} {
		evs := syncEvents(t, p, se.ID, protocol.EventSyncEnded)
		wantTypes(t, who, evs, protocol.EventSyncStarted, protocol.EventSyncProgress, protocol.EventSyncProgress,
			protocol.EventSyncProgress, protocol.EventSyncProgress, protocol.EventSyncEnded)
		if s := cloudtest.Decode[protocol.Synchronization](t, evs[0]); s.StartedBy != a.Instance || s.Progress.TotalActions != 4 || evs[0].Member != a.Instance {
			t.Fatalf("%s: started %+v", who, s)
		}
		if sp := cloudtest.Decode[protocol.SyncProgress](t, evs[1]); sp.Progress.FinishedActions != 2 || len(sp.Groups) != 2 || evs[1].Member != a.Instance {
			t.Fatalf("%s: A's progress %+v", who, sp)
		}
		sp := cloudtest.Decode[protocol.SyncProgress](t, evs[2])
		if sp.Progress.FinishedActions != 4 || evs[2].Member != b.Instance ||
			!slices.ContainsFunc(sp.Groups, func(g protocol.GroupSummary) bool { return g.Group == "AGID_1" && g.Success }) {
			t.Fatalf("%s: B's progress %+v", who, sp)
		}
		// Then the members' completions: nothing came of the resent batch.
		if sp := cloudtest.Decode[protocol.SyncProgress](t, evs[3]); !slices.Equal(sp.Progress.CompletedMembers, []string{a.Instance}) || len(sp.Groups) != 0 {
			t.Fatalf("%s: A finished %+v", who, sp)
		}
		if sp := cloudtest.Decode[protocol.SyncProgress](t, evs[4]); len(sp.Progress.CompletedMembers) != 2 {
			t.Fatalf("%s: B finished %+v", who, sp)
		}
		if s := cloudtest.Decode[protocol.Synchronization](t, evs[5]); s.EndStatus != protocol.EndRegular || s.Progress.FinishedActions != 4 || s.Ended == nil {
			t.Fatalf("%s: ended %+v", who, s)
		}
	}
	for _, c := range []*cloudtest.Client{a, b} {
		if got, _ := se.get(t, c); got.EndStatus != protocol.EndRegular || got.Progress.FinishedActions != 4 {
			t.Fatalf("read back: %+v", got)
		}
	}
	// Once it ended, a reset deletes it.
	a.Must(http.MethodPost, "/sessions/"+se.ID+"/reset", nil, nil)
	if st, perr := a.Call(http.MethodGet, se.route(""), nil, nil); st != http.StatusNotFound {
		t.Fatalf("get after the reset: %d %v", st, perr)
	}
}

// The member that did not start aborts: the run ends aborted once both completed, and the
// abort is pushed once however many members ask.
var _ = register("SyncAbort", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore)
	se := startInventory(t, e.twoMembers())
	se.start(t)
	var run protocol.Synchronization
	se.B.Must(http.MethodPost, se.route("/abort"), nil, &run)
	if !run.IsAbortRequested() || run.IsEnded() || !slices.Equal(run.AbortRequestedBy, []string{se.B.Instance}) {
		t.Fatalf("abort: %+v", run)
	}
	se.A.Must(http.MethodPost, se.route("/abort"), nil, &run)
	se.B.Must(http.MethodPost, se.route("/abort"), nil, &run)
	se.A.Must(http.MethodPost, se.route("/finished"), nil, &run)
	if run.IsEnded() {
		t.Fatal("ended before B completed")
	}
	se.B.Must(http.MethodPost, se.route("/finished"), nil, &run)
	if run.EndStatus != protocol.EndAborted || len(run.AbortRequestedBy) != 2 {
		t.Fatalf("after both finished: %+v", run)
	}
	for who, p := range map[string]*cloudtest.Push{"A": se.PushA, "B": se.PushB} {
		evs := syncEvents(t, p, se.ID, protocol.EventSyncEnded)
		// Every change pushes its progress first, as the local orchestrator emits it.
		wantTypes(t, who, evs, protocol.EventSyncStarted, protocol.EventSyncProgress, protocol.EventSyncAbortRequest,
			protocol.EventSyncProgress, protocol.EventSyncProgress, protocol.EventSyncProgress, protocol.EventSyncEnded)
		if s := cloudtest.Decode[protocol.Synchronization](t, evs[2]); !s.IsAbortRequested() || evs[2].Member != se.B.Instance {
			t.Fatalf("%s: abort requested %+v", who, s)
		}
		if s := cloudtest.Decode[protocol.Synchronization](t, evs[6]); s.EndStatus != protocol.EndAborted {
			t.Fatalf("%s: ended %+v", who, s)
		}
	}
})

// B quits mid-run: the run ends with an error for A at once (ByteSync left it running).
var _ = register("SyncMemberQuit", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore)
	se := startInventory(t, e.twoMembers())
	se.start(t)
	se.A.Must(http.MethodPost, se.route("/results"), protocol.ActionResults{Results: []protocol.ActionResult{ok("AGID_3", protocol.ResultDeleted, "")}}, nil)
	se.B.Must(http.MethodPost, "/sessions/"+se.ID+"/quit", nil, nil)
	evs := syncEvents(t, se.PushA, se.ID, protocol.EventSyncEnded)
	wantTypes(t, "A", evs, protocol.EventSyncStarted, protocol.EventSyncProgress, protocol.EventSyncProgress, protocol.EventSyncEnded)
	s := cloudtest.Decode[protocol.Synchronization](t, evs[3])
	if s.EndStatus != protocol.EndError || s.EndReason != "member B quit" || evs[3].Member != se.B.Instance {
		t.Fatalf("ended %+v", s)
	}
	if got, _ := se.get(t, se.A); got.EndStatus != protocol.EndError {
		t.Fatalf("read back %+v", got)
	}
	// B is no member any more.
	if st, perr := se.B.Call(http.MethodGet, se.route(""), nil, nil); st != http.StatusNotFound {
		t.Fatalf("B reads the run after quitting: %d %v", st, perr)
	}
	// The last member leaving closes the session, and its run goes with it.
	se.A.Must(http.MethodPost, "/sessions/"+se.ID+"/quit", nil, nil)
	if _, err := e.store.Synchronizations().Get(t.Context(), se.ID); err == nil {
		t.Fatal("the run of a closed session is still there")
	}
})

// B's connection goes away for longer than the presence timeout: the run ends with an error.
var _ = register("SyncMemberAbsent", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore, shortPresence)
	se := startInventory(t, e.twoMembers())
	se.start(t)
	se.PushB.Close()
	evs := syncEvents(t, se.PushA, se.ID, protocol.EventSyncEnded)
	wantTypes(t, "A", evs, protocol.EventSyncStarted, protocol.EventSyncProgress, protocol.EventSyncEnded)
	if s := cloudtest.Decode[protocol.Synchronization](t, evs[2]); s.EndStatus != protocol.EndError || s.EndReason != "member B went away" {
		t.Fatalf("ended %+v", s)
	}
})

// Every refused request gets the right 4xx, changes neither the run nor the session, and is
// pushed to nobody.
var _ = register("SyncRefusals", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore)
	se := startInventory(t, e.twoMembers())
	a, b := se.A, se.B
	outsider := e.client()
	results := func(rs ...protocol.ActionResult) protocol.ActionResults { return protocol.ActionResults{Results: rs} }
	start := protocol.StartSynchronization{Groups: se.groups()}

	type refusal struct {
		name         string
		who          *cloudtest.Client
		method, path string
		body         any
		status       int
		code         string
	}
	check := func(cases []refusal, read func() string) {
		t.Helper()
		for _, tc := range cases {
			before, beforeSession := read(), sessionJSON(t, a, se.ID)
			st, perr := tc.who.Call(tc.method, tc.path, tc.body, nil)
			if st != tc.status || perr == nil || perr.Code != tc.code || perr.Message == "" {
				t.Errorf("%s: got %d %v, want %d %s", tc.name, st, perr, tc.status, tc.code)
			}
			if after := read(); after != before {
				t.Errorf("%s changed the run:\n before %s\n after  %s", tc.name, before, after)
			}
			if after := sessionJSON(t, a, se.ID); after != beforeSession {
				t.Errorf("%s changed the session", tc.name)
			}
		}
	}

	// Before any start.
	noRun := func() string {
		st, perr := a.Call(http.MethodGet, se.route(""), nil, nil)
		if st != http.StatusNotFound {
			t.Fatalf("a refused start stored a run: %d %v", st, perr)
		}
		return ""
	}
	stranger := se.groups()
	stranger[0].Targets = []protocol.Target{{Member: outsider.Instance, Node: "elsewhere"}}
	notTheirs := se.groups()
	notTheirs[0].Targets = []protocol.Target{{Member: notTheirs[0].Targets[0].Member, Node: "not-declared"}}
	check([]refusal{
		{"get without a run", b, "GET", se.route(""), nil, 404, protocol.ErrCodeNotFound},
		{"results without a run", a, "POST", se.route("/results"), results(ok("AGID_3", protocol.ResultDeleted, "")), 404, protocol.ErrCodeNotFound},
		{"finished without a run", a, "POST", se.route("/finished"), nil, 404, protocol.ErrCodeNotFound},
		{"abort without a run", b, "POST", se.route("/abort"), nil, 404, protocol.ErrCodeNotFound},
		{"B starts", b, "POST", se.route("/start"), start, 403, protocol.ErrCodeForbidden},
		{"outsider starts", outsider, "POST", se.route("/start"), start, 404, protocol.ErrCodeNotFound},
		{"target not a member", a, "POST", se.route("/start"), protocol.StartSynchronization{Groups: stranger}, 400, protocol.ErrCodeBadRequest},
		{"node the member does not have", a, "POST", se.route("/start"), protocol.StartSynchronization{Groups: notTheirs}, 400, protocol.ErrCodeBadRequest},
		{"repeated group", a, "POST", se.route("/start"), protocol.StartSynchronization{Groups: append(se.groups(), se.groups()[0])}, 400, protocol.ErrCodeBadRequest},
		{"unknown op", a, "POST", se.route("/start"), `{"groups":[{"id":"AGID_1","op":"explode","targets":[]}]}`, 400, protocol.ErrCodeBadRequest},
		{"bad group id", a, "POST", se.route("/start"), `{"groups":[{"id":"AGID 1","op":"create","targets":[]}]}`, 400, protocol.ErrCodeBadRequest},
		{"unknown start field", a, "POST", se.route("/start"), `{"groups":[],"paths":["/etc"]}`, 400, protocol.ErrCodeBadRequest},
		{"malformed start", a, "POST", se.route("/start"), `{"groups":[`, 400, protocol.ErrCodeBadRequest},
	}, noRun)

	// Not before the inventory.
	other := a.CreateSession("other")
	if st, perr := a.Call(http.MethodPost, "/sessions/"+other.ID+"/synchronization/start", protocol.StartSynchronization{}, nil); st != http.StatusConflict || perr.Code != protocol.ErrCodeConflict {
		t.Errorf("start before the inventory: %d %v", st, perr)
	}

	se.start(t)
	read := func() string { _, s := se.get(t, a); return s }
	tooMany := make([]protocol.ActionResult, maxResults+1)
	for i := range tooMany {
		tooMany[i] = ok("AGID_2", protocol.ResultCreated, "")
	}
	bigBody := `{"results":[` + strings.Repeat(`{"group":"AGID_2","kind":"created"},`, protocol.MaxBodyBytes/35) + `{"group":"AGID_2","kind":"created"}]}`
	good := ok("AGID_2", protocol.ResultCreated, se.NodeA)
	check([]refusal{
		// Not a member.
		{"outsider get", outsider, "GET", se.route(""), nil, 404, protocol.ErrCodeNotFound},
		{"outsider results", outsider, "POST", se.route("/results"), results(good), 404, protocol.ErrCodeNotFound},
		{"outsider finished", outsider, "POST", se.route("/finished"), nil, 404, protocol.ErrCodeNotFound},
		{"outsider abort", outsider, "POST", se.route("/abort"), nil, 404, protocol.ErrCodeNotFound},
		{"outsider starts", outsider, "POST", se.route("/start"), start, 404, protocol.ErrCodeNotFound},
		// Not the oldest, or while running.
		{"B starts", b, "POST", se.route("/start"), start, 403, protocol.ErrCodeForbidden},
		{"start while running", a, "POST", se.route("/start"), start, 409, errCodeSyncRunning},
		{"reset while running", a, "POST", "/sessions/" + se.ID + "/reset", nil, 409, errCodeSyncRunning},
		// Results the run refuses; a batch is all or nothing.
		{"unknown group", a, "POST", se.route("/results"), results(good, ok("AGID_9", protocol.ResultCreated, "")), 400, protocol.ErrCodeBadRequest},
		{"another member's target", b, "POST", se.route("/results"), results(ok("AGID_3", protocol.ResultDeleted, se.NodeA)), 403, protocol.ErrCodeForbidden},
		{"another member's node", a, "POST", se.route("/results"), results(good, ok("AGID_2", protocol.ResultCreated, se.NodeB)), 403, protocol.ErrCodeForbidden},
		{"source error from a target", b, "POST", se.route("/results"), results(protocol.ActionResult{Group: "AGID_1", Kind: protocol.ResultFailed, Source: true}), 403, protocol.ErrCodeForbidden},
		{"kind for another op", a, "POST", se.route("/results"), results(good, ok("AGID_3", protocol.ResultCreated, "")), 400, protocol.ErrCodeBadRequest},
		// Malformed.
		{"unknown kind", a, "POST", se.route("/results"), `{"results":[{"group":"AGID_2","kind":"exploded"}]}`, 400, protocol.ErrCodeBadRequest},
		{"negative bytes", a, "POST", se.route("/results"), `{"results":[{"group":"AGID_2","kind":"created","bytes":-1}]}`, 400, protocol.ErrCodeBadRequest},
		{"bad node", a, "POST", se.route("/results"), `{"results":[{"group":"AGID_2","kind":"created","node":"a/b"}]}`, 400, protocol.ErrCodeBadRequest},
		{"malformed JSON", a, "POST", se.route("/results"), `{"results":[`, 400, protocol.ErrCodeBadRequest},
		{"unknown field", a, "POST", se.route("/results"), `{"results":[],"path":"/home"}`, 400, protocol.ErrCodeBadRequest},
		{"empty body", a, "POST", se.route("/results"), "", 400, protocol.ErrCodeBadRequest},
		{"oversized batch", a, "POST", se.route("/results"), results(tooMany...), 413, protocol.ErrCodeTooLarge},
		{"oversized body", a, "POST", se.route("/results"), bigBody, 413, protocol.ErrCodeTooLarge},
		{"body on finished", a, "POST", se.route("/finished"), `{"all":true}`, 400, protocol.ErrCodeBadRequest},
		{"body on abort", a, "POST", se.route("/abort"), `{"why":"x"}`, 400, protocol.ErrCodeBadRequest},
		{"unknown session", a, "GET", "/sessions/000aaa000/synchronization", nil, 404, protocol.ErrCodeNotFound},
		{"bad session id", a, "POST", "/sessions/000AAA000/synchronization/results", results(good), 400, protocol.ErrCodeBadRequest},
		{"wrong method", a, "PUT", se.route(""), nil, 405, protocol.ErrCodeBadRequest},
	}, read)

	// Nobody saw a push of the refused requests: after the start, the next one is a real report.
	a.Must(http.MethodPost, se.route("/results"), results(good), nil)
	for who, p := range map[string]*cloudtest.Push{"A": se.PushA, "B": se.PushB} {
		evs := syncEvents(t, p, se.ID, protocol.EventSyncProgress)
		wantTypes(t, who, evs, protocol.EventSyncStarted, protocol.EventSyncProgress)
		if sp := cloudtest.Decode[protocol.SyncProgress](t, evs[1]); sp.Progress.Version != 2 || sp.Progress.FinishedActions != 1 {
			t.Fatalf("%s: progress %+v", who, sp)
		}
	}
})

// Two server processes sharing one Redis: A talks to one, B to the other, and each sees the
// whole run.
func TestRedisSyncTwoServers(t *testing.T) { testSyncTwoServers(t, redisStores(t)) }

func TestRedisClusterSyncTwoServers(t *testing.T) { testSyncTwoServers(t, redisClusterStores(t)) }

func testSyncTwoServers(t *testing.T, newStore newStoreFunc) {
	one, two := newEnv(t, newStore), newEnv(t, newStore)
	a, b := cloudtest.LoggedIn(t, one.URL), cloudtest.LoggedIn(t, two.URL)
	s := a.CreateSession("s")
	pa, _ := a.Connect(s.ID)
	admit(t, a, pa, b, s.ID)
	pb, _ := b.Connect(s.ID)
	syncHappyPath(t, startInventory(t, &twoMembers{A: a, B: b, PushA: pa, PushB: pb, ID: s.ID}))
}

func FuzzDecodeSync(f *testing.F) {
	for _, seed := range []string{
		`{"groups":[{"id":"AGID_1","op":"copy","source":"inst-aaaaaaaa","size":5,"targets":[{"member":"inst-bbbbbbbb","node":"n1"}]}]}`,
		`{"groups":[{"id":"AGID_2","op":"delete","targets":[{"member":"inst-bbbbbbbb","node":"n1"},{"member":"inst-aaaaaaaa","node":"n2"}]}]}`,
		`{"groups":[]}`,
		`{"results":[{"group":"AGID_1","kind":"copied","node":"n1","bytes":12},{"group":"AGID_2","kind":"failed","source":true}]}`,
		`{"results":[{"group":"AGID_1","kind":"created","bytes":-1}]}`,
		`{"results":[{"group":"AGID 1","kind":"deleted"}]}`,
	} {
		f.Add([]byte(seed))
	}
	kinds := []protocol.ResultKind{protocol.ResultCopied, protocol.ResultDatesCopied, protocol.ResultCreated, protocol.ResultDeleted, protocol.ResultFailed}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecoded(t, "start", body, decodeStartSynchronization, func(r protocol.StartSynchronization) bool {
			for _, g := range r.Groups {
				if !idOK(g.ID) || !slices.Contains([]string{"copy", "copy-content", "copy-dates", "create", "delete"}, g.Op) ||
					g.Source != "" && !instanceOK(g.Source) || len(g.Targets) > protocol.MaxNodes {
					return false
				}
				for _, tg := range g.Targets {
					if !instanceOK(tg.Member) || !idOK(tg.Node) {
						return false
					}
				}
			}
			return true
		})
		checkDecoded(t, "results", body, decodeActionResults, func(r protocol.ActionResults) bool {
			if len(r.Results) > maxResults {
				return false
			}
			for _, res := range r.Results {
				if !idOK(res.Group) || !slices.Contains(kinds, res.Kind) || res.Node != "" && !idOK(res.Node) || res.Bytes < 0 {
					return false
				}
			}
			return true
		})
	})
}
