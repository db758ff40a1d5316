package tray

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrysync/ferry/app/internal/dbustest"
	"github.com/godbus/dbus/v5"
)

// wait bounds every wait for something to happen on the bus.
const wait = 10 * time.Second

func connect(t *testing.T, addr string) *dbus.Conn {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("connect to %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// watcher is the host side a desktop provides: org.kde.StatusNotifierWatcher, which items
// register with.
type watcher struct{ registered chan registration }

type registration struct{ sender, service string }

func (w *watcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	w.registered <- registration{string(sender), service}
	return nil
}

// serveWatcher exports a watcher on its own connection and owns the watcher's name.
func serveWatcher(t *testing.T, addr string) *watcher {
	t.Helper()
	conn := connect(t, addr)
	w := &watcher{registered: make(chan registration, 8)}
	if err := conn.Export(w, "/StatusNotifierWatcher", watcherName); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName(watcherName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own %s: reply %v, %v", watcherName, reply, err)
	}
	return w
}

type pixmap struct {
	W, H int32
	Pix  []byte
}

type toolTip struct {
	Icon        string
	Pixmaps     []pixmap
	Title, Text string
}

// menuNode is one com.canonical.dbusmenu layout node.
type menuNode struct {
	ID       int32
	Props    map[string]dbus.Variant
	Children []dbus.Variant
}

func (n menuNode) label() string {
	if n.Props["type"].Value() == "separator" {
		return "---"
	}
	s, _ := n.Props["label"].Value().(string)
	return s
}

func (n menuNode) enabled() bool {
	on, ok := n.Props["enabled"].Value().(bool)
	return !ok || on // enabled unless said otherwise
}

func (n menuNode) visible() bool {
	on, ok := n.Props["visible"].Value().(bool)
	return !ok || on
}

// shown are the labels of the visible menu items.
func (h *host) shown(t *testing.T) []string {
	t.Helper()
	var labels []string
	for _, n := range h.layout(t) {
		if n.visible() {
			labels = append(labels, n.label())
		}
	}
	return labels
}

// host reads and drives the tray item over the bus, as a desktop's panel does.
type host struct {
	conn    *dbus.Conn
	item    dbus.BusObject
	menu    dbus.BusObject
	signals chan *dbus.Signal
}

func newHost(t *testing.T, addr, itemName string) *host {
	conn := connect(t, addr)
	h := &host{
		conn:    conn,
		item:    conn.Object(itemName, "/StatusNotifierItem"),
		menu:    conn.Object(itemName, "/StatusNotifierItem/menu"),
		signals: make(chan *dbus.Signal, 256),
	}
	conn.Signal(h.signals)
	if err := conn.AddMatchSignal(dbus.WithMatchSender(itemName)); err != nil {
		t.Fatal(err)
	}
	if err := conn.AddMatchSignal(dbus.WithMatchSender("org.freedesktop.DBus"),
		dbus.WithMatchMember("NameOwnerChanged"), dbus.WithMatchArg(0, itemName)); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *host) prop(t *testing.T, name string, dest any) {
	t.Helper()
	v, err := h.item.GetProperty("org.kde.StatusNotifierItem." + name)
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	if err := v.Store(dest); err != nil {
		t.Fatalf("read %s (%s): %v", name, v.Signature(), err)
	}
}

func (h *host) toolTip(t *testing.T) toolTip {
	t.Helper()
	var tip toolTip
	h.prop(t, "ToolTip", &tip)
	return tip
}

func (h *host) iconPixmap(t *testing.T) pixmap {
	t.Helper()
	var px []pixmap
	h.prop(t, "IconPixmap", &px)
	if len(px) != 1 {
		t.Fatalf("IconPixmap has %d images, want 1", len(px))
	}
	return px[0]
}

// readsMenu skips a test that reads the menu over D-Bus under the race detector:
// fyne.io/systray refreshes its menu once, 150 ms after the first GetLayout, and writes the
// menu's version there without the lock GetLayout reads it under, so the detector reports the
// library whenever a test reads the menu past that point. The run without the detector (make
// test) runs these tests.
func readsMenu(t *testing.T) {
	t.Helper()
	if raceDetector {
		t.Skip("fyne.io/systray races with itself on its first menu refresh")
	}
}

// layout returns the menu's items, in order.
func (h *host) layout(t *testing.T) []menuNode {
	t.Helper()
	var rev uint32
	var root menuNode
	call := h.menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{})
	if err := call.Store(&rev, &root); err != nil {
		t.Fatalf("GetLayout: %v", err)
	}
	items := make([]menuNode, len(root.Children))
	for i, c := range root.Children {
		if err := dbus.Store([]any{c.Value()}, &items[i]); err != nil {
			t.Fatalf("menu item %d (%s): %v", i, c.Signature(), err)
		}
	}
	return items
}

// item returns the menu item labelled label.
func (h *host) menuItem(t *testing.T, label string) menuNode {
	t.Helper()
	for _, n := range h.layout(t) {
		if n.label() == label {
			return n
		}
	}
	t.Fatalf("no menu item %q", label)
	return menuNode{}
}

func (h *host) click(t *testing.T, label string) {
	t.Helper()
	id := h.menuItem(t, label).ID
	call := h.menu.Call("com.canonical.dbusmenu.Event", 0, id, "clicked", dbus.MakeVariant(""), uint32(0))
	if call.Err != nil {
		t.Fatalf("click %q: %v", label, call.Err)
	}
}

// expectSignal waits for a signal named member that matches ok, skipping others.
func (h *host) expectSignal(t *testing.T, member string, ok func(*dbus.Signal) bool) {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case s := <-h.signals:
			if s.Name == member && (ok == nil || ok(s)) {
				return
			}
		case <-deadline:
			t.Fatalf("no %s signal within %v", member, wait)
		}
	}
}

