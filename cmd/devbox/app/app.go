// Package app wires devbox's commands. Commands are thin: they turn flags
// into options and call one function of generator or lifecycle.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/internal/buildinfo"
	"github.com/devbox-sandbox/devbox/internal/runner"
)

// Streams are the standard streams a command reads and writes.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// StandardStreams returns the process's own streams.
func StandardStreams() Streams {
	return Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}
}

// Env is what every command gets from the outside world.
type Env struct {
	Streams
	Runner runner.Runner
	Getenv func(string) string
}

// ExitError ends devbox with exit status Code. Main prints Err, once, as
// "devbox: ERR"; a nil Err prints nothing (the status of the command
// `devbox exec` ran, passed through). Any other error exits 1.
type ExitError struct {
	Code int
	Err  error
}

// Error implements error.
func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

// Unwrap returns Err.
func (e *ExitError) Unwrap() error { return e.Err }

// Usagef returns a usage error (exit status 2) with a formatted message.
func Usagef(format string, args ...any) error {
	return usageError(fmt.Errorf(format, args...))
}

// usageError makes err a usage error: exit status 2.
func usageError(err error) error { return &ExitError{Code: exitUsage, Err: err} }

// Main runs devbox with args and returns the process exit status. It is
// the one place that prints an error.
func Main(s Streams, args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := Env{Streams: s, Runner: runner.Local{}, Getenv: os.Getenv}
	err := Run(ctx, env, args)
	return report(s.Err, err)
}

// Run runs devbox with args. It never exits the process and never prints
// the error it returns.
func Run(ctx context.Context, env Env, args []string) error {
	a := NewApp(env)
	return a.RunContext(ctx, args)
}

// NewApp builds the command tree.
func NewApp(env Env) *cli.App {
	return newApp(env, []*cli.Command{
		newInitCommand(env),
		newUpCommand(env),
		newTrustCommand(env),
		newExecCommand(env),
		newShellCommand(env),
		newStartCommand(env),
		newStopCommand(env),
		newDownCommand(env),
		newResetCommand(env),
		newDiffCommand(env),
		newPullCommand(env),
		newPushCommand(env),
		newStatusCommand(env),
		newLogCommand(env),
		newAllowCommand(env),
		newDenyCommand(env),
		newPolicyCommand(env),
		newDoctorCommand(env),
		newCompletionCommand(env),
		newVersionCommand(env),
	})
}

// newApp is devbox with commands. Every error, a mistyped flag or command
// among them, is returned to Main: urfave/cli neither prints it nor exits.
func newApp(env Env, commands []*cli.Command) *cli.App {
	for _, c := range commands {
		if c.OnUsageError == nil {
			name := c.Name
			c.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
				return usageError(fmt.Errorf("%s: %w", name, err))
			}
		}
	}
	return &cli.App{
		Name:                 "devbox",
		Usage:                "a sandboxed dev container for AI coding agents",
		Version:              buildinfo.Current().Version, // --version; `devbox version` says more
		EnableBashCompletion: true,
		Reader:               env.In,
		Writer:               env.Out,
		ErrWriter:            env.Err,
		ExitErrHandler:       func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError(err)
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return Usagef("unknown command %q (see `devbox --help`)", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
		Commands: commands,
	}
}

// workspaceFlag is the --workspace-folder flag every command takes.
func workspaceFlag() cli.Flag {
	return &cli.StringFlag{
		Name:    "workspace-folder",
		Aliases: []string{"w"},
		Usage:   "the workspace `DIR` holding .devcontainer/",
		Value:   ".",
	}
}

// report prints err for the user, once, and returns the exit status.
func report(w io.Writer, err error) int {
	if err == nil {
		return 0
	}
	var exit *ExitError
	if !errors.As(err, &exit) {
		fmt.Fprintf(w, "devbox: %v\n", err)
		return 1
	}
	if exit.Err != nil {
		fmt.Fprintf(w, "devbox: %v\n", err)
	}
	return exit.Code
}
