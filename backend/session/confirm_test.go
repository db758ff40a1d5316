package session_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/internal/testcloud"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/session"
	"github.com/ferrysync/ferry/backend/twoway"
)

// prepareAll waits for the members and prepares every member's plan at once.
func prepareAll(t *testing.T, ctx context.Context, ms []*flowMember) {
	t.Helper()
	var wg sync.WaitGroup
	for i, fm := range ms {
		wg.Go(func() {
			if i == 0 {
				if fm.err = fm.flow.AwaitMembers(ctx, len(ms)); fm.err != nil {
					return
				}
			}
			fm.plan, fm.err = fm.flow.Prepare(ctx)
		})
	}
	wg.Wait()
	for i, fm := range ms {
		if fm.err != nil {
			t.Fatalf("member %d: %v", i, fm.err)
		}
	}
}

func closeAll(t *testing.T, ctx context.Context, ms []*flowMember) {
	for _, fm := range ms {
		if err := fm.flow.Close(ctx); err != nil {
			t.Errorf("close the flow: %v", err)
		}
		if _, err := fm.m.Close(ctx, 10*time.Second); err != nil {
			t.Errorf("close the member: %v", err)
		}
	}
}

// A member that does not agree to the plan stops the run for every member, the oldest
// included, before anything changes; the others learn which member it was and why.
func TestFlowMemberRefusesThePlan(t *testing.T) {
	t.Parallel()
	url, _ := relayServer(t)
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	for i := range 3 {
		writeAt(t, filepath.Join(dirs[0], fmt.Sprintf("f%d.txt", i)), []byte("from A"), flowTime)
	}
	before := []map[string]string{snapshot(t, dirs[1]), snapshot(t, dirs[2])}
	ms := members(t, url, dirs, preset("mirror"))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	prepareAll(t, ctx, ms)
	var wg sync.WaitGroup
	for i, fm := range ms {
		wg.Go(func() {
			if i == 2 {
				if fm.err = fm.flow.Answer(ctx, session.Answer{Reason: "not now"}); fm.err == nil {
					fm.err = fm.flow.Verdict(ctx)
				}
				return
			}
			fm.out, fm.err = fm.flow.Synchronize(ctx, session.SyncOptions{})
		})
	}
	wg.Wait()
	for i, fm := range ms {
		var nc *session.NotConfirmedError
		if !errors.As(fm.err, &nc) || nc.Self != (i == 2) || nc.Answer.Reason != "not now" || fm.out != nil {
			t.Fatalf("member %d: %v (%+v), outcome %+v", i, fm.err, nc, fm.out)
		}
		if i != 2 && !strings.Contains(nc.Error(), "(node C) did not agree to the plan (not now): nothing changed") {
			t.Fatalf("member %d: %v", i, nc)
		}
	}
	closeAll(t, ctx, ms)
	sameSnapshots(t, "B", before[0], snapshot(t, dirs[1]))
	sameSnapshots(t, "C", before[1], snapshot(t, dirs[2]))
}

// A plan past the deletion limit (an empty folder mirrored onto a full one) is shown to every
// member and runs on none.
func TestFlowDeletionLimitRefusesEverywhere(t *testing.T) {
	t.Parallel()
	url, _ := relayServer(t)
	a, b := t.TempDir(), t.TempDir()
	for i := range 12 {
		writeAt(t, filepath.Join(b, fmt.Sprintf("f%02d.txt", i)), []byte("on B"), flowTime)
	}
	before := snapshot(t, b)
	ms := members(t, url, []string{a, b}, preset("mirror"))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	prepareAll(t, ctx, ms)
	var le *plan.DeleteLimitError
	if err := ms[0].flow.Refused(); !errors.As(err, &le) {
		t.Fatalf("the planning member's refusal: %v", err)
	}
	var re *session.RefusedPlanError
	if err := ms[1].flow.Refused(); !errors.As(err, &re) || re.Reason != le.Error() {
		t.Fatalf("the other member's refusal: %v, want %q", err, le.Error())
	}
	for i, fm := range ms {
		if out, err := fm.flow.Synchronize(ctx, session.SyncOptions{}); err == nil || out != nil {
			t.Fatalf("member %d synchronized a refused plan: %v", i, err)
		}
	}
	closeAll(t, ctx, ms)
	sameSnapshots(t, "B", before, snapshot(t, b))
}

