package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferrysync/ferry/backend/bytesize"
	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/engine"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/rules"
	"github.com/ferrysync/ferry/backend/session"
	"github.com/ferrysync/ferry/backend/transfer"
	"github.com/ferrysync/ferry/backend/twoway"
)

// memberFlags are shared by `ferry host` and `ferry join`.
type memberFlags struct {
	nodes      []string
	server     string
	trust      bool
	json       bool
	statusWait time.Duration
	serverWait time.Duration
	logLevel   string
	// saveProfile names the shared profile saved after a run that ended done.
	saveProfile string
	confirmFlags
}

func (f *memberFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.nodes, "node", nil, "this machine's data node: CODE=PATH[,PATH…] (repeat for each node)")
	fl.BoolVar(&f.trust, "trust", false, "trust identity keys seen for the first time (their safety words go to stderr)")
	fl.BoolVar(&f.json, "json", false, "JSON: one event per line on stderr, the report on stdout")
	fl.DurationVar(&f.statusWait, "status-wait", 30*time.Second, "how long to wait at the end for the others to receive what this member sent, and for the member statuses to reach the server")
	fl.DurationVar(&f.serverWait, "server-wait", session.DefaultServerWait, "how long the server (every URL of --server) may stay unreachable before this member gives the session up (exit 1)")
	fl.StringVar(&f.logLevel, "log-level", "warn", "debug, info, warn or error (to stderr)")
	fl.StringVar(&f.saveProfile, "save-profile", "", "after a run that ended done, save it as the shared profile NAME, to run again with\nferry profile run NAME on any of its members, no password typed")
	f.confirmFlags.register(cmd)
}

// nodeSpecs parses --node.
func (f *memberFlags) nodeSpecs() ([]plan.NodeSpec, error) {
	var nodes []plan.NodeSpec
	for _, v := range f.nodes {
		n, err := parseNode(v)
		if err != nil {
			return nil, usageError("%w", err)
		}
		nodes = append(nodes, n)
	}
	if len(nodes) == 0 {
		return nil, usageError("give this machine's node, e.g. --node A=./photos")
	}
	return nodes, nil
}

type hostFlags struct {
	memberFlags
	mode      string
	rulesFile string
	expect    int
	versions  versionsFlags
	// from is the node the preset goes from; this member's first when empty.
	from string
	// shared is the run of a shared profile, when it is one.
	shared *sharedRun
}

