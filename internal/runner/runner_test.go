package runner

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestCmdString(t *testing.T) {
	tests := []struct {
		cmd  Cmd
		want string
	}{
		{Cmd{Name: "devcontainer", Args: []string{"up", "--workspace-folder", "/w"}}, "devcontainer up --workspace-folder /w"},
		{Cmd{Name: "sh", Args: []string{"-c", "echo $HOME"}}, `sh -c "echo $HOME"`},
		{Cmd{Name: "x", Args: []string{""}}, `x ""`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.cmd.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLocalRunCapturesAndTees(t *testing.T) {
	var live bytes.Buffer
	res, err := Local{}.Run(context.Background(), Cmd{Name: "sh", Args: []string{"-c", "echo out; echo err >&2"}, Stdout: &live})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" || live.String() != "out\n" {
		t.Errorf("stdout %q stderr %q live %q", res.Stdout, res.Stderr, live.String())
	}
}

func TestLocalRunErrorNamesCommandAndOutput(t *testing.T) {
	_, err := Local{}.Run(context.Background(), Cmd{Name: "sh", Args: []string{"-c", "echo boom >&2; exit 3"}})
	var re *RunError
	if !errors.As(err, &re) {
		t.Fatalf("error %v is not a *RunError", err)
	}
	if re.ExitCode != 3 {
		t.Errorf("ExitCode = %d, want 3", re.ExitCode)
	}
	for _, want := range []string{`sh -c "echo boom >&2; exit 3"`, "boom"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestLocalRunMissingProgram(t *testing.T) {
	_, err := Local{}.Run(context.Background(), Cmd{Name: "devbox-no-such-program"})
	var re *RunError
	if !errors.As(err, &re) || re.ExitCode != -1 {
		t.Fatalf("got %v, want a RunError with ExitCode -1", err)
	}
}
