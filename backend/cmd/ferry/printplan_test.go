package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
)

// The streamed list of a plan's actions is the very text the tabwriter made of them.
func TestPrintPlanActionsAsTabwriter(t *testing.T) {
	t.Parallel()
	ep := func(part, path string) plan.Endpoint {
		return plan.Endpoint{Location: plan.At(&plan.Place{Part: part}, path)}
	}
	src := ep("A", "/x")
	entry := inventory.Entry{Kind: inventory.File, Size: 123456}.At("/x")
	src.Entry = &entry
	p := &plan.Plan{Groups: []plan.Group{
		{Num: 1, Op: plan.OpDelete, Targets: []plan.Endpoint{ep("B", "/old/é"), ep("Bb", "/o")}},
		{Num: 2, Op: plan.OpCreate, Targets: []plan.Endpoint{ep("B", "/a\nb")}},
		{Num: 3, Op: plan.OpCopy, Source: &src, Kind: plan.Full, Targets: []plan.Endpoint{ep("B", "/x"), ep("C", "/"+strings.Repeat("long", 9))}},
		{Num: 4, Op: plan.OpCopyDates, Source: &src, Targets: []plan.Endpoint{ep("B", "/x")}},
		{Num: 5, Op: plan.OpCopyDates, Quiet: true, Targets: []plan.Endpoint{ep("B", "/q")}},
	}}
	var want, got bytes.Buffer
	tabulate(tabwriter.NewWriter(&want, 2, 4, 2, ' ', 0), p.Actions(), nil)
	printPlanActions(&got, p, nil)
	if got.String() != want.String() {
		t.Fatalf("streamed:\n%q\ntabwriter:\n%q", got.String(), want.String())
	}
	var empty bytes.Buffer
	printPlanActions(&empty, &plan.Plan{}, nil)
	if empty.Len() != 0 {
		t.Fatalf("an empty plan lists %q", empty.String())
	}
}

// tabulate is the list of actions as a tabwriter aligns it.
func tabulate(tw *tabwriter.Writer, actions []plan.Action, keep func(plan.Action) bool) {
	for _, a := range actions {
		if keep != nil && !keep(a) {
			continue
		}
		c := actionCells(a)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c[0], c[1], c[2], c[3])
	}
	tw.Flush()
}
