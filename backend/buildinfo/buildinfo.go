// Package buildinfo holds what the build stamps into Ferry's binaries.
package buildinfo

import "runtime/debug"

// version is set at link time by `make` and the packaging recipes:
// -ldflags "-X github.com/ferrysync/ferry/backend/buildinfo.version=v1.2.3".
var version string

// Version is Ferry's version: the one stamped at link time, else the module version that
// `go install` recorded, else "dev".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
