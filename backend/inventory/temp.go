package inventory

import "strings"

// Ferry writes new content to a temp file beside its target, ".<name>.ferry-<id>.tmp", and
// renames it over the target once complete. One left by a killed run is never inventoried, and
// a scan with Options.RemoveTemps removes it.
const (
	tempPrefix = "."
	tempInfix  = ".ferry-"
	tempSuffix = ".tmp"
)

// TempName is the name of a temp file beside the file name, with a random id.
func TempName(name, id string) string {
	return tempPrefix + name + tempInfix + id + tempSuffix
}

// IsTempName reports whether a file name is one of Ferry's temp files (".<name>.ferry-<id>.tmp").
func IsTempName(name string) bool {
	if !strings.HasPrefix(name, tempPrefix) || !strings.HasSuffix(name, tempSuffix) {
		return false
	}
	i := strings.LastIndex(name, tempInfix)
	return i > 0 && i+len(tempInfix) < len(name)-len(tempSuffix)
}
