// Package app is Ferry's desktop face: the services bound to the webview (docs/desktop-api.md),
// the events they emit, and the window's life around a synchronization.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/ferrysync/ferry/app/notify"
	"github.com/ferrysync/ferry/backend/crypto"
)

// EnvConfigDir overrides where the identity key and the settings are kept, as for the ferry
// command.
const EnvConfigDir = "FERRY_CONFIG_DIR"

// abortGrace bounds the wait for a run to end once an abort was asked at shutdown.
const abortGrace = time.Minute

// Options shape an App. The zero value is ready to use.
type Options struct {
	// ConfigDir holds the identity key and the settings: FERRY_CONFIG_DIR, else the user's
	// configuration folder (crypto.DefaultConfigDir).
	ConfigDir string
	// Logger receives what the user is not shown (stderr, warnings and up, when nil).
	Logger *slog.Logger
	// Stderr receives the diagnostics lines (os.Stderr when nil).
	Stderr io.Writer
	// Getenv reads the environment (os.Getenv when nil).
	Getenv func(string) string

	// emitter replaces the Wails events (tests).
	emitter emitter
}

// App holds the services bound to the webview and the app's lifecycle hooks.
type App struct {
	Settings        *Settings
	Sessions        *Sessions
	Data            *Data
	Inventory       *Inventory
	Comparison      *Comparison
	Rules           *Rules
	Synchronization *Synchronization
	Profiles        *Profiles
	Window          *Window
	Diagnostics     *Diagnostics

	c *core
}

// New returns an App. A settings file that cannot be read is logged and replaced by the
// defaults; only a missing configuration folder is an error.
func New(o Options) (*App, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	stderr := o.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	dir := o.ConfigDir
	if dir == "" {
		dir = getenv(EnvConfigDir)
	}
	if dir == "" {
		d, err := crypto.DefaultConfigDir()
		if err != nil {
			return nil, fmt.Errorf("find the configuration folder (set %s): %w", EnvConfigDir, err)
		}
		dir = d
	}
	settings, err := loadSettings(dir)
	if err != nil {
		log.Warn("settings", "err", err)
	}
	life, end := context.WithCancel(context.Background())
	out := o.emitter
	if out == nil {
		out = noEmitter{}
	}
	c := &core{
		log:       log,
		configDir: dir,
		settings:  settings,
		life:      life,
		end:       end,
		out:       out,
		desk:      noDesktop{},
		an:        newAnalysis(filepath.Join(dir, "state"), versionsOf(settings.get())),
		sync:      idleStatus(),

		giveBackWait:    giveBackWait,
		invitedJoinWait: invitedJoinTimeout,
	}
	c.an.settings = c.compareDefaults()
	return &App{
		Settings:        &Settings{c: c},
		Sessions:        &Sessions{c: c},
		Data:            &Data{c: c},
		Inventory:       &Inventory{c: c},
		Comparison:      &Comparison{c: c},
		Rules:           &Rules{c: c},
		Synchronization: &Synchronization{c: c},
		Profiles:        &Profiles{c: c},
		Window:          &Window{c: c},
		Diagnostics:     newDiagnostics(getenv, stderr),
		c:               c,
	}, nil
}

// Bind lists the services to bind into the webview.
func (a *App) Bind() []any {
	return []any{a.Settings, a.Sessions, a.Data, a.Inventory, a.Comparison, a.Rules, a.Synchronization, a.Profiles, a.Window, a.Diagnostics}
}

// Theme is the saved theme, for the window's first background.
func (a *App) Theme() string { return a.c.settings.get().Theme }

// Startup takes the Wails context: events, dialogs and the window go through it from now on.
// It connects to the desktop notifications; without a session bus the app goes on without them.
func (a *App) Startup(ctx context.Context) {
	c := a.c
	c.mu.Lock()
	if _, ok := c.out.(noEmitter); ok {
		c.out = wailsEmitter{ctx: ctx}
	}
	c.desk = wailsDesktop{ctx: ctx}
	c.mu.Unlock()
	c.window().setTheme(c.settings.get().Theme)
	time.AfterFunc(revealAfter, c.reveal)
	n, err := notify.Connect(ctx)
	if err != nil {
		c.log.Info("no desktop notifications", "err", err)
		return
	}
	c.mu.Lock()
	c.notifier = n
	c.mu.Unlock()
}

