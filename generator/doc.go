// Package generator turns the options of `devbox init` into the files of a
// workspace's .devcontainer/ folder and writes them: devcontainer.json,
// Dockerfile, compose.yaml (with services), firewall.jsonc, the local
// devbox-firewall feature, service init scripts and the init-firewall
// binaries.
//
// It owns the choices behind those files: the agents, languages, services
// and allowlist presets devbox knows (as data), validation of the user's
// input, editing an existing devcontainer.json without losing its comments
// (HuJSON), converting one of the single-container layout to a compose box
// (upgrade.go: moved, removed or refused by name, never dropped), and
// all-or-nothing writing. The text of the files lives in
// package templates; the allowlist format and its validation belong to
// package firewall/allowlist. It must not start containers or run external programs:
// that is package lifecycle's work.
//
// Two workspace layouts: bind (dev mounts the host's folder, with .git's
// hooks and config and .devcontainer/ read-only) and volume (dev works on
// its own clone in a named volume, cloned by dev's main process on its
// first start from the host's .git, mounted read-only in a root-only
// folder; nothing of the host is writable from dev). Only the volume
// layout may give the user sudo (and drop no-new-privileges for dev).
package generator
