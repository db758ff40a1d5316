package app

import (
	"context"
	"errors"

	"github.com/wailsapp/wails/v2/pkg/runtime"
)

// errNoWindow: a dialog or window call before the window exists (or in tests).
var errNoWindow = errors.New("the window is not open")

// Window is the service of the app's window.
type Window struct {
	c *core
}

// Quit quits the app, also during a synchronization, which shutdown aborts: the webview asks
// first (Ctrl+Q, the tray's Quit).
func (w *Window) Quit() {
	c := w.c
	c.mu.Lock()
	c.quitting = true
	desk := c.desk
	c.mu.Unlock()
	desk.quit()
}

// desktop is the window and its native dialogs.
type desktop interface {
	pickFolder(title, dir string) (string, error)
	pickFile(title string) (string, error)
	showWindow()
	hideWindow()
	quit()
	setTheme(theme string)
	fitScreen()
}

// titleBarRoom is the height left for a title bar and a panel when the window is fitted to
// the screen.
const titleBarRoom = 64

// wailsDesktop calls the Wails runtime with the context Wails gave at startup.
type wailsDesktop struct{ ctx context.Context }

func (w wailsDesktop) pickFolder(title, dir string) (string, error) {
	return runtime.OpenDirectoryDialog(w.ctx, runtime.OpenDialogOptions{Title: title, DefaultDirectory: dir, CanCreateDirectories: true})
}

func (w wailsDesktop) pickFile(title string) (string, error) {
	return runtime.OpenFileDialog(w.ctx, runtime.OpenDialogOptions{Title: title})
}

func (w wailsDesktop) showWindow() { runtime.WindowShow(w.ctx) }
func (w wailsDesktop) hideWindow() { runtime.WindowHide(w.ctx) }
func (w wailsDesktop) quit()       { runtime.Quit(w.ctx) }

// fitScreen shrinks a window larger than its screen to fit, and centres it: the window
// manager would otherwise leave its title bar off-screen.
func (w wailsDesktop) fitScreen() {
	screens, err := runtime.ScreenGetAll(w.ctx)
	if err != nil || len(screens) == 0 {
		return
	}
	s := screens[0]
	for _, sc := range screens {
		if sc.IsCurrent || (sc.IsPrimary && !s.IsCurrent) {
			s = sc
		}
	}
	width, height := runtime.WindowGetSize(w.ctx)
	maxW, maxH := s.Size.Width, s.Size.Height-titleBarRoom
	if width <= maxW && height <= maxH {
		return
	}
	runtime.WindowSetSize(w.ctx, min(width, maxW), min(height, maxH))
	runtime.WindowCenter(w.ctx)
}

func (w wailsDesktop) setTheme(theme string) {
	switch theme {
	case ThemeDark:
		runtime.WindowSetDarkTheme(w.ctx)
	case ThemeLight:
		runtime.WindowSetLightTheme(w.ctx)
	default:
		runtime.WindowSetSystemDefaultTheme(w.ctx)
	}
	c := Background(theme)
	runtime.WindowSetBackgroundColour(w.ctx, c.R, c.G, c.B, c.A)
}

// noDesktop is the desktop before Startup: dialogs fail, window calls do nothing.
type noDesktop struct{}

func (noDesktop) pickFolder(string, string) (string, error) { return "", errNoWindow }
func (noDesktop) pickFile(string) (string, error)           { return "", errNoWindow }
func (noDesktop) showWindow()                               {}
func (noDesktop) hideWindow()                               {}
func (noDesktop) quit()                                     {}
func (noDesktop) setTheme(string)                           {}
func (noDesktop) fitScreen()                                {}

// Colour is a window background.
type Colour struct{ R, G, B, A uint8 }

// Background is the window background of a theme, matching the frontend's page colour.
func Background(theme string) Colour {
	if theme == ThemeDark {
		return Colour{R: 15, G: 23, B: 42, A: 255}
	}
	return Colour{R: 248, G: 250, B: 252, A: 255}
}

// Tray is the system tray icon while the app runs (package app/tray).
type Tray interface {
	SetState(TrayState)
	SetAbortEnabled(bool)
}

// TrayState is what the tray icon shows.
type TrayState int

const (
	TrayIdle TrayState = iota
	TrayRunning
	TrayError
)
