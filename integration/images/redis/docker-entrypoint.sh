#!/bin/bash
# docker-entrypoint.sh of the redis stand-in: what the official image's
# entrypoint does, in a much smaller script.
set -euo pipefail

if [ "${1:0:1}" = '-' ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
  chown -R redis:redis /data 2>/dev/null || true
  exec setpriv --reuid=redis --regid=redis --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ "$1" = redis-server ]; then
  # Without a config file Redis refuses clients from other hosts (protected
  # mode); the official image turns that off so services can be reached.
  if [ ! -f "${2:-}" ] || ! grep -q '^protected-mode' "$2"; then
    set -- "$@" --protected-mode no
  fi
fi

exec "$@"
