//go:build !unix

package client

// holdPort cannot hold a port here: another listener may take a stopped server's port.
func holdPort(string) (release func(), ok bool) { return nil, false }
