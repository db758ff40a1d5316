// Package storetest is the conformance suite every store.Store implementation passes: one set
// of tests, run against Memory and Redis, so the two cannot drift apart.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/protocol"
)

const (
	// shortTTL is how long entries live in the expiry tests. No test relies on an entry still
	// being there after it: a slow run waits longer, it does not fail.
	shortTTL = 300 * time.Millisecond
	// longTTL outlives any test.
	longTTL = time.Hour
	// waitFor bounds every wait for something that must happen.
	waitFor   = 10 * time.Second
	pollEvery = 10 * time.Millisecond
)

// Run checks newStore's stores against the Store contract. newStore returns an empty store that
// shares no state with the others it returns; subtests call it in parallel and close what it
// returns when they end.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Session", sessionTests},
		{"Owned", ownedTests},
		{"Update", updateTests},
		{"Status", statusTests},
		{"TTL", ttlTests},
		{"Auth", authTests},
		{"Presence", presenceTests},
		{"Push", pushTests},
		{"Relay", relayTests},
		{"Invitation", invitationTests},
		{"Close", closeTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					s := newStore(t)
					t.Cleanup(func() {
						if err := s.Close(); err != nil {
							t.Errorf("Close: %v", err)
						}
					})
					tc.run(t, s)
				})
			}
		})
	}
}

type test struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// testSession is a session with most fields set, times in UTC so that they survive encoding.
func testSession(id string) *store.Session {
	at := time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)
	s := &store.Session{}
	s.ID = id
	s.Created = at
	s.Settings = []byte("encrypted settings")
	s.SettingsVersion = 3
	s.SynchronizationID = "sync-1"
	s.Members = []protocol.Member{member("inst-a", at)}
	s.Joins = map[string]store.Join{"t1": {Ticket: "t1", InstanceID: "inst-b", ClientID: "client-b",
		PrivateData: []byte("b's machine"), Requested: at.Add(time.Minute)}}
	return s
}

// member is a member that has just joined.
func member(instance string, at time.Time) protocol.Member {
	return protocol.Member{
		InstanceID: instance, ClientID: "client-" + instance, Letter: "A", Joined: at,
		PrivateData: []byte(instance + "'s machine"),
		Status:      protocol.InventoryWaitingForStart, StatusAt: at,
		Nodes: []protocol.DataNode{{ID: "n1", Data: []byte("node"),
			Sources: []protocol.DataSource{{ID: "s1", Data: []byte("source")}}}},
	}
}

// isNotFound tells whether err is ErrNotFound, failing t on any other error.
func isNotFound(t *testing.T, err error) bool {
	t.Helper()
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("want ErrNotFound or nil, got %v", err)
	}
	return err != nil
}

// sameJSON fails t unless got and want encode alike: the stored shape is JSON in every store.
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("%s: encode got: %v", what, err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatalf("%s: encode want: %v", what, err)
	}
	if string(g) != string(w) {
		t.Fatalf("%s:\n got  %s\n want %s", what, g, w)
	}
}

// eventually polls cond until it holds, failing t after waitFor.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitFor)
		}
		time.Sleep(pollEvery)
	}
}

// sessionGone waits until id is no longer stored.
func sessionGone(t *testing.T, s store.Store, id string) {
	t.Helper()
	eventually(t, "session "+id+" expires", func() bool {
		_, err := s.GetSession(context.Background(), id)
		return isNotFound(t, err)
	})
}

// afterExpiry returns once everything written with shortTTL before the call has expired: it
// writes a sentinel session with the same TTL and waits for it to go.
func afterExpiry(t *testing.T, s store.Store) {
	t.Helper()
	if err := s.CreateSession(context.Background(), testSession("sentinel"), shortTTL); err != nil {
		t.Fatalf("create sentinel: %v", err)
	}
	sessionGone(t, s, "sentinel")
}
