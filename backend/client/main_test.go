package client

import (
	"os"
	"testing"

	"github.com/ferrysync/ferry/backend/internal/redistest"
	"github.com/ferrysync/ferry/backend/internal/s3test"
)

// TestMain stops the private Redis Cluster and S3 server after the tests, when they were started.
func TestMain(m *testing.M) { os.Exit(redistest.Main(s3test.Wrap(m))) }
