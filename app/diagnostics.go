package app

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// EnvDiagnostics turns the diagnostics on when "1".
const EnvDiagnostics = "FERRY_DIAGNOSTICS"

// maxDiagnostic bounds one reported value.
const maxDiagnostic = 4096

// oneLine keeps a value on its line.
var oneLine = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

// Diagnostics lets the webview report measurements (frame times…) on stderr, one line each,
// for the scripts that drive the app.
type Diagnostics struct {
	enabled bool
	mu      sync.Mutex
	w       io.Writer
}

func newDiagnostics(getenv func(string) string, w io.Writer) *Diagnostics {
	return &Diagnostics{enabled: getenv(EnvDiagnostics) == "1", w: w}
}

// Enabled tells whether FERRY_DIAGNOSTICS=1: the webview measures only then.
func (d *Diagnostics) Enabled() bool { return d.enabled }

// Report writes "ferry-diagnostics <name> <data>" on one line of stderr when enabled. The name
// is one word (spaces become '_'), the data one line (line breaks become spaces), at most 4 KiB.
func (d *Diagnostics) Report(name string, data string) {
	if !d.enabled {
		return
	}
	name = strings.Join(strings.Fields(name), "_")
	if name == "" {
		name = "-"
	}
	data = oneLine.Replace(data)
	if len(data) > maxDiagnostic {
		data = strings.ToValidUTF8(data[:maxDiagnostic], "")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(d.w, "ferry-diagnostics %s %s\n", name, data)
}
