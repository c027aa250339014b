#!/usr/bin/env bash
# bench/allow.sh [N]: `devbox allow` and `devbox deny` on a running gateway
# box, as whole processes: each edits firewall.jsonc, has the gateway
# reload it through the Engine API and returns once the change is in
# force, so its time is the time until the change takes effect (goal:
# <= 1 s). Beside them, the floor: one `docker exec` of init-firewall's
# `ctl state` in the gateway. And `devbox exec -- true` against `docker
# exec` on the same box (goal: within 1.1x), which now also reads the
# audit marker. Medians of N runs (default 20), in ms.
#
# Nothing leaves the machine: the workspace is made from the local base
# image devbox-test/debian:bookworm (integration/images/make-base.sh),
# with an allowlist of one test CIDR, no GitHub ranges and nothing to
# verify; the names allowed are never asked. The box, its images and the
# workspace are removed afterwards. Needs devbox's firewall binaries
# (`task build:firewall`) and the Dev Containers CLI.
set -euo pipefail
n=${1:-20}
repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/devbox-bench-allow.XXXXXX)
export XDG_STATE_HOME=$tmp/state
devbox=$tmp/devbox
(cd "$repo" && go build -o "$devbox" ./cmd/devbox)
base=devbox-test/debian:bookworm
docker image inspect "$base" >/dev/null 2>&1 || { echo "bench/allow.sh: no $base image; run the integration tests once (they build it)" >&2; exit 1; }
export DEVBOX_GATEWAY_BASE_IMAGE=$base
ws=$tmp/bench-allow
cleanup() {
  imgs=$(docker ps -a --filter "label=devcontainer.local_folder=$ws" --format '{{.Image}}')
  "$devbox" down -w "$ws" >/dev/null 2>&1 || true
  for img in $imgs; do docker image rm "$img" >/dev/null 2>&1 || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$ws"
git -C "$ws" init -q
"$devbox" init -w "$ws" --agent none --base-image "$base" >/dev/null
cat > "$ws/.devcontainer/firewall.jsonc" <<'J'
// bench/allow.sh: nothing to look up, fetch or verify.
{"domains": [], "cidrs": ["198.51.100.0/24"], "github": null, "verify": {"reachable": [], "blocked": []}}
J
"$devbox" up -w "$ws" >/dev/null 2>"$tmp/up.log" || { cat "$tmp/up.log"; exit 1; }
id=$(docker ps -q --no-trunc --filter "label=devcontainer.local_folder=$ws" | head -1)
project=$(docker inspect --format '{{index .Config.Labels "com.docker.compose.project"}}' "$id")
gw=$(docker ps -q --no-trunc --filter "label=com.docker.compose.project=$project" --filter label=com.docker.compose.service=gateway)

# stats: median, fastest and slowest of the ms values on stdin.
stats() {
  sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "median %.1f, fastest %.1f, slowest %.1f", m, a[1], a[NR]}'
}
# timed CMD...: runs CMD once, prints its time in ms.
timed() {
  local t0 t1
  t0=$(date +%s%N); "$@" >/dev/null 2>"$tmp/err" </dev/null || { cat "$tmp/err" >&2; return 1; }; t1=$(date +%s%N)
  awk -v d=$(( (t1 - t0) / 1000 )) 'BEGIN {printf "%.1f\n", d / 1000}'
}

allow=() deny=() floor=() ex=() dex=()
for ((i = 0; i < n; i++)); do
  ex+=("$(timed "$devbox" exec -w "$ws" -- true)")
  dex+=("$(timed docker exec -u dev "$id" true)")
  allow+=("$(timed "$devbox" allow -w "$ws" "bench$i.example.test:443")")
  deny+=("$(timed "$devbox" deny -w "$ws" "bench$i.example.test")")
  floor+=("$(timed docker exec "$gw" init-firewall ctl state)")
done
"$devbox" policy check -w "$ws" "bench0.example.test" | head -1
echo "box $id, gateway $gw, $n runs each, $(docker version --format 'engine {{.Server.Version}}')"
echo "devbox allow NAME (until in force):   $(printf '%s\n' "${allow[@]}" | stats) ms"
echo "devbox deny NAME (until in force):    $(printf '%s\n' "${deny[@]}" | stats) ms"
echo "docker exec gateway ctl state (floor): $(printf '%s\n' "${floor[@]}" | stats) ms"
echo "devbox exec -- true:                  $(printf '%s\n' "${ex[@]}" | stats) ms"
echo "docker exec -u dev ID true:           $(printf '%s\n' "${dex[@]}" | stats) ms"
