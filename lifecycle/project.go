package lifecycle

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/devbox-sandbox/devbox/internal/hostcheck"
)

// The compose project's name decides which volumes (the agent's login
// among them) and networks a box gets, and which containers `down`
// removes. devbox passes it to the Dev Containers CLI itself
// (COMPOSE_PROJECT_NAME), derived exactly as the CLI derives it when VS
// Code runs it without that variable, so that both find one box. What
// could choose another name behind devbox's back is refused instead:
// COMPOSE_* lines in the workspace's .env (the CLI reads
// COMPOSE_PROJECT_NAME from <workspace folder>/.env) and in the .env
// next to the first compose file (compose reads it, and the CLI takes
// the name compose reports), and a `name:` in the compose files that
// compose would interpolate.

// composeProjectName is the project name the Dev Containers CLI (0.89.0,
// dist/spec-node/devContainersSpecCLI.js, the function that reads
// COMPOSE_PROJECT_NAME) derives when neither the environment nor the
// workspace's .env sets it: the compose files' own name when they declare
// one; else, with the first compose file in <workspace>/.devcontainer,
// the workspace folder's name and "_devcontainer"; else the name of the
// first compose file's folder. The CLI compares those folders exactly on
// Linux and without case elsewhere (goos). Names are lower-cased and
// stripped to [-_a-z0-9] (Compose 1.21 and later).
func composeProjectName(goos, workspace, firstComposeFile, declared string) string {
	if declared != "" {
		return projectNameChars(declared)
	}
	dir := filepath.Dir(firstComposeFile)
	configDir := filepath.Join(workspace, ".devcontainer")
	same := dir == configDir
	if goos != "linux" {
		same = strings.EqualFold(dir, configDir)
	}
	if same {
		return projectNameChars(filepath.Base(workspace) + "_devcontainer")
	}
	return projectNameChars(filepath.Base(dir))
}

// projectNameChars is the CLI's normalisation of a project name: lower
// case, and only the characters -, _, a-z and 0-9 kept.
func projectNameChars(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r == '-' || r == '_' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ProjectNameError says why devbox cannot name a box's compose project.
type ProjectNameError struct {
	File string
	Why  string
}

// Error implements error.
func (e *ProjectNameError) Error() string { return e.File + ": " + e.Why }

// projectName derives the compose project of ws from its compose files
// (absolute paths, in order), refusing what would make VS Code pick
// another name than devbox.
func projectName(goos string, ws Workspace, files []string) (string, error) {
	if len(files) == 0 {
		return "", nil
	}
	if err := hostcheck.CheckDotEnv(ws.Dir); err != nil {
		return "", err
	}
	if err := hostcheck.CheckDotEnv(filepath.Dir(files[0])); err != nil {
		return "", err
	}
	var declared string
	for _, f := range files { // compose lets a later file's name win
		data, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", f, err)
		}
		var doc struct {
			Name string `yaml:"name"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return "", fmt.Errorf("parse %s: %w", f, err)
		}
		if strings.Contains(doc.Name, "$") {
			return "", &ProjectNameError{File: f, Why: fmt.Sprintf("name: %q is interpolated from the environment, so devbox and VS Code could name different projects: write the name out or remove it", doc.Name)}
		}
		if doc.Name != "" {
			declared = doc.Name
		}
	}
	name := composeProjectName(goos, ws.Dir, files[0], declared)
	// Compose v2 trims a leading - or _ from the name it reports, and
	// v1 reports none: the CLI's name would depend on compose's version.
	if name == "" || strings.HasPrefix(name, "-") || strings.HasPrefix(name, "_") {
		return "", &ProjectNameError{File: files[0], Why: fmt.Sprintf("the compose project's name derived from the folder names is %q (only -, _, a-z and 0-9 are kept), which compose versions treat differently: add `name: NAME` to the compose file", name)}
	}
	return name, nil
}
