// Package integration holds devbox's end-to-end tests (TestIntegration*): the
// real devbox binary, the Dev Containers CLI, a real Docker Engine and the
// real kernel. They are skipped under -short and run as root (CI does).
//
// What they need and make, all of it local:
//   - images (internal/images): Debian bases made with debootstrap
//     (images/make-base.sh) and stand-ins for the official postgres, redis and mysql
//     images built from them, because no registry can be reached;
//   - a stand-in internet (internal/inet): the network namespace dbit-inet
//     behind a veth pair, with the test hosts, a DNS server and the
//     GitHub-meta- and AWS-shaped documents. Every generated allowlist is
//     rewritten to point at it, and the boxes use its DNS server, so no test
//     contacts a public host;
//   - a registry on loopback (internal/registry), built from the Go module
//     proxy once per machine, that an image is pushed to and pulled from by
//     digest;
//   - workspaces made by `devbox init` in temporary folders, and the
//     examples/ folders copied to temporary folders.
//
// It owns nothing outside integration/ and examples/; every container,
// network, volume, namespace and route a test makes is removed when it ends
// (images are kept: they are the shared build cache).
package integration
