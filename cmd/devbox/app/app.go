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

	"github.com/devbox-sandbox/devbox/internal/runner"
)

// Version is set at build time with -ldflags "-X .../app.Version=...".
var Version = "dev"

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

// UsageError is a mistake in how devbox was called; it exits with status 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ExitError carries an exit status to pass through unchanged (for example the
// status of a command run by `devbox exec`) without printing anything.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Main runs devbox with args and returns the process exit status.
func Main(s Streams, args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := Env{Streams: s, Runner: runner.Local{}, Getenv: os.Getenv}
	err := Run(ctx, env, args)
	return report(s.Err, err)
}

// Run runs devbox with args. It never exits the process.
func Run(ctx context.Context, env Env, args []string) error {
	a := NewApp(env)
	return a.RunContext(ctx, args)
}

// NewApp builds the command tree.
func NewApp(env Env) *cli.App {
	return &cli.App{
		Name:                 "devbox",
		Usage:                "a sandboxed dev container for AI coding agents",
		Version:              Version,
		EnableBashCompletion: true,
		Reader:               env.In,
		Writer:               env.Out,
		ErrWriter:            env.Err,
		// Errors are returned to Main, which alone decides the exit status.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return &UsageError{Err: err}
		},
		Commands: []*cli.Command{
			newInitCommand(env),
			newUpCommand(env),
			newExecCommand(env),
			newShellCommand(env),
			newStartCommand(env),
			newStopCommand(env),
			newDownCommand(env),
			newResetCommand(env),
			newStatusCommand(env),
			newDoctorCommand(env),
			newCompletionCommand(env),
		},
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

// report prints err for the user and returns the exit status.
func report(w io.Writer, err error) int {
	if err == nil {
		return 0
	}
	var exit *ExitError
	if errors.As(err, &exit) {
		return exit.Code
	}
	fmt.Fprintf(w, "devbox: %v\n", err)
	var usage *UsageError
	if errors.As(err, &usage) {
		return 2
	}
	return 1
}
