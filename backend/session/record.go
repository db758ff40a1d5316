package session

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/engine"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/twoway"
)

// After a two-way run every other member tells the planning member what the run did on its
// nodes (the targets it carried out) and what it left there (each item the plan acted on, read
// again), and the planning member settles its record with that word and its own disk.

const (
	blobSettled = "settled" // what the run did and left on a member's nodes, to the oldest member
	maxSettled  = 256 << 20
)

// settleWait bounds the wait for the other members' word after the run; an item that a silent
// member's word would settle keeps its record entry, and the next run decides it again.
const settleWait = 30 * time.Second

type settledReport struct {
	Done  []doneTarget `json:"done"`
	Items []foundItem  `json:"items"`
}

type doneTarget struct {
	Group string `json:"g"`
	Part  string `json:"p"`
}

type foundItem struct {
	Part    string  `json:"p"`
	Path    wireStr `json:"i"`
	Exists  bool    `json:"e,omitempty"`
	Dir     bool    `json:"d,omitempty"`
	Regular bool    `json:"r,omitempty"`
	Size    int64   `json:"s,omitempty"`
	ModTime int64   `json:"t,omitempty"`
	Err     string  `json:"err,omitempty"` // the item could not be read
}

// result keeps a target this member carried out.
func (f *Flow) result(t engine.TargetResult) {
	if t.Err != nil {
		return
	}
	f.tw.Result(t)
	f.doneMu.Lock()
	f.done = append(f.done, [2]string{t.Group, t.Target.Part})
	f.doneMu.Unlock()
}

// recordSide names a data part in the record: its member's identity and its data source code.
func (f *Flow) recordSide(p *compare.Part) string {
	owner := f.owners[p.Node]
	for _, mb := range f.sess.Members {
		if mb.InstanceID == owner {
			return mb.ClientID + "/" + p.Inv.Code
		}
	}
	return "?/" + p.Inv.Code
}

// settle is the end of a run with a record: the oldest member saves it, the others send it
// their word.
func (f *Flow) settle(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleWait)
	defer cancel()
	if !f.Oldest() {
		if err := f.sendSettled(ctx); err != nil {
			f.log.Warn("tell the planning member what the run left", "err", err)
		}
		return nil
	}
	f.after = map[string]map[string]twoway.Found{}
	g := &group{}
	for _, from := range f.others() {
		g.Go(ctx, func(ctx context.Context) error {
			var rep settledReport
			err := receiveStream(ctx, f.x, blobSettled, from, func(r io.Reader) error {
				zr, err := gzip.NewReader(r)
				if err != nil {
					return err
				}
				if err := json.NewDecoder(io.LimitReader(zr, maxSettled)).Decode(&rep); err != nil {
					return err
				}
				_, err = io.Copy(io.Discard, zr)
				return err
			})
			if err != nil {
				f.log.Warn("no word from a member on what the run left: its items keep their record entries", "member", f.who(from), "err", err)
				return nil
			}
			f.take(from, rep)
			return nil
		})
	}
	_ = g.Wait()
	if err := f.tw.SavePlan(f.twCmp, f.plan); err != nil {
		return err
	}
	return nil
}

// take keeps a member's word on its own data parts.
func (f *Flow) take(from string, rep settledReport) {
	f.afterMu.Lock()
	defer f.afterMu.Unlock()
	own := map[string]bool{}
	for _, pt := range f.plan.Parts {
		own[pt.Name] = f.owners[pt.Node] == from
	}
	for _, d := range rep.Done {
		if own[d.Part] {
			f.tw.Result(engine.TargetResult{Group: d.Group, Target: plan.Location{Place: &plan.Place{Part: d.Part}}})
		}
	}
	for _, it := range rep.Items {
		if !own[it.Part] {
			continue
		}
		if f.after[it.Part] == nil {
			f.after[it.Part] = map[string]twoway.Found{}
		}
		if it.Err != "" {
			continue
		}
		f.after[it.Part][string(it.Path)] = twoway.Found{Exists: it.Exists, Dir: it.Dir, Regular: it.Regular, Size: it.Size, ModTime: it.ModTime}
	}
}

// readAfter reads an item of a data part after the run: on this member's disk, or as its
// member said.
func (f *Flow) readAfter(p *compare.Part, itemPath string) (twoway.Found, error) {
	if f.owners[p.Node] == f.m.Self() {
		return twoway.Lstat(p, itemPath)
	}
	f.afterMu.Lock()
	defer f.afterMu.Unlock()
	found, ok := f.after[p.Name][itemPath]
	if !ok {
		return found, fmt.Errorf("no word on %s of %s", itemPath, p.Name)
	}
	return found, nil
}

// sendSettled sends the oldest member what the run did and left on this member's nodes.
func (f *Flow) sendSettled(ctx context.Context) error {
	rep := settledReport{Done: []doneTarget{}, Items: []foundItem{}}
	f.doneMu.Lock()
	for _, d := range f.done {
		rep.Done = append(rep.Done, doneTarget{Group: d[0], Part: d[1]})
	}
	f.doneMu.Unlock()
	paths := map[string]bool{}
	for i := range f.plan.Groups {
		g := &f.plan.Groups[i]
		if g.Phase == plan.PhaseConflict || g.Phase == plan.PhaseDirDates {
			continue // not settled by this run
		}
		for _, t := range g.Targets {
			paths[t.Path()] = true
		}
	}
	for _, pt := range f.plan.Parts {
		if f.owners[pt.Node] != f.m.Self() || pt.Type != inventory.SourceDir {
			continue
		}
		for p := range paths {
			found, err := twoway.LstatUnder(pt.Root, p)
			it := foundItem{Part: pt.Name, Path: wireStr(p), Exists: found.Exists, Dir: found.Dir, Regular: found.Regular, Size: found.Size, ModTime: found.ModTime}
			if err != nil {
				it.Err = err.Error()
			}
			rep.Items = append(rep.Items, it)
		}
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(rep); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if buf.Len() > maxSettled {
		return errors.New("the report on what the run left is too large")
	}
	return f.x.SendBlob(ctx, blobSettled, protocol.TransferPlan, []string{f.sess.Members[0].InstanceID}, &buf)
}
