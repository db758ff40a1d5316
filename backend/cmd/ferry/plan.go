package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/rules"
)

// planFlags are shared by `ferry plan` and `ferry sync`.
type planFlags struct {
	nodes     []string
	mode      string
	rulesFile string
	maxDelete string
	json      bool
}

func (f *planFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.nodes, "node", nil, "a data node: CODE=PATH[,PATH…] (repeat for each node)")
	fl.StringVar(&f.mode, "mode", "", "preset: "+strings.Join(rules.Presets, ", ")+" (from the first node to the second)")
	fl.StringVar(&f.rulesFile, "rules", "", "rules file (JSON); its settings and rules apply on top of --mode")
	fl.StringVar(&f.maxDelete, "max-delete", "", "the most files a run may delete on any data source: N files or P% of its files\n(default: 50% when that is 10 files or more, and nothing while another data source is empty)")
	fl.BoolVar(&f.json, "json", false, "print JSON")
}

// safety is what protects the data: the rules file's safety settings, overridden by the flags.
func (f *planFlags) safety(fromFile rules.Safety) (rules.Safety, error) {
	s := fromFile
	if f.maxDelete != "" {
		l, err := rules.ParseDeleteLimit(f.maxDelete)
		if err != nil {
			return s, usageError("--max-delete: %w", err)
		}
		s.MaxDelete = l
	}
	return s, nil
}

// request turns the flags into a plan request and the run's safety settings; every error is a
// usage error.
func (f *planFlags) request() (plan.Request, rules.Safety, error) {
	req, fromFile, err := f.planRequest()
	if err != nil {
		return req, fromFile, err
	}
	safety, err := f.safety(fromFile)
	return req, safety, err
}

func (f *planFlags) planRequest() (plan.Request, rules.Safety, error) {
	var safety rules.Safety
	req := plan.Request{Settings: compare.DefaultSettings()}
	for _, v := range f.nodes {
		n, err := plan.ParseNode(v)
		if err != nil {
			return req, safety, usageError("%w", err)
		}
		req.Nodes = append(req.Nodes, n)
	}
	if len(req.Nodes) < 2 {
		return req, safety, usageError("give at least two nodes, e.g. --node A=./src --node B=./dst")
	}
	names := plan.PartNames(req.Nodes)
	if f.mode != "" {
		rs, err := rules.Preset(f.mode, names[0], names[len(names)-1])
		if err != nil {
			return req, safety, usageError("--mode: %w", err)
		}
		if len(req.Nodes) != 2 || len(names) != 2 {
			return req, safety, usageError("--mode needs exactly two nodes with one data source each; use a rules file for more")
		}
		req.Rules = rs
	}
	if f.rulesFile != "" {
		file, err := os.Open(f.rulesFile)
		if err != nil {
			return req, safety, usageError("%w", err)
		}
		defer file.Close()
		rf, err := rules.Parse(file, nil)
		if err != nil {
			return req, safety, usageError("%s: %w", f.rulesFile, err)
		}
		req.Settings = rf.Settings
		safety = rf.Safety
		req.Rules = append(req.Rules, rf.Rules...)
	}
	if f.mode == "" && f.rulesFile == "" {
		return req, safety, usageError("give --mode or --rules")
	}
	if err := req.Check(); err != nil {
		return req, safety, usageError("%w", err)
	}
	return req, safety, nil
}

func newPlanCmd() *cobra.Command {
	var f planFlags
	cmd := &cobra.Command{
		Use:   "plan --node A=PATH --node B=PATH (--mode MODE | --rules FILE)",
		Short: "Show what a synchronization would do, changing nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, safety, err := f.request()
			if err != nil {
				return err
			}
			return showPlan(cmd.Context(), req, safety, f.json, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.register(cmd)
	return cmd
}

func printPlan(out io.Writer, p *plan.Plan) {
	w := bufio.NewWriter(out)
	defer w.Flush()
	s := p.Summary()
	fmt.Fprintf(w, "Plan: %d actions, %s to copy\n", s.Actions, humanBytes(s.Bytes))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, a := range p.Actions() {
		where := "on " + a.On
		if a.From != "" {
			where = a.From + " → " + a.To
		}
		detail := ""
		if a.Size != nil {
			detail = fmt.Sprintf("%s, %s", humanBytes(*a.Size), a.Kind)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", a.Op, where, a.Path, detail)
	}
	tw.Flush()
	printRejected(w, tw, "Refused", p.Rejected)
	printRejected(w, tw, "Left alone (do-nothing)", p.LeftAlone)
}

func printRejected(w io.Writer, tw *tabwriter.Writer, title string, rs []plan.Rejected) {
	if len(rs) == 0 {
		return
	}
	fmt.Fprintf(w, "%s: %d\n", title, len(rs))
	for _, r := range rs {
		where := "on " + r.On
		if r.From != "" {
			where = r.From + " → " + r.To
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", r.Op, where, r.Path, r.Reason)
	}
	tw.Flush()
}

// printDeletions shows, before the confirmation, what the plan deletes on each data source.
func printDeletions(w io.Writer, ds []plan.Deletions) {
	for _, d := range ds {
		fmt.Fprintf(w, "Deletes %d of %d files on %s (%s)\n", d.Deletes, d.Files, d.Part, d.Root)
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
