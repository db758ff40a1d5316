//go:build tools

// Package tools pins modules that Ferry's build uses before any package imports them.
package tools

import (
	_ "github.com/balena-os/librsync-go"
	_ "github.com/rogpeppe/go-internal/testscript"
	_ "github.com/spf13/cobra"
	_ "github.com/wailsapp/wails/v2"
	_ "github.com/zeebo/xxh3"
	_ "golang.org/x/sys/unix"
	_ "pgregory.net/rapid"
)
