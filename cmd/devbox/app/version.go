package app

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/internal/buildinfo"
)

func newVersionCommand(env Env) *cli.Command { return versionCommand(env, buildinfo.Current()) }

func versionCommand(env Env, info buildinfo.Info) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print devbox's version, commit, commit date, Go version and platform",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print them as JSON"}},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return Usagef("version takes no arguments (got %q)", c.Args().First())
			}
			return renderVersion(env.Out, info, c.Bool("json"))
		},
	}
}

// renderVersion prints info as a short block, or as JSON.
func renderVersion(w io.Writer, info buildinfo.Info, asJSON bool) error {
	if asJSON {
		return renderJSON(w, info)
	}
	_, err := fmt.Fprintf(w, "devbox %s\n  commit:   %s\n  date:     %s\n  go:       %s\n  platform: %s\n",
		info.Version, info.Commit, info.Date, info.GoVersion, info.Platform)
	return err
}
