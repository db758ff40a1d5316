package main

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/internal/redistest"
	"github.com/ferrysync/ferry/backend/internal/s3test"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/rogpeppe/go-internal/testscript"
)

// withCluster stops the test binary's Redis Cluster, if a test started one, after the tests.
type withCluster struct{ m interface{ Run() int } }

func (w withCluster) Run() int { return redistest.Main(w.m) }

// parallel is how many tests of this package run at once unless -parallel says otherwise: they
// mostly wait on the ferry processes they start (outages, timeouts, pushes), not on the CPU.
const parallel = 6

func TestMain(m *testing.M) {
	// Before testscript.Main: its ferry command runs this binary with ferry's own arguments.
	_ = flag.Set("test.parallel", strconv.Itoa(parallel))
	testscript.Main(withCluster{s3test.Wrap(m)}, map[string]func(){
		"ferry": func() { os.Exit(runMain()) },
	})
}

func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv(envConfigDir, env.WorkDir+"/.config/ferry")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// mtime FILE RFC3339: set a file's modification time.
			"mtime": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: mtime FILE RFC3339")
				}
				at, err := time.Parse(time.RFC3339Nano, args[1])
				ts.Check(err)
				ts.Check(os.Chtimes(ts.MkAbs(args[0]), at, at))
			},
			// checkmtime FILE RFC3339: a file's modification time is exactly that.
			"checkmtime": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: checkmtime FILE RFC3339")
				}
				want, err := time.Parse(time.RFC3339Nano, args[1])
				ts.Check(err)
				st, err := os.Lstat(ts.MkAbs(args[0]))
				ts.Check(err)
				if !st.ModTime().Equal(want) {
					ts.Fatalf("%s: modified %s, want %s", args[0], st.ModTime().UTC().Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
				}
			},
			// lastrun DIR VAR: VAR is set to the name of the newest run folder of kept versions
			// in DIR.
			"lastrun": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: lastrun DIR VAR")
				}
				entries, err := os.ReadDir(ts.MkAbs(args[0]))
				ts.Check(err)
				last := ""
				for _, e := range entries {
					if _, ok := plan.ParseStamp(e.Name()); ok && e.IsDir() && e.Name() > last {
						last = e.Name()
					}
				}
				if last == "" {
					ts.Fatalf("%s holds no run", args[0])
				}
				ts.Setenv(args[1], last)
			},
			// exit CODE PROGRAM ARGS…: run a program and check its exit code.
			"exit": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: exit CODE PROGRAM [ARGS…]")
				}
				want, err := strconv.Atoi(args[0])
				ts.Check(err)
				got := 0
				if err := ts.Exec(args[1], args[2:]...); err != nil {
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						ts.Fatalf("%s: %v", args[1], err)
					}
					got = ee.ExitCode()
				}
				if got != want {
					ts.Fatalf("%s exited %d, want %d", args[1], got, want)
				}
			},
		},
	})
}
