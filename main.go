// Command ferry-desktop is Ferry's desktop app: the Go backend bound into a Svelte webview.
package main

import (
	"context"
	"embed"
	"log"
	"sync"

	"github.com/wailsapp/wails/v2"
	"github.com/wailsapp/wails/v2/pkg/options"
	"github.com/wailsapp/wails/v2/pkg/options/assetserver"
	"github.com/wailsapp/wails/v2/pkg/options/linux"

	"github.com/ferrysync/ferry/app"
	"github.com/ferrysync/ferry/app/tray"
)

// assets is the built frontend. frontend/dist keeps a tracked .gitkeep (re-created by
// every Vite build), so with the all: prefix the pattern always matches and package main
// compiles for go vet and go test before the frontend was ever built.
//
//go:embed all:frontend/dist
var assets embed.FS

//go:embed build/appicon.png
var appIcon []byte

func main() {
	a, err := app.New(app.Options{})
	if err != nil {
		log.Fatal(err)
	}
	var (
		mu sync.Mutex
		tr *tray.Tray // nil without a tray
	)
	bg := app.Background(a.Theme())
	err = wails.Run(&options.App{
		Title:  "Ferry",
		Width:  1100,
		Height: 760,
		// A 1024×700 screen holds the smallest window with its title bar; a larger window
		// is fitted to the screen before it shows, once its page is ready (DomReady).
		StartHidden: true,
		MinWidth:    960,
		MinHeight:   600,
		AssetServer: &assetserver.Options{
			Assets: assets,
		},
		BackgroundColour: &options.RGBA{R: bg.R, G: bg.G, B: bg.B, A: bg.A},
		OnStartup: func(ctx context.Context) {
			a.Startup(ctx)
			t, err := tray.Start(ctx, tray.Options{
				Title:   "Ferry",
				OnShow:  a.ShowWindow,
				OnAbort: func() { _ = a.Synchronization.Abort() },
				OnQuit:  a.RequestQuit,
				OnRun:   a.RunProfile,
			})
			if err != nil {
				log.Printf("no tray icon: closing the window during a synchronization asks whether to abort it: %v", err)
				return
			}
			mu.Lock()
			tr = t
			mu.Unlock()
			a.SetTray(trayIcon{t})
			t.SetProfiles(a.Profiles.Names())
		},
		OnDomReady:    a.DomReady,
		OnBeforeClose: a.BeforeClose,
		OnShutdown: func(ctx context.Context) {
			a.Shutdown(ctx)
			mu.Lock()
			defer mu.Unlock()
			if tr != nil {
				tr.Close()
			}
		},
		Bind: a.Bind(),
		Linux: &linux.Options{
			Icon:        appIcon,
			ProgramName: "ferry",
		},
	})
	if err != nil {
		log.Fatal(err)
	}
}

// trayIcon shows the app's synchronization state with the tray's icons.
type trayIcon struct{ t *tray.Tray }

func (i trayIcon) SetAbortEnabled(on bool) { i.t.SetAbortEnabled(on) }

func (i trayIcon) SetProfiles(names []string) { i.t.SetProfiles(names) }

func (i trayIcon) SetState(s app.TrayState) {
	switch s {
	case app.TrayRunning:
		i.t.SetState(tray.Running)
	case app.TrayError:
		i.t.SetState(tray.Error)
	default:
		i.t.SetState(tray.Idle)
	}
}
