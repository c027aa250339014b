package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// process is one command to run in a container through the Engine API.
type process struct {
	User       string
	WorkingDir string
	Env        []string
	Cmd        []string
	TTY        bool
	Width      uint
	Height     uint
	Stdin      io.Reader // nil: no stdin
	Stdout     io.Writer
	Stderr     io.Writer
	// Started, when set, receives the exec ID once the process runs.
	Started func(execID string)
	// Ready, when set, is waited for after the exec is created and before
	// it starts: an error from it ends run without starting anything.
	Ready func() error
}

// ContainerGoneError says the container went away while a command ran.
type ContainerGoneError struct {
	Container string
	Removed   bool
}

// Error implements error.
func (e *ContainerGoneError) Error() string {
	if e.Removed {
		return fmt.Sprintf("container %s was removed while the command ran", shortID(e.Container))
	}
	return fmt.Sprintf("container %s stopped while the command ran", shortID(e.Container))
}

// run runs p in container id and returns its exit status.
func run(ctx context.Context, eng Engine, id string, p process) (int, error) {
	size := client.ConsoleSize{}
	if p.TTY && p.Width > 0 && p.Height > 0 {
		size = client.ConsoleSize{Height: p.Height, Width: p.Width}
	}
	created, err := eng.ExecCreate(ctx, id, client.ExecCreateOptions{
		User: p.User, WorkingDir: p.WorkingDir, Env: p.Env, Cmd: p.Cmd, TTY: p.TTY, ConsoleSize: size,
		AttachStdin: p.Stdin != nil, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return -1, execError(ctx, eng, id, fmt.Errorf("create exec in %s: %w", shortID(id), err))
	}
	if p.Ready != nil {
		if err := p.Ready(); err != nil {
			return -1, err // a created exec that never starts runs nothing
		}
	}
	att, err := eng.ExecAttach(ctx, created.ID, client.ExecAttachOptions{TTY: p.TTY, ConsoleSize: size})
	if err != nil {
		return -1, execError(ctx, eng, id, fmt.Errorf("start exec in %s: %w", shortID(id), err))
	}
	defer att.Close()
	// A cancelled ctx ends the wait for output too (Exec passes one that
	// is never cancelled; pull bounds the box's time with it).
	defer context.AfterFunc(ctx, func() { att.Close() })()
	if p.Started != nil {
		p.Started(created.ID)
	}
	if p.Stdin != nil {
		go func() {
			io.Copy(att.Conn, p.Stdin)
			if cw, ok := att.Conn.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
		}()
	}
	var outErr error
	if p.TTY {
		_, outErr = io.Copy(p.Stdout, att.Reader)
	} else {
		_, outErr = stdcopy.StdCopy(p.Stdout, p.Stderr, att.Reader)
	}
	insp, err := eng.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
	if err != nil {
		return -1, execError(ctx, eng, id, fmt.Errorf("read exit status in %s: %w", shortID(id), err))
	}
	if insp.ExitCode == 137 || outErr != nil {
		// SIGKILL: what a process gets when its container is stopped or
		// removed. The engine may not have noticed yet: look for a second.
		// A stopped container may be on its way out: prefer "removed".
		var gone *ContainerGoneError
		for i := 0; i < 10 && (gone == nil || !gone.Removed); i++ {
			if g := containerGone(ctx, eng, id); g != nil {
				gone = g
			}
			time.Sleep(100 * time.Millisecond)
		}
		if gone != nil {
			return -1, gone
		}
	}
	if outErr != nil && !errors.Is(outErr, io.EOF) {
		return -1, fmt.Errorf("read output of exec in %s: %w", shortID(id), outErr)
	}
	return insp.ExitCode, nil
}

// execError explains a failed exec call by the container's fate when it
// is gone.
func execError(ctx context.Context, eng Engine, id string, err error) error {
	if gone := containerGone(ctx, eng, id); gone != nil {
		return gone
	}
	return err
}

func containerGone(ctx context.Context, eng Engine, id string) *ContainerGoneError {
	insp, err := eng.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return &ContainerGoneError{Container: id, Removed: true}
		}
		return nil
	}
	if insp.Container.State == nil || !insp.Container.State.Running {
		return &ContainerGoneError{Container: id}
	}
	return nil
}

// capture runs p and returns what it printed on stdout.
func capture(ctx context.Context, eng Engine, id string, p process) ([]byte, int, error) {
	var out, errOut lockedBuffer
	p.Stdout, p.Stderr = &out, &errOut
	code, err := run(ctx, eng, id, p)
	return out.Bytes(), code, err
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

// Write implements io.Writer.
func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// Bytes returns a copy of what was written.
func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf...)
}
