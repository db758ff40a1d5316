// Command ferry-desktop is Ferry's desktop app: the Go backend bound into a Svelte webview.
package main

import (
	"embed"
	"log"

	"github.com/wailsapp/wails/v2"
	"github.com/wailsapp/wails/v2/pkg/options"
	"github.com/wailsapp/wails/v2/pkg/options/assetserver"
	"github.com/wailsapp/wails/v2/pkg/options/linux"

	"github.com/ferrysync/ferry/app"
)

// assets is the built frontend. frontend/dist keeps a tracked .gitkeep (re-created by
// every Vite build), so with the all: prefix the pattern always matches and package main
// compiles for go vet and go test before the frontend was ever built.
//
//go:embed all:frontend/dist
var assets embed.FS

//go:embed build/appicon.png
var icon []byte

func main() {
	a := app.New()
	err := wails.Run(&options.App{
		Title:     "Ferry",
		Width:     1100,
		Height:    760,
		MinWidth:  1024,
		MinHeight: 700,
		AssetServer: &assetserver.Options{
			Assets: assets,
		},
		BackgroundColour: &options.RGBA{R: 248, G: 250, B: 252, A: 255},
		OnStartup:        a.Startup,
		Bind:             []any{a},
		Linux: &linux.Options{
			Icon:        icon,
			ProgramName: "ferry",
		},
	})
	if err != nil {
		log.Fatal(err)
	}
}
