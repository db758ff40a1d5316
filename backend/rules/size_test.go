package rules_test

import (
	"testing"
	"unsafe"

	"github.com/ferrysync/ferry/backend/rules"
)

// The desktop app holds an action for every item the plan acts on.
func TestAtomicActionSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("32-bit platform")
	}
	if n := unsafe.Sizeof(rules.AtomicAction{}); n != 32 {
		t.Errorf("an action takes %d bytes, want 32", n)
	}
}
