package notify

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/ferrysync/ferry/app/internal/dbustest"
	"github.com/ferrysync/ferry/backend/bytesize"
	"github.com/ferrysync/ferry/backend/protocol"
)

// connect opens a connection to the bus at addr, closed with the test.
func connect(t *testing.T, addr string) *dbus.Conn {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("connect to %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// notifyArgs are the arguments of one Notify call.
type notifyArgs struct {
	AppName  string
	Replaces uint32
	Icon     string
	Summary  string
	Body     string
	Actions  []string
	Hints    map[string]dbus.Variant
	Timeout  int32
}

// fakeServer is a notification daemon that records the Notify calls.
type fakeServer struct {
	mu     sync.Mutex
	calls  []notifyArgs
	nextID uint32
	called chan struct{}   // receives for every call, if not nil
	hold   <-chan struct{} // Notify waits on it, if not nil
}

func (s *fakeServer) Notify(appName string, replaces uint32, icon, summary, body string,
	actions []string, hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	s.mu.Lock()
	s.calls = append(s.calls, notifyArgs{appName, replaces, icon, summary, body, actions, hints, timeout})
	s.nextID++
	id := s.nextID
	if replaces != 0 {
		id = replaces
	}
	s.mu.Unlock()
	if s.called != nil {
		s.called <- struct{}{}
	}
	if s.hold != nil {
		<-s.hold
	}
	return id, nil
}

func (s *fakeServer) recorded() []notifyArgs {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notifyArgs(nil), s.calls...)
}

// serve exports s on its own connection to addr and owns the notification service's name.
func serve(t *testing.T, addr string, s *fakeServer) {
	t.Helper()
	conn := connect(t, addr)
	if err := conn.Export(s, objectPath, busName); err != nil {
		t.Fatalf("export: %v", err)
	}
	reply, err := conn.RequestName(busName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("request %s: reply %v, %v", busName, reply, err)
	}
}

func ended(status protocol.EndStatus, reason string, p protocol.Progress) protocol.Synchronization {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	return protocol.Synchronization{Session: "s1", Ended: &at, EndStatus: status, EndReason: reason, Progress: p}
}

func TestSendEnds(t *testing.T) {
	addr := dbustest.Start(t)
	srv := &fakeServer{}
	serve(t, addr, srv)
	n := New(connect(t, addr))

	prog := protocol.Progress{TotalActions: 1240, FinishedActions: 1234, SyncedVolume: 3_650_722_202}
	tests := []struct {
		name     string
		sync     protocol.Synchronization
		errs     int
		summary  string
		body     string
		urgency  byte
		category string
	}{
		{"regular", ended(protocol.EndRegular, "", prog), 0,
			"Synchronization finished", "1,234 of 1,240 actions · 3.4 GiB synchronized", 1, "transfer.complete"},
		{"one error", ended(protocol.EndRegular, "", prog), 1,
			"Synchronization finished with 1 error", "1,234 of 1,240 actions · 3.4 GiB synchronized", 2, "transfer.error"},
		{"errors", ended(protocol.EndRegular, "", prog), 6,
			"Synchronization finished with 6 errors", "1,234 of 1,240 actions · 3.4 GiB synchronized", 2, "transfer.error"},
		{"aborted", ended(protocol.EndAborted, "", protocol.Progress{TotalActions: 1, FinishedActions: 0}), 0,
			"Synchronization aborted", "0 of 1 action", 1, "transfer.complete"},
		{"error", ended(protocol.EndError, "member laptop went away", protocol.Progress{TotalActions: 40, FinishedActions: 12, SyncedVolume: 1536}), 2,
			"Synchronization failed", "member laptop went away\n12 of 40 actions · 1.5 KiB synchronized · 2 errors", 2, "transfer.error"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := n.Send(context.Background(), ForEnd(tt.sync, tt.errs))
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if want := uint32(i + 1); id != want {
				t.Errorf("id = %d, want %d", id, want)
			}
			calls := srv.recorded()
			if len(calls) != i+1 {
				t.Fatalf("%d Notify calls, want %d", len(calls), i+1)
			}
			got := calls[i]
			if got.AppName != "Ferry" || got.Icon != "io.github.ferrysync.Ferry" || got.Replaces != 0 || got.Timeout != -1 || len(got.Actions) != 0 {
				t.Errorf("app %q icon %q replaces %d timeout %d actions %q, want Ferry ferry 0 -1 none",
					got.AppName, got.Icon, got.Replaces, got.Timeout, got.Actions)
			}
			if got.Summary != tt.summary {
				t.Errorf("summary = %q, want %q", got.Summary, tt.summary)
			}
			if got.Body != tt.body {
				t.Errorf("body = %q, want %q", got.Body, tt.body)
			}
			wantHints := map[string]any{"urgency": tt.urgency, "desktop-entry": "io.github.ferrysync.Ferry", "category": tt.category}
			if len(got.Hints) != len(wantHints) {
				t.Errorf("hints = %v, want %v", got.Hints, wantHints)
			}
			for k, want := range wantHints {
				if v, ok := got.Hints[k]; !ok || v.Value() != want {
					t.Errorf("hint %s = %v, want %v (%T)", k, v, want, want)
				}
			}
		})
	}
}