// twoWayMembers is a session of members with fixed identities, one node each (A, B, C… on
// dirs), the first planning two-way with its record in state.
func twoWayMembers(t *testing.T, url, state string, ids []*crypto.Identity, dirs []string) []*flowMember {
	t.Helper()
	var out []*flowMember
	for i, dir := range dirs {
		nodes := []plan.NodeSpec{{Code: string(rune('A' + i)), Roots: []string{dir}}}
		var m *session.Member
		var err error
		if i == 0 {
			m, err = session.Create(t.Context(), newClientWith(t, url, ids[i]), nodes, testOptions()...)
		} else {
			m, err = session.Join(t.Context(), newClientWith(t, url, ids[i]), session.JoinRequest{ID: out[0].m.ID(), Password: out[0].m.Password(), Nodes: nodes}, testOptions()...)
		}
		if err != nil {
			t.Fatal(err)
		}
		opts := session.FlowOptions{}
		if i == 0 {
			opts.Planning = session.Planning{Settings: compare.DefaultSettings(), Rules: preset("two-way"),
				TwoWay: &session.TwoWay{Store: twoway.Store{Dir: state}}}
		}
		out = append(out, &flowMember{m: m, flow: m.NewFlow(nodes, opts)})
	}
	return out
}

// Two-way between three members with the planning member's record: the first run spreads the
// newest of everything; after a deletion on one member and an edit on another, one run
// converges, the deletion reaching every member; the next run has nothing to do.
func TestFlowTwoWayRecordThreeMembers(t *testing.T) {
	t.Parallel()
	url, _ := relayServer(t)
	state := filepath.Join(t.TempDir(), "state")
	ids := []*crypto.Identity{newIdentity(t), newIdentity(t), newIdentity(t)}
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	for i, d := range dirs {
		writeAt(t, filepath.Join(d, "shared.txt"), []byte("first"), flowTime)
		writeAt(t, filepath.Join(d, fmt.Sprintf("own-%d.txt", i)), []byte("own"), flowTime)
	}
	run := func() []*flowMember {
		ms := twoWayMembers(t, url, state, ids, dirs)
		runFlows(t, ms)
		for i, fm := range ms {
			if fm.err != nil || fm.out == nil || len(fm.out.Errors) > 0 || len(fm.plan.Rejected) > 0 {
				t.Fatalf("member %d: %v, %+v, refused %+v", i, fm.err, fm.out, fm.plan.Rejected)
			}
		}
		return ms
	}
	run()
	sameSnapshots(t, "B after the first run", snapshot(t, dirs[0]), snapshot(t, dirs[1]))
	sameSnapshots(t, "C after the first run", snapshot(t, dirs[0]), snapshot(t, dirs[2]))

	if err := os.Remove(filepath.Join(dirs[1], "own-0.txt")); err != nil {
		t.Fatal(err)
	}
	writeAt(t, filepath.Join(dirs[2], "shared.txt"), []byte("C's edit"), flowTime.Add(time.Hour))
	run()
	for i, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "own-0.txt")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("own-0.txt on member %d: %v", i, err)
		}
		if b, _ := os.ReadFile(filepath.Join(d, "shared.txt")); string(b) != "C's edit" {
			t.Fatalf("shared.txt on member %d: %q", i, b)
		}
	}
	if ms := run(); len(ms[0].plan.Groups) != 0 {
		t.Fatalf("the run after the converging one plans %+v", ms[0].plan.Actions())
	}
}

// planSendHold is a session server that holds the completion of the nth transfer of plan kind
// (the plan, an answer, the verdict: in the order they are created) until its sender gives it
// up, at most a while: the recipient has read the last part by then, and may leave the session
// before its sender saw the transfer complete.
type planSendHold struct {
	URL  string
	nth  int
	cut  chan struct{} // closed when the sender gave the held completion up
	mu   sync.Mutex
	ids  []string // plan transfers, in the order created
	once sync.Once
}

func newPlanSendHold(t *testing.T, nth int) *planSendHold {
	t.Helper()
	h := &planSendHold{nth: nth, cut: make(chan struct{})}
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/transfers"):
				body, _ := io.ReadAll(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(body))
				var req protocol.TransferRequest
				if json.Unmarshal(body, &req) == nil && req.Kind == protocol.TransferPlan {
					h.mu.Lock()
					if !slices.Contains(h.ids, req.ID) {
						h.ids = append(h.ids, req.ID)
					}
					h.mu.Unlock()
				}
			case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/complete"):
				h.mu.Lock()
				held := len(h.ids) >= h.nth && strings.Contains(r.URL.Path, "/transfers/"+h.ids[h.nth-1]+"/")
				h.mu.Unlock()
				if held {
					// Read to its end, the request's body lets the server see its sender go.
					body, _ := io.ReadAll(r.Body)
					r.Body = io.NopCloser(bytes.NewReader(body))
					select {
					case <-r.Context().Done():
						h.once.Do(func() { close(h.cut) })
						return
					case <-time.After(30 * time.Second):
					}
				}
			}
			next.ServeHTTP(w, r)
		})
	}
	h.URL = testcloud.Start(t, cloud.Config{Store: store.NewMemory(), StorageDir: t.TempDir()}, wrap).URL
	return h
}

