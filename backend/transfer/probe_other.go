//go:build !windows

package transfer

import "errors"

// probeUnnamed: files deleted on close are a Windows feature (Linux has unnamed files).
func (d *dir) probeUnnamed(string) error { return errors.ErrUnsupported }