// drainSignals forgets the signals received so far.
func (h *host) drainSignals() {
	for {
		select {
		case <-h.signals:
		default:
			return
		}
	}
}

// argb is img as a StatusNotifierItem pixmap: ARGB32 in network byte order.
func argb(t *testing.T, data []byte) pixmap {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	px := pixmap{W: int32(b.Dx()), H: int32(b.Dy())}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			if a != 0 && a != 0xffff {
				t.Fatalf("pixel (%d,%d) is partly transparent", x, y)
			}
			px.Pix = append(px.Pix, byte(a>>8), byte(r>>8), byte(g>>8), byte(bl>>8))
		}
	}
	return px
}

func received(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(wait):
		t.Fatalf("%s did not run within %v", what, wait)
	}
}

// trayTested is set by the first TestTray of the process (go test -count=N runs it N times).
var trayTested atomic.Bool

// TestTray is one test because systray lets a process start one tray.
func TestTray(t *testing.T) {
	if trayTested.Swap(true) {
		t.Skip("systray starts once per process: TestTray ran already")
	}
	ctx := context.Background()

	t.Run("no session bus", func(t *testing.T) {
		t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
		t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
		tr, err := Start(ctx, Options{})
		if !errors.Is(err, ErrNoSessionBus) {
			t.Fatalf("err = %v, want ErrNoSessionBus", err)
		}
		tr.SetState(Running) // a nil tray ignores every call
		tr.SetAbortEnabled(true)
		tr.Close()
		t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "none"))
		if _, err := Start(ctx, Options{}); !errors.Is(err, ErrNoSessionBus) {
			t.Fatalf("err = %v, want ErrNoSessionBus", err)
		}
	})

	addr := dbustest.Start(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)

	t.Run("no watcher", func(t *testing.T) {
		if _, err := Start(ctx, Options{}); !errors.Is(err, ErrNoHost) {
			t.Fatalf("err = %v, want ErrNoHost", err)
		}
	})

	t.Run("bad icon", func(t *testing.T) {
		_, err := Start(ctx, Options{Icons: Icons{Running: []byte("GIF89a")}})
		if err == nil || !strings.Contains(err.Error(), "running icon is not a PNG") {
			t.Fatalf("err = %v, want the running icon refused", err)
		}
	})

	w := serveWatcher(t, addr)
	shows, aborts, quits := make(chan struct{}, 8), make(chan struct{}, 8), make(chan struct{}, 8)
	runs := make(chan string, 8)
	release := make(chan struct{}) // OnShow blocks until it is closed
	var abortCount atomic.Int32
	tr, err := Start(ctx, Options{
		OnShow: func() { shows <- struct{}{}; <-release },
		OnAbort: func() {
			abortCount.Add(1)
			aborts <- struct{}{}
		},
		OnQuit: func() { quits <- struct{}{} },
		OnRun:  func(name string) { runs <- name },
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(tr.Close)
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()

	var reg registration
	select {
	case reg = <-w.registered:
	case <-time.After(wait):
		t.Fatalf("the item did not register with the watcher within %v", wait)
	}
	if reg.service != "/StatusNotifierItem" {
		t.Errorf("registered service %q, want the item's path", reg.service)
	}
	h := newHost(t, addr, reg.sender)

	t.Run("well-known name", func(t *testing.T) {
		var owner string
		name := fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", os.Getpid())
		if err := h.conn.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, name).Store(&owner); err != nil {
			t.Fatalf("GetNameOwner(%s): %v", name, err)
		}
		if owner != reg.sender {
			t.Fatalf("%s is owned by %s, want the registered item %s", name, owner, reg.sender)
		}
	})

	t.Run("properties", func(t *testing.T) {
		var title, id string
		h.prop(t, "Title", &title)
		h.prop(t, "Id", &id)
		if title != "Ferry" || id != "Ferry" {
			t.Errorf("Title %q, Id %q, want Ferry", title, id)
		}
		if tip := h.toolTip(t); tip.Title != "Ferry — idle" {
			t.Errorf("tooltip %q, want %q", tip.Title, "Ferry — idle")
		}
		var menuPath dbus.ObjectPath
		h.prop(t, "Menu", &menuPath)
		if menuPath != "/StatusNotifierItem/menu" {
			t.Errorf("Menu %q", menuPath)
		}
		if got, want := h.iconPixmap(t), argb(t, defaultIdle); !pixmapEqual(got, want) {
			t.Errorf("icon is not the idle icon (%dx%d)", got.W, got.H)
		}
	})

	t.Run("state", func(t *testing.T) {
		for _, c := range []struct {
			state State
			icon  []byte
			tip   string
		}{
			{Running, defaultRunning, "Ferry — synchronizing"},
			{Error, defaultError, "Ferry — error"},
			{Idle, defaultIdle, "Ferry — idle"},
		} {
			h.drainSignals()
			tr.SetState(c.state)
			// A panel rereads the icon and tooltip when told to.
			h.expectSignal(t, "org.kde.StatusNotifierItem.NewIcon", nil)
			h.expectSignal(t, "org.kde.StatusNotifierItem.NewToolTip", nil)
			if got, want := h.iconPixmap(t), argb(t, c.icon); !pixmapEqual(got, want) {
				t.Errorf("%v: icon differs from the %v icon", c.state, c.state)
			}
			if tip := h.toolTip(t); tip.Title != c.tip {
				t.Errorf("%v: tooltip %q, want %q", c.state, tip.Title, c.tip)
			}
		}
		if pixmapEqual(argb(t, defaultIdle), argb(t, defaultRunning)) ||
			pixmapEqual(argb(t, defaultRunning), argb(t, defaultError)) ||
			pixmapEqual(argb(t, defaultIdle), argb(t, defaultError)) {
			t.Error("two states share an icon")
		}
	})

	t.Run("menu", func(t *testing.T) {
		readsMenu(t)
		labels := h.shown(t)
		want := []string{"Show Ferry", "Abort synchronization", "---", "Quit"}
		if strings.Join(labels, "|") != strings.Join(want, "|") {
			t.Fatalf("menu %q, want %q", labels, want)
		}
		if !h.menuItem(t, labelShow).enabled() || !h.menuItem(t, labelQuit).enabled() {
			t.Error("Show or Quit is disabled")
		}
		if h.menuItem(t, labelAbort).enabled() {
			t.Error("Abort is enabled before any run")
		}
		abortID := h.menuItem(t, labelAbort).ID
		for _, on := range []bool{true, false, true} {
			h.drainSignals()
			tr.SetAbortEnabled(on)
			h.expectSignal(t, "com.canonical.dbusmenu.ItemsPropertiesUpdated", func(s *dbus.Signal) bool {
				var updated []struct {
					ID    int32
					Props map[string]dbus.Variant
				}
				if len(s.Body) < 1 || dbus.Store(s.Body[:1], &updated) != nil {
					return false
				}
				for _, u := range updated {
					if u.ID == abortID && (menuNode{Props: u.Props}).enabled() == on {
						return true
					}
				}
				return false
			})
			if got := h.menuItem(t, labelAbort).enabled(); got != on {
				t.Errorf("SetAbortEnabled(%v): enabled = %v", on, got)
			}
		}
	})

	t.Run("clicks", func(t *testing.T) {
		readsMenu(t)
		tr.SetAbortEnabled(true)
		h.click(t, labelAbort)
		received(t, aborts, "OnAbort")

		// A click on a disabled item (a menu shown before the run ended) does nothing.
		tr.SetAbortEnabled(false)
		h.click(t, labelAbort)

		// OnShow blocks until release: the tray still serves clicks meanwhile.
		h.click(t, labelShow)
		received(t, shows, "OnShow")
		h.click(t, labelQuit)
		received(t, quits, "OnQuit")
		h.click(t, labelShow)
		received(t, shows, "a second OnShow while the first runs")

		// A click on the icon itself shows the window.
		if call := h.item.Call("org.kde.StatusNotifierItem.Activate", 0, int32(10), int32(10)); call.Err != nil {
			t.Fatalf("Activate: %v", call.Err)
		}
		received(t, shows, "OnShow on Activate")
		close(release)
	})

	t.Run("profiles", func(t *testing.T) {
		readsMenu(t)
		layout := func(names []string, want ...string) {
			t.Helper()
			h.drainSignals()
			tr.SetProfiles(names)
			h.expectSignal(t, "com.canonical.dbusmenu.ItemsPropertiesUpdated", nil)
			if got := h.shown(t); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("menu %q, want %q", got, want)
			}
		}
		layout([]string{"Weekly backup", "my_docs"},
			"Show Ferry", "Abort synchronization", "Run Weekly backup", "Run my__docs", "---", "Quit")
		h.click(t, "Run my__docs")
		select {
		case name := <-runs:
			if name != "my_docs" {
				t.Fatalf("OnRun(%q), want my_docs", name)
			}
		case <-time.After(wait):
			t.Fatal("OnRun did not run")
		}
		stale := h.menuItem(t, "Run my__docs").ID
		layout([]string{"Weekly backup"}, "Show Ferry", "Abort synchronization", "Run Weekly backup", "---", "Quit")
		// A click on the entry hidden since calls nothing; the next click does.
		if call := h.menu.Call("com.canonical.dbusmenu.Event", 0, stale, "clicked", dbus.MakeVariant(""), uint32(0)); call.Err != nil {
			t.Fatal(call.Err)
		}
		h.click(t, "Run Weekly backup")
		select {
		case name := <-runs:
			if name != "Weekly backup" {
				t.Fatalf("OnRun(%q) after the stale click, want Weekly backup", name)
			}
		case <-time.After(wait):
			t.Fatal("OnRun did not run")
		}
		var many []string
		for i := range MaxProfiles + 2 {
			many = append(many, fmt.Sprintf("p%d", i))
		}
		tr.SetProfiles(many)
		tr.SetProfiles(nil)
		h.expectSignal(t, "com.canonical.dbusmenu.ItemsPropertiesUpdated", nil)
	})

	t.Run("second start", func(t *testing.T) {
		if _, err := Start(ctx, Options{}); !errors.Is(err, ErrStarted) {
			t.Fatalf("err = %v, want ErrStarted", err)
		}
	})

	t.Run("close", func(t *testing.T) {
		tr.Close()
		// The item leaves the bus: its connection's name loses its owner.
		h.expectSignal(t, "org.freedesktop.DBus.NameOwnerChanged", func(s *dbus.Signal) bool {
			return len(s.Body) == 3 && s.Body[0] == reg.sender && s.Body[2] == ""
		})
		tr.SetState(Running) // no effect, no panic
		tr.SetAbortEnabled(true)
		tr.Close()
		if _, err := Start(ctx, Options{}); !errors.Is(err, ErrStarted) {
			t.Fatalf("Start after Close: err = %v, want ErrStarted", err)
		}
		want := int32(1) // the click on the enabled item; none when clicks was skipped
		if raceDetector {
			want = 0
		}
		if n := abortCount.Load(); n != want {
			t.Errorf("OnAbort ran %d times, want %d (the click on the disabled item counted)", n, want)
		}
	})
}

