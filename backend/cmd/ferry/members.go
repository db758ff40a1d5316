package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ferrysync/ferry/backend/bytesize"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/rules"
	"github.com/ferrysync/ferry/backend/session"
)

// confirmFlags are how `ferry host` and `ferry join` show the plan and agree to it.
type confirmFlags struct {
	yes       bool
	verbose   bool
	maxDelete string
	set       *pflag.FlagSet
}

func (c *confirmFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&c.yes, "yes", false, "do not ask for confirmation")
	fl.BoolVar(&c.verbose, "verbose", false, "list the plan's actions (the host: all of them; a joiner: those on its nodes), not only the counts")
	fl.StringVar(&c.maxDelete, "max-delete", "", "the most files a run may delete on any data source: N files or P% of its files\n(the host's applies to every data source, by default 50% when that is 10 files or more, and nothing while\nanother data source is empty; a joiner's, when given, to its own)")
	c.set = fl
}

// deleteLimit is --max-delete over the rules file's; every error is a usage error.
func (c *confirmFlags) deleteLimit(file rules.DeleteLimit) (rules.DeleteLimit, error) {
	if c.maxDelete == "" {
		return file, nil
	}
	l, err := rules.ParseDeleteLimit(c.maxDelete)
	if err != nil {
		return l, usageError("--max-delete: %w", err)
	}
	return l, nil
}

// confirm shows the plan, and asks this member's user (unless --yes) while the others decide
// too. It returns nil when every member agreed; otherwise nothing changed, and the error is the
// exit: 2 for a deletion limit, 4 for a member that did not agree.
func (mc *memberCommand) confirm(ctx context.Context, p *plan.Plan, rep *memberReport, stdout io.Writer) error {
	nodes, err := mc.f.nodeSpecs()
	if err != nil {
		return err
	}
	own := map[string]bool{}
	for _, n := range nodes {
		own[n.Code] = true
	}
	limit := mc.limit
	rep.Deletions = append([]plan.Deletions{}, p.Deletions(limit)...)
	rep.Conflicts = mc.flow.Conflicts()
	if !mc.f.json {
		printMemberPlan(stdout, p, own, mc.f.verbose, mc.flow.Oldest())
		printConflicts(stdout, rep.Conflicts)
		printDeletions(stdout, rep.Deletions)
	}
	refuse := func(code int, err error) error {
		rep.Status = "refused"
		rep.Errors = append(rep.Errors, err.Error())
		if mc.f.json {
			printMemberReport(stdout, rep, true)
		}
		return &exitError{code: code, err: err}
	}
	if err := mc.flow.Refused(); err != nil {
		return refuse(exitUsage, err)
	}

	// This member's answer: its own deletion limit, --yes, or its user's. The others' refusal
	// may come while it is still asked.
	answered := make(chan session.Answer, 1)
	switch {
	case mc.ownLimit && ownOver(p, limit, own) != nil:
		answered <- session.Answer{Reason: ownOver(p, limit, own).Error(), Limit: true}
	case mc.dryRun:
		answered <- session.Answer{Reason: errDryRun.Error()}
	case mc.f.yes || len(p.Groups) == 0:
		answered <- session.Answer{OK: true}
	default:
		go func() {
			if confirm(mc.stdin, mc.err) {
				answered <- session.Answer{OK: true}
			} else {
				answered <- session.Answer{Reason: "not confirmed: nothing changed (answer y, or give --yes)"}
			}
		}()
	}
	verdict := make(chan error, 1)
	go func() { verdict <- mc.flow.Verdict(ctx) }()
	var nc *session.NotConfirmedError
	select {
	case a := <-answered:
		if err = mc.flow.Answer(ctx, a); err == nil {
			err = <-verdict
		}
		if !a.OK && ctx.Err() == nil && !errors.As(err, &nc) {
			// This member refused: nothing runs, whether or not its answer and the verdict
			// went through before the others left.
			err = &session.NotConfirmedError{Who: "this member", Self: true, Answer: a}
		}
	case err = <-verdict:
		if !mc.f.json {
			fmt.Fprintln(mc.err) // after the question left unanswered
		}
	}
	switch {
	case mc.dryRun && errors.As(err, &nc) && nc.Self && !nc.Answer.Limit:
		rep.Status = "dry-run"
		if mc.f.json {
			printMemberReport(stdout, rep, true)
		}
		return errDryRun
	case errors.As(err, &nc) && nc.Answer.Limit:
		return refuse(exitUsage, err)
	case errors.As(err, &nc):
		return refuse(exitAborted, err)
	case err != nil:
		return mc.interrupted(ctx, err)
	}
	return nil
}

