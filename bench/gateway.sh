#!/usr/bin/env bash
# bench/gateway.sh [N]: the two layouts side by side, as whole processes:
#   - single:  `devbox init --single-container` (the firewall in the agent's container)
#   - gateway: `devbox init` (the firewall in a gateway container)
# For each: the first `devbox up` of a new box (with COLD=1 from a base
# image no build has seen, so every layer is built and every package
# downloaded; otherwise with Docker's layer cache as the machine has it),
# `devbox up`
# on the running unchanged box, `devbox exec -- true` against `docker exec`
# (goal: within 1.1x), and for the gateway its idle memory (the container's
# cgroup and init-firewall's RSS). Medians of N runs (default 20), in ms.
#
# Nothing leaves the machine: the workspaces are made from the local base
# image devbox-test/debian:bookworm (integration/images/make-base.sh), with
# an allowlist of one test CIDR, no domains, no GitHub ranges and nothing to
# verify, so init-firewall looks up and fetches nothing; its one DNS probe is
# refused inside the box's own namespace. The boxes, their images and the
# workspaces are removed afterwards. Needs devbox's firewall binaries
# (`task build:firewall`) and the Dev Containers CLI.
set -euo pipefail
n=${1:-20}
repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/devbox-bench-gw.XXXXXX)
export XDG_STATE_HOME=$tmp/state
devbox=$tmp/devbox
(cd "$repo" && go build -o "$devbox" ./cmd/devbox)
base=devbox-test/debian:bookworm
docker image inspect "$base" >/dev/null 2>&1 || { echo "bench/gateway.sh: no $base image; run the integration tests once (they build it)" >&2; exit 1; }
# devbox up builds the gateway image on the same local base: nothing is pulled.
export DEVBOX_GATEWAY_BASE_IMAGE=$base
cold_base=
if [ "${COLD:-}" = 1 ]; then
  # The same base with a label no build has seen: a new image ID, so the
  # layer cache has nothing built on it.
  cold_base=devbox-bench/debian:cold-$$
  printf 'FROM %s\nLABEL devbox.bench.nonce=%s\n' "$base" "$(date +%s%N)" | docker build -q -t "$cold_base" - >/dev/null
  base=$cold_base
fi

boxes=()
cleanup() {
  for ws in "${boxes[@]}"; do
    imgs=$(docker ps -a --filter "label=com.docker.compose.project=$(basename "$ws")_devcontainer" --format '{{.Image}}'; \
      docker ps -a --filter "label=devcontainer.local_folder=$ws" --format '{{.Image}}')
    "$devbox" down -w "$ws" >/dev/null 2>&1 || true
    for img in $imgs; do docker image rm "$img" >/dev/null 2>&1 || true; done
  done
  if [ -n "$cold_base" ]; then docker image rm "$cold_base" >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# median CMD...: runs CMD n times (after one warm-up), prints the median in ms.
median() {
  "$@" >/dev/null 2>&1 </dev/null || { echo "failed: $*" >&2; return 1; }
  local times=() i t0 t1
  for ((i = 0; i < n; i++)); do
    t0=$(date +%s%N); "$@" >/dev/null 2>&1 </dev/null; t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f\n", m/1000}'
}

# localize WS: the allowlist that makes init-firewall contact nothing.
localize() {
  cat > "$1/.devcontainer/firewall.jsonc" <<'J'
// bench/gateway.sh: nothing to look up, fetch or verify.
{"domains": [], "cidrs": ["198.51.100.0/24"], "github": null, "verify": {"reachable": [], "blocked": []}}
J
}

printf '%-8s %10s %10s %10s %10s %7s %12s %12s\n' layout first_up up_warm exec docker_ex ratio gw_cgroup gw_rss
for layout in single gateway; do
  ws=$tmp/bench-$layout
  mkdir -p "$ws"
  git -C "$ws" init -q
  flags=(--agent none --base-image "$base")
  [ "$layout" = single ] && flags+=(--single-container)
  "$devbox" init -w "$ws" "${flags[@]}" >/dev/null
  localize "$ws"
  boxes+=("$ws")
  t0=$(date +%s%N)
  "$devbox" up -w "$ws" >/dev/null 2>"$tmp/up.log" || { cat "$tmp/up.log"; exit 1; }
  first=$(( ($(date +%s%N) - t0) / 1000000 ))
  id=$(docker ps -q --no-trunc --filter "label=devcontainer.local_folder=$ws" | head -1)
  warm=$(median "$devbox" up -w "$ws")
  ex=$(median "$devbox" exec -w "$ws" -- true)
  dex=$(median docker exec -u dev "$id" true)
  ratio=$(awk -v a="$ex" -v b="$dex" 'BEGIN {printf "%.2fx", a / b}')
  cg=- rss=-
  if [ "$layout" = gateway ]; then
    project=$(docker inspect --format '{{index .Config.Labels "com.docker.compose.project"}}' "$id")
    gw=$(docker ps -q --no-trunc --filter "label=com.docker.compose.project=$project" --filter label=com.docker.compose.service=gateway)
    sleep 3 # idle: past the apply, between healthchecks
    cg=$(docker stats --no-stream --format '{{.MemUsage}}' "$gw" | cut -d/ -f1 | tr -d ' ')
    rss=$(docker exec "$gw" awk '/^VmRSS/ {print $2 "kB"}' /proc/1/status)
  fi
  printf '%-8s %8sms %8sms %8sms %8sms %7s %12s %12s\n' "$layout" "$first" "$warm" "$ex" "$dex" "$ratio" "$cg" "$rss"
done
