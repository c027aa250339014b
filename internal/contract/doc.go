// Package contract holds every name, path, label and timeout that the host
// and the box must agree on: the id of the local firewall feature, where the
// image installs init-firewall and its allowlist, where init-firewall leaves
// its status markers and the one rule for when a marker counts, how long both
// sides wait for the firewall, and the Dev Containers CLI version devbox is
// tested with.
//
// Both sides import it: the host (generator, lifecycle, cmd/devbox) and the
// box (cmd/init-firewall, firewall, firewall/allowlist), and the generator
// passes its values into the templates instead of spelling them out. So it
// must stay portable and dependency-free: the standard library only, no
// other devbox package, no I/O. A test fails when one of its values appears
// as a literal anywhere else in the tree.
//
// Labels that only the host reads (those the Dev Containers CLI and Compose
// set) are lifecycle's: the box never sees them.
package contract
