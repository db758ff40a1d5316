package sessionbus

import (
	"errors"
	"net"
	"path/filepath"
	"testing"
)

func TestAddress(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/1000/bus")
	if addr, err := Address(); err != nil || addr != "unix:path=/run/user/1000/bus" {
		t.Fatalf("from the environment: %q, %v", addr, err)
	}

	dir := t.TempDir()
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "autolaunch:")
	t.Setenv("XDG_RUNTIME_DIR", dir)
	if _, err := Address(); !errors.Is(err, ErrNoBus) {
		t.Fatalf("no bus socket: %v, want ErrNoBus", err)
	}
	l, err := net.Listen("unix", filepath.Join(dir, "bus"))
	if err != nil {
		t.Skip("no unix sockets here:", err)
	}
	defer l.Close()
	if addr, err := Address(); err != nil || addr != "unix:path="+filepath.Join(dir, "bus") {
		t.Fatalf("from $XDG_RUNTIME_DIR: %q, %v", addr, err)
	}
}
