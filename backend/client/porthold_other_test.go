//go:build !unix

package client

import "errors"

// holdPort cannot hold a port here: another listener may take a stopped server's port.
func holdPort(string) (release func(), err error) { return nil, errors.ErrUnsupported }
