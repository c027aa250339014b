package app

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// bashCompletion asks devbox itself for the candidates (urfave/cli's
// --generate-bash-completion), so it never goes stale.
const bashCompletion = `# devbox completion for bash; load with: source <(devbox completion bash)
_devbox_complete() {
  local cur="${COMP_WORDS[COMP_CWORD]}"
  local -a args=("${COMP_WORDS[@]:1:COMP_CWORD-1}")
  # A word being typed as a flag is passed on, so devbox lists matching flags.
  [[ "$cur" == -* ]] && args+=("$cur")
  local opts
  opts=$("${COMP_WORDS[0]}" "${args[@]}" --generate-bash-completion 2>/dev/null)
  COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
}
complete -o default -F _devbox_complete devbox
`

// zshCompletion reuses the bash function through bashcompinit.
const zshCompletion = `# devbox completion for zsh; load with: source <(devbox completion zsh)
autoload -U +X bashcompinit && bashcompinit
` + bashCompletion

func newCompletionCommand(Env) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh or fish)",
		ArgsUsage: "bash|zsh|fish",
		Action: func(c *cli.Context) error {
			switch shell := c.Args().First(); shell {
			case "bash":
				_, err := fmt.Fprint(c.App.Writer, bashCompletion)
				return err
			case "zsh":
				_, err := fmt.Fprint(c.App.Writer, zshCompletion)
				return err
			case "fish":
				script, err := c.App.ToFishCompletion()
				if err != nil {
					return fmt.Errorf("make the fish completion: %w", err)
				}
				_, err = fmt.Fprint(c.App.Writer, script)
				return err
			default:
				return Usagef("completion: unknown shell %q: accepted values: bash, zsh, fish", shell)
			}
		},
	}
}