// wasCut fails the test unless the sender of what gave the held completion up: otherwise the
// recipient had not left before the send ended, and nothing was checked.
func (h *planSendHold) wasCut(t *testing.T, what string) {
	t.Helper()
	select {
	case <-h.cut:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s's send ended before the other member left: nothing was checked", what)
	}
}

// The refusal of a plan stands on the planning member when the member it refused for read it
// and left before the send of the refusal ended (the plan past the deletion limit, or the
// verdict on a member's refusal): the planning member reports the refusal, not that member's
// departure.
func TestFlowRefusalStandsWhenTheMemberLeaves(t *testing.T) {
	t.Parallel()
	leave := func(t *testing.T, ctx context.Context, fm *flowMember) {
		if err := fm.flow.Close(ctx); err != nil {
			t.Errorf("close the flow: %v", err)
		}
		if _, err := fm.m.Close(ctx, 10*time.Second); err != nil {
			t.Errorf("close the member: %v", err)
		}
	}
	t.Run("deletion limit", func(t *testing.T) {
		t.Parallel()
		srv := newPlanSendHold(t, 1) // the plan
		a, b := t.TempDir(), t.TempDir()
		for i := range 12 {
			writeAt(t, filepath.Join(b, fmt.Sprintf("f%02d.txt", i)), []byte("on B"), flowTime)
		}
		ms := members(t, srv.URL, []string{a, b}, preset("mirror"))
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		var wg sync.WaitGroup
		wg.Go(func() {
			var re *session.RefusedPlanError
			if _, err := ms[1].flow.Prepare(ctx); err != nil || !errors.As(ms[1].flow.Refused(), &re) {
				t.Errorf("the other member: %v, refused %v", err, ms[1].flow.Refused())
			}
			leave(t, ctx, ms[1])
		})
		if err := ms[0].flow.AwaitMembers(ctx, 2); err != nil {
			t.Fatal(err)
		}
		_, err := ms[0].flow.Prepare(ctx)
		wg.Wait()
		srv.wasCut(t, "the plan")
		var le *plan.DeleteLimitError
		if err != nil || !errors.As(ms[0].flow.Refused(), &le) {
			t.Fatalf("the planning member: %v, refused %v; want the deletion limit", err, ms[0].flow.Refused())
		}
		leave(t, ctx, ms[0])
	})
	t.Run("verdict", func(t *testing.T) {
		t.Parallel()
		srv := newPlanSendHold(t, 3) // the plan, B's answer, the verdict
		a, b := t.TempDir(), t.TempDir()
		writeAt(t, filepath.Join(a, "f.txt"), []byte("on A"), flowTime)
		ms := members(t, srv.URL, []string{a, b}, preset("mirror"))
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		refusal := session.Answer{Reason: "over B's own limit", Limit: true}
		var wg sync.WaitGroup
		wg.Go(func() {
			defer leave(t, ctx, ms[1])
			if _, err := ms[1].flow.Prepare(ctx); err != nil {
				t.Errorf("the other member: %v", err)
				return
			}
			if err := ms[1].flow.Answer(ctx, refusal); err != nil {
				t.Errorf("the other member's answer: %v", err)
				return
			}
			if err := ms[1].flow.Verdict(ctx); err == nil {
				t.Error("the other member's verdict: none")
			}
		})
		if err := ms[0].flow.AwaitMembers(ctx, 2); err != nil {
			t.Fatal(err)
		}
		if _, err := ms[0].flow.Prepare(ctx); err != nil {
			t.Fatal(err)
		}
		if err := ms[0].flow.Answer(ctx, session.Answer{OK: true}); err != nil {
			t.Fatal(err)
		}
		err := ms[0].flow.Verdict(ctx)
		wg.Wait()
		srv.wasCut(t, "the verdict")
		var nc *session.NotConfirmedError
		if !errors.As(err, &nc) || nc.Self || nc.Answer != refusal {
			t.Fatalf("the planning member's verdict: %v; want B's refusal", err)
		}
		leave(t, ctx, ms[0])
	})
}
