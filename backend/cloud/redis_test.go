package cloud

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Two server processes sharing one Redis (two Servers, each with its own store instance): a
// client connected to one receives the pushes caused by a client talking to the other, and
// presence crosses over too.
func TestRedisTwoServers(t *testing.T) {
	testTwoServers(t, redisStores(t)) // one Redis, one prefix
}

// The same on a Redis Cluster: pushes cross over on shard channels, whichever master carries
// the session's.
func TestRedisClusterTwoServers(t *testing.T) {
	testTwoServers(t, redisClusterStores(t))
}

func testTwoServers(t *testing.T, newStore newStoreFunc) {
	one := newEnv(t, newStore, shortPresence)
	two := newEnv(t, newStore, shortPresence)

	a := cloudtest.LoggedIn(t, one.URL)
	b := cloudtest.LoggedIn(t, two.URL)
	s := a.CreateSession("s")
	pa, _ := a.Connect(s.ID)

	// B joins through server two; A, on server one, is asked and admits there.
	joinReq, joinTicket := b.AskToJoin(s.ID)
	ticket := protocol.JoinTicket{Ticket: joinTicket}
	pb, sub := b.Connect(s.ID)
	if len(sub.Sessions) != 1 {
		t.Fatalf("B subscribed: %+v", sub)
	}
	if req := cloudtest.Decode[protocol.JoinRequested](t, pa.Wait(protocol.EventJoinRequested, s.ID)); !bytes.Equal(req.JoinKey, joinReq.JoinKey) {
		t.Fatalf("join_requested: %+v", req)
	}
	admission := a.Admission(s.ID, joinReq)
	a.Must(http.MethodPost, "/sessions/"+s.ID+"/join/"+ticket.Ticket+"/admit", admission, nil)
	if adm := cloudtest.Decode[protocol.JoinAdmitted](t, pb.Wait(protocol.EventJoinAdmitted, s.ID)); !bytes.Equal(adm.WrappedKey, admission.WrappedKey) {
		t.Fatalf("join_admitted: %+v", adm)
	}
	pb.Wait(protocol.EventMemberJoined, s.ID)
	pa.Wait(protocol.EventMemberJoined, s.ID)

	// Changes through either server reach both.
	b.Must(http.MethodPost, "/sessions/"+s.ID+"/members/"+b.Instance+"/nodes", protocol.NodeRequest{ID: "nb", Data: []byte("n")}, nil)
	if n := cloudtest.Decode[protocol.DataNode](t, pa.Wait(protocol.EventNodeAdded, s.ID)); n.ID != "nb" {
		t.Fatalf("node_added on server one: %+v", n)
	}
	a.Must(http.MethodPut, "/sessions/"+s.ID+"/settings", protocol.SettingsUpdate{Settings: []byte("v2")}, nil)
	pb.Wait(protocol.EventSettingsUpdated, s.ID)

	// Tokens work on both servers (shared secret): A reads through server two.
	a2 := *a
	a2.URL = two.URL
	if got := a2.Session(s.ID); len(got.Members) != 2 || !got.Members[1].Present {
		t.Fatalf("through server two: %+v", got.Members)
	}

	// B's connection on server two goes away: server one reports it absent to A.
	pb.Close()
	if ev := pa.Wait(protocol.EventMemberAbsent, s.ID); ev.Member != b.Instance {
		t.Fatalf("member_absent for %s", ev.Member)
	}
	// B back on server one this time.
	b1 := *b
	b1.URL = one.URL
	b1.Connect(s.ID)
	if ev := pa.Wait(protocol.EventMemberPresent, s.ID); ev.Member != b.Instance {
		t.Fatalf("member_present for %s", ev.Member)
	}
}
