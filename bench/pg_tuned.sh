#!/usr/bin/env bash
# A second PostgreSQL 15 cluster for benchmarks, sized for a ~5 GB database on a 2-core,
# 24 GB machine (PGTune-style OLTP settings), on port 5433 beside the machine's own 5432
# (which CI uses and which this leaves alone). Run as root; then
#   HMS_BENCH_PG_URL=postgresql://postgres@127.0.0.1:5433/test python -m bench.run ...
# Usage: bench/pg_tuned.sh [start|stop|prewarm DB]
set -euo pipefail
DATA=${HMS_BENCH_PG_DATA:-/var/lib/postgresql/15/bench5433}
BIN=/usr/lib/postgresql/15/bin
PORT=${HMS_BENCH_PG_PORT:-5433}
as_pg() { su postgres -c "$*"; }

case "${1:-start}" in
start)
  if [ ! -f "$DATA/PG_VERSION" ]; then
    mkdir -p "$DATA" && chown postgres:postgres "$DATA"
    as_pg "$BIN/initdb -D $DATA -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >/dev/null
  fi
  cat > "$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
max_connections = 100
unix_socket_directories = '/var/run/postgresql'
shared_buffers = 8GB
effective_cache_size = 16GB
maintenance_work_mem = 1GB
work_mem = 16MB
wal_buffers = 16MB
max_wal_size = 4GB
checkpoint_timeout = 15min
checkpoint_completion_target = 0.9
random_page_cost = 1.1
effective_io_concurrency = 200
jit = off
autovacuum = on
fsync = on
synchronous_commit = on
CONF
  printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' > "$DATA/pg_hba.conf"
  chown postgres:postgres "$DATA/postgresql.conf" "$DATA/pg_hba.conf"
  as_pg "$BIN/pg_ctl -D $DATA -l /tmp/pg$PORT.log -w start"
  psql -h 127.0.0.1 -p $PORT -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" \
    | grep -q 1 || psql -h 127.0.0.1 -p $PORT -U postgres -c "CREATE DATABASE test" >/dev/null
  ;;
stop)
  as_pg "$BIN/pg_ctl -D $DATA -w stop"
  ;;
prewarm)
  # Load a database's tables and indexes into shared_buffers (a server that has been
  # running holds its working set; a freshly started one does not).
  psql -h 127.0.0.1 -p $PORT -U postgres -d "$2" -tAc "CREATE EXTENSION IF NOT EXISTS pg_prewarm;
    SELECT count(pg_prewarm(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i', 'm')"
  ;;
esac
