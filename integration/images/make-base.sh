#!/usr/bin/env bash
# make-base.sh SUITE TAG: build a Debian base image locally (no registry is
# reachable here): debootstrap a minimal root, `docker import` it, then add the
# packages every generated Dockerfile installs anyway with one `docker build`
# layer, so test builds stay short. Reuses TAG when it exists.
set -euo pipefail
suite=${1:?suite (bookworm, trixie)}
tag=${2:?image tag}
# Test packages run in parallel and may ask for the same image: one builds it,
# the others wait for the lock and then find it.
exec 9>"/tmp/devbox-make-base-$suite.lock"
flock 9
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "make-base: $tag exists"; exit 0
fi
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
root=$(mktemp -d /tmp/devbox-base-"$suite".XXXXXX)
log=$(mktemp /tmp/devbox-base-"$suite".log.XXXXXX)
# debootstrap mounts /proc and /sys inside the root; a failed or killed run can
# leave them mounted, so unmount before removing, and never cross into them.
cleanup() {
  for m in $(findmnt -rn -o TARGET | grep -F "$root" | sort -r); do umount -l "$m" || true; done
  rm -rf --one-file-system "$root" ${ctx:+"$ctx"}
}
trap cleanup EXIT
echo "make-base: debootstrap $suite (log: $log)"
if ! debootstrap --variant=minbase --include=ca-certificates "$suite" "$root" "$mirror" >"$log" 2>&1; then
  tail -20 "$log" >&2; exit 1
fi
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
tar -C "$root" -c . | docker import -c 'CMD ["bash"]' -c 'ENV LANG=C.UTF-8' - "$tag-rootfs" >/dev/null
ctx=$(mktemp -d)
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $tag-rootfs
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    iptables iproute2 procps less git curl nodejs npm bash-completion \
 && rm -rf /var/lib/apt/lists/*
DOCKERFILE
echo "make-base: docker build $tag"
if ! docker build -q -t "$tag" "$ctx" >>"$log" 2>&1; then
  tail -20 "$log" >&2; exit 1
fi
docker rmi "$tag-rootfs" >/dev/null 2>&1 || true
echo "make-base: built $tag"
