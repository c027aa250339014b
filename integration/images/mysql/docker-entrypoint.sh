#!/bin/bash
# docker-entrypoint.sh of the mysql stand-in: the environment variables and
# init directory of the official mysql image's entrypoint, in a much smaller
# script, on MariaDB.
set -euo pipefail

if [ "${1:0:1}" = '-' ]; then
  set -- mysqld "$@"
fi
server=
case "$1" in mysqld | mariadbd) server=1 ;; esac
datadir=/var/lib/mysql
socket=/run/mysqld/mysqld.sock

if [ -n "$server" ] && [ "$(id -u)" = 0 ]; then
  # A fresh named volume is root's: hand it to mysql, then drop root.
  mkdir -p "$datadir" /var/lib/mysql-files /run/mysqld
  chown mysql:mysql "$datadir" /var/lib/mysql-files /run/mysqld
  exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
fi

# quote makes $1 a single-quoted SQL string.
quote() {
  local s=${1//\\/\\\\}
  printf "'%s'" "${s//\'/\\\'}"
}

# sql runs the client as root over the socket of the init server.
sql() {
  MYSQL_PWD=${rootpw-} mysql --protocol=socket --socket="$socket" -uroot -N -B "$@"
}

if [ -n "$server" ] && [ ! -d "$datadir/mysql" ]; then
  if [ -z "${MYSQL_ROOT_PASSWORD:-}" ] && [ -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" ]; then
    echo "mysql: MYSQL_ROOT_PASSWORD must be set (or MYSQL_ALLOW_EMPTY_PASSWORD)" >&2
    exit 1
  fi
  if [ "${MYSQL_USER:-}" = root ]; then
    echo "mysql: MYSQL_USER=root: root is made from MYSQL_ROOT_PASSWORD" >&2
    exit 1
  fi
  if ! out=$(mariadb-install-db --datadir="$datadir" --auth-root-authentication-method=normal \
    --skip-test-db --skip-name-resolve 2>&1); then
    echo "mysql: mariadb-install-db failed:" >&2
    echo "$out" >&2
    exit 1
  fi
  # Init runs against a server that listens on the socket only, with the
  # options of the command, as the official image does.
  "$@" --skip-networking --socket="$socket" &
  pid=$!
  for _ in $(seq 300); do
    if mysqladmin --protocol=socket --socket="$socket" -uroot ping --silent >/dev/null 2>&1; then
      break
    fi
    kill -0 "$pid" 2>/dev/null || { echo "mysql: init server exited" >&2; exit 1; }
    sleep 0.1
  done
  mysqladmin --protocol=socket --socket="$socket" -uroot ping --silent >/dev/null

  # The official image's accounts: root@localhost, and root@MYSQL_ROOT_HOST
  # (default %) besides. mariadb-install-db also makes root without a
  # password at 127.0.0.1, ::1 and the host name, anonymous users and
  # mysql@localhost (unix_socket); only mariadb.sys, which owns the views
  # of the privilege tables, stays.
  for account in $(sql -e "SELECT CONCAT(QUOTE(user), '@', QUOTE(host)) FROM mysql.global_priv WHERE NOT (host = 'localhost' AND user IN ('root', 'mariadb.sys'))"); do
    sql -e "DROP USER $account"
  done
  roothost=${MYSQL_ROOT_HOST:-%}
  rootpw=${MYSQL_ROOT_PASSWORD:-}
  setup="SET @@SESSION.SQL_LOG_BIN = 0;
ALTER USER 'root'@'localhost' IDENTIFIED BY $(quote "$rootpw");"
  if [ "$roothost" != localhost ]; then
    setup+="
CREATE USER 'root'@$(quote "$roothost") IDENTIFIED BY $(quote "$rootpw");
GRANT ALL ON *.* TO 'root'@$(quote "$roothost") WITH GRANT OPTION;"
  fi
  if [ -n "${MYSQL_DATABASE:-}" ]; then
    setup+="
CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"
  fi
  if [ -n "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}" ]; then
    setup+="
CREATE USER $(quote "$MYSQL_USER")@'%' IDENTIFIED BY $(quote "$MYSQL_PASSWORD");"
    if [ -n "${MYSQL_DATABASE:-}" ]; then
      # _ is a wildcard in a grant's database name: app_db must not cover appXdb.
      setup+="
GRANT ALL ON \`${MYSQL_DATABASE//_/\\_}\`.* TO $(quote "$MYSQL_USER")@'%';"
    fi
  fi
  # The ALTER USER ends the password-less root: sql uses rootpw from here.
  MYSQL_PWD='' mysql --protocol=socket --socket="$socket" -uroot -e "$setup"

  db=()
  [ -n "${MYSQL_DATABASE:-}" ] && db=(--database="$MYSQL_DATABASE")
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh)     echo "mysql: running $f"; if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
      *.sql)    echo "mysql: running $f"; sql "${db[@]}" <"$f" ;;
      *.sql.gz) echo "mysql: running $f"; gunzip -c "$f" | sql "${db[@]}" ;;
      *)        [ -e "$f" ] && echo "mysql: ignoring $f" ;;
    esac
  done
  MYSQL_PWD=$rootpw mysqladmin --protocol=socket --socket="$socket" -uroot shutdown
  wait "$pid"
  echo "mysql: init done"
fi

exec "$@"
