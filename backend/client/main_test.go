package client

import (
	"os"
	"testing"

	"github.com/ferrysync/ferry/backend/internal/redistest"
)

// The benchmarks on a Redis Cluster share one private cluster per test binary, stopped by Main.
func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }
