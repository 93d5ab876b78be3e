#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests and benches.
#   scripts/pg.sh start   initdb into a fresh temporary directory, start on a loopback port,
#                         print the URL (also written to target/pg/url)
#   scripts/pg.sh stop    stop the cluster and delete its directory
#   scripts/pg.sh url     print the URL of the running cluster
#   scripts/pg.sh newdb [URL]  make a fresh database on the server of URL (default: the
#                         running cluster's) and print its URL (the SDK suites' servers)
# `start` on a running cluster of the same port and durability keeps it (and prints its
# URL); `stop` on a stopped one does nothing: both are safe to call twice.
# Debian's postgresql package is installed by scripts/setup.sh when missing. The cluster
# runs as an unprivileged user (CI runs as root, which PostgreSQL refuses), listens on
# 127.0.0.1 only and trusts connections from there and its own socket only.
# PG_PORT picks the port (default 55432); PG_DURABLE=1 keeps fsync on (the benches),
# otherwise the cluster trades durability for speed, as throwaway test data may.
set -euo pipefail
cd "$(dirname "$0")/.."
state=target/pg
port="${PG_PORT:-55432}"
user="${PG_USER:-nobody}"

bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
    bash scripts/setup.sh >&2
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  fi
  echo "$d"
}

as_user() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}

running() {
  [ -f "$state/dir" ] && [ -f "$state/url" ] && [ -f "$state/config" ] &&
    [ "$(cat "$state/config")" = "$port ${PG_DURABLE:-0}" ] &&
    as_user "$(bindir)/pg_ctl" -D "$(cat "$state/dir")/data" status >/dev/null 2>&1
}

start() {
  if running; then
    cat "$state/url"
    return 0
  fi
  if [ -f "$state/dir" ] && [ -d "$(cat "$state/dir")" ]; then
    stop
  fi
  local bin dir
  bin=$(bindir)
  mkdir -p "$state"
  dir=$(mktemp -d /tmp/certbroker-pg.XXXXXX)
  chmod 0755 "$dir"
  [ "$(id -u)" -eq 0 ] && chown "$user" "$dir"
  echo "$dir" >"$state/dir"
  as_user "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
  cat >"$dir/data/pg_hba.conf" <<HBA
local all all trust
host  all all 127.0.0.1/32 trust
HBA
  {
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $port"
    echo "unix_socket_directories = '$dir'"
    echo "max_connections = 300"
    if [ "${PG_DURABLE:-0}" != 1 ]; then
      echo "fsync = off"
      echo "synchronous_commit = off"
      echo "full_page_writes = off"
    fi
  } >>"$dir/data/postgresql.conf"
  as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
  echo "$port ${PG_DURABLE:-0}" >"$state/config"
  echo "postgres://postgres@127.0.0.1:$port/postgres" | tee "$state/url"
}

newdb() {
  local url=${1:-} name
  [ -n "$url" ] || url=$(cat "$state/url")
  name="cb_sdk_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
  "$(bindir)/createdb" --maintenance-db="$url" "$name"
  echo "${url%/*}/$name"
}

stop() {
  [ -f "$state/dir" ] || return 0
  local bin dir
  bin=$(bindir)
  dir=$(cat "$state/dir")
  if [ -d "$dir/data" ]; then
    as_user "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir" "$state/dir" "$state/url" "$state/config"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) cat "$state/url" ;;
  newdb) newdb "${2:-}" ;;
  *) echo "usage: $0 start|stop|url|newdb [URL]" >&2; exit 2 ;;
esac
