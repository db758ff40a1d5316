package app

import (
	"context"
	"errors"

	"github.com/wailsapp/wails/v2/pkg/runtime"
)

// errNoWindow: a dialog or window call before the window exists (or in tests).
var errNoWindow = errors.New("the window is not open")

// desktop is the window and its native dialogs.
type desktop interface {
	pickFolder(title string) (string, error)
	pickFile(title string) (string, error)
	showWindow()
	hideWindow()
	quit()
	setTheme(theme string)
}

// wailsDesktop calls the Wails runtime with the context Wails gave at startup.
type wailsDesktop struct{ ctx context.Context }

func (w wailsDesktop) pickFolder(title string) (string, error) {
	return runtime.OpenDirectoryDialog(w.ctx, runtime.OpenDialogOptions{Title: title, CanCreateDirectories: true})
}

func (w wailsDesktop) pickFile(title string) (string, error) {
	return runtime.OpenFileDialog(w.ctx, runtime.OpenDialogOptions{Title: title})
}

func (w wailsDesktop) showWindow() { runtime.WindowShow(w.ctx) }
func (w wailsDesktop) hideWindow() { runtime.WindowHide(w.ctx) }
func (w wailsDesktop) quit()       { runtime.Quit(w.ctx) }

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

func (noDesktop) pickFolder(string) (string, error) { return "", errNoWindow }
func (noDesktop) pickFile(string) (string, error)   { return "", errNoWindow }
func (noDesktop) showWindow()                       {}
func (noDesktop) hideWindow()                       {}
func (noDesktop) quit()                             {}
func (noDesktop) setTheme(string)                   {}

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
