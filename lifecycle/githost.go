package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/devbox-sandbox/devbox/internal/gitsafe"
	"github.com/devbox-sandbox/devbox/internal/runner"
)

// hostGit runs git in the host's repository with gitsafe.HostArgs.
type hostGit struct {
	r   runner.Runner
	dir string
}

func (m *Manager) hostGit(dir string) hostGit {
	r := m.Runner
	if r == nil {
		r = runner.Local{}
	}
	return hostGit{r: r, dir: dir}
}

// raw runs git and returns its stdout. Its errors carry git's stderr,
// sanitised: git quotes the box's data (paths, ref names) in them.
func (g hostGit) raw(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	res, err := g.r.Run(ctx, runner.Cmd{
		Name: "git", Args: gitsafe.HostArgs(args...), Dir: g.dir, Stdin: stdin,
		Env: []string{"GIT_TERMINAL_PROMPT=0", "GIT_OPTIONAL_LOCKS=0"},
	})
	if err != nil {
		var re *runner.RunError
		if errors.As(err, &re) {
			return nil, fmt.Errorf("git %s: exit status %d: %s", args[0], re.ExitCode, boxText(re.Stderr))
		}
		return nil, fmt.Errorf("git %s: %w", args[0], err)
	}
	return res.Stdout, nil
}

// out is raw, trimmed.
func (g hostGit) out(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	b, err := g.raw(ctx, stdin, args...)
	return strings.TrimSpace(string(b)), err
}
