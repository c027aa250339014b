package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/internal/runner"
)

// DoctorOptions says what `devbox doctor` checks with.
type DoctorOptions struct {
	Workspace string // its box's image is the default throwaway image
	Image     string // a local image with iptables for the kernel check
}

// Check is one finding of the doctor.
type Check struct {
	Name string // engine, compose, cli, firewall
	OK   bool
	// Warning: OK, but something to change (the fix says what).
	Warning bool
	Detail  string // what was found
	Fix     string // the exact fix when not OK
}

// DoctorReport is what `devbox doctor` found, one Check per thing devbox
// needs, in the order they were checked.
type DoctorReport struct {
	Checks []Check
}

// Failed reports whether any check failed.
func (r DoctorReport) Failed() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return true
		}
	}
	return false
}

// Doctor checks what devbox needs: the engine, compose, the devcontainer
// CLI, and that a container may get NET_ADMIN on a kernel with the
// netfilter features the firewall uses (in a throwaway container without
// network, from a local image: nothing is pulled). A failed check is a
// finding, not an error: see DoctorReport.Failed.
func (m *Manager) Doctor(ctx context.Context, opts DoctorOptions) DoctorReport {
	var checks []Check
	eng, ep, err := m.engine(ctx)
	if err != nil {
		checks = append(checks, Check{Name: "engine", Detail: "not reachable at " + ep.String(), Fix: fixOf(err)})
	} else {
		defer eng.Close()
		v, err := eng.ServerVersion(ctx, client.ServerVersionOptions{})
		if err != nil {
			checks = append(checks, Check{Name: "engine", Detail: err.Error(), Fix: "check the engine's logs (journalctl -u docker)"})
		} else {
			checks = append(checks, Check{Name: "engine", OK: true,
				Detail: fmt.Sprintf("Docker %s (API %s) at %s", v.Version, v.APIVersion, ep)})
		}
	}
	checks = append(checks, m.checkCompose(ctx), m.checkCLI(ctx))
	if eng != nil {
		checks = append(checks, m.checkKernel(ctx, eng, opts))
	}
	checks = append(checks, m.checkVSCode()...)
	return DoctorReport{Checks: checks}
}

func fixOf(err error) string {
	var u *UnreachableError
	if errors.As(err, &u) {
		return "start the engine (`sudo systemctl start docker`), or point DOCKER_HOST / `docker context use` at a running one"
	}
	return err.Error()
}

func (m *Manager) checkCompose(ctx context.Context) Check {
	if out, err := m.Runner.Run(ctx, runner.Cmd{Name: "docker", Args: []string{"compose", "version", "--short"}}); err == nil {
		return Check{Name: "compose", OK: true, Detail: "docker compose " + strings.TrimSpace(string(out.Stdout))}
	}
	if out, err := m.Runner.Run(ctx, runner.Cmd{Name: "docker-compose", Args: []string{"version", "--short"}}); err == nil {
		return Check{Name: "compose", OK: true, Detail: "docker-compose " + strings.TrimSpace(string(out.Stdout))}
	}
	return Check{Name: "compose", Detail: "neither `docker compose` nor `docker-compose` works (needed for configs with services)",
		Fix: "install the compose plugin (`sudo apt-get install docker-compose-plugin`) or docker-compose (`sudo apt-get install docker-compose`)"}
}

func (m *Manager) checkCLI(ctx context.Context) Check {
	out, err := m.Runner.Run(ctx, runner.Cmd{Name: "devcontainer", Args: []string{"--version"}})
	if err != nil {
		detail := "`devcontainer --version` failed: " + err.Error()
		if errors.Is(err, exec.ErrNotFound) {
			detail = "`devcontainer` is not on PATH"
		}
		return Check{Name: "cli", Detail: detail, Fix: contract.CLIInstall}
	}
	v := strings.TrimSpace(string(out.Stdout))
	c := Check{Name: "cli", OK: true, Detail: "devcontainer " + v}
	if v != contract.CLIVersion {
		c.Detail += " (devbox is tested with " + contract.CLIVersion + ")"
	}
	return c
}

