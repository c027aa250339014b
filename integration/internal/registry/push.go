package registry

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/devbox-sandbox/devbox/internal/runner"
)

// pushDigest matches the line `docker push` ends with:
// "1: digest: sha256:<64 hex> size: 527".
var pushDigest = regexp.MustCompile(`digest: (sha256:[0-9a-f]{64}) size: \d+`)

// PushedDigest tags the local image (a tag or id) as Host()/name, where name
// is "repository:tag" (e.g. "devbox-sandbox/gateway:1.2.3"), pushes it and
// returns the reference by digest an engine pulls it with:
// "localhost:PORT/repository@sha256:...".
//
// The tag Host()/name stays on the engine; the caller removes it (docker rmi)
// when it wants the engine to pull the image back.
func (r *Registry) PushedDigest(ctx context.Context, image, name string) (string, error) {
	repo, tag, ok := strings.Cut(name, ":")
	if !ok || repo == "" || tag == "" || strings.Contains(tag, "/") || strings.Contains(name, "@") {
		return "", fmt.Errorf("push %s to the test registry: name %q is not repository:tag", image, name)
	}
	ref := r.Host() + "/" + name
	if _, err := r.run.Run(ctx, runner.Cmd{Name: "docker", Args: []string{"tag", image, ref}}); err != nil {
		return "", fmt.Errorf("push %s as %s: %w", image, ref, err)
	}
	res, err := r.run.Run(ctx, runner.Cmd{Name: "docker", Args: []string{"push", ref}})
	if err != nil {
		return "", fmt.Errorf("push %s as %s: %w", image, ref, err)
	}
	m := pushDigest.FindStringSubmatch(string(res.Stdout))
	if m == nil {
		return "", fmt.Errorf("push %s as %s: docker push printed no digest line: %s", image, ref, strings.TrimSpace(string(res.Stdout)))
	}
	return r.Host() + "/" + repo + "@" + m[1], nil
}
