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
	json      bool
	versions  versionsFlags
}

func (f *planFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.nodes, "node", nil, "a data node: CODE=PATH[,PATH…] (repeat for each node)")
	fl.StringVar(&f.mode, "mode", "", "preset: "+strings.Join(rules.Presets, ", ")+" (from the first node to the second)")
	fl.StringVar(&f.rulesFile, "rules", "", "rules file (JSON); its settings and rules apply on top of --mode")
	fl.BoolVar(&f.json, "json", false, "print JSON")
	f.versions.register(cmd)
}

// request turns the flags into a plan request; every error is a usage error.
func (f *planFlags) request() (plan.Request, error) {
	req := plan.Request{Settings: compare.DefaultSettings()}
	for _, v := range f.nodes {
		n, err := plan.ParseNode(v)
		if err != nil {
			return req, usageError("%w", err)
		}
		req.Nodes = append(req.Nodes, n)
	}
	if len(req.Nodes) < 2 {
		return req, usageError("give at least two nodes, e.g. --node A=./src --node B=./dst")
	}
	names := plan.PartNames(req.Nodes)
	var safety rules.Safety // the rules file's
	if f.mode != "" {
		rs, err := rules.Preset(f.mode, names[0], names[len(names)-1])
		if err != nil {
			return req, usageError("--mode: %w", err)
		}
		if len(req.Nodes) != 2 || len(names) != 2 {
			return req, usageError("--mode needs exactly two nodes with one data source each; use a rules file for more")
		}
		req.Rules = rs
	}
	if f.rulesFile != "" {
		file, err := os.Open(f.rulesFile)
		if err != nil {
			return req, usageError("%w", err)
		}
		defer file.Close()
		rf, err := rules.Parse(file, nil)
		if err != nil {
			return req, usageError("%s: %w", f.rulesFile, err)
		}
		req.Settings = rf.Settings
		req.Rules = append(req.Rules, rf.Rules...)
		safety = rf.Safety
	}
	if f.mode == "" && f.rulesFile == "" {
		return req, usageError("give --mode or --rules")
	}
	var err error
	if req.Options.Versions, err = f.versions.setting(safety); err != nil {
		return req, err
	}
	if err := req.Check(); err != nil {
		return req, usageError("%w", err)
	}
	return req, nil
}

func newPlanCmd() *cobra.Command {
	var f planFlags
	cmd := &cobra.Command{
		Use:   "plan --node A=PATH --node B=PATH (--mode MODE | --rules FILE)",
		Short: "Show what a synchronization would do, changing nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := f.request()
			if err != nil {
				return err
			}
			return showPlan(cmd.Context(), req, f.json, cmd.OutOrStdout())
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
	if v := p.Versions; v != nil {
		fmt.Fprintf(w, "Replaced and deleted files are kept in %s/%s/", v.Dir, v.Stamp)
		if v.KeepDays > 0 {
			fmt.Fprintf(w, " (runs older than %d days are removed)", v.KeepDays)
		}
		fmt.Fprintln(w)
	}
	if len(p.Rejected) > 0 {
		fmt.Fprintf(w, "Refused: %d\n", len(p.Rejected))
		for _, r := range p.Rejected {
			where := "on " + r.On
			if r.From != "" {
				where = r.From + " → " + r.To
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", r.Op, where, r.Path, r.Reason)
		}
		tw.Flush()
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
