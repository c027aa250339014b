package lifecycle

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/devbox-sandbox/devbox/internal/contract"
)

// metadata is what devbox needs from the devcontainer.metadata label: the
// merged configuration of the image, its features and devcontainer.json.
type metadata struct {
	RemoteUser    string
	ContainerUser string
	UserEnvProbe  string
	RemoteEnv     map[string]*string // nil value: unset the variable
	HasFirewall   bool               // the devbox-firewall feature is installed
	Known         bool               // the label was present
}

type metadataEntry struct {
	ID            string             `json:"id"`
	RemoteUser    string             `json:"remoteUser"`
	ContainerUser string             `json:"containerUser"`
	UserEnvProbe  string             `json:"userEnvProbe"`
	RemoteEnv     map[string]*string `json:"remoteEnv"`
	Entrypoint    string             `json:"entrypoint"`
}

// parseMetadata merges the label's entries the way the CLI does: later
// entries win, remoteEnv maps merge.
func parseMetadata(label string) (metadata, error) {
	md := metadata{RemoteEnv: map[string]*string{}}
	label = strings.TrimSpace(label)
	if label == "" {
		return md, nil
	}
	md.Known = true
	var entries []metadataEntry
	if strings.HasPrefix(label, "{") {
		var one metadataEntry
		if err := json.Unmarshal([]byte(label), &one); err != nil {
			return md, fmt.Errorf("parse %s label: %w", LabelMetadata, err)
		}
		entries = []metadataEntry{one}
	} else if err := json.Unmarshal([]byte(label), &entries); err != nil {
		return md, fmt.Errorf("parse %s label: %w", LabelMetadata, err)
	}
	for _, e := range entries {
		if e.RemoteUser != "" {
			md.RemoteUser = e.RemoteUser
		}
		if e.ContainerUser != "" {
			md.ContainerUser = e.ContainerUser
		}
		if e.UserEnvProbe != "" {
			md.UserEnvProbe = e.UserEnvProbe
		}
		for k, v := range e.RemoteEnv {
			md.RemoteEnv[k] = v
		}
		if strings.HasSuffix(strings.TrimSuffix(e.ID, "/"), contract.FirewallFeatureID) || e.Entrypoint == contract.FirewallBinary {
			md.HasFirewall = true
		}
	}
	return md, nil
}

var containerEnvRef = regexp.MustCompile(`\$\{containerEnv:([^}:]+)(?::([^}]*))?\}`)

// mergeEnv returns base (KEY=VALUE lines) overlaid with remoteEnv, whose
// ${containerEnv:VAR[:default]} references resolve against containerEnv,
// as the CLI does for `devcontainer exec`.
func mergeEnv(base []string, remoteEnv map[string]*string, containerEnv []string) []string {
	cenv := envMap(containerEnv)
	m := envMap(base)
	order := envKeys(base)
	keys := make([]string, 0, len(remoteEnv))
	for k := range remoteEnv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := remoteEnv[k]
		if v == nil {
			delete(m, k)
			continue
		}
		val := containerEnvRef.ReplaceAllStringFunc(*v, func(ref string) string {
			sub := containerEnvRef.FindStringSubmatch(ref)
			if got, ok := cenv[sub[1]]; ok {
				return got
			}
			return sub[2]
		})
		if _, ok := m[k]; !ok {
			order = append(order, k)
		}
		m[k] = val
	}
	out := make([]string, 0, len(m))
	for _, k := range order {
		if v, ok := m[k]; ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func envKeys(env []string) []string {
	keys := make([]string, 0, len(env))
	seen := map[string]bool{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}
