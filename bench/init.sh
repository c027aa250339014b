#!/usr/bin/env bash
# Whole-process `devbox init` for the largest combination (every agent
# preset, language, service and limit), as a user runs it: a release build
# of devbox (both init-firewall binaries embedded), a new folder each run,
# the files written to disk. Prints the median and fastest of RUNS (default
# 30) runs, and the files and bytes written, for the default layout and for
# --vendor-gateway (the one that writes the binaries). Asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-30}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for arch in amd64 arm64; do
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -ldflags "-s -w" -o "$tmp/init-firewall-linux-$arch" ./cmd/init-firewall
done
bin=generator/firewallbin
printf '{"Replace": {"%s": "%s", "%s": "%s"}}\n' \
  "$PWD/$bin/init-firewall-linux-amd64" "$tmp/init-firewall-linux-amd64" \
  "$PWD/$bin/init-firewall-linux-arm64" "$tmp/init-firewall-linux-arm64" > "$tmp/overlay.json"
CGO_ENABLED=0 go build -overlay "$tmp/overlay.json" -trimpath -tags urfave_cli_no_docs -ldflags "-s -w" -o "$tmp/devbox" ./cmd/devbox

largest=(--agent claude --lang node@22,python@3.12,go@1.26 --services postgres,redis,mysql,mongodb
  --preset codex --preset gemini --preset npm --preset pypi --preset go --preset crates --preset debian
  --allow example.org --allow api.example.net --allow 203.0.113.0/24 --allow 2001:db8:100::/48
  --sysctl net.ipv4.tcp_keepalive_time=600 --sysctl kernel.msgmax=65536 --publish 3000,8080
  --ulimit nofile=1024:65536 --ulimit nproc=4096 --gpu --cpus 4 --memory 8g)

echo "devbox init, largest combination, whole process ($runs runs, $(go env GOVERSION), commit $(git rev-parse --short HEAD))"
for layout in default vendor-gateway; do
  extra=()
  if [ "$layout" = vendor-gateway ]; then extra=(--vendor-gateway); fi
  times=()
  for i in $(seq "$runs"); do
    ws="$tmp/ws-$layout-$i"
    mkdir -p "$ws"
    start=$(date +%s%N)
    "$tmp/devbox" init -w "$ws" "${largest[@]}" "${extra[@]}" >/dev/null
    end=$(date +%s%N)
    times+=($(( (end - start) / 1000 )))
  done
  sorted=$(printf '%s\n' "${times[@]}" | sort -n)
  median=$(echo "$sorted" | sed -n "$(( (runs + 1) / 2 ))p")
  fastest=$(echo "$sorted" | head -1)
  files=$(find "$ws/.devcontainer" -type f | wc -l)
  written=$(find "$ws/.devcontainer" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
  largest_file=$(find "$ws/.devcontainer" -type f -printf '%s %P\n' | sort -n | tail -1)
  printf '%-15s median %6.1f ms, fastest %6.1f ms; %d files, %d bytes; largest: %s\n' \
    "$layout" "$(awk -v u="$median" 'BEGIN { print u / 1000 }')" "$(awk -v u="$fastest" 'BEGIN { print u / 1000 }')" "$files" "$written" "$largest_file"
done
