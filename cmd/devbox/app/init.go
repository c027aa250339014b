package app

import (
	"fmt"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/generator"
	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/lifecycle"
)

// newInitCommand is `devbox init`: flags into generator.Options, one call
// to generator.Init, and a summary.
func newInitCommand(env Env) *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "write .devcontainer/ for a sandboxed AI coding agent",
		Description: "Writes devcontainer.json, Dockerfile, compose.yaml and firewall.jsonc (the egress allowlist): a\n" +
			"gateway container owns the box's network and enforces the allowlist, and the agent's container joins it\n" +
			"without any network capability. The gateway's image is devbox's (" + contract.GatewayImageRepo + "):\n" +
			"`devbox up` builds it when the engine lacks it; --gateway-image pins a published digest for teammates\n" +
			"without devbox; --vendor-gateway writes its build (with init-firewall binaries) into .devcontainer/gateway/.\n" +
			"--single-container: the earlier layout, with the " + contract.FirewallFeatureID + " feature and bin/. Existing\n" +
			"files are kept unless --force; with --force an existing devcontainer.json is edited, keeping your changes,\n" +
			"and a workspace of an earlier layout is converted.",
		Flags: []cli.Flag{
			workspaceFlag(),
			&cli.StringFlag{Name: "agent", Value: generator.DefaultAgent, Usage: "the agent to install: claude, codex, gemini or none"},
			&cli.StringSliceFlag{Name: "lang", Usage: "languages as NAME@VERSION (node@22, python@3.12, go@1.26; VERSION system = the distribution's packages)"},
			&cli.StringSliceFlag{Name: "services", Usage: "backing services: postgres, redis, mysql, mongodb"},
			&cli.StringSliceFlag{Name: "service-image", Usage: "use another image for a service, as `NAME=IMAGE` (postgres=pgvector/pgvector:pg16)"},
			&cli.StringSliceFlag{Name: "allow", Usage: "allow egress to an `ENTRY`: a name (TCP 443), a pattern (*.example.com, **.example.com) or a CIDR (every port), each with optional TCP ports (example.com:22, [2001:db8::/32]:80,443); repeatable"},
			&cli.StringSliceFlag{Name: "preset", Usage: "add an allowlist preset `NAME` (claude, codex, gemini, vscode, github, npm, pypi, go, crates, debian; none drops the defaults)"},
			&cli.StringFlag{Name: "base-image", Value: generator.DefaultBaseImage, Usage: "the Dockerfile's base `IMAGE` (Debian-based)"},
			&cli.StringFlag{Name: "user", Value: generator.DefaultUser, Usage: "the non-root user's `NAME`"},
			&cli.StringSliceFlag{Name: "sysctl", Usage: "set a namespaced kernel parameter `K=V` in the dev container"},
			&cli.StringSliceFlag{Name: "ulimit", Usage: "set a limit `NAME=SOFT:HARD` in the dev container"},
			&cli.BoolFlag{Name: "gpu", Usage: "give the dev container the host's GPUs"},
			&cli.BoolFlag{Name: "single-container", Usage: "the earlier layout: the firewall runs in the agent's container, whose root holds NET_ADMIN (default: a gateway container owns the box's network)"},
			&cli.StringSliceFlag{Name: "publish", Usage: "publish the box's TCP `PORT` on the host's 127.0.0.1 and let it in (repeatable)"},
			&cli.StringFlag{Name: "cpus", Usage: "limit the dev container to `N` CPUs"},
			&cli.StringFlag{Name: "memory", Usage: "limit the dev container's memory to `SIZE` (4g, 512m)"},
			&cli.BoolFlag{Name: "force", Usage: "regenerate existing files (devcontainer.json is edited, not replaced)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print the files instead of writing them"},
			&cli.StringFlag{Name: "gateway-image", Usage: "the gateway's image, pinned as `REF@sha256:DIGEST` (default: devbox's own, by its version's tag)"},
			&cli.BoolFlag{Name: "vendor-gateway", Usage: "write the gateway image's Dockerfile and init-firewall binaries into .devcontainer/gateway/ (for teams without a registry)"},
			&cli.StringFlag{Name: "workspace", Usage: "where the box works: `MODE` bind (your folder, shared with the box; the default) or volume (the box's own clone in a named volume; its commits come back with `devbox pull`); --force keeps an existing workspace's mode"},
			&cli.BoolFlag{Name: "sudo", Usage: "give the box's user passwordless sudo (only with --workspace volume)"},
			&cli.StringFlag{Name: "firewall-binary", Usage: "with --vendor-gateway or --single-container: use the init-firewall binary at `PATH` for this machine's architecture"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return Usagef("init takes no arguments (got %q); use -w DIR for the workspace", c.Args().First())
			}
			opts := generator.Options{
				Workspace:       c.String("workspace-folder"),
				Agent:           c.String("agent"),
				Languages:       c.StringSlice("lang"),
				Services:        c.StringSlice("services"),
				ServiceImages:   c.StringSlice("service-image"),
				Allow:           c.StringSlice("allow"),
				Presets:         c.StringSlice("preset"),
				BaseImage:       c.String("base-image"),
				User:            c.String("user"),
				Sysctls:         c.StringSlice("sysctl"),
				Ulimits:         c.StringSlice("ulimit"),
				GPU:             c.Bool("gpu"),
				SingleContainer: c.Bool("single-container"),
				Publish:         c.StringSlice("publish"),
				CPUs:            c.String("cpus"),
				Memory:          c.String("memory"),
				Force:           c.Bool("force"),
				DryRun:          c.Bool("dry-run"),
				FirewallBinary:  c.String("firewall-binary"),
				GatewayImage:    c.String("gateway-image"),
				VendorGateway:   c.Bool("vendor-gateway"),
				WorkspaceMode:   c.String("workspace"),
				Sudo:            c.Bool("sudo"),
				Out:             env.Out,
			}
			res, recorded, err := initAndTrust(newManager(env), opts)
			if generator.IsInputError(err) {
				return usageError(fmt.Errorf("init: %w", err))
			}
			if err != nil {
				return fmt.Errorf("init: %w", err)
			}
			for _, n := range res.Notes {
				fmt.Fprintf(env.Err, "devbox: note: %s\n", n)
			}
			if opts.DryRun {
				for _, line := range res.Changes {
					fmt.Fprintf(env.Err, "devbox: dry run, would have %s\n", line)
				}
				return nil
			}
			if !recorded {
				fmt.Fprintf(env.Err, "devbox: note: .devcontainer/ held files that were not trusted before init; review all of it with `devbox trust -w %s` before `devbox up`\n", filepath.Dir(res.Dir))
			}
			verb := "wrote"
			if res.Edited {
				verb = "regenerated (devcontainer.json edited in place)"
			}
			fmt.Fprintf(env.Out, "devbox: %s %d files in %s\n", verb, len(res.Files), res.Dir)
			for _, line := range res.Changes {
				fmt.Fprintf(env.Out, "devbox: %s\n", line)
			}
			fmt.Fprintf(env.Out, "next: devbox up -w %s   (or \"Reopen in Container\" in VS Code)\n", filepath.Dir(res.Dir))
			return nil
		},
	}
}

// initAndTrust runs generator.Init and records what it wrote as trusted,
// unless .devcontainer/ held files nobody had accepted (an edit keeps the
// user's other settings, whoever wrote them): then recorded is false. A dry
// run records nothing.
func initAndTrust(m *lifecycle.Manager, opts generator.Options) (res *generator.Result, recorded bool, err error) {
	if opts.DryRun {
		res, err = generator.Init(opts)
		return res, false, err
	}
	recorded, err = m.EditTrusted(opts.Workspace, func() (err error) {
		res, err = generator.Init(opts)
		return err
	})
	return res, recorded, err
}
