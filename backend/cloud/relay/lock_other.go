//go:build !unix

package relay

// lockFile does nothing where flock is missing: there, one storage folder serves one server
// process, and the process's own lock serializes each session.
func lockFile(string) (unlock func(), err error) { return func() {}, nil }
