#!/usr/bin/env bash
# bench/lifecycle.sh [N]: on one running box, compare
#   devbox exec -- true   vs  docker exec ID true  vs  devcontainer exec true
#   devbox up (fast path) vs  docker inspect ID    vs  devcontainer up
# and print medians (ms) and ratios. Goals (issue 4): devbox exec <= 1.3x
# docker exec; devbox up <= 5x docker inspect.
#
# It makes a tiny workspace from the local base image devbox-test/debian:bookworm
# (integration/images/make-base.sh; nothing is pulled) with a stand-in for the
# devbox-firewall feature that only writes the ready marker, and removes the
# box, its image and the workspace afterwards. Set WS=DIR to use an existing
# workspace instead (it is left as it was, box included), TREE=N to give
# the workspace N more folders (see below).
set -euo pipefail
n=${1:-30}
repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/devbox-bench.XXXXXX)
export XDG_STATE_HOME=$tmp/state
devbox=$tmp/devbox
(cd "$repo" && go build -o "$devbox" ./cmd/devbox)

own=0
if [ -z "${WS:-}" ]; then
  own=1
  WS=$tmp/benchws
  mkdir -p "$WS/.devcontainer/devbox-firewall"
  cat > "$WS/.devcontainer/devcontainer.json" <<'J'
{
  "build": {"dockerfile": "Dockerfile"},
  "features": {"./devbox-firewall": {}},
  "remoteUser": "dev",
  "remoteEnv": {"BENCH": "1"}
}
J
  printf 'FROM devbox-test/debian:bookworm\nRUN useradd -m -s /bin/bash dev\n' > "$WS/.devcontainer/Dockerfile"
  echo '{"id": "devbox-firewall", "version": "0.0.1", "entrypoint": "/usr/local/sbin/init-firewall"}' \
    > "$WS/.devcontainer/devbox-firewall/devcontainer-feature.json"
  cat > "$WS/.devcontainer/devbox-firewall/install.sh" <<'S'
#!/bin/sh
printf '#!/bin/sh\nmkdir -p /run/devbox\necho {} > /run/devbox/firewall.ready\n' > /usr/local/sbin/init-firewall
chmod 755 /usr/local/sbin/init-firewall
S
  chmod 755 "$WS/.devcontainer/devbox-firewall/install.sh"
  # TREE=N: N folders of 10 files under node_modules, for the host check
  # devbox runs before every exec (it reads every folder once, then only
  # those whose ctime changed).
  if [ -n "${TREE:-}" ]; then
    for ((d = 0; d < TREE; d++)); do
      mkdir -p "$WS/node_modules/p$((d / 10))/l$((d % 10))"
      touch "$WS/node_modules/p$((d / 10))/l$((d % 10))/"f{0..9}.js
    done
  fi
fi
cleanup() {
  if [ "$own" = 1 ]; then
    img=$(docker ps -a --filter "label=devcontainer.local_folder=$WS" --format '{{.Image}}' | head -1)
    "$devbox" down -w "$WS" >/dev/null 2>&1 || true
    [ -n "$img" ] && docker image rm "$img" >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

"$devbox" up -w "$WS" >/dev/null 2>"$tmp/up.log" || { cat "$tmp/up.log"; exit 1; }
id=$(docker ps -q --no-trunc --filter "label=devcontainer.local_folder=$WS" | head -1)
echo "box $id ($WS), $n runs each, $(docker version --format 'engine {{.Server.Version}} API {{.Server.APIVersion}}')"

# median NAME CMD...: runs CMD n times (after one warm-up), prints the median in ms.
median() {
  local name=$1; shift
  "$@" >/dev/null 2>&1 </dev/null || { echo "$name failed: $*" >&2; exit 1; }
  local times=() i t0 t1
  for ((i = 0; i < n; i++)); do
    t0=$(date +%s%N); "$@" >/dev/null 2>&1 </dev/null; t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v name="$name" '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%s %.1f\n", name, m/1000}'
}

results=$(
  median devbox_exec "$devbox" exec -w "$WS" -- true
  median docker_exec docker exec "$id" true
  median devcontainer_exec devcontainer exec --workspace-folder "$WS" true
  median devbox_up "$devbox" up -w "$WS"
  median docker_inspect docker inspect "$id"
  median devcontainer_up devcontainer up --workspace-folder "$WS"
)
echo "$results" | awk '
  {ms[$1] = $2}
  END {
    printf "%-24s %9s\n", "command", "median ms"
    printf "%-24s %9.1f  %.2fx docker exec, devcontainer exec is %.1fx slower\n", "devbox exec -- true", ms["devbox_exec"], ms["devbox_exec"] / ms["docker_exec"], ms["devcontainer_exec"] / ms["devbox_exec"]
    printf "%-24s %9.1f\n", "docker exec ID true", ms["docker_exec"]
    printf "%-24s %9.1f\n", "devcontainer exec true", ms["devcontainer_exec"]
    printf "%-24s %9.1f  %.2fx docker inspect, devcontainer up is %.1fx slower\n", "devbox up (fast path)", ms["devbox_up"], ms["devbox_up"] / ms["docker_inspect"], ms["devcontainer_up"] / ms["devbox_up"]
    printf "%-24s %9.1f\n", "docker inspect ID", ms["docker_inspect"]
    printf "%-24s %9.1f\n", "devcontainer up", ms["devcontainer_up"]
  }'
