package engine

import (
	"context"
	"errors"
	"path"
	"sync"
	"time"

	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/transfer"
)

// DefaultWorkers bounds the groups run at once within a phase: small files are dominated by
// per-file system calls, which overlap well.
const DefaultWorkers = 8

// Execute runs groups in plan order, phase by phase. Within the file-delete and copy phases groups
// run concurrently on up to workers goroutines; directory deletes (child-first) and creates
// (parent-first) run in order. report is called once per group target, from any goroutine. The
// error is that of making the written files durable at the end.
func Execute(ctx context.Context, h *Handler, groups []plan.Group, workers int, report func(TargetResult)) error {
	if workers < 1 {
		workers = DefaultWorkers
	}
	for start := 0; start < len(groups); {
		end := start
		for end < len(groups) && groups[end].Phase == groups[start].Phase {
			end++
		}
		phase := groups[start:end]
		switch phase[0].Phase {
		case plan.PhaseDeleteDirs, plan.PhaseCreateDirs:
			for i := range phase {
				h.Run(ctx, &phase[i], report)
			}
		default:
			runConcurrently(ctx, h, phase, workers, report)
		}
		start = end
	}
	return h.Flush()
}

// maxBatch bounds the groups of one folder a worker takes at once.
const maxBatch = 256

// runConcurrently runs groups on up to workers goroutines. Each goroutine takes the consecutive
// groups of one folder (up to maxBatch) at once, so that goroutines work in different folders:
// creating and renaming files lock their folder.
func runConcurrently(ctx context.Context, h *Handler, groups []plan.Group, workers int, report func(TargetResult)) {
	next := make(chan []plan.Group)
	var wg sync.WaitGroup
	for range min(workers, len(groups)) {
		wg.Go(func() {
			var c commits
			for batch := range next {
				for i := range batch {
					h.run(ctx, &batch[i], &c, report)
					if c.full() {
						c.commit(ctx, report)
					}
				}
			}
			c.commit(ctx, report)
		})
	}
	for start := 0; start < len(groups); {
		end, dir := start+1, folder(&groups[start])
		for end < len(groups) && end-start < maxBatch && folder(&groups[end]) == dir {
			end++
		}
		next <- groups[start:end]
		start = end
	}
	close(next)
	wg.Wait()
}

// folder is the folder of a group's first target.
func folder(g *plan.Group) string {
	if len(g.Targets) == 0 {
		return ""
	}
	t := &g.Targets[0]
	return t.Dir + "\x00" + path.Dir(t.Path())
}

// Report sums up a run.
type Report struct {
	Done   int // actions done: quiet groups are none
	Bytes  int64
	Errors []error
}

// Apply runs a whole plan on this machine and sums up the results; when every action
// succeeded, it prunes the plan's old kept versions. It opens the data source roots first
// (OpenRoots) and checks the folders it writes in (Preflight): when one cannot be used, nothing
// runs and the report holds why. The first failure that every later write would repeat stops
// it (StopError).
func Apply(ctx context.Context, p *plan.Plan, workers int) *Report {
	rep := &Report{}
	roots := transfer.NewRoots()
	defer roots.Close()
	all := func(string) bool { return true }
	if err := OpenRoots(p, roots, all); err != nil {
		rep.Errors = append(rep.Errors, transfer.Explain(err))
		return rep
	}
	if err := Preflight(p, roots, all, workers); err != nil {
		rep.Errors = append(rep.Errors, err)
		return rep
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	h := planHandler(p, roots)
	var (
		mu      sync.Mutex
		stopped bool
	)
	err := Execute(ctx, h, p.Groups, workers, func(r TargetResult) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Err != nil && stopsRun(r.Err):
			if !stopped {
				stopped = true
				rep.Errors = append(rep.Errors, &StopError{Err: r.Err})
				stop()
			}
			return
		case r.Err != nil && stopped && errors.Is(r.Err, context.Canceled):
			return // not run
		case r.Err != nil:
			rep.Errors = append(rep.Errors, r.Err)
			return
		case r.Quiet:
			return
		}
		rep.Done++
		rep.Bytes += r.Bytes
	})
	if err != nil {
		rep.Errors = append(rep.Errors, transfer.Explain(err))
	}
	if len(rep.Errors) == 0 && ctx.Err() == nil {
		if err := PruneVersions(p, roots, all, time.Now()); err != nil {
			rep.Errors = append(rep.Errors, transfer.Explain(err))
		}
	}
	return rep
}
