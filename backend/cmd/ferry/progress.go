package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/ferrysync/ferry/backend/engine"
)

// progressView shows a run's events: JSON lines with --json, a progress bar on a terminal,
// nothing otherwise.
type progressView struct {
	w    io.Writer
	json *json.Encoder

	mu     sync.Mutex
	p      *mpb.Progress
	bar    *mpb.Bar
	errors atomic.Int64
}

func newProgressView(w io.Writer, asJSON, tty bool) *progressView {
	v := &progressView{w: w}
	switch {
	case asJSON:
		v.json = json.NewEncoder(w)
	case tty:
		v.p = mpb.New(mpb.WithOutput(w), mpb.WithWidth(40))
	}
	return v
}

func (v *progressView) event(e engine.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.json != nil {
		_ = v.json.Encode(e)
		return
	}
	if v.p == nil {
		return
	}
	p := e.Sync.Progress
	if v.bar == nil {
		v.bar = v.p.AddBar(int64(p.TotalActions),
			mpb.PrependDecorators(decor.Name("Synchronizing "), decor.CountersNoUnit("%d / %d")),
			mpb.AppendDecorators(decor.Percentage(), decor.Any(func(decor.Statistics) string {
				return fmt.Sprintf("  %d errors", v.errors.Load())
			})))
	}
	v.errors.Store(int64(p.ErrorActions))
	v.bar.SetCurrent(int64(p.FinishedActions))
	if e.Type == engine.EventAbortRequested {
		fmt.Fprintln(v.w, "abort requested")
	}
	if e.Type == engine.EventEnded {
		v.bar.SetTotal(int64(p.TotalActions), true)
	}
}

func (v *progressView) done() {
	v.mu.Lock()
	p, bar := v.p, v.bar
	v.mu.Unlock()
	if p == nil {
		return
	}
	if bar != nil && !bar.Completed() {
		bar.Abort(false)
	}
	p.Wait()
}
