package app

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func runApp(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := Env{Streams: Streams{In: strings.NewReader(""), Out: &out, Err: &errOut}, Getenv: func(string) string { return "" }}
	err := Run(context.Background(), env, append([]string{"devbox"}, args...))
	return out.String(), err
}

func TestCompletion(t *testing.T) {
	tests := []struct {
		shell, want string
	}{
		{"bash", "complete -o default -F _devbox_complete devbox"},
		{"zsh", "bashcompinit"},
		{"fish", "complete -c devbox"},
	}
	for _, tt := range tests {
		t.Run(tt.shell, func(t *testing.T) {
			out, err := runApp(t, "completion", tt.shell)
			if err != nil || !strings.Contains(out, tt.want) {
				t.Fatalf("completion %s: err %v, output lacks %q:\n%s", tt.shell, err, tt.want, out)
			}
		})
	}
	_, err := runApp(t, "completion", "tcsh")
	var usage *ExitError
	if !errors.As(err, &usage) || usage.Code != exitUsage || !strings.Contains(err.Error(), "bash, zsh, fish") {
		t.Errorf("completion tcsh: got %v, want a usage error naming the shells", err)
	}
}

// TestIntegrationCompletionInBash builds devbox, loads its bash script in a real bash
// and completes against the binary (urfave/cli reads os.Args for
// completion, so this cannot run in-process).
func TestIntegrationCompletionInBash(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (builds devbox, runs bash): skipped under -short")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatalf("integration test needs bash: %v", err)
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "devbox"), "github.com/devbox-sandbox/devbox/cmd/devbox")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build devbox: %v\n%s", err, out)
	}
	tests := []struct {
		words string // what is typed, the last word being completed
		want  []string
	}{
		{"devbox st", []string{"start", "status", "stop"}},
		{"devbox init --serv", []string{"--service-image", "--services"}},
	}
	for _, tt := range tests {
		t.Run(tt.words, func(t *testing.T) {
			prog := "source <(devbox completion bash)\n" +
				"COMP_WORDS=(" + tt.words + "); COMP_CWORD=$((${#COMP_WORDS[@]}-1))\n"
			prog += "_devbox_complete; printf '%s\\n' \"${COMPREPLY[@]}\"\n"
			cmd := exec.Command("bash", "-c", prog)
			cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("bash: %v\n%s", err, out)
			}
			got := strings.Fields(string(out))
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("completing %q gave %q, want %q", tt.words, got, tt.want)
			}
		})
	}
}