func pixmapEqual(a, b pixmap) bool {
	return a.W == b.W && a.H == b.H && bytes.Equal(a.Pix, b.Pix)
}

// TestIconsAreDrawn checks that the embedded icons are what icons/draw.go draws today, and
// that they suit a tray: 32×32, every pixel opaque or clear.
func TestIconsAreDrawn(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(goCmd, "run", "icons/draw.go", "-o", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run icons/draw.go: %v\n%s", err, out)
	}
	for name, embedded := range map[string][]byte{"idle.png": defaultIdle, "running.png": defaultRunning, "error.png": defaultError} {
		drawn, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, want := decodeNRGBA(t, embedded), decodeNRGBA(t, drawn)
		if got.Bounds() != image.Rect(0, 0, 32, 32) {
			t.Errorf("%s is %v, want 32×32", name, got.Bounds())
		}
		if !bytes.Equal(got.Pix, want.Pix) {
			t.Errorf("icons/%s differs from what icons/draw.go draws: run go generate ./app/tray", name)
		}
		for i := 3; i < len(got.Pix); i += 4 {
			if a := got.Pix[i]; a != 0 && a != 255 {
				t.Errorf("%s: pixel %d has alpha %d", name, i/4, a)
				break
			}
		}
	}
}

func decodeNRGBA(t *testing.T, data []byte) *image.NRGBA {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	out := image.NewNRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			out.Set(x, y, img.At(x, y))
		}
	}
	return out
}
