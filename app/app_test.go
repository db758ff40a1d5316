package app

import (
	"context"
	"testing"
)

func TestVersion(t *testing.T) {
	a := New()
	a.Startup(context.Background())
	if got := a.Version(); got != Version || got == "" {
		t.Fatalf("Version() = %q, want %q", got, Version)
	}
}
