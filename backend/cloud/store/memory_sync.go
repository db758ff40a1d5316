package store

import (
	"sync"

	"github.com/ferrysync/ferry/backend/engine/tracker"
)

// memSyncs holds the Memory store's synchronizations, made on first use.
type memSyncs struct {
	once sync.Once
	t    *tracker.Memory
}

// Synchronizations keeps the runs in this process, on the store's clock.
func (m *Memory) Synchronizations() tracker.Store {
	m.syncs.once.Do(func() { m.syncs.t = tracker.NewMemory(m.now) })
	return m.syncs.t
}
