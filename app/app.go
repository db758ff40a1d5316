// Package app is Ferry's desktop face: the services bound to the webview.
package app

import "context"

// Version is Ferry's version, set at link time with
// -ldflags "-X github.com/ferrysync/ferry/app.Version=…".
var Version = "dev"

// App is the service bound to the webview.
type App struct {
	ctx context.Context
}

// New returns an App; pass Startup to Wails as OnStartup.
func New() *App {
	return &App{}
}

// Startup keeps the Wails runtime context for later runtime calls.
// Wails does not expose lifecycle callbacks to the webview.
func (a *App) Startup(ctx context.Context) {
	a.ctx = ctx
}

// Version returns Ferry's version.
func (a *App) Version() string {
	return Version
}
