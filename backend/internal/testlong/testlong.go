// Package testlong is the long tier of Ferry's tests: tests whose names end in Large run only
// when FERRY_TEST_LONG is set, which `make test-long` does (`-run 'Large$'`). Every Large test
// keeps a shorter variant of the same case in the regular tier.
package testlong

import (
	"os"
	"testing"
)

// Env is the variable that turns the long tier on.
const Env = "FERRY_TEST_LONG"

// Enabled reports whether the long tier runs.
func Enabled() bool { return os.Getenv(Env) != "" }

// Need skips t unless the long tier runs.
func Need(t testing.TB) {
	t.Helper()
	if !Enabled() {
		t.Skipf("a long test: set %s=1 to run it (make test-long)", Env)
	}
}
