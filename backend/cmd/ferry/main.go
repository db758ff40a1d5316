// Command ferry is Ferry without a window: plan and synchronize folders, and run the session server.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ferrysync/ferry/backend/buildinfo"
)

// Exit codes (README.md, "The `ferry` command").
const (
	exitOK          = 0
	exitActionError = 1
	exitUsage       = 2
	exitUnreachable = 3
	exitAborted     = 4
)

// exitError carries an exit code with its message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

func main() { os.Exit(runMain()) }

// runMain runs the process's command line; SIGINT and SIGTERM cancel its context.
func runMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}

// run executes the command line and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "ferry:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if ctx.Err() != nil {
		return exitAborted
	}
	return exitUsage
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "ferry",
		Short: "Synchronize folders, on this machine or between machines",
		Long: `Ferry synchronizes folders, on this machine or between machines.

ferry sync and ferry plan compare folders on this machine and mirror, update or two-way
synchronize them; ferry host and ferry join do the same between machines, end-to-end
encrypted through a session server; ferry server runs that server.

Exit codes: 0 done, 1 finished with action errors or refused actions, 2 bad usage or invalid
input, or a data source folder in use by another run or replaced since the inventory (nothing
was changed), 3 server unreachable before the session existed, 4 aborted.

The identity key and the trusted keys live in $` + envConfigDir + ` when set, else in the user's
configuration folder (~/.config/ferry on Linux).`,
		Version:       buildinfo.Version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("ferry {{.Version}}\n")
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError("%w", err) })
	root.AddCommand(newHostCmd())
	root.AddCommand(newJoinCmd())
	root.AddCommand(newManCmd())
	root.AddCommand(newPlanCmd())
	root.AddCommand(newProfileCmd())
	root.AddCommand(newServerCmd())
	root.AddCommand(newSyncCmd())
	return root
}
