// Package compare turns the inventories of a session's data nodes into comparison items: one per
// path (tree matching) or name (flat matching), each with its content identities per data part.
package compare

import "fmt"

// DataType selects which inventory entries become comparison items.
type DataType uint8

const (
	FilesDirectories DataType = iota
	Files
	Directories
)

// Matching says how entries of different parts are paired.
type Matching uint8

const (
	Tree Matching = iota // by relative path
	Flat                 // by file name, all levels merged
)

// Analysis says which files get a content key.
type Analysis uint8

const (
	Smart    Analysis = iota // only where sizes match but dates differ
	Checksum                 // every file present on two or more parts
)

// Settings shape inventory and comparison; they are the "settings" block of a rules file.
type Settings struct {
	DataType      DataType
	Matching      Matching
	CaseSensitive bool
	Analysis      Analysis
	ExcludeHidden bool
	ExcludeSystem bool
}

// DefaultSettings are the rules file defaults.
func DefaultSettings() Settings {
	return Settings{DataType: FilesDirectories, Matching: Tree, Analysis: Smart, ExcludeHidden: true, ExcludeSystem: true}
}

var (
	dataTypeNames = map[string]DataType{"files-directories": FilesDirectories, "files": Files, "directories": Directories}
	matchingNames = map[string]Matching{"tree": Tree, "flat": Flat}
	analysisNames = map[string]Analysis{"smart": Smart, "checksum": Checksum}
)

func lookup[T comparable](names map[string]T, s string) (T, error) {
	if v, ok := names[s]; ok {
		return v, nil
	}
	var zero T
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	return zero, fmt.Errorf("unknown value %q (one of %v)", s, sortedStrings(keys))
}

func name[T comparable](names map[string]T, v T) string {
	for k, x := range names {
		if x == v {
			return k
		}
	}
	return "unknown"
}

func ParseDataType(s string) (DataType, error) { return lookup(dataTypeNames, s) }
func ParseMatching(s string) (Matching, error) { return lookup(matchingNames, s) }
func ParseAnalysis(s string) (Analysis, error) { return lookup(analysisNames, s) }

func (d DataType) String() string { return name(dataTypeNames, d) }
func (m Matching) String() string { return name(matchingNames, m) }
func (a Analysis) String() string { return name(analysisNames, a) }
