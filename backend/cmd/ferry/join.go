package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/spf13/cobra"

	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/session"
)

type joinFlags struct {
	memberFlags
	session      string
	password     string
	passwordFile string
	profile      string        // --profile: join the session a shared profile's member invites to
	wait         time.Duration // with --profile, how long to wait for the invitation
	shared       *sharedRun    // the run of a shared profile, when it is one
}

// envPassword gives ferry join the session password when neither --password nor
// --password-file does.
const envPassword = "FERRY_PASSWORD"

func newJoinCmd() *cobra.Command {
	var f joinFlags
	cmd := &cobra.Command{
		Use:   "join (--server URL --session ID [--password-file FILE] --node B=PATH | --profile NAME [--wait DUR])",
		Short: "Join a session that ferry host created, and synchronize with its members",
		Long: `Join a session that ferry host created, and synchronize with its members.

ferry join asks to join the session with its password (the server never sees it: the session's
oldest member checks it), checks the identity key of the member admitting it (a key seen for the
first time is taken with --trust, its safety words going to stderr, asked about on a terminal,
and refused otherwise), declares this machine's nodes, then follows the session: it inventories
its nodes when the host starts the inventory, receives the host's plan, takes its part in the
synchronization and exits when it ends. A refused join exits 1 with the reason's code
(wrong_password, untrusted_key, session_full, inventory_started…).

--server takes one URL, or several URLs of one service separated by commas (ferry server
processes sharing one Redis, token secret and relay storage; docs/server.md): the member moves
to the next URL when its server stops answering, keeping its session, and gives the session up
only when no URL has answered for --server-wait.

The password is read from --password-file (its first line), else from $` + envPassword + `, else asked
on the terminal without echo; --password PW works too, but other users of this machine can
see a command line (ps).

The plan is shown as a summary per data source (--verbose lists the actions on this machine's
nodes) and asked about on stdin, terminal or not, before anything changes (unless --yes; only
"y" goes on); any member's refusal ends the run for all, nothing changed. The host's deletion
limit applies to every data source; --max-delete, when given, also refuses a plan that deletes
past it on this machine's data sources. The host's --versions apply here too.

--save-profile NAME saves the session, once its run ended done, as a shared profile (see ferry
host): this machine's nodes, the host's preset or rules and safety settings (so that this
machine can run it next time too), the server and the other members' identity keys.

Exit codes: 0 done, 1 refused, or finished with action errors or refused actions (or the run
failed), 2 bad usage, invalid input, a plan over a deletion limit, or a data source folder in
use by another run or replaced since the inventory (nothing changed), 3 server unreachable
before joining, 4 aborted or not confirmed (nothing changed).

--profile NAME joins the session that another member of the shared profile NAME runs (ferry
profile run NAME, or the desktop app), waiting up to --wait for its invitation: no server,
session, password or node is given (the profile has them), and no key question comes up; a
session whose admitting member is not one of the profile's is refused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runJoin(cmd.Context(), f, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.server, "server", "", "session server URL, or several URLs of one service separated by commas, tried in turn when one stops answering (required)")
	fl.StringVar(&f.session, "session", "", "session id, as ferry host printed it (required)")
	fl.StringVar(&f.password, "password", "", "session password, as ferry host printed it (visible to other users in ps: prefer\n--password-file, $"+envPassword+" or the prompt)")
	fl.StringVar(&f.passwordFile, "password-file", "", "read the session password from the first line of this file")
	fl.StringVar(&f.profile, "profile", "", "join the session another member of this shared profile runs, with the profile's nodes\n(instead of --server, --session, --password and --node)")
	fl.DurationVar(&f.wait, "wait", 30*time.Minute, "with --profile, how long to wait for the other member's invitation")
	return cmd
}

// readPassword finds the session password: --password, --password-file, $FERRY_PASSWORD, or a
// prompt without echo when stdin and stderr are a terminal.
func (f *joinFlags) readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f.password != "" && f.passwordFile != "" {
		return "", usageError("give --password or --password-file, not both")
	}
	switch {
	case f.password != "":
		return f.password, nil
	case f.passwordFile != "":
		b, err := os.ReadFile(f.passwordFile)
		if err != nil {
			return "", usageError("--password-file: %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		if pw := strings.TrimSpace(line); pw != "" {
			return pw, nil
		}
		return "", usageError("--password-file %s: its first line is empty", f.passwordFile)
	case os.Getenv(envPassword) != "":
		return strings.TrimSpace(os.Getenv(envPassword)), nil
	}
	in, ok := stdin.(*os.File)
	if !ok || !isTerminal(in) || !isTerminal(stderr) {
		return "", usageError("give the session password: --password-file FILE, $%s, or run on a terminal to be asked", envPassword)
	}
	fmt.Fprintf(stderr, "Password of session %s: ", f.session)
	b, err := term.ReadPassword(int(in.Fd()))
	fmt.Fprintln(stderr)
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	if pw := strings.TrimSpace(string(b)); pw != "" {
		return pw, nil
	}
	return "", usageError("no password given")
}

func runJoin(ctx context.Context, f joinFlags, stdin io.Reader, stdout, stderr io.Writer) error {
	if f.profile != "" {
		return runJoinProfile(ctx, f, stdin, stdout, stderr)
	}
	nodes, err := f.nodeSpecs()
	if err != nil {
		return err
	}
	switch {
	case f.server == "":
		return usageError("give --server, the URL ferry host uses")
	case f.session == "":
		return usageError("give --session, as ferry host printed it")
	}
	saver, err := newProfileSaver(f.saveProfile)
	if err != nil {
		return err
	}
	if f.password, err = f.readPassword(stdin, stderr); err != nil {
		return err
	}
	return joinSession(ctx, f, nodes, saver, stdin, stdout, stderr)
}

// joinSession joins session f.session and follows it.
func joinSession(ctx context.Context, f joinFlags, nodes []plan.NodeSpec, saver *profileSaver, stdin io.Reader, stdout, stderr io.Writer) error {
	mc, err := newMemberCommand(f.memberFlags, stdin, stderr)
	if err != nil {
		return err
	}
	if f.shared != nil {
		mc.options = append(mc.options, session.OnlyPeers(f.shared.peers))
		mc.dryRun = f.shared.dryRun
		f.shared.mc = mc
	}
	if mc.limit, err = f.deleteLimit(mc.limit); err != nil {
		return err
	}
	mc.ownLimit = f.maxDelete != ""
	c, err := mc.login(ctx, f.server)
	if err != nil {
		return err
	}
	work := context.WithoutCancel(ctx)
	// The joiner waits for the oldest member, whose user may be asked about this key; a shared
	// profile's member asks nobody, and one that stopped leaves its invitation behind.
	joinCtx := ctx
	if f.shared != nil {
		var cancel context.CancelFunc
		joinCtx, cancel = context.WithTimeoutCause(ctx, invitedJoinWait, f.shared.deadHostError(f.session))
		defer cancel()
	}
	m, err := session.Join(joinCtx, c, session.JoinRequest{ID: f.session, Password: f.password, Nodes: nodes}, mc.options...)
	if m != nil {
		mc.m = m
		defer mc.leave(work)
	}
	switch {
	case err != nil && session.RefusalCode(err) != "":
		return &exitError{code: exitActionError, err: err}
	case err != nil && m == nil && ctx.Err() != nil:
		return &exitError{code: exitAborted, err: fmt.Errorf("aborted while joining: %w", err)}
	case err != nil && m == nil:
		return beforeSession(err)
	case err != nil:
		return &exitError{code: exitActionError, err: err}
	}
	if !f.json {
		fmt.Fprintf(mc.err, "Joined session %s; waiting for the inventory to start\n", m.ID())
	}
	mc.flow = m.NewFlow(nodes, mc.flowOptions(session.Planning{}))
	err = mc.run(ctx, stdout)
	if saver != nil {
		terms, _ := m.PlannerTerms()
		saver.save(mc, nodes, terms, f.server, err)
	}
	return err
}
