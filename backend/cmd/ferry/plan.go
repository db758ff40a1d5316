package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/ferrysync/ferry/backend/bytesize"
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
	versions  versionsFlags
}

func (f *planFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.nodes, "node", nil, "a data node: CODE=PATH[,PATH…] (repeat for each node)")
	fl.StringVar(&f.mode, "mode", "", "preset: "+strings.Join(rules.Presets, ", ")+" (from the first node to the second)")
	fl.StringVar(&f.rulesFile, "rules", "", "rules file (JSON); its settings and rules apply on top of --mode")
	fl.StringVar(&f.maxDelete, "max-delete", "", "the most files a run may delete on any data source: N files or P% of its files\n(default: 50% when that is 10 files or more, and nothing while another data source is empty)")
	fl.BoolVar(&f.json, "json", false, "print JSON")
	f.versions.register(cmd)
}

// job is what the flags ask for: the plan request, the safety settings, and how two-way runs
// use their record.
type job struct {
	plan.Request
	Safety rules.Safety
	// TwoWay is --mode two-way between two folders: with a record of the last run, the record
	// decides instead of the preset; FileRules (the rules file's rules) still apply.
	TwoWay    bool
	FileRules []rules.Rule
}

// request turns the flags into a job; every error is a usage error.
func (f *planFlags) request() (job, error) {
	j := job{Request: plan.Request{Settings: compare.DefaultSettings()}}
	for _, v := range f.nodes {
		n, err := parseNode(v)
		if err != nil {
			return j, usageError("%w", err)
		}
		j.Nodes = append(j.Nodes, n)
	}
	if len(j.Nodes) < 2 {
		return j, usageError("give at least two nodes, e.g. --node A=./src --node B=./dst")
	}
	names := plan.PartNames(j.Nodes)
	if f.mode != "" {
		rs, err := rules.Preset(f.mode, names[0], names[len(names)-1])
		if err != nil {
			return j, usageError("--mode: %w", err)
		}
		if len(j.Nodes) != 2 || len(names) != 2 {
			return j, usageError("--mode needs exactly two nodes with one data source each; use a rules file for more")
		}
		j.Rules = rs
		j.TwoWay = f.mode == rules.PresetTwoWay
	}
	if f.rulesFile != "" {
		file, err := os.Open(f.rulesFile)
		if err != nil {
			return j, usageError("%w", err)
		}
		defer file.Close()
		rf, err := rules.Parse(file, nil)
		if err != nil {
			return j, usageError("%s: %w", f.rulesFile, err)
		}
		j.Settings = rf.Settings
		j.Safety = rf.Safety
		j.FileRules = rf.Rules
		j.Rules = append(j.Rules, rf.Rules...)
	}
	if f.mode == "" && f.rulesFile == "" {
		return j, usageError("give --mode or --rules")
	}
	var err error
	if j.Options.Versions, err = f.versions.setting(j.Safety); err != nil {
		return j, err
	}
	if err := j.Check(); err != nil {
		return j, usageError("%w", err)
	}
	if f.maxDelete != "" {
		l, err := rules.ParseDeleteLimit(f.maxDelete)
		if err != nil {
			return j, usageError("--max-delete: %w", err)
		}
		j.Safety.MaxDelete = l
	}
	j.TwoWay = j.TwoWay && j.Settings.Matching == compare.Tree
	return j, nil
}

func newPlanCmd() *cobra.Command {
	var f planFlags
	cmd := &cobra.Command{
		Use:   "plan --node A=PATH --node B=PATH (--mode MODE | --rules FILE)",
		Short: "Show what a synchronization would do, changing nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			j, err := f.request()
			if err != nil {
				return err
			}
			return showPlan(cmd.Context(), j, f.json, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.register(cmd)
	return cmd
}

func printPlan(out io.Writer, p *plan.Plan) {
	w := bufio.NewWriter(out)
	defer w.Flush()
	s := p.Summary()
	fmt.Fprintf(w, "Plan: %d actions, %s to copy\n", s.Actions, bytesize.Format(s.Bytes))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	printPlanActions(w, p, nil)
	printVersions(w, p.Versions)
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
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", r.Op, where, shownPath(r.Path), r.Reason)
	}
	tw.Flush()
}

// printDeletions shows, before the confirmation, what the plan deletes on each data source.
func printDeletions(w io.Writer, ds []plan.Deletions) {
	for _, d := range ds {
		fmt.Fprintf(w, "Deletes %d of %d files on %s (%s)\n", d.Deletes, d.Files, d.Part, d.Root)
	}
}

// shownPath is a path as a terminal may show it: quoted, with escapes, when it holds control
// characters (a newline, an escape sequence) or bytes that are not UTF-8.
func shownPath(p string) string {
	if !utf8.ValidString(p) || strings.IndexFunc(p, unicode.IsControl) >= 0 {
		return strconv.Quote(p)
	}
	return p
}

// actionCells are the columns of an action's line.
func actionCells(a plan.Action) [4]string {
	where := "on " + a.On
	if a.From != "" {
		where = a.From + " → " + a.To
	}
	detail := ""
	if a.Size != nil {
		detail = fmt.Sprintf("%s, %s", bytesize.Format(*a.Size), a.Kind)
	}
	return [4]string{"  " + a.Op.String(), where, shownPath(a.Path), detail}
}

// printPlanActions lists the actions of p that keep keeps (all when nil), one a line, in columns
// as a tabwriter would align them (minimum width 2, padding 2, left aligned with spaces): a first
// pass measures the columns, the second writes the lines, without holding them all.
func printPlanActions(w io.Writer, p *plan.Plan, keep func(plan.Action) bool) {
	kept := func(fn func(plan.Action)) {
		p.EachAction(func(a plan.Action) {
			if keep == nil || keep(a) {
				fn(a)
			}
		})
	}
	var widths [3]int
	kept(func(a plan.Action) {
		c := actionCells(a)
		for i := range widths {
			widths[i] = max(widths[i], utf8.RuneCountInString(c[i])+2)
		}
	})
	pad := strings.Repeat(" ", max(widths[0], widths[1], widths[2]))
	kept(func(a plan.Action) {
		c := actionCells(a)
		for i, wd := range widths {
			io.WriteString(w, c[i])
			io.WriteString(w, pad[:wd-utf8.RuneCountInString(c[i])])
		}
		io.WriteString(w, c[3])
		io.WriteString(w, "\n")
	})
}

// printVersions tells where the run keeps what it replaces and deletes.
func printVersions(w io.Writer, v *plan.Versions) {
	if v == nil {
		return
	}
	fmt.Fprintf(w, "Replaced and deleted files are kept in %s/%s/", v.Dir, v.Stamp)
	if v.KeepDays > 0 {
		fmt.Fprintf(w, " (runs older than %d days are removed)", v.KeepDays)
	}
	fmt.Fprintln(w)
}