func newHostCmd() *cobra.Command {
	var f hostFlags
	cmd := &cobra.Command{
		Use:   "host --node A=PATH [--expect-members N] (--mode MODE | --rules FILE)",
		Short: "Create a session for several machines, wait for them, and synchronize",
		Long: `Create a session for several machines, wait for them, and synchronize.

ferry host creates a session on the server (an embedded one on a loopback port unless --server
is given), prints its id and a generated password (with --json, as the first JSON line on
stdout), and admits the members that join with them (ferry join) until --expect-members members,
this one included, have declared their nodes. A member whose identity key this machine has not
seen before is admitted with --trust (its safety words go to stderr), after a question on a
terminal, and refused otherwise. Then every member inventories its nodes, this member plans with
the preset and/or the rules file, and the synchronization runs, copies between members going
end-to-end encrypted through the server. --mode goes from this member's first node to every
other node (two-way: between every two nodes, decided by the record of the last run that this
member keeps for the session's data sources, or on a first run by the newest dates).

--server takes one URL, or several URLs of one service separated by commas (ferry server
processes sharing one Redis, token secret and relay storage; docs/server.md): the member moves
to the next URL when its server stops answering, keeping its session, and gives the session up
only when no URL has answered for --server-wait.

Every member is shown a summary of the plan (per data source; --verbose lists the actions) and
asked on stdin, terminal or not, before anything changes (unless --yes; only "y" goes on); the
first member that does not agree ends the run for all, nothing changed. A plan over the deletion
limit (--max-delete, the rules file's max_delete, or the default) is refused on every member.
--versions and --versions-keep apply on every member.

--save-profile NAME saves the session, once its run ended done, as a shared profile: this
machine's nodes, the preset or rules and the safety flags, the server (--server is needed), and
the other members' identity keys. Any of its members runs it again with ferry profile run NAME,
the others joining with ferry profile run NAME or ferry join --profile NAME: no password is
typed and no key question comes up. A name already taken is refused before the session is made.

Exit codes: 0 done, 1 finished with action errors or refused actions (or the run failed), 2 bad
usage, invalid input, a plan over a deletion limit, or a data source folder in use by another
run or replaced since the inventory (nothing changed), 3 server unreachable before the session
existed, 4 aborted or not confirmed (nothing changed).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runHost(cmd.Context(), f, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.server, "server", "", "session server URL, or several URLs of one service separated by commas, tried in turn when one stops answering (an embedded server on a loopback port, with relay storage, when empty)")
	fl.IntVar(&f.expect, "expect-members", 2, "members to wait for, this one included (2 to 5)")
	fl.StringVar(&f.mode, "mode", "", "preset: "+strings.Join(rules.Presets, ", ")+" (from this member's first node)")
	fl.StringVar(&f.rulesFile, "rules", "", "rules file (JSON); its settings and rules apply on top of --mode")
	f.versions.register(cmd)
	return cmd
}

// planning reads --mode and --rules; the preset is bound to the parts once the session's nodes
// are known.
func (f *hostFlags) planning(first string) (session.Planning, error) {
	p := session.Planning{Settings: compare.DefaultSettings()}
	if f.mode == "" && f.rulesFile == "" {
		return p, usageError("give --mode or --rules")
	}
	if f.mode != "" {
		if _, err := rules.Preset(f.mode, "A", "B"); err != nil {
			return p, usageError("--mode: %w", err)
		}
	}
	var fileRules []rules.Rule
	var safety rules.Safety
	if f.rulesFile != "" {
		file, err := os.Open(f.rulesFile)
		if err != nil {
			return p, usageError("%w", err)
		}
		defer file.Close()
		rf, err := rules.Parse(file, nil)
		if err != nil {
			return p, usageError("%s: %w", f.rulesFile, err)
		}
		p.Settings, fileRules, safety = rf.Settings, rf.Rules, rf.Safety
	}
	var err error
	if p.Versions, err = f.versions.setting(safety); err != nil {
		return p, err
	}
	if p.MaxDelete, err = f.deleteLimit(safety.MaxDelete); err != nil {
		return p, err
	}
	if f.mode == rules.PresetTwoWay {
		dir, err := configDir()
		if err != nil {
			return p, err
		}
		p.TwoWay = &session.TwoWay{Store: twoway.Store{Dir: filepath.Join(dir, "state")}, Rules: fileRules}
	}
	mode := f.mode
	p.Rules = func(parts []string) ([]rules.Rule, error) {
		var all []rules.Rule
		if mode != "" {
			rs, err := rules.PresetAcross(mode, first, parts)
			if err != nil {
				return nil, fmt.Errorf("--mode: %w", err)
			}
			all = rs
		}
		all = append(all, fileRules...)
		if err := rules.CheckParts(all, parts); err != nil {
			return nil, err
		}
		return all, nil
	}
	return p, nil
}

// memberReport is the final report of host and join: the one of `ferry sync`, and the relay's
// counters.
type memberReport struct {
	syncReport
	Transfers transferReport `json:"transfers"`
}

type transferReport struct {
	PartsUploaded   int64 `json:"parts_uploaded"`
	PartsSkipped    int64 `json:"parts_skipped"` // already stored: not uploaded again
	PartsDownloaded int64 `json:"parts_downloaded"`
	BytesSent       int64 `json:"bytes_sent"`
	BytesReceived   int64 `json:"bytes_received"`
	Retries         int64 `json:"retries"`
}

// hostLine is the first JSON line of `ferry host --json`.
type hostLine struct {
	Session  string `json:"session"`
	Password string `json:"password"`
	Member   string `json:"member"`           // this member's instance id
	Server   string `json:"server,omitempty"` // the embedded server's URL
}

func runHost(ctx context.Context, f hostFlags, stdin io.Reader, stdout, stderr io.Writer) error {
	nodes, err := f.nodeSpecs()
	if err != nil {
		return err
	}
	if f.expect < 2 || f.expect > protocol.MaxMembers {
		return usageError("--expect-members %d: want 2 to %d", f.expect, protocol.MaxMembers)
	}
	first := nodes[0].Code
	if f.from != "" {
		first = f.from
	}
	planning, err := f.planning(first)
	if err != nil {
		return err
	}
	terms, err := f.terms(first)
	if err != nil {
		return err
	}
	saver, err := newProfileSaver(f.saveProfile)
	if err != nil {
		return err
	}
	if saver != nil && f.server == "" {
		return usageError("--save-profile needs --server: the embedded server ends with this run, and the profile's members meet on a server next time")
	}
	mc, err := newMemberCommand(f.memberFlags, stdin, stderr)
	if err != nil {
		return err
	}
	mc.options = append(mc.options, session.WithTerms(terms))
	if f.shared != nil {
		mc.options = append(mc.options, session.OnlyPeers(f.shared.peers))
		mc.dryRun = f.shared.dryRun
		f.shared.mc = mc
	}
	mc.limit = planning.MaxDelete
	work := context.WithoutCancel(ctx)
	serverURL := f.server
	if serverURL == "" {
		u, stop, err := startRelayServer(work, mc.log)
		if err != nil {
			return err
		}
		defer stop()
		serverURL = u
	}
	c, err := mc.login(ctx, serverURL)
	if err != nil {
		return err
	}
	var member atomic.Pointer[session.Member]
	admission := session.WithAdmission(func(session.JoinCandidate) error {
		m := member.Load()
		if m == nil {
			return nil
		}
		ctx, cancel := context.WithTimeout(work, 10*time.Second)
		defer cancel()
		if n := len(m.Members(ctx)); n >= f.expect {
			return &session.RefusedError{Code: protocol.JoinSessionFull, Reason: fmt.Sprintf("the session takes %d members", f.expect)}
		}
		return nil
	})
	var m *session.Member
	err = within(ctx, 30*time.Second, func(ctx context.Context) error {
		var err error
		m, err = session.Create(ctx, c, nodes, append(mc.options, admission)...)
		return err
	})
	if m == nil {
		return beforeSession(err)
	}
	member.Store(m)
	mc.m = m
	defer mc.leave(work)
	if err != nil {
		return &exitError{code: exitActionError, err: err}
	}
	if f.shared != nil {
		if err := f.shared.invite(ctx, mc); err != nil {
			return err
		}
		defer f.shared.uninvite(work, mc)
	} else if f.json {
		line := hostLine{Session: m.ID(), Password: m.Password(), Member: m.Self()}
		if f.server == "" {
			line.Server = serverURL
		}
		_ = json.NewEncoder(stdout).Encode(line)
	} else {
		fmt.Fprintf(stdout, "Session: %s\nPassword: %s\n", m.ID(), m.Password())
		fmt.Fprint(mc.err, joinHint(serverURL, m.ID(), nodes, f.expect))
	}

	flow := m.NewFlow(nodes, mc.flowOptions(planning))
	mc.flow = flow
	awaitCtx := ctx
	if f.shared != nil {
		var cancel context.CancelFunc
		awaitCtx, cancel = context.WithTimeoutCause(ctx, f.shared.wait, f.shared.lateError())
		defer cancel()
	}
	if err := flow.AwaitMembers(awaitCtx, f.expect); err != nil {
		return mc.interrupted(ctx, err)
	}
	parts, err := flow.PartNames(ctx)
	if err != nil {
		return mc.interrupted(ctx, err)
	}
	if _, err := planning.Rules(parts); err != nil {
		return usageError("%w", err)
	}
	err = mc.run(ctx, stdout)
	if saver != nil {
		saver.save(mc, nodes, terms, f.server, err)
	}
	return err
}

// terms are the run's terms as the members of a shared profile keep them.
func (f *hostFlags) terms(from string) (session.Terms, error) {
	t := session.Terms{Mode: f.mode, From: from, MaxDelete: f.maxDelete}
	if f.rulesFile != "" {
		text, err := os.ReadFile(f.rulesFile)
		if err != nil {
			return t, usageError("%w", err)
		}
		t.Rules = string(text)
	}
	if f.versions.set.Changed("versions") {
		t.Versions = f.versions.dir
	}
	if f.versions.set.Changed("versions-keep") {
		t.VersionsKeep = f.versions.keep
	}
	return t, nil
}

// memberCommand is what host and join share once they have a session.
type memberCommand struct {
	f       memberFlags
	stdin   io.Reader
	err     io.Writer // stderr, one writer at a time
	log     *slog.Logger
	tty     bool
	cfgDir  string
	options []session.Option
	m       *session.Member
	flow    *session.Flow
	steps   *json.Encoder
	// limit is the deletion limit shown with the plan; a joiner's own, when given, also checks
	// its data sources (ownLimit).
	limit    rules.DeleteLimit
	ownLimit bool
	// dryRun shows the plan and refuses it (a shared profile's --dry-run).
	dryRun bool
	// report and peers are the run's, once known: a profile keeps them.
	report *memberReport
	peers  []session.Peer

	asking      sync.Mutex
	leaveOnce   sync.Once
	undelivered int
	stats       transferReport
}

func newMemberCommand(f memberFlags, stdin io.Reader, stderr io.Writer) (*memberCommand, error) {
	level, err := parseLogLevel(f.logLevel)
	if err != nil {
		return nil, err
	}
	w := &lockedWriter{w: stderr}
	mc := &memberCommand{f: f, stdin: stdin, err: w, tty: isTerminal(stderr),
		log: slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))}
	if f.json {
		mc.steps = json.NewEncoder(w)
	}
	if mc.cfgDir, err = configDir(); err != nil {
		return nil, err
	}
	trust, err := crypto.OpenTrustStore(mc.cfgDir)
	if err != nil {
		return nil, err
	}
	mc.options = []session.Option{session.WithTrust(trust), session.ConfirmKey(mc.confirmKey), session.WithLogger(mc.log),
		session.WithServerWait(f.serverWait)}
	return mc, nil
}

// lockedWriter lets the log, the events and the prompts share stderr line by line.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// configDir is where the identity key, the trusted keys and the two-way records are kept.
func configDir() (string, error) {
	if dir := os.Getenv(envConfigDir); dir != "" {
		return dir, nil
	}
	return crypto.DefaultConfigDir()
}

func (mc *memberCommand) login(ctx context.Context, serverURL string) (*client.Client, error) {
	c, err := newClient(serverURL, mc.log)
	if err != nil {
		return nil, err
	}
	if err := within(ctx, 30*time.Second, c.Login); err != nil {
		return nil, beforeSession(fmt.Errorf("log in to %s: %w", serverURL, err))
	}
	return c, nil
}

// confirmKey decides about an identity key seen for the first time: --trust takes it, a
// terminal asks, anything else refuses. The safety words are shown in every case.
func (mc *memberCommand) confirmKey(kc session.KeyCheck) bool {
	mc.asking.Lock() // one question at a time
	defer mc.asking.Unlock()
	who := fmt.Sprintf("the %s %s", kc.Role, kc.Peer)
	words := strings.Join(kc.SafetyWords, " ")
	switch {
	case mc.f.trust:
		fmt.Fprintf(mc.err, "ferry: trusting the new identity key of %s; safety words: %s\n", who, words)
		return true
	case isTerminal(mc.stdin) && mc.tty:
		fmt.Fprintf(mc.err, "This machine has not seen the identity key of %s before.\nSafety words: %s\n"+
			"The other side shows the same words if nobody stands between you. Trust this key? [y/N] ", who, words)
		line, _ := bufio.NewReader(mc.stdin).ReadString('\n')
		ok := strings.EqualFold(strings.TrimSpace(line), "y") || strings.EqualFold(strings.TrimSpace(line), "yes")
		return ok
	default:
		fmt.Fprintf(mc.err, "ferry: refusing the new identity key of %s (safety words: %s): give --trust, or answer on a terminal\n", who, words)
		return false
	}
}

func (mc *memberCommand) flowOptions(planning session.Planning) session.FlowOptions {
	showScan := mc.tty && !mc.f.json
	return session.FlowOptions{
		Planning: planning,
		Progress: inventoryProgress(mc.err, showScan),
		Step:     mc.step,
		Logger:   mc.log,
	}
}

// stepLine is a step of the flow as a JSON line on stderr.
type stepLine struct {
	Type string `json:"type"` // "step"
	session.Step
}

func (mc *memberCommand) step(s session.Step) {
	if mc.steps != nil {
		_ = mc.steps.Encode(stepLine{Type: "step", Step: s})
		return
	}
	switch s.Name {
	case session.StepWaiting:
		fmt.Fprintf(mc.err, "Members ready: %d of %d\n", s.Ready, s.Members)
	case session.StepInventoryStarted:
		fmt.Fprintf(mc.err, "Inventory started (%d members)\n", s.Members)
	case session.StepPlanned:
		fmt.Fprintln(mc.err, "Plan ready")
	}
}

// interrupted maps a failure before the synchronization to an exit code: 4 after SIGINT, 2
// for a data source folder another run holds or that was replaced (as ferry sync), 1
// otherwise.
func (mc *memberCommand) interrupted(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return &exitError{code: exitAborted, err: fmt.Errorf("aborted: %w", err)}
	case errors.Is(err, transfer.ErrRootBusy) || errors.Is(err, transfer.ErrRootReplaced):
		return &exitError{code: exitUsage, err: err}
	}
	return &exitError{code: exitActionError, err: err}
}

// leave closes the flow (the others receive what this member sent, then it leaves the relay)
// and the member, once.
func (mc *memberCommand) leave(work context.Context) {
	mc.leaveOnce.Do(func() {
		if mc.flow != nil {
			ctx, cancel := context.WithTimeout(work, mc.f.statusWait)
			if err := mc.flow.Close(ctx); err != nil {
				mc.log.Warn("closing the relay", "err", err)
			}
			cancel()
			st := mc.flow.Stats()
			mc.stats = transferReport{PartsUploaded: st.PartsUploaded, PartsSkipped: st.PartsSkipped,
				PartsDownloaded: st.PartsDownloaded, BytesSent: st.BytesSent, BytesReceived: st.BytesReceived, Retries: st.PartsRetried}
		}
		if mc.m == nil {
			return
		}
		n, err := mc.m.Close(work, mc.f.statusWait)
		mc.undelivered = n
		if err != nil {
			mc.log.Warn("leaving the session", "err", err)
		}
		if n > 0 {
			fmt.Fprintf(mc.err, "ferry: %d member statuses did not reach the server within %s\n", n, mc.f.statusWait)
		}
	})
}

// run prepares the plan with the others, synchronizes, reports, and leaves the session.
func (mc *memberCommand) run(ctx context.Context, stdout io.Writer) error {
	work := context.WithoutCancel(ctx)
	p, err := mc.flow.Prepare(ctx)
	if err != nil {
		return mc.interrupted(ctx, err)
	}
	mc.m.Members(ctx)
	mc.peers = mc.m.Peers()
	rep := &memberReport{syncReport: syncReport{Session: mc.m.ID(), Errors: []string{}, Plan: p,
		Rejected: append([]plan.Rejected{}, p.Rejected...), Orchestration: string(engine.OrchestrationCloud)}}
	mc.report = rep
	if err := mc.confirm(ctx, p, rep, stdout); err != nil {
		if errors.Is(err, errDryRun) {
			return nil
		}
		return err
	}
	abort := make(chan struct{})
	runCtx, cancelRun := context.WithCancel(work)
	defer cancelRun()
	go func() {
		select {
		case <-ctx.Done():
			close(abort)
			fmt.Fprintln(mc.err, "ferry: aborting…")
			time.AfterFunc(abortGrace, cancelRun)
		case <-runCtx.Done():
		}
	}()
	view := newProgressView(mc.err, mc.f.json, mc.tty)
	out, err := mc.flow.Synchronize(runCtx, session.SyncOptions{Event: view.event, Abort: abort})
	view.done()
	rep.record(out, err)
	mc.leave(work)
	rep.Statuses.Undelivered = mc.undelivered
	rep.Transfers = mc.stats
	printMemberReport(stdout, rep, mc.f.json)
	return rep.syncReport.exit(ctx, err)
}

func printMemberReport(w io.Writer, r *memberReport, asJSON bool) {
	if asJSON {
		_ = writeReport(w, r, r.Plan)
		return
	}
	printReport(w, &r.syncReport, false)
	t := r.Transfers
	fmt.Fprintf(w, "Relay: %d parts uploaded (%s), %d already stored, %d downloaded (%s), %d retries\n",
		t.PartsUploaded, bytesize.Format(t.BytesSent), t.PartsSkipped, t.PartsDownloaded, bytesize.Format(t.BytesReceived), t.Retries)
}

// startRelayServer runs a session server with relay storage in a temporary folder on a loopback
// port, for the command's lifetime: members on this machine can join it.
func startRelayServer(ctx context.Context, log *slog.Logger) (string, func(), error) {
	dir, err := os.MkdirTemp("", "ferry-relay-")
	if err != nil {
		return "", nil, fmt.Errorf("make a temporary relay storage folder: %w", err)
	}
	srv, err := cloud.NewServer(cloud.Config{Store: store.NewMemory(), Logger: log, StorageDir: dir})
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("embedded server: %w", err)
	}
	hs := cloud.NewHTTPServer(srv.Handler(), log)
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Run(runCtx) })
	wg.Go(func() {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Warn("embedded server", "err", err)
		}
	})
	return "http://" + ln.Addr().String(), func() {
		_ = srv.Close()
		_ = hs.Close()
		cancel()
		wg.Wait()
		os.RemoveAll(dir)
	}, nil
}

// joinHint tells the other members how to join: one command each, with a node code of its own,
// and a warning when the server cannot be reached from another machine.
func joinHint(serverURL, id string, nodes []plan.NodeSpec, expect int) string {
	used := map[string]bool{}
	for _, n := range nodes {
		used[n.Code] = true
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Waiting for %d members. Run on the other machines (ferry join asks for the password):\n", expect)
	code := 'B'
	for range expect - 1 {
		for used[string(code)] {
			code++
		}
		used[string(code)] = true
		fmt.Fprintf(&b, "  ferry join --server %s --session %s --node %c=PATH\n", serverURL, id, code)
	}
	if loopbackURL(serverURL) {
		b.WriteString("This server listens on a loopback address: only this machine can reach it. For other machines,\n" +
			"run ferry server on an address they reach and give its URL with --server.\n")
	}
	return b.String()
}

// loopbackURL tells whether u, one URL or several separated by commas, names loopback hosts
// only.
func loopbackURL(u string) bool {
	list := client.ServerList(u)
	for _, one := range list {
		parsed, err := url.Parse(one)
		if err != nil {
			return false
		}
		host := parsed.Hostname()
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return false
		}
	}
	return len(list) > 0
}
