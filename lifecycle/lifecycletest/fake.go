// Package lifecycletest provides a fake Docker Engine for tests of the
// lifecycle package and of the commands that call it.
package lifecycletest

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/moby/moby/client"
)

// Engine is a fake lifecycle.Engine: each method calls its func field, and
// a nil field fails the call with an "unexpected call" error.
type Engine struct {
	PingFunc              func(context.Context, client.PingOptions) (client.PingResult, error)
	ServerVersionFunc     func(context.Context, client.ServerVersionOptions) (client.ServerVersionResult, error)
	ContainerListFunc     func(context.Context, client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerInspectFunc  func(context.Context, string, client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ContainerCreateFunc   func(context.Context, client.ContainerCreateOptions) (client.ContainerCreateResult, error)
	ContainerStartFunc    func(context.Context, string, client.ContainerStartOptions) (client.ContainerStartResult, error)
	ContainerStopFunc     func(context.Context, string, client.ContainerStopOptions) (client.ContainerStopResult, error)
	ContainerRestartFunc  func(context.Context, string, client.ContainerRestartOptions) (client.ContainerRestartResult, error)
	ContainerRemoveFunc   func(context.Context, string, client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	ContainerWaitFunc     func(context.Context, string, client.ContainerWaitOptions) client.ContainerWaitResult
	ContainerLogsFunc     func(context.Context, string, client.ContainerLogsOptions) (client.ContainerLogsResult, error)
	ContainerStatPathFunc func(context.Context, string, client.ContainerStatPathOptions) (client.ContainerStatPathResult, error)
	CopyFromContainerFunc func(context.Context, string, client.CopyFromContainerOptions) (client.CopyFromContainerResult, error)
	ExecCreateFunc        func(context.Context, string, client.ExecCreateOptions) (client.ExecCreateResult, error)
	ExecAttachFunc        func(context.Context, string, client.ExecAttachOptions) (client.ExecAttachResult, error)
	ExecInspectFunc       func(context.Context, string, client.ExecInspectOptions) (client.ExecInspectResult, error)
	ExecResizeFunc        func(context.Context, string, client.ExecResizeOptions) (client.ExecResizeResult, error)
	ImageInspectFunc      func(context.Context, string) (client.ImageInspectResult, error)
	ImageRemoveFunc       func(context.Context, string, client.ImageRemoveOptions) (client.ImageRemoveResult, error)
	NetworkListFunc       func(context.Context, client.NetworkListOptions) (client.NetworkListResult, error)
	NetworkRemoveFunc     func(context.Context, string, client.NetworkRemoveOptions) (client.NetworkRemoveResult, error)
	VolumeListFunc        func(context.Context, client.VolumeListOptions) (client.VolumeListResult, error)
	VolumeRemoveFunc      func(context.Context, string, client.VolumeRemoveOptions) (client.VolumeRemoveResult, error)
}

func unexpected(name string) error { return fmt.Errorf("fake engine: unexpected call to %s", name) }

// Ping implements lifecycle.Engine.
func (e *Engine) Ping(ctx context.Context, o client.PingOptions) (client.PingResult, error) {
	if e.PingFunc == nil {
		return client.PingResult{}, nil
	}
	return e.PingFunc(ctx, o)
}

// ServerVersion implements lifecycle.Engine.
func (e *Engine) ServerVersion(ctx context.Context, o client.ServerVersionOptions) (client.ServerVersionResult, error) {
	if e.ServerVersionFunc == nil {
		return client.ServerVersionResult{}, unexpected("ServerVersion")
	}
	return e.ServerVersionFunc(ctx, o)
}

// ContainerList implements lifecycle.Engine.
func (e *Engine) ContainerList(ctx context.Context, o client.ContainerListOptions) (client.ContainerListResult, error) {
	if e.ContainerListFunc == nil {
		return client.ContainerListResult{}, unexpected("ContainerList")
	}
	return e.ContainerListFunc(ctx, o)
}

// ContainerInspect implements lifecycle.Engine.
func (e *Engine) ContainerInspect(ctx context.Context, id string, o client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	if e.ContainerInspectFunc == nil {
		return client.ContainerInspectResult{}, unexpected("ContainerInspect")
	}
	return e.ContainerInspectFunc(ctx, id, o)
}

// ContainerCreate implements lifecycle.Engine.
func (e *Engine) ContainerCreate(ctx context.Context, o client.ContainerCreateOptions) (client.ContainerCreateResult, error) {
	if e.ContainerCreateFunc == nil {
		return client.ContainerCreateResult{}, unexpected("ContainerCreate")
	}
	return e.ContainerCreateFunc(ctx, o)
}

// ContainerStart implements lifecycle.Engine.
func (e *Engine) ContainerStart(ctx context.Context, id string, o client.ContainerStartOptions) (client.ContainerStartResult, error) {
	if e.ContainerStartFunc == nil {
		return client.ContainerStartResult{}, unexpected("ContainerStart")
	}
	return e.ContainerStartFunc(ctx, id, o)
}

// ContainerStop implements lifecycle.Engine.
func (e *Engine) ContainerStop(ctx context.Context, id string, o client.ContainerStopOptions) (client.ContainerStopResult, error) {
	if e.ContainerStopFunc == nil {
		return client.ContainerStopResult{}, unexpected("ContainerStop")
	}
	return e.ContainerStopFunc(ctx, id, o)
}

// ContainerRestart implements lifecycle.Engine.
func (e *Engine) ContainerRestart(ctx context.Context, id string, o client.ContainerRestartOptions) (client.ContainerRestartResult, error) {
	if e.ContainerRestartFunc == nil {
		return client.ContainerRestartResult{}, unexpected("ContainerRestart")
	}
	return e.ContainerRestartFunc(ctx, id, o)
}

// ContainerRemove implements lifecycle.Engine.
func (e *Engine) ContainerRemove(ctx context.Context, id string, o client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
	if e.ContainerRemoveFunc == nil {
		return client.ContainerRemoveResult{}, unexpected("ContainerRemove")
	}
	return e.ContainerRemoveFunc(ctx, id, o)
}

// ContainerWait implements lifecycle.Engine.
func (e *Engine) ContainerWait(ctx context.Context, id string, o client.ContainerWaitOptions) client.ContainerWaitResult {
	if e.ContainerWaitFunc == nil {
		errs := make(chan error, 1)
		errs <- unexpected("ContainerWait")
		return client.ContainerWaitResult{Error: errs}
	}
	return e.ContainerWaitFunc(ctx, id, o)
}

// ContainerLogs implements lifecycle.Engine.
func (e *Engine) ContainerLogs(ctx context.Context, id string, o client.ContainerLogsOptions) (client.ContainerLogsResult, error) {
	if e.ContainerLogsFunc == nil {
		return nil, unexpected("ContainerLogs")
	}
	return e.ContainerLogsFunc(ctx, id, o)
}

// ContainerStatPath implements lifecycle.Engine.
func (e *Engine) ContainerStatPath(ctx context.Context, id string, o client.ContainerStatPathOptions) (client.ContainerStatPathResult, error) {
	if e.ContainerStatPathFunc == nil {
		return client.ContainerStatPathResult{}, unexpected("ContainerStatPath")
	}
	return e.ContainerStatPathFunc(ctx, id, o)
}

// CopyFromContainer implements lifecycle.Engine.
func (e *Engine) CopyFromContainer(ctx context.Context, id string, o client.CopyFromContainerOptions) (client.CopyFromContainerResult, error) {
	if e.CopyFromContainerFunc == nil {
		return client.CopyFromContainerResult{}, unexpected("CopyFromContainer")
	}
	return e.CopyFromContainerFunc(ctx, id, o)
}

// ExecCreate implements lifecycle.Engine.
func (e *Engine) ExecCreate(ctx context.Context, id string, o client.ExecCreateOptions) (client.ExecCreateResult, error) {
	if e.ExecCreateFunc == nil {
		return client.ExecCreateResult{}, unexpected("ExecCreate")
	}
	return e.ExecCreateFunc(ctx, id, o)
}

// ExecAttach implements lifecycle.Engine.
func (e *Engine) ExecAttach(ctx context.Context, id string, o client.ExecAttachOptions) (client.ExecAttachResult, error) {
	if e.ExecAttachFunc == nil {
		return client.ExecAttachResult{}, unexpected("ExecAttach")
	}
	return e.ExecAttachFunc(ctx, id, o)
}

// ExecInspect implements lifecycle.Engine.
func (e *Engine) ExecInspect(ctx context.Context, id string, o client.ExecInspectOptions) (client.ExecInspectResult, error) {
	if e.ExecInspectFunc == nil {
		return client.ExecInspectResult{}, unexpected("ExecInspect")
	}
	return e.ExecInspectFunc(ctx, id, o)
}

// ExecResize implements lifecycle.Engine.
func (e *Engine) ExecResize(ctx context.Context, id string, o client.ExecResizeOptions) (client.ExecResizeResult, error) {
	if e.ExecResizeFunc == nil {
		return client.ExecResizeResult{}, nil
	}
	return e.ExecResizeFunc(ctx, id, o)
}

// ImageInspect implements lifecycle.Engine.
func (e *Engine) ImageInspect(ctx context.Context, img string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	if e.ImageInspectFunc == nil {
		return client.ImageInspectResult{}, unexpected("ImageInspect")
	}
	return e.ImageInspectFunc(ctx, img)
}

// ImageRemove implements lifecycle.Engine.
func (e *Engine) ImageRemove(ctx context.Context, img string, o client.ImageRemoveOptions) (client.ImageRemoveResult, error) {
	if e.ImageRemoveFunc == nil {
		return client.ImageRemoveResult{}, unexpected("ImageRemove")
	}
	return e.ImageRemoveFunc(ctx, img, o)
}

// NetworkList implements lifecycle.Engine.
func (e *Engine) NetworkList(ctx context.Context, o client.NetworkListOptions) (client.NetworkListResult, error) {
	if e.NetworkListFunc == nil {
		return client.NetworkListResult{}, unexpected("NetworkList")
	}
	return e.NetworkListFunc(ctx, o)
}

// NetworkRemove implements lifecycle.Engine.
func (e *Engine) NetworkRemove(ctx context.Context, id string, o client.NetworkRemoveOptions) (client.NetworkRemoveResult, error) {
	if e.NetworkRemoveFunc == nil {
		return client.NetworkRemoveResult{}, unexpected("NetworkRemove")
	}
	return e.NetworkRemoveFunc(ctx, id, o)
}

// VolumeList implements lifecycle.Engine.
func (e *Engine) VolumeList(ctx context.Context, o client.VolumeListOptions) (client.VolumeListResult, error) {
	if e.VolumeListFunc == nil {
		return client.VolumeListResult{}, unexpected("VolumeList")
	}
	return e.VolumeListFunc(ctx, o)
}

// VolumeRemove implements lifecycle.Engine.
func (e *Engine) VolumeRemove(ctx context.Context, id string, o client.VolumeRemoveOptions) (client.VolumeRemoveResult, error) {
	if e.VolumeRemoveFunc == nil {
		return client.VolumeRemoveResult{}, unexpected("VolumeRemove")
	}
	return e.VolumeRemoveFunc(ctx, id, o)
}

// Close implements lifecycle.Engine.
func (e *Engine) Close() error { return nil }

// Attached returns an exec attachment that yields stdout and stderr
// multiplexed the way the engine sends them without a TTY.
func Attached(stdout, stderr string) client.ExecAttachResult {
	var buf bytes.Buffer
	frame(&buf, 1, stdout)
	frame(&buf, 2, stderr)
	local, remote := net.Pipe()
	go func() { io.Copy(io.Discard, remote) }()
	return client.ExecAttachResult{HijackedResponse: client.HijackedResponse{Conn: local, Reader: bufio.NewReader(&buf)}}
}

// frame writes one frame of the engine's multiplexed stream format.
func frame(w *bytes.Buffer, stream byte, data string) {
	if data == "" {
		return
	}
	hdr := [8]byte{stream}
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(data)))
	w.Write(hdr[:])
	w.WriteString(data)
}

// Tar returns a one-file tar archive, as CopyFromContainer sends it.
func Tar(name, content string) io.ReadCloser {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content))})
	tw.Write([]byte(content))
	tw.Close()
	return io.NopCloser(&buf)
}

// MatchesLabels reports whether labels pass the "label" terms of f the way
// the engine applies them: every value, KEY or KEY=VALUE, must match.
func MatchesLabels(labels map[string]string, f client.Filters) bool {
	for v := range f["label"] {
		key, want, hasValue := strings.Cut(v, "=")
		got, ok := labels[key]
		if !ok || hasValue && got != want {
			return false
		}
	}
	return true
}

// Logs returns a container log with stdout and stderr multiplexed, as
// ContainerLogs sends it for a container without a TTY.
func Logs(stdout, stderr string) io.ReadCloser {
	var buf bytes.Buffer
	frame(&buf, 1, stdout)
	frame(&buf, 2, stderr)
	return io.NopCloser(&buf)
}
