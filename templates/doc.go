// Package templates holds the embedded text templates and static files that
// the generator fills to make a workspace's .devcontainer/ folder: the
// Dockerfile, devcontainer.json, firewall.jsonc, the local devbox-firewall
// feature and the service init scripts.
//
// It owns only the text of those files. Which values go into them, and
// whether a file is written at all, is decided by package generator; this
// package must not read the workspace or know about command-line flags.
package templates
