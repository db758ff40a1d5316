// Package notify shows desktop notifications through org.freedesktop.Notifications on the
// D-Bus session bus.
//
// The desktop app connects once at startup and tells the user when a synchronization ends:
// after Synchronize returns its Outcome (or on the orchestrator's Ended event), it sends
// ForEnd of the ended run:
//
//	n, err := notify.Connect(ctx) // ctx: the Wails context; no session bus is not fatal
//	…
//	out, err := engine.Synchronize(ctx, run)
//	if err == nil && n != nil {
//		if _, err := n.Send(ctx, notify.ForEnd(out.Sync, len(out.Errors))); err != nil {
//			log.Printf("notification: %v", err) // a missing notification server is not fatal
//		}
//	}
//	…
//	n.Close() // on shutdown
//
// Pass ev.Sync and ev.Sync.Progress.ErrorActions instead for an Ended event, to count the
// errors of every member rather than this member's.
package notify

import (
	"context"
	"errors"
	"fmt"

	"github.com/godbus/dbus/v5"

	"github.com/ferrysync/ferry/app/internal/sessionbus"
)

// The notification service, and what Ferry tells it about itself.
const (
	busName    = "org.freedesktop.Notifications"
	objectPath = dbus.ObjectPath("/org/freedesktop/Notifications")
	notifyCall = busName + ".Notify"

	AppName      = "Ferry"
	AppID        = "io.github.ferrysync.Ferry"
	AppIcon      = AppID // build/linux/io.github.ferrysync.Ferry.desktop's Icon
	DesktopEntry = AppID // that desktop entry's name, without .desktop
)

// Urgency is the notification's urgency hint.
type Urgency byte

const (
	UrgencyLow      Urgency = 0
	UrgencyNormal   Urgency = 1
	UrgencyCritical Urgency = 2
)

// Notification is what Send shows. Summary and Body are plain text.
type Notification struct {
	Summary  string
	Body     string
	Urgency  Urgency
	Category string // the spec's category hint, e.g. "transfer.complete"; none if empty
	Replaces uint32 // id of a notification to replace, 0 for a new one
}

var (
	// ErrNoSessionBus: the session bus' address is unknown (no desktop session).
	ErrNoSessionBus = sessionbus.ErrNoBus
	// ErrNoServer: nobody serves org.freedesktop.Notifications on the bus.
	ErrNoServer = errors.New("no notification server on the session bus")
)

// Notifier sends notifications over one bus connection. It is safe for concurrent use.
type Notifier struct {
	conn *dbus.Conn
	own  bool // Close closes conn
}

// New returns a Notifier that uses conn; Close leaves conn open.
func New(conn *dbus.Conn) *Notifier {
	return &Notifier{conn: conn}
}

// Connect connects to the session bus named by DBUS_SESSION_BUS_ADDRESS, or to
// $XDG_RUNTIME_DIR/bus when it is unset; it never starts a bus. The connection is closed when
// ctx is done or on Close.
func Connect(ctx context.Context) (*Notifier, error) {
	addr, err := sessionbus.Address()
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("notify: connect to the session bus: %w", err)
	}
	conn, err := dbus.Connect(addr, dbus.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("notify: connect to the session bus at %s: %w", addr, err)
	}
	return &Notifier{conn: conn, own: true}, nil
}

// Close closes the connection if Connect opened it.
func (n *Notifier) Close() error {
	if !n.own {
		return nil
	}
	if err := n.conn.Close(); err != nil {
		return fmt.Errorf("notify: close the session bus connection: %w", err)
	}
	return nil
}

// Send shows nt and returns its id, which a later notification may replace. It waits for the
// notification server's answer, at most until ctx is done.
func (n *Notifier) Send(ctx context.Context, nt Notification) (uint32, error) {
	hints := map[string]dbus.Variant{
		"urgency":       dbus.MakeVariant(byte(nt.Urgency)),
		"desktop-entry": dbus.MakeVariant(DesktopEntry),
	}
	if nt.Category != "" {
		hints["category"] = dbus.MakeVariant(nt.Category)
	}
	call := n.conn.Object(busName, objectPath).CallWithContext(ctx, notifyCall, 0,
		AppName, nt.Replaces, AppIcon, nt.Summary, nt.Body,
		[]string{}, hints, int32(-1))
	var id uint32
	if err := call.Store(&id); err != nil {
		var dbusErr dbus.Error
		if errors.As(err, &dbusErr) && (dbusErr.Name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
			dbusErr.Name == "org.freedesktop.DBus.Error.NameHasNoOwner") {
			err = fmt.Errorf("%w: %w", ErrNoServer, err)
		}
		return 0, fmt.Errorf("notify: send %q: %w", nt.Summary, err)
	}
	return id, nil
}