// kernelScript exercises what the firewall needs, one line per check.
const kernelScript = `t() { n=$1; shift; if "$@" >/dev/null 2>&1; then echo "ok $n"; else echo "FAIL $n"; fi; }
t NET_ADMIN iptables -w -N DEVBOX_DOCTOR
t conntrack iptables -w -A DEVBOX_DOCTOR -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
t owner iptables -w -A DEVBOX_DOCTOR -m owner --uid-owner 0 -j ACCEPT
t reject iptables -w -A DEVBOX_DOCTOR -j REJECT --reject-with icmp-admin-prohibited
t NFLOG iptables -w -A DEVBOX_DOCTOR -j NFLOG --nflog-group 1
t ip6tables ip6tables -w -N DEVBOX_DOCTOR
`

func (m *Manager) checkKernel(ctx context.Context, eng Engine, opts DoctorOptions) Check {
	c := Check{Name: "firewall"}
	img := opts.Image
	if img == "" {
		if ws, err := workspaceAt(opts.Workspace); err == nil {
			if box, err := FindBox(ctx, eng, ws); err == nil && box != nil {
				img = box.Dev.Image
			}
		}
	}
	if img == "" {
		c.Detail = "not checked: no local image to try (no box for this workspace)"
		c.Fix = "run `devbox up` first, or pass --image IMAGE (a local image with iptables)"
		return c
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	created, err := eng.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{Image: img, User: "0", Entrypoint: []string{"/bin/sh", "-c"}, Cmd: []string{kernelScript},
			Labels: map[string]string{"devbox.doctor": "1"}},
		HostConfig: &container.HostConfig{NetworkMode: "none", CapAdd: []string{"NET_ADMIN"}},
	})
	if err != nil {
		c.Detail = fmt.Sprintf("could not create a throwaway container from %s: %v", img, err)
		if cerrdefs.IsNotFound(err) {
			c.Fix = "the image is not on this engine (devbox never pulls): pass --image with a local image"
		} else {
			c.Fix = "NET_ADMIN may be refused by the engine's policy (rootless, authz plugin): allow it, or use rootful Docker"
		}
		return c
	}
	defer eng.ContainerRemove(context.WithoutCancel(ctx), created.ID, client.ContainerRemoveOptions{Force: true})
	if _, err := eng.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		c.Detail = fmt.Sprintf("a container with NET_ADMIN did not start: %v", err)
		c.Fix = "allow NET_ADMIN for containers (rootless Docker and some authz plugins refuse it)"
		return c
	}
	wait := eng.ContainerWait(ctx, created.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-wait.Result:
	case err := <-wait.Error:
		c.Detail = "waiting for the throwaway container: " + err.Error()
		return c
	}
	logs, err := eng.ContainerLogs(ctx, created.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		c.Detail = "reading the throwaway container's output: " + err.Error()
		return c
	}
	defer logs.Close()
	var out bytes.Buffer
	stdcopy.StdCopy(&out, &out, logs)
	var failed []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if name, ok := strings.CutPrefix(l, "FAIL "); ok {
			failed = append(failed, name)
		}
	}
	switch {
	case len(failed) == 0 && strings.Contains(out.String(), "ok NET_ADMIN"):
		c.OK, c.Detail = true, "NET_ADMIN granted; iptables/ip6tables with conntrack, owner, REJECT, NFLOG work (image "+img+")"
	case len(failed) > 0 && failed[0] == "NET_ADMIN":
		c.Detail = "iptables failed with NET_ADMIN in " + img + ": " + strings.TrimSpace(out.String())
		c.Fix = "the image needs iptables, and the engine must grant NET_ADMIN (rootful Docker; no authz plugin refusing it)"
	default:
		c.Detail = "the kernel lacks: " + strings.Join(failed, ", ")
		c.Fix = "load the netfilter modules (`sudo modprobe -a nf_conntrack xt_conntrack xt_owner ipt_REJECT nfnetlink_log ip6_tables`) or use a kernel with them"
	}
	return c
}
