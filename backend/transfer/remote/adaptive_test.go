package remote

import (
	"testing"
	"time"
)

func TestControllerGrowsOnFastParts(t *testing.T) {
	t.Parallel()
	c := newController(minSlice, maxSlice, startSlice)
	for range 40 {
		c.succeeded(c.sliceSize(), 100*time.Millisecond)
	}
	if c.sliceSize() != maxSlice || c.parallelism() != maxParallel {
		t.Fatalf("after fast parts: %d bytes, %d at once; want %d, %d", c.sliceSize(), c.parallelism(), maxSlice, maxParallel)
	}
	// Slow parts shrink parallelism first, then the size.
	for range 20 {
		c.succeeded(c.sliceSize(), 40*time.Second)
	}
	if c.parallelism() != minParallel || c.sliceSize() >= maxSlice {
		t.Fatalf("after slow parts: %d bytes, %d at once", c.sliceSize(), c.parallelism())
	}
}

func TestControllerGrowthDependsOnSpeed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		took time.Duration
		want int
	}{
		{500 * time.Millisecond, 2 * startSlice},
		{2 * time.Second, startSlice * 7 / 4},
		{5 * time.Second, startSlice * 3 / 2},
		{15 * time.Second, startSlice * 5 / 4},
		{25 * time.Second, startSlice},
	} {
		c := newController(minSlice, maxSlice, startSlice)
		c.succeeded(startSlice, tc.took)
		c.succeeded(startSlice, tc.took)
		if c.sliceSize() != tc.want {
			t.Errorf("parts of %v: %d bytes, want %d", tc.took, c.sliceSize(), tc.want)
		}
	}
}

func TestControllerFailures(t *testing.T) {
	t.Parallel()
	c := newController(minSlice, maxSlice, startSlice)
	for range 10 {
		c.succeeded(c.sliceSize(), time.Millisecond)
	}
	grown := c.sliceSize()
	c.failed(overloaded)
	if c.sliceSize() != startSlice {
		t.Fatalf("after an overloaded answer: %d bytes, want %d", c.sliceSize(), startSlice)
	}
	c.failed(network)
	if c.sliceSize() != startSlice {
		t.Fatal("one network failure changed the size")
	}
	c.failed(network)
	if c.sliceSize() != startSlice/2 || c.parallelism() != minParallel {
		t.Fatalf("after two network failures: %d bytes, %d at once", c.sliceSize(), c.parallelism())
	}
	for range 20 {
		c.failed(network)
	}
	if c.sliceSize() != minSlice {
		t.Fatalf("size %d below the minimum %d", c.sliceSize(), minSlice)
	}
	// Short parts (the last of a file) do not make the size grow.
	c = newController(minSlice, maxSlice, startSlice)
	for range 10 {
		c.succeeded(1000, time.Millisecond)
	}
	if c.sliceSize() != startSlice || grown <= startSlice {
		t.Fatalf("short parts: %d bytes", c.sliceSize())
	}
}
