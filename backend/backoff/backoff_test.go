package backoff

import (
	"testing"
	"time"
)

func TestPolicy(t *testing.T) {
	p := Policy{Base: 100 * time.Millisecond, Max: time.Second}
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 1000: time.Second} {
		if got := p.Ceiling(attempt); got != want {
			t.Errorf("Ceiling(%d) = %v, want %v", attempt, got, want)
		}
		for range 50 {
			if d := p.Full(attempt); d < 0 || d >= want {
				t.Fatalf("Full(%d) = %v, want in [0, %v)", attempt, d, want)
			}
			if d := p.Equal(attempt); d < want/2 || d > want {
				t.Fatalf("Equal(%d) = %v, want in [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
	if d := (Policy{}).Full(3); d != 0 {
		t.Errorf("zero policy waits %v", d)
	}
}
