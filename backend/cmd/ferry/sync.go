package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferrysync/ferry/backend/bytesize"
	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/engine"
	"github.com/ferrysync/ferry/backend/gcpace"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/jsonstream"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/session"
	"github.com/ferrysync/ferry/backend/transfer"
	"github.com/ferrysync/ferry/backend/twoway"
)

// envConfigDir overrides where the identity key is kept.
const envConfigDir = "FERRY_CONFIG_DIR"

// abortGrace bounds the wait for the end of a run once an abort was asked.
const abortGrace = time.Minute

type syncFlags struct {
	planFlags
	server        string
	orchestration string
	dryRun        bool
	yes           bool
	statusWait    time.Duration
	logLevel      string
	// ran, when set, receives the report of a run that synchronized, before it is printed.
	ran func(*syncReport)
}

func newSyncCmd() *cobra.Command {
	var f syncFlags
	cmd := &cobra.Command{
		Use:   "sync --node A=PATH --node B=PATH (--mode MODE | --rules FILE)",
		Short: "Synchronize data nodes on this machine through a cloud session",
		Long: `Synchronize data nodes on this machine through a cloud session.

ferry logs in to the session server (an embedded one on a loopback port unless --server is
given), creates a session, declares the nodes and their data sources (sealed: the server sees
no path), inventories and compares them, plans with the preset and/or the rules file, asks for
confirmation on stdin (unless --yes; only "y" goes on), synchronizes, reports and quits the
session. A session with one member is orchestrated on this machine; --orchestration cloud
makes the server track it instead. SIGINT aborts cleanly.

Each data source folder is locked for the run: a folder another Ferry run uses, or one
replaced since the inventory, stops the run before anything changes.

Exit codes: 0 done, 1 finished with action errors or refused actions, 2 bad usage or invalid
input, or a data source folder in use by another run or replaced since the inventory (nothing
changed), 3 server unreachable before the session existed, 4 aborted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSync(cmd.Context(), f, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.server, "server", "", "session server URL, or several URLs of one service separated by commas, tried in turn when one stops answering (an embedded server on a loopback port when empty)")
	fl.StringVar(&f.orchestration, "orchestration", "auto", "auto: on this machine when the session has one member; cloud: on the server")
	fl.BoolVar(&f.dryRun, "dry-run", false, "show the plan and change nothing (the same as ferry plan)")
	fl.BoolVar(&f.yes, "yes", false, "do not ask for confirmation")
	fl.DurationVar(&f.statusWait, "status-wait", 30*time.Second, "how long to wait at the end for the member statuses to reach the server")
	fl.StringVar(&f.logLevel, "log-level", "warn", "debug, info, warn or error (to stderr)")
	return cmd
}

// syncReport is the final report (stdout; JSON with --json).
type syncReport struct {
	Status        string             `json:"status"` // regular, aborted, error
	Orchestration string             `json:"orchestration"`
	Session       string             `json:"session"`
	Progress      protocol.Progress  `json:"progress"`
	EndReason     string             `json:"end_reason,omitempty"`
	Errors        []string           `json:"errors"`
	Rejected      []plan.Rejected    `json:"rejected"`
	LeftAlone     int                `json:"left_alone"` // actions a do-nothing kept off their items
	Deletions     []plan.Deletions   `json:"deletions"`  // files deleted per data source, against the limit
	Conflicts     []twoway.Conflict  `json:"conflicts"`  // two-way: edited on several sides
	Statuses      statusDeliveryInfo `json:"statuses"`
	Phases        phases             `json:"phases"`
	// Plan is written last (writeReport), one action at a time.
	Plan    *plan.Plan `json:"-"`
	started time.Time  // from the log-in on: Phases.Total
}

// phases are how long the parts of a run took, in seconds: the walks of the data sources, the
// content keys read for the comparison, the comparison, the plan, the synchronization itself,
// and the calls to the session server before and after it (log in, session, members, leave).
type phases struct {
	Scan     float64 `json:"scan_s"`
	Analysis float64 `json:"analysis_s"`
	Compare  float64 `json:"compare_s"`
	Plan     float64 `json:"plan_s"`
	Apply    float64 `json:"apply_s"`
	Session  float64 `json:"session_s"`
	Total    float64 `json:"total_s"`
}

// planned records the phases of a local plan.
func (p *phases) planned(t plan.Timings) {
	p.Scan, p.Analysis = t.Scan.Seconds(), t.Analysis.Seconds()
	p.Compare, p.Plan = t.Compare.Seconds(), t.Plan.Seconds()
}

// timed runs fn and adds its duration to *d.
func timed(d *float64, fn func()) {
	start := time.Now()
	fn()
	*d += time.Since(start).Seconds()
}

type statusDeliveryInfo struct {
	Undelivered int `json:"undelivered"`
}

// errNotConfirmed: the plan was shown and not confirmed; nothing ran.
var errNotConfirmed = errors.New("not confirmed: nothing changed (answer y, or give --yes)")

func runSync(ctx context.Context, f syncFlags, stdin io.Reader, stdout, stderr io.Writer) error {
	j, err := f.request()
	if err != nil {
		return err
	}
	forceCloud := false
	switch f.orchestration {
	case "auto":
	case "cloud":
		forceCloud = true
	default:
		return usageError("--orchestration %q: want auto or cloud", f.orchestration)
	}
	level, err := parseLogLevel(f.logLevel)
	if err != nil {
		return err
	}
	if f.dryRun {
		return showPlan(ctx, j, f.json, stdout, stderr)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	tty := isTerminal(stderr)

	// The data source folders are held from before the inventory to the end: shared now,
	// exclusive where the plan writes; a folder another run holds fails at once.
	roots := transfer.NewRoots()
	defer roots.Close()
	if err := lockRoots(roots, &j); err != nil {
		return &exitError{code: exitUsage, err: err}
	}

	// Everything below outlives SIGINT (ctx) until the run is told to abort and has ended.
	work := context.WithoutCancel(ctx)
	serverURL := f.server
	if serverURL == "" {
		e, err := cloud.StartEmbedded(work, log)
		if err != nil {
			return err
		}
		defer e.Close()
		serverURL = e.URL()
	}
	c, err := newClient(serverURL, log)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := within(ctx, 30*time.Second, c.Login); err != nil {
		return beforeSession(fmt.Errorf("log in to %s: %w", serverURL, err))
	}
	var m *session.Member
	err = within(ctx, 30*time.Second, func(ctx context.Context) error {
		var err error
		m, err = session.Create(ctx, c, j.Nodes, session.LazyPasswordKey()) // nobody joins it
		return err
	})
	if m == nil {
		return beforeSession(err)
	}
	rep := &syncReport{Session: m.ID(), Errors: []string{}, Rejected: []plan.Rejected{}, Deletions: []plan.Deletions{}}
	rep.started, rep.Phases.Session = start, time.Since(start).Seconds()
	var leaveOnce sync.Once
	leave := func() {
		leaveOnce.Do(func() {
			began := time.Now()
			n, err := m.Close(work, f.statusWait)
			rep.Phases.Session += time.Since(began).Seconds()
			rep.Statuses.Undelivered = n
			switch {
			case n > 0 && err != nil:
				fmt.Fprintf(stderr, "ferry: %d member statuses did not reach the server: %v\n", n, err)
			case n > 0:
				fmt.Fprintf(stderr, "ferry: %d member statuses did not reach the server within %s\n", n, f.statusWait)
			case err != nil:
				log.Warn("leaving the session", "err", err)
			}
		})
	}
	defer leave()
	if err != nil {
		return &exitError{code: exitActionError, err: err}
	}

	showScan := tty && !f.json
	planning := session.Planning{Settings: j.Settings, Versions: j.Options.Versions, MaxDelete: j.Safety.MaxDelete}
	if !j.TwoWay && len(j.Targeted) == 0 {
		// planLocal evaluates j's rules alone: the items they leave alone need not be kept.
		planning.Sparse = &session.Sparse{Rules: j.Rules}
	}
	gc := gcpace.Start(os.Getenv, len(j.Nodes))
	defer gc.Restore()
	flow := m.NewFlow(j.Nodes, session.FlowOptions{
		Planning:   planning,
		ForceCloud: forceCloud,
		Roots:      roots,
		Progress:   inventoryProgress(stderr, showScan),
		Scanned:    func(string, *inventory.Node, error) { gc.Scanned() },
		Cloud:      engine.CloudOptions{Logger: log},
		Logger:     log,
	})
	defer func() { _ = flow.Close(work) }()

	var startErr error
	timed(&rep.Phases.Session, func() { startErr = within(ctx, 30*time.Second, flow.Start) })
	if startErr != nil {
		return &exitError{code: exitActionError, err: startErr}
	}
	began := time.Now()
	local, tw, err := flowPlan(ctx, flow, j)
	gc.Planned()
	if showScan {
		fmt.Fprint(stderr, "\r\033[K") // the scan's progress line
	}
	if err != nil {
		if ctx.Err() != nil {
			return &exitError{code: exitAborted, err: errors.New("aborted during the inventory")}
		}
		return usageError("%w", err)
	}
	rep.Phases.planned(local.Timings)
	// What the flow spent besides scanning, reading and planning went to the session server.
	rep.Phases.Session += max(0, time.Since(began).Seconds()-rep.Phases.Scan-rep.Phases.Analysis-rep.Phases.Compare-rep.Phases.Plan)
	p := local.Plan
	rep.Plan, rep.LeftAlone = p, len(p.LeftAlone)
	rep.Rejected = append(rep.Rejected, p.Rejected...)
	rep.Deletions = append(rep.Deletions, p.Deletions(j.Safety.MaxDelete)...)
	rep.Conflicts = tw.Conflicts()
	if !f.json {
		printPlan(stdout, p)
		printConflicts(stdout, rep.Conflicts)
		printDeletions(stdout, rep.Deletions)
	}
	if err := flow.Refused(); err != nil {
		rep.Status = "refused"
		rep.Errors = append(rep.Errors, err.Error())
		if f.json {
			printReport(stdout, rep, true)
		}
		return &exitError{code: exitUsage, err: err}
	}
	// The folders must still be those inventoried; the ones written are locked exclusively.
	if err := engine.OpenRoots(p, roots, func(string) bool { return true }); err != nil {
		rep.Status = "refused"
		rep.Errors = append(rep.Errors, err.Error())
		if f.json {
			printReport(stdout, rep, true)
		}
		return &exitError{code: exitUsage, err: err}
	}
	// Without --yes the answer is read from stdin, terminal or not: only "y" or "yes" goes on,
	// anything else (an empty or closed stdin too) changes nothing.
	if !f.yes && len(p.Groups) > 0 && !confirm(stdin, stderr) {
		return &exitError{code: exitAborted, err: errNotConfirmed}
	}

	if tw == nil {
		// Only the plan runs from here: the inventories and the comparison behind it can go.
		local = &plan.Local{Plan: p}
	}

	abort := make(chan struct{})
	runCtx, cancelRun := context.WithCancel(work)
	defer cancelRun()
	go func() {
		select {
		case <-ctx.Done():
			close(abort)
			fmt.Fprintln(stderr, "ferry: aborting…")
			time.AfterFunc(abortGrace, cancelRun)
		case <-runCtx.Done():
		}
	}()
	view := newProgressView(stderr, f.json, tty)
	applied := time.Now()
	out, err := flow.Synchronize(runCtx, session.SyncOptions{
		Event:  view.event,
		Abort:  abort,
		Result: tw.Result,
		Chosen: func(o engine.Orchestration) { rep.Orchestration = string(o) },
	})
	rep.Phases.Apply = time.Since(applied).Seconds()
	view.done()
	rep.record(out, err)
	if out != nil {
		if err := tw.Save(local); err != nil {
			rep.Errors = append(rep.Errors, err.Error())
		}
	}
	if err := flow.Close(work); err != nil {
		log.Info("close the flow", "err", err)
	}
	leave()
	if f.ran != nil {
		f.ran(rep)
	}
	printReport(stdout, rep, f.json)
	return rep.exit(ctx, err)
}

// flowPlan runs the inventory of a member alone in its session and plans the job on it, then
// makes it the flow's plan. A two-way job also returns its run.
func flowPlan(ctx context.Context, flow *session.Flow, j job) (*plan.Local, *twoway.Run, error) {
	local, err := flow.Inventory(ctx)
	if err != nil {
		return nil, nil, err
	}
	if local == nil {
		return nil, nil, errors.New("another member joined the session: ferry sync synchronizes this machine's nodes alone (see ferry host)")
	}
	// Only the plan runs from here: the comparison can go as the plan is made.
	j.Request.Options.Consume = !j.TwoWay
	tw, err := planLocal(local, j)
	if err != nil {
		flow.Fail(ctx, err)
		return nil, nil, err
	}
	return local, tw, flow.Propose(ctx, local.Plan)
}

// record adds a run's outcome (either may be nil) to the report.
func (rep *syncReport) record(out *engine.Outcome, err error) {
	if out != nil {
		rep.Progress = out.Sync.Progress
		rep.Status = string(out.Sync.EndStatus)
		rep.EndReason = out.Sync.EndReason
		for _, e := range out.Errors {
			rep.Errors = append(rep.Errors, e.Error())
		}
	}
	if err != nil {
		rep.Status = "error"
		rep.Errors = append(rep.Errors, err.Error())
	}
}

// exit is the exit status of a reported run; err is Synchronize's, ctx the command's.
func (rep *syncReport) exit(ctx context.Context, err error) error {
	switch {
	case rep.Status == string(protocol.EndAborted) || (err != nil && ctx.Err() != nil):
		return &exitError{code: exitAborted, err: errors.New("aborted")}
	case errors.Is(err, transfer.ErrRootReplaced) || errors.Is(err, transfer.ErrRootBusy) || errors.As(err, new(*engine.TargetError)):
		return &exitError{code: exitUsage, err: err} // refused before anything changed
	case err != nil:
		return &exitError{code: exitActionError, err: err}
	case rep.Status == string(protocol.EndError):
		return &exitError{code: exitActionError, err: fmt.Errorf("the synchronization ended with an error: %s", rep.EndReason)}
	case len(rep.Errors) > 0 || rep.Progress.ErrorActions > 0:
		return &exitError{code: exitActionError, err: fmt.Errorf("%d actions failed", max(len(rep.Errors), rep.Progress.ErrorActions))}
	case len(rep.Rejected) > 0:
		return &exitError{code: exitActionError, err: fmt.Errorf("%d actions were refused", len(rep.Rejected))}
	}
	return nil
}

// lockRoots resolves the data source roots of j once (a root given as a symbolic link is the
// directory it leads to now) and takes a shared lock on each (sync.LockRoots).
func lockRoots(roots *transfer.Roots, j *job) error {
	var paths []string
	for i := range j.Nodes {
		n := &j.Nodes[i]
		resolved := make([]string, len(n.Roots))
		for k, r := range n.Roots {
			resolved[k] = inventory.ResolveRoot(r)
		}
		n.Roots = resolved
		paths = append(paths, resolved...)
	}
	return engine.LockRoots(roots, paths)
}

// showPlan is --dry-run: the plan, nothing changed, no server. A plan past the deletion limit
// is shown with a warning on stderr: ferry sync would refuse it.
func showPlan(ctx context.Context, j job, asJSON bool, stdout, stderr io.Writer) error {
	local, tw, err := planJob(ctx, j)
	if err != nil {
		return usageError("%w", err)
	}
	safety := j.Safety
	p := local.Plan
	if asJSON {
		o := jsonstream.New(stdout, "  ")
		p.WriteJSON(o)
		o.Member("deletions", append([]plan.Deletions{}, p.Deletions(safety.MaxDelete)...))
		o.Member("conflicts", tw.Conflicts())
		if err := o.Close(); err != nil {
			return err
		}
	} else {
		printPlan(stdout, p)
		printConflicts(stdout, tw.Conflicts())
		printDeletions(stdout, p.Deletions(safety.MaxDelete))
	}
	if err := p.CheckDeletions(safety.MaxDelete); err != nil {
		fmt.Fprintf(stderr, "ferry: warning: ferry sync would refuse this plan: %v\n", err)
	}
	return nil
}

func newClient(serverURL string, log *slog.Logger) (*client.Client, error) {
	dir, err := configDir()
	if err != nil {
		return nil, err
	}
	id, err := crypto.LoadOrCreateIdentity(dir)
	if err != nil {
		return nil, err
	}
	c, err := client.New(serverURL, id, client.Options{Logger: log})
	if err != nil {
		return nil, usageError("--server: %w", err)
	}
	return c, nil
}

// beforeSession is a failure before the session existed: exit 3 when the server could not be
// reached, 1 when it refused.
func beforeSession(err error) error {
	if errors.Is(err, client.ErrUnreachable) || errors.Is(err, context.DeadlineExceeded) {
		return &exitError{code: exitUnreachable, err: err}
	}
	return &exitError{code: exitActionError, err: err}
}

// within runs fn with a deadline, also ended by ctx.
func within(ctx context.Context, d time.Duration, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return fn(ctx)
}

func confirm(stdin io.Reader, stderr io.Writer) bool {
	fmt.Fprint(stderr, "Synchronize? [y/N] ")
	line, _ := bufio.NewReader(stdin).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// inventoryProgress prints the scan's progress on a terminal.
func inventoryProgress(w io.Writer, show bool) func(inventory.Progress) {
	if !show {
		return nil
	}
	var last time.Time
	return func(p inventory.Progress) {
		if time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		fmt.Fprintf(w, "\rInventory of %s: %d files, %d folders", p.Part, p.Files, p.Dirs)
	}
}

// writeReport writes a report as JSON, its plan last and streamed.
func writeReport(w io.Writer, report any, p *plan.Plan) error {
	o := jsonstream.New(w, "  ")
	o.Members(report)
	if p == nil {
		o.Member("plan", nil)
	} else {
		po := o.Object("plan")
		p.WriteJSON(po)
		if err := po.Close(); err != nil {
			return err
		}
	}
	return o.Close()
}

func printReport(w io.Writer, r *syncReport, asJSON bool) {
	r.Phases.Total = time.Since(r.started).Seconds()
	if asJSON {
		_ = writeReport(w, r, r.Plan)
		return
	}
	p := r.Progress
	word := map[string]string{"regular": "done", "aborted": "aborted", "error": "ended with an error"}[r.Status]
	if word == "" {
		word = r.Status
	}
	fmt.Fprintf(w, "Synchronization %s (%s orchestration): %d of %d actions, %d errors, %s synchronized, %s copied\n",
		word, r.Orchestration, p.FinishedActions-p.ErrorActions, p.TotalActions, p.ErrorActions, bytesize.Format(p.SyncedVolume), bytesize.Format(p.LocalCopyVolume))
	if r.EndReason != "" {
		fmt.Fprintf(w, "  %s\n", r.EndReason)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
}
