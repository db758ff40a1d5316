package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferrysync/ferry/backend/bytesize"
	"github.com/ferrysync/ferry/backend/profile"
)

func newProfileCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "Save a synchronization as a profile and run it again",
		Long: `Save a synchronization as a profile and run it again.

A profile keeps the nodes and their data sources, the preset and/or the rules file (its text:
the file may change or vanish), and the safety settings. Profiles live in the profiles folder
of Ferry's configuration folder ($` + envConfigDir + ` when set, else ~/.config/ferry on Linux),
one JSON file each, and are shared with the desktop app.`,
	}
	cmd.AddCommand(newProfileSaveCmd(), newProfileListCmd(), newProfileShowCmd(), newProfileRunCmd(), newProfileDeleteCmd())
	return cmd
}

func profileStore() (*profile.Store, error) {
	dir, err := configDir()
	if err != nil {
		return nil, err
	}
	return profile.NewStore(dir), nil
}

// profileError makes the store's refusals usage errors (exit 2).
func profileError(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return &exitError{code: exitUsage, err: err}
}

func newProfileSaveCmd() *cobra.Command {
	var f planFlags
	cmd := &cobra.Command{
		Use:   "save NAME --node A=PATH --node B=PATH (--mode MODE | --rules FILE)",
		Short: "Save the nodes, preset or rules and safety settings of a synchronization as a profile",
		Long: `Save the nodes, preset or rules and safety settings of a synchronization as a profile,
replacing the profile of that name. The flags are those of ferry sync; every data source must
exist. The rules file is read now and kept in the profile.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.profile(args[0], cmd)
			if err != nil {
				return err
			}
			s, err := profileStore()
			if err != nil {
				return err
			}
			if err := s.Save(p); err != nil {
				return profileError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Saved profile %q (%s)\n", p.Name, s.Path(p.Name))
			return nil
		},
	}
	f.register(cmd)
	_ = cmd.Flags().MarkHidden("json")
	return cmd
}

// profile is the profile the flags of save describe, checked as ferry sync checks them.
func (f *planFlags) profile(name string, cmd *cobra.Command) (*profile.Profile, error) {
	if err := profile.CheckName(name); err != nil {
		return nil, usageError("%w", err)
	}
	if _, err := f.request(); err != nil {
		return nil, err
	}
	p := &profile.Profile{Name: name, Mode: f.mode, Safety: profile.Safety{MaxDelete: f.maxDelete}}
	for _, v := range f.nodes {
		n, err := parseNode(v)
		if err != nil {
			return nil, usageError("%w", err)
		}
		for _, r := range n.Roots {
			if _, err := os.Stat(r); err != nil {
				return nil, usageError("node %s: data source %s: %w", n.Code, r, statReason(err))
			}
		}
		p.Nodes = append(p.Nodes, profile.Node{Code: n.Code, Sources: n.Roots})
	}
	if f.rulesFile != "" {
		text, err := os.ReadFile(f.rulesFile)
		if err != nil {
			return nil, usageError("%w", err)
		}
		origin, _ := filepath.Abs(f.rulesFile)
		p.Rules = &profile.RulesFile{Text: string(text), Origin: origin}
	}
	fl := cmd.Flags()
	if fl.Changed("versions") {
		p.Safety.Versions = f.versions.dir
	}
	if fl.Changed("versions-keep") {
		p.Safety.VersionsKeep = f.versions.keep
	}
	return p, nil
}

// statReason says why a data source cannot be used.
func statReason(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return errors.New("does not exist (a drive not connected, or a folder moved or renamed?)")
	}
	return err
}

// profileListItem is a line of ferry profile list --json.
type profileListItem struct {
	Name    string           `json:"name,omitempty"`
	File    string           `json:"file"`
	Profile *profile.Profile `json:"profile,omitempty"`
	Error   string           `json:"error,omitempty"`
}

func newProfileListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the saved profiles with their last run",
		Long: `List the saved profiles with their last run. A profile file that cannot be read is
listed as unreadable, with the reason, after the others.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := profileStore()
			if err != nil {
				return err
			}
			es, err := s.List()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				items := make([]profileListItem, 0, len(es))
				for _, e := range es {
					it := profileListItem{File: e.File, Profile: e.Profile}
					if e.Err != nil {
						it.Error = e.Err.Error()
					} else {
						it.Name = e.Profile.Name
					}
					items = append(items, it)
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(items)
			}
			if len(es) == 0 {
				fmt.Fprintln(out, "No profiles: save one with ferry profile save NAME --node A=PATH --node B=PATH --mode mirror")
				return nil
			}
			tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tNODES\tRULES\tLAST RUN")
			for _, e := range es {
				if e.Err != nil {
					fmt.Fprintf(tw, "(unreadable)\t\t\t%v\n", e.Err)
					continue
				}
				p := e.Profile
				nodes := strconv.Itoa(len(p.Nodes))
				if p.Shared() {
					nodes += ", with " + shownPath(memberNames(p))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", shownPath(p.Name), nodes, rulesWord(p), lastRunText(p.LastRun))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// rulesWord is a profile's preset and/or rules file, in a word or two.
func rulesWord(p *profile.Profile) string {
	switch {
	case p.Mode != "" && p.Rules != nil:
		return p.Mode + " + rules"
	case p.Mode != "":
		return p.Mode
	}
	return "rules file"
}

func lastRunText(r *profile.Run) string {
	if r == nil {
		return "never"
	}
	s := fmt.Sprintf("%s: %s", r.At.Local().Format("2006-01-02 15:04 MST"), r.Status)
	if r.Status == profile.StatusDone || r.Status == profile.StatusErrors {
		s += fmt.Sprintf(", %d actions, %d errors", r.Actions, r.Errors)
	}
	return s
}

func newProfileShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a profile",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := profileStore()
			if err != nil {
				return err
			}
			p, err := s.Get(args[0])
			if err != nil {
				return profileError(err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(p)
			}
			printProfile(out, p, s.Path(p.Name))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printProfile(w io.Writer, p *profile.Profile, file string) {
	line := func(label, value string) { fmt.Fprintf(w, "  %-12s%s\n", label, value) }
	fmt.Fprintf(w, "Profile %s\n", shownPath(p.Name))
	line("File:", file)
	for _, n := range p.Nodes {
		line("Node "+n.Code+":", shownPath(strings.Join(n.Sources, ", ")))
	}
	if p.Shared() {
		for _, m := range p.Members {
			line("With:", shownPath(m.Name)+" (client id "+m.ClientID+")")
		}
		server := p.Server
		if server == "" {
			server = "none: save the profile again from a run with --server"
		}
		line("Server:", shownPath(server))
	}
	if p.Mode != "" {
		mode := p.Mode
		if p.From != "" {
			mode += " from node " + p.From
		}
		line("Mode:", mode)
	}
	if p.Rules != nil {
		from := "kept in the profile"
		if p.Rules.Origin != "" {
			from = "read from " + shownPath(p.Rules.Origin) + ", kept in the profile"
		}
		line("Rules:", from)
	}
	limit := p.Safety.MaxDelete
	if limit == "" {
		limit = "the rules file's, or the default"
	}
	line("Max delete:", limit)
	if v := p.Safety.Versions; v != "" {
		keep := "kept until removed"
		if p.Safety.VersionsKeep > 0 {
			keep = "kept " + strconv.Itoa(p.Safety.VersionsKeep) + " days"
		}
		line("Versions:", v+" ("+keep+")")
	}
	line("Created:", p.Created.Local().Format("2006-01-02 15:04 MST")+", updated "+p.Updated.Local().Format("2006-01-02 15:04 MST"))
	line("Last run:", lastRunText(p.LastRun))
	if r := p.LastRun; r != nil {
		if r.Bytes > 0 {
			line("", bytesize.Format(r.Bytes)+" synchronized")
		}
		if r.Message != "" {
			line("", r.Message)
		}
	}
}

func newProfileDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a profile (its folders are left alone)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := profileStore()
			if err != nil {
				return err
			}
			if err := s.Delete(args[0]); err != nil {
				return profileError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Deleted profile %q\n", args[0])
			return nil
		},
	}
}

type profileRunFlags struct {
	yes, json, dryRun bool
	wait              time.Duration // a shared profile's wait for its other members
}

func newProfileRunCmd() *cobra.Command {
	var rf profileRunFlags
	cmd := &cobra.Command{
		Use:   "run NAME",
		Short: "Run a profile as ferry sync would",
		Long: `Run a profile as ferry sync would, with its nodes, preset or rules and safety settings,
and record how it ended in the profile (not with --dry-run). A data source that is gone stops
the run before anything is read or changed. The exit codes are those of ferry sync.

A shared profile (saved with ferry host or ferry join --save-profile) runs with its other
members: when one of them already runs it, this member joins its session as ferry join does;
otherwise it creates a session on the profile's server, invites the others (an invitation sealed
with the profile's secret, which the server cannot read), waits up to --wait for them (they run
ferry profile run NAME or ferry join --profile NAME), and plans and runs as ferry host does. No
password is typed and no key question comes up: only the members' keys kept in the profile are
taken. The exit codes are then those of ferry host and ferry join.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runProfile(cmd.Context(), args[0], rf, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&rf.yes, "yes", false, "do not ask for confirmation")
	fl.BoolVar(&rf.json, "json", false, "print JSON")
	fl.BoolVar(&rf.dryRun, "dry-run", false, "show the plan and change nothing")
	fl.DurationVar(&rf.wait, "wait", 30*time.Minute, "a shared profile: how long to wait for its other members")
	return cmd
}

func runProfile(ctx context.Context, name string, rf profileRunFlags, stdin io.Reader, stdout, stderr io.Writer) error {
	s, err := profileStore()
	if err != nil {
		return err
	}
	p, err := s.Get(name)
	if err != nil {
		return profileError(err)
	}
	started := time.Now()
	record := func(r profile.Run) {
		if rf.dryRun {
			return
		}
		r.At = started
		if err := s.Recorded(p.Name, r); err != nil {
			fmt.Fprintf(stderr, "ferry: the outcome of the run could not be recorded in the profile: %v\n", err)
		}
	}
	// A source that is gone is never read as empty: that would make a mirror delete everything.
	if err := sourcesPresent(p); err != nil {
		record(profile.Run{Status: profile.StatusFailed, Message: err.Error()})
		return err
	}
	if p.Shared() {
		r := newSharedRun(p, rf.wait, rf.dryRun)
		err := runSharedProfile(ctx, r, rf, stdin, stdout, stderr)
		if !notConfirmedHere(err) {
			record(runOutcome(r.report(), err))
		}
		return err
	}
	f, cleanup, err := syncFlagsOf(p, rf)
	if err != nil {
		return err
	}
	defer cleanup()
	var rep *syncReport
	f.ran = func(r *syncReport) { rep = r }
	err = runSync(ctx, f, stdin, stdout, stderr)
	if errors.Is(err, errNotConfirmed) {
		return err // nothing ran: the last run stays the last
	}
	record(runOutcome(rep, err))
	return err
}

// syncFlagsOf are the ferry sync flags of a profile run; cleanup removes the rules file written
// for it.
func syncFlagsOf(p *profile.Profile, rf profileRunFlags) (syncFlags, func(), error) {
	var f syncFlags
	cleanup := func() {}
	cmd := &cobra.Command{}
	f.register(cmd)
	fl := cmd.Flags()
	var setErr error
	set := func(name, value string) {
		if err := fl.Set(name, value); err != nil && setErr == nil {
			setErr = usageError("profile %q: %s: %w", p.Name, name, err)
		}
	}
	for _, n := range p.Nodes {
		set("node", n.Code+"="+strings.Join(n.Sources, ","))
	}
	if p.Mode != "" {
		set("mode", p.Mode)
	}
	setSafety(set, p.Safety)
	if p.Rules != nil {
		dir, err := os.MkdirTemp("", "ferry-profile-")
		if err != nil {
			return f, cleanup, err
		}
		cleanup = func() { os.RemoveAll(dir) }
		file := filepath.Join(dir, "rules.json")
		if err := os.WriteFile(file, []byte(p.Rules.Text), 0o600); err != nil {
			cleanup()
			return f, func() {}, fmt.Errorf("write the profile's rules for the run: %w", err)
		}
		set("rules", file)
	}
	if setErr != nil {
		cleanup()
		return f, func() {}, setErr
	}
	f.json = rf.json
	f.dryRun = rf.dryRun
	f.yes = rf.yes
	f.orchestration = "auto"
	f.statusWait = 30 * time.Second
	f.logLevel = "warn"
	return f, cleanup, nil
}

// runOutcome is a profile's record of a run from its exit and, when it synchronized, its report.
func runOutcome(rep *syncReport, err error) profile.Run {
	r := profile.Run{Status: profile.StatusDone}
	var ee *exitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.code == exitActionError:
		r.Status = profile.StatusErrors
	case errors.As(err, &ee) && ee.code == exitUsage:
		r.Status = profile.StatusRefused
	case errors.As(err, &ee) && ee.code == exitAborted:
		r.Status = profile.StatusAborted
	default:
		r.Status = profile.StatusFailed
	}
	if err != nil {
		r.Message = err.Error()
	}
	if rep != nil {
		r.Actions, r.Errors, r.Bytes = rep.Progress.FinishedActions, rep.Progress.ErrorActions, rep.Progress.SyncedVolume
	}
	return r
}

// setSafety sets the flags of a profile's safety settings that it gives.
func setSafety(set func(name, value string), s profile.Safety) {
	if s.MaxDelete != "" {
		set("max-delete", s.MaxDelete)
	}
	if s.Versions != "" {
		set("versions", s.Versions)
	}
	if s.VersionsKeep != 0 {
		set("versions-keep", strconv.Itoa(s.VersionsKeep))
	}
}
