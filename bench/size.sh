#!/usr/bin/env bash
# Binary sizes: prints figures, asserts nothing. Builds, with the release's
# flags (CGO_ENABLED=0 -trimpath -tags urfave_cli_no_docs -ldflags "-s -w
# -buildid="), for each release target: devbox as released (both
# init-firewall binaries embedded), devbox alone (nothing embedded), and
# init-firewall (linux only); then, for linux/amd64, what the flags save and
# where devbox's own bytes go, by module. Leaves the tree alone:
# the init-firewall binaries go to a temporary directory and reach (or are
# kept from) devbox's embed through go build -overlay.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags=(-trimpath -tags urfave_cli_no_docs -ldflags "-s -w -buildid=")
bin=generator/firewallbin
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
bytes() { wc -c < "$1" | tr -d ' '; }

for arch in amd64 arm64; do
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build "${flags[@]}" -o "$tmp/init-firewall-linux-$arch" ./cmd/init-firewall
done
# with: the fresh binaries in firewallbin/; alone: whatever is there hidden.
printf '{"Replace": {"%s": "%s", "%s": "%s"}}\n' \
  "$PWD/$bin/init-firewall-linux-amd64" "$tmp/init-firewall-linux-amd64" \
  "$PWD/$bin/init-firewall-linux-arm64" "$tmp/init-firewall-linux-arm64" > "$tmp/with.json"
printf '{"Replace": {"%s": "", "%s": ""}}\n' \
  "$PWD/$bin/init-firewall-linux-amd64" "$PWD/$bin/init-firewall-linux-arm64" > "$tmp/alone.json"

echo "binary sizes, $(go env GOVERSION), commit $(git rev-parse --short HEAD) (1 MB = 10^6 bytes)"
printf '%-14s %-24s %-24s %s\n' target "devbox (released)" "devbox alone" "init-firewall"
for target in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64; do
  os=${target%/*} arch=${target#*/}
  if ! CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -overlay "$tmp/with.json" "${flags[@]}" -o "$tmp/devbox-with" ./cmd/devbox 2>"$tmp/err"; then
    printf '%-14s does not build: %s\n' "$target" "$(grep -v '^#' "$tmp/err" | head -1)"
    continue
  fi
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -overlay "$tmp/alone.json" "${flags[@]}" -o "$tmp/devbox-alone" ./cmd/devbox
  fw=-
  if [ "$os" = linux ]; then fw="$(mb "$(bytes "$tmp/init-firewall-linux-$arch")") ($(bytes "$tmp/init-firewall-linux-$arch"))"; fi
  printf '%-14s %-24s %-24s %s\n' "$target" \
    "$(mb "$(bytes "$tmp/devbox-with")") ($(bytes "$tmp/devbox-with"))" \
    "$(mb "$(bytes "$tmp/devbox-alone")") ($(bytes "$tmp/devbox-alone"))" "$fw"
done

# What the flags save: the same build without -s -w (symbols and DWARF),
# and without the tag (urfave/cli's man and markdown writers).
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -overlay "$tmp/alone.json" "${flags[@]}" -o "$tmp/devbox-alone" ./cmd/devbox
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -overlay "$tmp/alone.json" -trimpath -tags urfave_cli_no_docs -o "$tmp/devbox-syms" ./cmd/devbox
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -overlay "$tmp/alone.json" -trimpath -ldflags "-s -w -buildid=" -o "$tmp/devbox-docs" ./cmd/devbox
alone=$(bytes "$tmp/devbox-alone")
echo
echo "devbox alone, linux/amd64: $(mb "$alone"); without -s -w $(mb "$(bytes "$tmp/devbox-syms")"), without -tags urfave_cli_no_docs $(mb "$(bytes "$tmp/devbox-docs")")"

# Where devbox's own bytes go: code and read-only data symbols of an
# unstripped linux/amd64 build, summed by module (the standard library as
# one). The line table (.gopclntab) and DWARF are not counted; the former
# grows with the code.
go version -m "$tmp/devbox-syms" | awk '$1 == "dep" || $1 == "mod" { print $2 }' > "$tmp/modules"
echo "devbox alone, linux/amd64: code + read-only data by module (top 15 of $(go tool nm -size "$tmp/devbox-syms" | awk '$3 ~ /^[TtRr]$/ { s += $2 } END { printf "%.1f MB", s / 1e6 }'))"
go tool nm -size "$tmp/devbox-syms" | awk -v modules="$tmp/modules" '
  BEGIN { while ((getline m < modules) > 0) mods[m] = 1 }
  $3 ~ /^[TtRr]$/ {
    name = $4
    sub(/^(type:|go:itab\.|go:string\.|go:link\.)/, "", name); sub(/^\*/, "", name)
    mod = "std (runtime, net/http, crypto/tls, ...)"; best = 0
    for (m in mods) if (index(name, m) == 1 && length(m) > best) {
      c = substr(name, length(m) + 1, 1)
      if (c == "/" || c == ".") { mod = m; best = length(m) }
    }
    size[mod] += $2
  }
  END { for (m in size) printf "%8.0f KB  %s\n", size[m] / 1e3, m }' | sort -rn | head -15
