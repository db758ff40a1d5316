package engine

import (
	"fmt"
	"slices"
	"testing"

	"github.com/ferrysync/ferry/backend/protocol"
)

// Progress events pushed while nobody reads wait merged: one event with the latest counters and
// every changed group once, in the order first seen, holding its latest state; other events keep
// their place.
func TestEventQueueMergesProgress(t *testing.T) {
	q := newEventQueue()
	defer q.close()
	progress := func(version int64, groups ...protocol.GroupSummary) Event {
		return Event{Type: EventProgress, Sync: protocol.Synchronization{Progress: protocol.Progress{Version: version}}, Groups: groups}
	}
	g := func(n int, ok bool) protocol.GroupSummary {
		return protocol.GroupSummary{Group: fmt.Sprintf("AGID_%d", n), Success: ok}
	}
	q.push(Event{Type: EventStarted})
	q.push(progress(2, g(1, false)))
	q.push(progress(3, g(2, true), g(1, true)))
	q.push(progress(4))
	q.push(progress(5, g(3, true)))
	q.push(Event{Type: EventAbortRequested})
	q.push(progress(6, g(3, false)))
	q.push(progress(7, g(4, true), g(3, true)))
	q.push(Event{Type: EventEnded})
	var got []string
	for e := range q.out {
		s := string(e.Type)
		if e.Type == EventProgress {
			s += fmt.Sprintf(" v%d", e.Sync.Progress.Version)
		}
		for _, gs := range e.Groups {
			s += fmt.Sprintf(" %s=%t", gs.Group, gs.Success)
		}
		got = append(got, s)
	}
	want := []string{
		"started",
		"progress v5 AGID_1=true AGID_2=true AGID_3=true",
		"abort_requested",
		"progress v7 AGID_3=true AGID_4=true",
		"ended",
	}
	if !slices.Equal(got, want) {
		t.Errorf("events:\n got  %q\n want %q", got, want)
	}
}
