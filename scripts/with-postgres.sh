#!/usr/bin/env bash
# with-postgres.sh CMD...: runs CMD with GATEWAY_TEST_POSTGRES pointing at a
# throw-away PostgreSQL cluster in a temporary directory (127.0.0.1, a free
# port, trust authentication), stopped and removed afterwards. Used by
# .ci/run and by `make test` when initdb is available. As root (CI), the
# cluster belongs to the postgres user, since initdb refuses to run as root.
set -euo pipefail

bindir=""
if command -v initdb >/dev/null 2>&1; then
  bindir="$(dirname "$(command -v initdb)")"
else
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ]; then bindir="$d"; break; fi
  done
fi
if [ -z "$bindir" ]; then
  echo "with-postgres: initdb not found (apt-get install postgresql)" >&2
  exit 3
fi
if [ "${1:-}" = --check ]; then exit 0; fi

dir="$(mktemp -d /tmp/gateway-pg.XXXXXX)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((40000 + RANDOM % 20000)))"
as=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$dir" postgres
  chown postgres "$dir"
  as=(su postgres -s /bin/sh -c)
else
  as=(sh -c)
fi
run() { "${as[@]}" "$1"; }

cleanup() {
  run "'$bindir/pg_ctl' -D '$dir/data' -m immediate stop" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

run "'$bindir/initdb' -D '$dir/data' -U postgres -A trust -E UTF8 --no-sync" >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
# fsync off: a test cluster need not survive a power cut, and it halves the
# time the PostgreSQL tests take.
run "'$bindir/pg_ctl' -D '$dir/data' -w -l '$dir/server.log' -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300\" start" >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }

export GATEWAY_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
echo "with-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
"$@"
