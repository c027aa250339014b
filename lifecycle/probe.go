package lifecycle

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// loginShell reads the user's shell from the container's /etc/passwd
// (through the archive API: no process runs). It falls back to /bin/sh.
func loginShell(ctx context.Context, eng Engine, id, user string) string {
	res, err := eng.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: "/etc/passwd"})
	if err != nil {
		return "/bin/sh"
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	if _, err := tr.Next(); err != nil {
		return "/bin/sh"
	}
	sc := bufio.NewScanner(io.LimitReader(tr, 1<<20))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) >= 7 && (f[0] == user || f[2] == user) && f[6] != "" {
			return f[6]
		}
	}
	return "/bin/sh"
}

// probeFlags are the shell flags of each userEnvProbe setting.
var probeFlags = map[string]string{
	"loginInteractiveShell": "-lic",
	"loginShell":            "-lc",
	"interactiveShell":      "-ic",
}

// probeEnv runs the user's shell the way the Dev Containers CLI does for
// userEnvProbe (default loginInteractiveShell) and returns the environment
// it ends up with, without PWD. devbox probes once per `up` and keeps the
// result, where the CLI probes at every exec.
func probeEnv(ctx context.Context, eng Engine, id, user, shell, mode string) ([]string, error) {
	if mode == "" {
		mode = "loginInteractiveShell"
	}
	flag, ok := probeFlags[mode]
	if !ok { // "none"
		return nil, nil
	}
	var nonce [12]byte
	rand.Read(nonce[:])
	mark := hex.EncodeToString(nonce[:])
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, code, err := capture(ctx, eng, id, process{
		User: user,
		Cmd:  []string{shell, flag, "echo -n " + mark + "; cat /proc/self/environ; echo -n " + mark},
	})
	if err != nil {
		return nil, fmt.Errorf("probe the environment of %s in %s: %w", user, shortID(id), err)
	}
	_, rest, ok1 := bytes.Cut(out, []byte(mark))
	body, _, ok2 := bytes.Cut(rest, []byte(mark))
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("probe the environment of %s in %s: %s %s exited %d without printing it", user, shortID(id), shell, flag, code)
	}
	var env []string
	for _, kv := range strings.Split(string(body), "\x00") {
		if k, _, ok := strings.Cut(kv, "="); ok && k != "PWD" {
			env = append(env, kv)
		}
	}
	return env, nil
}

// remoteUser is the user commands run as: remoteUser, else containerUser,
// else the image's user, else root.
func remoteUser(md metadata, c container.InspectResponse) string {
	switch {
	case md.RemoteUser != "":
		return md.RemoteUser
	case md.ContainerUser != "":
		return md.ContainerUser
	case c.Config != nil && c.Config.User != "":
		return c.Config.User
	}
	return "root"
}

// remoteFolder finds where the workspace is mounted in the container.
func remoteFolder(ws Workspace, c container.InspectResponse) string {
	for _, mnt := range c.Mounts {
		if mnt.Source == ws.Dir {
			return mnt.Destination
		}
	}
	// As the CLI: a container path, named after the host folder (whose
	// separators are the host's).
	return path.Join("/workspaces", filepath.Base(ws.Dir))
}
