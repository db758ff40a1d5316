package inventory

import "strings"

// noiseNames are file and directory names that operating systems and desktop environments create
// on their own (thumbnails, folder settings, indexes, trash). They are skipped, and never
// traversed, when Options.ExcludeSystem is set.
var noiseNames = map[string]struct{}{
	"desktop.ini": {}, "thumbs.db": {}, "ehthumbs.db": {}, "ehthumbs_vista.db": {}, "$RECYCLE.BIN": {},
	".desktop.ini": {}, ".thumbs.db": {}, ".DS_Store": {}, ".AppleDouble": {}, ".AppleDB": {},
	".AppleDesktop": {}, ".LSOverride": {}, ".Spotlight-V100": {}, ".Trashes": {}, ".fseventsd": {},
	".TemporaryItems": {}, ".VolumeIcon.icns": {}, ".directory": {},
}

// noiseFolded is noiseNames in lower case: names match ignoring case on every system, since
// Windows writes "Thumbs.db" and a Linux disk keeps the case it was given.
var noiseFolded = func() map[string]struct{} {
	m := make(map[string]struct{}, len(noiseNames))
	for n := range noiseNames {
		m[strings.ToLower(n)] = struct{}{}
	}
	return m
}()

// noiseFirst marks the ASCII bytes a noise name starts with, in either case: a walk asks about
// every name, and most are ruled out without folding or hashing them.
var noiseFirst = func() (t [128]bool) {
	for n := range noiseFolded {
		t[n[0]] = true
		t[strings.ToUpper(n[:1])[0]] = true
	}
	return t
}()

// IsNoise reports whether name is one of the noise names skipped when Options.ExcludeSystem is set.
func IsNoise(name string) bool {
	if name == "" || name[0] < 0x80 && !noiseFirst[name[0]] {
		return false
	}
	_, ok := noiseFolded[strings.ToLower(name)]
	return ok
}

// IsHidden reports whether name is hidden: it starts with a dot.
func IsHidden(name string) bool { return strings.HasPrefix(name, ".") }
