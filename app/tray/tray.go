// Package tray shows Ferry's icon in the desktop's notification area, with a menu to show the
// window, run a saved profile, abort the running synchronization and quit.
//
// On Linux the icon is a D-Bus StatusNotifierItem with a com.canonical.dbusmenu menu
// (fyne.io/systray): it needs no GTK and no thread of its own, so it runs beside Wails' GTK
// loop. A desktop shows it when it runs a StatusNotifierWatcher (KDE, Xfce, Cinnamon, GNOME
// with the AppIndicator extension…).
//
// The tray is built and tested for Linux; on Windows systray wants ICO icons, not these PNGs.
//
// systray is a process-wide singleton: Start may succeed once per process. A later Start,
// even after Close, returns ErrStarted. A Start that failed touched nothing and may be retried.
//
//	t, err := tray.Start(ctx, tray.Options{OnShow: show, OnAbort: abort, OnQuit: quit})
//	if err != nil {
//		log.Printf("no tray icon: %v", err) // t is nil, and its methods do nothing
//	}
//	…
//	t.SetState(tray.Running)
//	t.SetAbortEnabled(true)
//	…
//	t.Close() // on shutdown
package tray

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"image/png"
	"log"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"fyne.io/systray"
	"github.com/godbus/dbus/v5"

	"github.com/ferrysync/ferry/app/internal/sessionbus"
)

//go:generate go run icons/draw.go -o icons

var (
	//go:embed icons/idle.png
	defaultIdle []byte
	//go:embed icons/running.png
	defaultRunning []byte
	//go:embed icons/error.png
	defaultError []byte
)

// State is what the icon shows.
type State int

const (
	Idle    State = iota // no synchronization runs
	Running              // a synchronization runs
	Error                // the last synchronization ended with errors
)

