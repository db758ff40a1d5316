package compare_test

import (
	"testing"
	"unsafe"

	"github.com/ferrysync/ferry/backend/compare"
)

// A comparison holds an item, an identity and an entry for every file of a first mirror while
// the plan is made: their sizes are most of its memory.
func TestItemAndIdentitySizes(t *testing.T) {
	if n := unsafe.Sizeof(compare.Item{}); n != 32 {
		t.Errorf("an item takes %d bytes, want 32", n)
	}
	if n := unsafe.Sizeof(compare.Identity{}); n != 24 {
		t.Errorf("an identity takes %d bytes, want 24", n)
	}
	if n := unsafe.Sizeof(compare.Located{}); n != 16 {
		t.Errorf("a located entry takes %d bytes, want 16", n)
	}
}
