// Command desktop stands in for the parts of a desktop that Ferry's end-to-end run needs beside
// Xvfb and a notification daemon: a tray host and a window manager's close button.
//
//	desktop tray-host                 # owns org.kde.StatusNotifierWatcher on the session bus and
//	                                  # prints "registered SENDER PATH" for each tray item
//	desktop tray-click SENDER LABEL   # clicks the menu item LABEL of the item of SENDER
//	desktop close WINDOW              # asks the X window WINDOW to close (WM_DELETE_WINDOW)
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/godbus/dbus/v5"
)

func main() {
	var err error
	switch {
	case len(os.Args) == 2 && os.Args[1] == "tray-host":
		err = trayHost()
	case len(os.Args) == 4 && os.Args[1] == "tray-click":
		err = trayClick(os.Args[2], os.Args[3])
	case len(os.Args) == 3 && os.Args[1] == "close":
		var id uint64
		id, err = strconv.ParseUint(os.Args[2], 0, 32)
		if err == nil {
			err = closeWindow(uint32(id))
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: desktop tray-host | tray-click SENDER LABEL | close WINDOW")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "desktop:", err)
		os.Exit(1)
	}
}

const watcherName = "org.kde.StatusNotifierWatcher"

// watcher is the StatusNotifierWatcher that tray items register with.
type watcher struct{}

func (watcher) RegisterStatusNotifierItem(sender dbus.Sender, path string) *dbus.Error {
	fmt.Printf("registered %s %s\n", sender, path)
	return nil
}

func (watcher) RegisterStatusNotifierHost(dbus.Sender, string) *dbus.Error { return nil }

// trayHost serves the watcher until SIGTERM or SIGINT.
func trayHost() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return fmt.Errorf("connect to the session bus: %w", err)
	}
	defer conn.Close()
	if err := conn.Export(watcher{}, "/StatusNotifierWatcher", watcherName); err != nil {
		return fmt.Errorf("export the watcher: %w", err)
	}
	reply, err := conn.RequestName(watcherName, dbus.NameFlagDoNotQueue)
	if err != nil {
		return fmt.Errorf("own %s: %w", watcherName, err)
	}
	if reply != dbus.RequestNameReplyPrimaryOwner {
		return fmt.Errorf("own %s: another process has it", watcherName)
	}
	fmt.Println("watching", watcherName)
	<-ctx.Done()
	return nil
}

// menuNode is one com.canonical.dbusmenu layout node.
type menuNode struct {
	ID       int32
	Props    map[string]dbus.Variant
	Children []dbus.Variant
}

// trayClick clicks the menu item labelled label of the tray item that sender registered.
func trayClick(sender, label string) error {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return fmt.Errorf("connect to the session bus: %w", err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	menu := conn.Object(sender, "/StatusNotifierItem/menu")
	var (
		rev  uint32
		root menuNode
	)
	if err := menu.CallWithContext(ctx, "com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &root); err != nil {
		return fmt.Errorf("read the menu of %s: %w", sender, err)
	}
	var labels []string
	for _, c := range root.Children {
		var n menuNode
		if err := dbus.Store([]any{c.Value()}, &n); err != nil {
			return fmt.Errorf("read a menu item: %w", err)
		}
		text, _ := n.Props["label"].Value().(string)
		if text != label {
			labels = append(labels, text)
			continue
		}
		if on, ok := n.Props["enabled"].Value().(bool); ok && !on {
			return fmt.Errorf("the menu item %q is disabled", label)
		}
		call := menu.CallWithContext(ctx, "com.canonical.dbusmenu.Event", 0, n.ID, "clicked", dbus.MakeVariant(""), uint32(0))
		if call.Err != nil {
			return fmt.Errorf("click %q: %w", label, call.Err)
		}
		fmt.Println("clicked", label)
		return nil
	}
	return fmt.Errorf("no menu item %q among %q", label, labels)
}
