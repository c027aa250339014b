#!/usr/bin/env bash
# make-base.sh SUITE TAG: build a Debian base image locally (no registry is
# reachable here) with debootstrap and `docker import`. Reuses TAG if present.
set -euo pipefail
suite=${1:?suite (bookworm, trixie)}
tag=${2:?image tag}
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "make-base: $tag exists"; exit 0
fi
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
root=$(mktemp -d /tmp/devbox-base-"$suite".XXXXXX)
trap 'rm -rf "$root"' EXIT
# Packages every generated Dockerfile installs anyway; baking them in keeps
# test builds short. The generated Dockerfile still installs them itself.
include=ca-certificates,iptables,iproute2,procps,less,git,curl,nodejs,npm,bash-completion
echo "make-base: debootstrap $suite into $root"
debootstrap --variant=minbase --include="$include" "$suite" "$root" "$mirror" >/tmp/devbox-debootstrap-"$suite".log 2>&1 || {
  tail -20 /tmp/devbox-debootstrap-"$suite".log >&2; exit 1; }
# A trimmed rootfs, like the official images: no apt lists, no caches.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
tar -C "$root" -c . | docker import \
  -c 'CMD ["bash"]' -c 'ENV LANG=C.UTF-8' - "$tag" >/dev/null
echo "make-base: built $tag"