// ownOver is the deletion limit's error for this member's own data sources.
func ownOver(p *plan.Plan, l rules.DeleteLimit, own map[string]bool) error {
	mine := *p
	mine.Parts = nil
	for _, pt := range p.Parts {
		if own[pt.Node] {
			mine.Parts = append(mine.Parts, pt)
		}
	}
	for _, pt := range p.Parts { // an empty data source elsewhere still counts
		if !own[pt.Node] && pt.Empty {
			mine.Parts = append(mine.Parts, pt)
		}
	}
	return mine.CheckDeletions(l)
}

// partCounts are what a plan does on one data source.
type partCounts struct {
	copies, dates, creates, deletes int
	bytes                           int64
}

// printMemberPlan prints the plan's summary: its size, and per data source what it does there,
// this machine's marked. full lists the actions too: every one (all), or those on this
// machine's nodes.
func printMemberPlan(out io.Writer, p *plan.Plan, own map[string]bool, full, all bool) {
	w := bufio.NewWriter(out)
	defer w.Flush()
	s := p.Summary()
	fmt.Fprintf(w, "Plan: %d actions, %s to copy\n", s.Actions, bytesize.Format(s.Bytes))
	counts := map[string]*partCounts{}
	for _, pt := range p.Parts {
		counts[pt.Name] = &partCounts{}
	}
	p.EachAction(func(a plan.Action) {
		c := counts[targetOf(a)]
		if c == nil {
			return
		}
		switch a.Op {
		case plan.OpCopy, plan.OpCopyContent:
			c.copies++
			if a.Size != nil {
				c.bytes += *a.Size
			}
		case plan.OpCopyDates:
			c.dates++
		case plan.OpCreate:
			c.creates++
		case plan.OpDelete:
			c.deletes++
		}
	})
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, pt := range p.Parts {
		c := counts[pt.Name]
		name := pt.Name
		if own[pt.Node] {
			name += " (this machine)"
		}
		fmt.Fprintf(tw, "  %s:\t%d copied in (%s)\t%d deleted\t%d folders created\t%d dates set\n",
			name, c.copies, bytesize.Format(c.bytes), c.deletes, c.creates, c.dates)
	}
	tw.Flush()
	if full {
		printPlanActions(w, p, func(a plan.Action) bool { return all || own[nodeOf(p, targetOf(a))] })
	}
	printVersions(w, p.Versions)
	if full {
		printRejected(w, tw, "Refused", p.Rejected)
		printRejected(w, tw, "Left alone (do-nothing)", p.LeftAlone)
		return
	}
	if n := len(p.Rejected); n > 0 {
		fmt.Fprintf(w, "Refused: %d (--verbose lists them)\n", n)
	}
	if n := len(p.LeftAlone); n > 0 {
		fmt.Fprintf(w, "Left alone (do-nothing): %d (--verbose lists them)\n", n)
	}
}

// targetOf is the data part an action writes on.
func targetOf(a plan.Action) string {
	if a.From != "" {
		return a.To
	}
	return a.On
}

// nodeOf is the node of a data part.
func nodeOf(p *plan.Plan, part string) string {
	for _, pt := range p.Parts {
		if pt.Name == part {
			return pt.Node
		}
	}
	return ""
}
