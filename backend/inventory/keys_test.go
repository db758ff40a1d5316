package inventory

import (
	"sync"
	"testing"
)

// Only the entries given a key take room for one; a key is read back from the table that set
// it, overwritten in place, and cleared by the zero key.
func TestContentKeys(t *testing.T) {
	var keys ContentKeys
	es := make([]Entry, 4)
	keys.Set(&es[0], ContentKey{})
	if len(keys.keys) != 0 || es[0].key != 0 {
		t.Fatalf("the zero key took room: %d keys, entry number %d", len(keys.keys), es[0].key)
	}
	a, b := HashBytes([]byte("a")), HashBytes([]byte("b"))
	keys.Set(&es[1], a)
	keys.Set(&es[3], b)
	if keys.Of(&es[1]) != a || keys.Of(&es[3]) != b || !keys.Of(&es[0]).IsZero() || !keys.Of(&es[2]).IsZero() {
		t.Fatalf("keys read back: %v %v %v %v", keys.Of(&es[0]), keys.Of(&es[1]), keys.Of(&es[2]), keys.Of(&es[3]))
	}
	keys.Set(&es[1], b)
	keys.Set(&es[3], ContentKey{})
	if keys.Of(&es[1]) != b || !keys.Of(&es[3]).IsZero() || len(keys.keys) != 2 {
		t.Fatalf("after overwriting: %v %v, %d keys", keys.Of(&es[1]), keys.Of(&es[3]), len(keys.keys))
	}
	var none *ContentKeys
	if !none.Of(&es[0]).IsZero() {
		t.Fatal("an entry without a key has one in no table")
	}
}

// Reserved entries have their keys set at once (run with -race).
func TestContentKeysReserved(t *testing.T) {
	var keys ContentKeys
	es := make([]Entry, 64)
	at := []int{1, 5, 9, 33, 63}
	keys.reserve(es, at)
	keys.reserve(es, at[:2]) // again: no more room
	if len(keys.keys) != len(at) {
		t.Fatalf("%d keys reserved for %d entries", len(keys.keys), len(at))
	}
	var wg sync.WaitGroup
	for _, i := range at {
		wg.Go(func() { keys.Set(&es[i], HashBytes([]byte{byte(i)})) })
	}
	wg.Wait()
	for i := range es {
		want := ContentKey{}
		for _, j := range at {
			if i == j {
				want = HashBytes([]byte{byte(i)})
			}
		}
		if got := keys.Of(&es[i]); got != want {
			t.Errorf("entry %d: key %v, want %v", i, got, want)
		}
	}
}
