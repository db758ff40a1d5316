package tracker_test

import (
	"testing"

	"github.com/ferrysync/ferry/backend/sync/tracker"
	"github.com/ferrysync/ferry/backend/sync/tracker/trackertest"
)

func TestMemory(t *testing.T) {
	trackertest.Run(t, func(*testing.T) tracker.Store { return tracker.NewMemory(nil) })
}