// revealAfter is how long the window waits for its page before it shows anyway.
const revealAfter = 10 * time.Second

// DomReady shows the window once its page is ready.
func (a *App) DomReady(context.Context) { a.c.reveal() }

// reveal fits the window to the screen and shows it, once. The window starts hidden (main.go)
// so that it is mapped at its final size: resizing a shown window before WebKitGTK painted it
// could leave it blank for good.
func (c *core) reveal() {
	c.mu.Lock()
	first := !c.revealed && !c.closing
	c.revealed = true
	desk := c.desk
	c.mu.Unlock()
	if first {
		desk.fitScreen()
		desk.showWindow()
	}
}

// SetTray gives the tray icon that follows the synchronizations (nil: none).
func (a *App) SetTray(t Tray) {
	c := a.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tray = t
	if t == nil {
		return
	}
	t.SetAbortEnabled(c.run != nil)
	t.SetState(trayStateOf(c.sync))
}

// BeforeClose decides what closing the window does: during a synchronization the window is
// hidden and the run goes on (in the tray); without a tray the window stays and the webview
// asks whether to abort the run and quit (window:close-requested). Otherwise, or when the user
// asked to quit, the app quits.
func (a *App) BeforeClose(ctx context.Context) (prevent bool) {
	c := a.c
	c.mu.Lock()
	if c.quitting || c.closing || c.run == nil {
		c.mu.Unlock()
		return false
	}
	if c.tray == nil {
		st := c.sync.clone()
		c.mu.Unlock()
		c.emit(EventCloseRequested, st)
		return true
	}
	c.hiddenByClose = true
	desk := c.desk
	c.mu.Unlock()
	desk.hideWindow()
	return true
}

// ShowWindow shows the window again (the tray's Show).
func (a *App) ShowWindow() {
	c := a.c
	c.mu.Lock()
	c.hiddenByClose = false
	desk := c.desk
	c.mu.Unlock()
	desk.showWindow()
}

// RequestQuit is the tray's Quit: during a synchronization the window shows and the webview asks
// whether to abort the run and quit (window:close-requested), as closing the window without a
// tray does; otherwise the app quits.
func (a *App) RequestQuit() {
	c := a.c
	c.mu.Lock()
	running := c.run != nil && !c.quitting && !c.closing
	st := c.sync.clone()
	c.mu.Unlock()
	if !running {
		a.Window.Quit()
		return
	}
	a.ShowWindow()
	c.emit(EventCloseRequested, st)
}

// Shutdown ends everything cleanly: a running synchronization is aborted and waited for (at
// most abortGrace, then cut), the inventory cancelled, the session quit with its member statuses
// delivered, the embedded server stopped. It may be called again.
func (a *App) Shutdown(ctx context.Context) {
	c := a.c
	c.mu.Lock()
	c.closing = true
	run, inv := c.run, c.inv
	c.mu.Unlock()
	if run != nil {
		run.requestAbort()
		select {
		case <-run.done:
		case <-time.After(abortGrace):
			c.log.Warn("the synchronization did not end after the abort; stopping it")
			run.cancel()
			<-run.done
		}
	}
	if inv != nil {
		inv.cancel()
		<-inv.done
	}
	c.end()
	c.wg.Wait() // background work, and a session being opened or quit
	c.mu.Lock()
	sess, emb, n := c.sess, c.embedded, c.notifier
	c.sess, c.embedded, c.notifier = nil, nil, nil
	c.mu.Unlock()
	if sess != nil {
		a.Sessions.leave(sess)
	}
	if emb != nil {
		emb.Close()
	}
	if closer, ok := n.(interface{ Close() error }); ok {
		if err := closer.Close(); err != nil {
			c.log.Info("notifications", "err", err)
		}
	}
}