func (s State) String() string {
	switch s {
	case Idle:
		return "idle"
	case Running:
		return "synchronizing"
	case Error:
		return "error"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Icons are PNG images for each state; an empty one is replaced by Ferry's built-in icon.
// Keep every pixel fully opaque or fully clear: on Linux, systray alters the colour of partly
// transparent pixels.
type Icons struct{ Idle, Running, Error []byte }

// Options configure the tray. The callbacks run on their own goroutine, one per click, so they
// may block; a nil callback ignores the click.
type Options struct {
	Title   string // "Ferry" when empty
	Icons   Icons
	OnShow  func() // "Show Ferry", and a click on the icon itself
	OnAbort func() // "Abort synchronization"
	OnQuit  func() // "Quit"
	// OnRun runs a profile: "Run <name>", one entry for each of the names SetProfiles gave.
	OnRun func(name string)
}

// Menu labels and the tooltip's separator.
const (
	labelShow    = "Show Ferry"
	labelAbort   = "Abort synchronization"
	labelQuit    = "Quit"
	labelRun     = "Run "
	defaultTitle = "Ferry"
	tooltipSep   = " — "
)

var (
	// ErrNoSessionBus: there is no D-Bus session bus to show the icon on.
	ErrNoSessionBus = sessionbus.ErrNoBus
	// ErrNoHost: nothing on the session bus shows tray icons (no StatusNotifierWatcher).
	ErrNoHost = errors.New("the desktop shows no tray icons (no org.kde.StatusNotifierWatcher on the session bus)")
	// ErrStarted: Start already succeeded in this process.
	ErrStarted = errors.New("the tray was already started in this process")
)

// MaxProfiles is the most profiles the menu lists.
const MaxProfiles = 8

// started mirrors systray's own process-wide state: it can be started once.
var started atomic.Bool

// Tray is the running tray icon. Its methods are safe for concurrent use and do nothing after
// Close or on a nil *Tray (when Start failed).
type Tray struct {
	title string
	icons Icons
	conn  *dbus.Conn // the session bus connection systray uses; nil where it uses none
	abort *systray.MenuItem
	runs  []*systray.MenuItem // the Run entries, hidden beyond the profiles
	end   func()

	namesMu sync.Mutex
	names   []string // the profile of each Run entry

	abortEnabled atomic.Bool // a click on the disabled abort item (a stale menu) is ignored

	mu     sync.Mutex // serializes the calls into systray, and Close
	closed bool
	done   chan struct{} // closed by Close: stops the click dispatcher
	wg     sync.WaitGroup
}

// Start shows the icon in the Idle state with the abort item disabled. ctx bounds the start
// only; the icon stays until Close. It fails, touching nothing, when there is no session bus
// (ErrNoSessionBus), when nothing on it shows tray icons (ErrNoHost) or when an icon is not a
// PNG; and with ErrStarted when a tray was started before in this process.
func Start(ctx context.Context, o Options) (*Tray, error) {
	t := &Tray{title: o.Title, icons: o.Icons, done: make(chan struct{})}
	if t.title == "" {
		t.title = defaultTitle
	}
	if err := t.fillIcons(); err != nil {
		return nil, err
	}
	if started.Load() {
		return nil, fmt.Errorf("tray: %w", ErrStarted)
	}
	conn, err := connectHost(ctx)
	if err != nil {
		return nil, fmt.Errorf("tray: %w", err)
	}
	if !started.CompareAndSwap(false, true) {
		return nil, fmt.Errorf("tray: %w", ErrStarted)
	}
	t.conn = conn

	// Everything set before start is part of the first properties and layout a host reads.
	systray.SetTitle(t.title)
	systray.SetIcon(t.icons.Idle)
	systray.SetTooltip(t.tooltip(Idle))
	if o.OnShow != nil {
		show := o.OnShow
		systray.SetOnTapped(func() { go show() }) // called on the D-Bus goroutine
	}
	showItem := systray.AddMenuItem(labelShow, "")
	t.abort = systray.AddMenuItem(labelAbort, "")
	t.abort.Disable()
	for range MaxProfiles {
		it := systray.AddMenuItem(labelRun, "")
		it.Hide()
		t.runs = append(t.runs, it)
	}
	systray.AddSeparator()
	quitItem := systray.AddMenuItem(labelQuit, "")

	start, end := systray.RunWithExternalLoop(nil, nil)
	start() // on Linux: exports the item and registers it with the watcher; no loop of its own
	t.end = end

	t.wg.Add(1)
	go t.dispatch(clickable{showItem.ClickedCh, o.OnShow},
		clickable{t.abort.ClickedCh, o.OnAbort},
		clickable{quitItem.ClickedCh, o.OnQuit})
	for i, it := range t.runs {
		t.wg.Add(1)
		go t.dispatchRun(i, it.ClickedCh, o.OnRun)
	}
	return t, nil
}

// dispatchRun runs run with the profile of Run entry i at each of its clicks; a click on an
// entry hidden since (a stale menu) calls nothing.
func (t *Tray) dispatchRun(i int, clicked <-chan struct{}, run func(string)) {
	defer t.wg.Done()
	for {
		select {
		case <-clicked:
		case <-t.done:
			return
		}
		t.namesMu.Lock()
		name := ""
		if i < len(t.names) {
			name = t.names[i]
		}
		t.namesMu.Unlock()
		if name != "" && run != nil {
			go run(name)
		}
	}
}

// SetProfiles lists the profiles to run, "Run <name>" each, in order; the first MaxProfiles.
func (t *Tray) SetProfiles(names []string) {
	if t == nil {
		return
	}
	names = slices.Clone(names[:min(len(names), MaxProfiles)])
	t.namesMu.Lock()
	t.names = names
	t.namesMu.Unlock()
	t.update(func() {
		for i, it := range t.runs {
			if i < len(names) {
				// dbusmenu reads "_" as the mnemonic's mark: "__" is one underscore.
				it.SetTitle(labelRun + strings.ReplaceAll(names[i], "_", "__"))
				it.Show()
			} else {
				it.Hide()
			}
		}
	})
}

// fillIcons replaces empty icons with the built-in ones and checks the others are PNGs.
func (t *Tray) fillIcons() error {
	for _, ic := range []struct {
		name string
		data *[]byte
		def  []byte
	}{{"idle", &t.icons.Idle, defaultIdle}, {"running", &t.icons.Running, defaultRunning}, {"error", &t.icons.Error, defaultError}} {
		if len(*ic.data) == 0 {
			*ic.data = ic.def
			continue
		}
		if _, err := png.DecodeConfig(bytes.NewReader(*ic.data)); err != nil {
			return fmt.Errorf("tray: the %s icon is not a PNG image: %w", ic.name, err)
		}
	}
	return nil
}

// clickable is a menu item's click channel and what a click does.
type clickable struct {
	clicked <-chan struct{}
	do      func()
}

// dispatch runs the callback of every clicked item on a goroutine of its own. systray drops a
// click that finds no receiver, so the loop does nothing else.
func (t *Tray) dispatch(show, abort, quit clickable) {
	defer t.wg.Done()
	for {
		var do func()
		select {
		case <-show.clicked:
			do = show.do
		case <-abort.clicked:
			if t.abortEnabled.Load() {
				do = abort.do
			}
		case <-quit.clicked:
			do = quit.do
		case <-t.done:
			return
		}
		if do != nil {
			go do()
		}
	}
}

// SetState shows s: its icon and the tooltip "<title> — <state>".
func (t *Tray) SetState(s State) {
	if t == nil {
		return
	}
	icon := t.icons.Idle
	switch s {
	case Running:
		icon = t.icons.Running
	case Error:
		icon = t.icons.Error
	}
	t.update(func() {
		systray.SetIcon(icon)
		systray.SetTooltip(t.tooltip(s))
	})
}

// SetAbortEnabled enables the "Abort synchronization" item; it is disabled while no run, and
// a click on it then calls nothing.
func (t *Tray) SetAbortEnabled(on bool) {
	if t == nil {
		return
	}
	t.abortEnabled.Store(on)
	t.update(func() {
		if on {
			t.abort.Enable()
		} else {
			t.abort.Disable()
		}
	})
}

// Close removes the icon and stops the callbacks; callbacks already running go on.
func (t *Tray) Close() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.closed = true
	close(t.done)
	t.wg.Wait()
	t.end() // closes the bus connection, which takes the item off the bus
}

func (t *Tray) tooltip(s State) string {
	return t.title + tooltipSep + s.String()
}

// update runs f, which calls into systray, unless the tray is closed or its bus connection is
// lost: systray then panics on the failed property signal, and a lost tray icon must not take
// the app down with it.
func (t *Tray) update(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || (t.conn != nil && !t.conn.Connected()) {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			log.Printf("tray: update the icon: %v", r)
		}
	}()
	f()
}
