package client

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/protocol"
)

// syncSession is a session of a and b (admitted) whose inventory started, nodes na and nb; it
// returns the session and the groups of a run: a copy from a to b and a creation on both.
func syncSession(t *testing.T, a, b *Client) (*protocol.Session, []protocol.GroupDefinition) {
	t.Helper()
	ctx := t.Context()
	s := newSession(t, a)
	joinReq := cloudtest.JoinRequest(t, b.Identity().Private, s.ID)
	ticket, err := b.Join(ctx, s.ID, joinReq)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Admit(ctx, s.ID, ticket.Ticket, cloudtest.Admission(t, a.Identity().Private, s.ID, joinReq)); err != nil {
		t.Fatal(err)
	}
	for c, node := range map[*Client]string{a: "na", b: "nb"} {
		if _, err := c.AddNode(ctx, s.ID, protocol.NodeRequest{ID: node, Data: protocol.Blob("n")}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.AddSource(ctx, s.ID, node, protocol.SourceRequest{ID: "src", Data: protocol.Blob("s")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.StartInventory(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	ta, tb := protocol.Target{Member: a.InstanceID(), Node: "na"}, protocol.Target{Member: b.InstanceID(), Node: "nb"}
	return s, []protocol.GroupDefinition{
		{ID: "AGID_1", Op: "copy", Source: a.InstanceID(), Size: 10, Targets: []protocol.Target{tb}},
		{ID: "AGID_2", Op: "create", Targets: []protocol.Target{ta, tb}},
	}
}

func TestSynchronizationCalls(t *testing.T) {
	t.Parallel()
	srv := startServer(t, cloud.Config{}, nil)
	ctx := t.Context()
	a, b := newClient(t, srv.URL(), Options{}), newClient(t, srv.URL(), Options{})
	s, groups := syncSession(t, a, b)

	if _, err := a.Synchronization(ctx, s.ID); Code(err) != protocol.ErrCodeNotFound {
		t.Fatalf("before the start: %v", err)
	}
	if _, err := b.StartSynchronization(ctx, s.ID, groups); Code(err) != protocol.ErrCodeForbidden {
		t.Fatalf("start by b: %v", err)
	}
	run, err := a.StartSynchronization(ctx, s.ID, groups)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(run.Progress.Members, []string{a.InstanceID(), b.InstanceID()}) || run.Progress.TotalActions != 3 || run.IsEnded() {
		t.Fatalf("started %+v", run)
	}
	_, err = a.StartSynchronization(ctx, s.ID, groups)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != http.StatusConflict || Code(err) != "synchronization_running" {
		t.Fatalf("second start: %v", err)
	}

	p, err := a.ReportResults(ctx, s.ID, []protocol.ActionResult{{Group: "AGID_2", Kind: protocol.ResultCreated}})
	if err != nil || p.Progress.FinishedActions != 1 || len(p.Groups) != 1 {
		t.Fatalf("a's results: %+v, %v", p, err)
	}
	p, err = b.ReportResults(ctx, s.ID, []protocol.ActionResult{
		{Group: "AGID_1", Kind: protocol.ResultCopied, Bytes: 10}, {Group: "AGID_2", Kind: protocol.ResultCreated, Node: "nb"},
	})
	if err != nil || p.Progress.FinishedActions != 3 || p.Progress.SyncedVolume != 10 {
		t.Fatalf("b's results: %+v, %v", p, err)
	}
	if _, err := b.ReportResults(ctx, s.ID, []protocol.ActionResult{{Group: "AGID_9", Kind: protocol.ResultCreated}}); Code(err) != protocol.ErrCodeBadRequest {
		t.Fatalf("unknown group: %v", err)
	}
	if p, err := b.ReportResults(ctx, s.ID, nil); err != nil || p.Progress.FinishedActions != 3 {
		t.Fatalf("empty batch: %+v, %v", p, err)
	}

	if run, err = a.SynchronizationFinished(ctx, s.ID); err != nil || run.IsEnded() {
		t.Fatalf("a finished: %+v, %v", run, err)
	}
	if run, err = b.SynchronizationFinished(ctx, s.ID); err != nil || run.EndStatus != protocol.EndRegular {
		t.Fatalf("b finished: %+v, %v", run, err)
	}
	if run, err = b.Synchronization(ctx, s.ID); err != nil || run.EndStatus != protocol.EndRegular || len(run.Progress.CompletedMembers) != 2 {
		t.Fatalf("read back: %+v, %v", run, err)
	}

	// A new run, aborted by b.
	if _, err := a.StartSynchronization(ctx, s.ID, nil); err != nil {
		t.Fatalf("start after the end: %v", err)
	}
	if run, err = b.AbortSynchronization(ctx, s.ID); err != nil || !run.IsAbortRequested() || run.IsEnded() {
		t.Fatalf("abort: %+v, %v", run, err)
	}
	for _, c := range []*Client{a, b} {
		if run, err = c.SynchronizationFinished(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
	}
	if run.EndStatus != protocol.EndAborted {
		t.Fatalf("after the abort: %+v", run)
	}
}

// Results, completion and abort whose answers are lost are sent again and count once; a start
// is never sent twice.
func TestSynchronizationRetries(t *testing.T) {
	t.Parallel()
	srv, f, n := flakyServer(t)
	ctx := t.Context()
	a := newClient(t, srv.URL(), Options{Retry: fastRetry})
	b := newClient(t, srv.URL(), Options{Retry: fastRetry})
	s, groups := syncSession(t, a, b)
	route := "POST /sessions/" + s.ID + "/synchronization"

	f.fail(route+"/start", "lose", 1)
	if _, err := a.StartSynchronization(ctx, s.ID, groups); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("start with its answer lost: %v, want ErrUnreachable", err)
	}
	if n.count(route+"/start") != 1 {
		t.Fatalf("start sent %d times", n.count(route+"/start"))
	}
	// It did start: the run is there.
	if run, err := a.Synchronization(ctx, s.ID); err != nil || run.Progress.TotalActions != 3 {
		t.Fatalf("after the lost start: %+v, %v", run, err)
	}

	f.fail(route+"/results", "lose", 2)
	p, err := b.ReportResults(ctx, s.ID, []protocol.ActionResult{{Group: "AGID_1", Kind: protocol.ResultCopied, Bytes: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if n.count(route+"/results") != 3 || p.Progress.FinishedActions != 1 || p.Progress.LocalCopyVolume != 0 || p.Progress.SyncedVolume != 10 {
		t.Fatalf("results sent %d times: %+v", n.count(route+"/results"), p)
	}

	f.fail(route+"/abort", "drop", 1)
	if run, err := b.AbortSynchronization(ctx, s.ID); err != nil || len(run.AbortRequestedBy) != 1 {
		t.Fatalf("abort through a dropped connection: %+v, %v", run, err)
	}
	f.fail(route+"/finished", "lose", 1)
	if run, err := a.SynchronizationFinished(ctx, s.ID); err != nil || !slices.Equal(run.Progress.CompletedMembers, []string{a.InstanceID()}) {
		t.Fatalf("finished with its answer lost: %+v, %v", run, err)
	}
	run, err := b.SynchronizationFinished(ctx, s.ID)
	if err != nil || run.EndStatus != protocol.EndAborted || run.Progress.FinishedActions != 1 {
		t.Fatalf("end: %+v, %v", run, err)
	}
	if f.failures() != 1 {
		t.Fatalf("%d failures served by the last fail", f.failures())
	}
}

// A call waits no longer than its context.
func TestSynchronizationContext(t *testing.T) {
	t.Parallel()
	srv := startServer(t, cloud.Config{}, nil)
	a := newClient(t, srv.URL(), Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := a.ReportResults(ctx, "000aaa000", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
}