func TestSendReplaces(t *testing.T) {
	addr := dbustest.Start(t)
	srv := &fakeServer{}
	serve(t, addr, srv)
	n := New(connect(t, addr))

	id, err := n.Send(context.Background(), Notification{Summary: "a", Replaces: 7})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if id != 7 {
		t.Errorf("id = %d, want 7", id)
	}
	got := srv.recorded()[0]
	if got.Replaces != 7 {
		t.Errorf("replaces_id = %d, want 7", got.Replaces)
	}
	if _, ok := got.Hints["category"]; ok {
		t.Errorf("category hint sent without a category: %v", got.Hints)
	}
}

func TestSendNoServer(t *testing.T) {
	n := New(connect(t, dbustest.Start(t)))
	_, err := n.Send(context.Background(), Notification{Summary: "hello"})
	if !errors.Is(err, ErrNoServer) {
		t.Fatalf("err = %v, want ErrNoServer", err)
	}
	var dbusErr dbus.Error
	if !errors.As(err, &dbusErr) || dbusErr.Name != "org.freedesktop.DBus.Error.ServiceUnknown" {
		t.Errorf("err = %v, want the bus' ServiceUnknown", err)
	}
	if !strings.Contains(err.Error(), "no notification server") {
		t.Errorf("err = %q, want it to say there is no notification server", err)
	}
}

func TestSendCancelled(t *testing.T) {
	addr := dbustest.Start(t)
	hold := make(chan struct{})
	srv := &fakeServer{called: make(chan struct{}, 1), hold: hold}
	serve(t, addr, srv)
	t.Cleanup(func() { close(hold) }) // before the connections close
	n := New(connect(t, addr))

	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := n.Send(ctx, Notification{Summary: "x"}); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})

	t.Run("waiting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, err := n.Send(ctx, Notification{Summary: "x"})
			done <- err
		}()
		select {
		case <-srv.called:
		case <-time.After(10 * time.Second):
			t.Fatal("the server got no Notify call within 10s")
		}
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Send did not return within 10s of cancelling")
		}
	})
}

func TestConnect(t *testing.T) {
	addr := dbustest.Start(t)
	srv := &fakeServer{}
	serve(t, addr, srv)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n, err := Connect(ctx)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer n.Close()
	if id, err := n.Send(ctx, Notification{Summary: "hello"}); err != nil || id != 1 {
		t.Fatalf("Send = %d, %v; want 1, nil", id, err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := n.Send(ctx, Notification{Summary: "closed"}); err == nil {
		t.Error("Send after Close succeeded")
	}
}

func TestConnectNoSessionBus(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	_, err := Connect(context.Background())
	if !errors.Is(err, ErrNoSessionBus) {
		t.Fatalf("err = %v, want ErrNoSessionBus", err)
	}

	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "none"))
	_, err = Connect(context.Background())
	if err == nil || !strings.Contains(err.Error(), "connect to the session bus") {
		t.Fatalf("err = %v, want a failure to connect to the session bus", err)
	}
}

func TestForEnd(t *testing.T) {
	tests := []struct {
		name          string
		sync          protocol.Synchronization
		errs          int
		summary, body string
		urgency       Urgency
	}{
		{"nothing", ended(protocol.EndRegular, "", protocol.Progress{}), 0,
			"Synchronization finished", "0 of 0 actions", UrgencyNormal},
		{"one", ended(protocol.EndRegular, "", protocol.Progress{TotalActions: 1, FinishedActions: 1, SyncedVolume: 10}), 0,
			"Synchronization finished", "1 of 1 action · 10 B synchronized", UrgencyNormal},
		{"many errors", ended(protocol.EndRegular, "", protocol.Progress{TotalActions: 2000, FinishedActions: 2000}), 1500,
			"Synchronization finished with 1,500 errors", "2,000 of 2,000 actions", UrgencyCritical},
		{"aborted with errors", ended(protocol.EndAborted, "", protocol.Progress{TotalActions: 3, FinishedActions: 2, SyncedVolume: 1 << 20}), 1,
			"Synchronization aborted", "2 of 3 actions · 1.0 MiB synchronized · 1 error", UrgencyCritical},
		{"failed without reason", ended(protocol.EndError, "", protocol.Progress{TotalActions: 3}), 0,
			"Synchronization failed", "0 of 3 actions", UrgencyCritical},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := ForEnd(tt.sync, tt.errs)
			if n.Summary != tt.summary || n.Body != tt.body || n.Urgency != tt.urgency {
				t.Errorf("ForEnd = %q / %q / %d, want %q / %q / %d",
					n.Summary, n.Body, n.Urgency, tt.summary, tt.body, tt.urgency)
			}
		})
	}
}

func TestOfNamesTheProfile(t *testing.T) {
	n := ForEnd(ended(protocol.EndAborted, "", protocol.Progress{}), 0)
	if got := n.Of("Weekly backup").Summary; got != "Weekly backup: synchronization aborted" {
		t.Errorf("Of = %q", got)
	}
	if got := n.Of(""); got != n {
		t.Errorf("Of(\"\") = %+v, want %+v", got, n)
	}
}

func TestFormat(t *testing.T) {
	for n, want := range map[int]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := formatInt(n); got != want {
			t.Errorf("formatInt(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3_650_722_202: "3.4 GiB", 1 << 60: "1.0 EiB"} {
		if got := bytesize.Format(n); got != want {
			t.Errorf("bytesize.Format(%d) = %q, want %q", n, got, want)
		}
	}
}
