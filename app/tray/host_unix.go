//go:build (linux || freebsd || openbsd || netbsd) && !android

package tray

import (
	"context"
	"fmt"

	"github.com/godbus/dbus/v5"

	"github.com/ferrysync/ferry/app/internal/sessionbus"
)

const watcherName = "org.kde.StatusNotifierWatcher"

// connectHost checks that a StatusNotifierWatcher is on the session bus to show the icon, on a
// connection of its own, and returns the shared session bus connection that systray uses.
func connectHost(ctx context.Context) (*dbus.Conn, error) {
	// Find the bus first: dbus.SessionBus would otherwise autolaunch one.
	addr, err := sessionbus.Address()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("connect to the session bus: %w", err)
	}
	probe, err := dbus.Connect(addr, dbus.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("%w: connect to %s: %w", ErrNoSessionBus, addr, err)
	}
	defer probe.Close()
	var has bool
	call := probe.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, watcherName)
	if err := call.Store(&has); err != nil {
		return nil, fmt.Errorf("look for %s on the session bus: %w", watcherName, err)
	}
	if !has {
		return nil, ErrNoHost
	}
	conn, err := dbus.SessionBus()
	if err != nil {
		return nil, fmt.Errorf("%w: connect to %s: %w", ErrNoSessionBus, addr, err)
	}
	return conn, nil
}
