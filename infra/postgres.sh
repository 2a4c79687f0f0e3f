# PostgreSQL: the machine's own server (not started or stopped by `down`); this only makes sure it
# answers and that the project's databases exist. Sourced by infra/stack.sh after lib.sh.
# shellcheck shell=bash disable=SC2034,SC2153 # variables are shared between the sourced files

PG_ADDRESS="$PGHOST:$PGPORT"

pg_ready() { pg_isready -q -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -t 3; }

psql_do() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" "$@" </dev/null; }

# Start the local Debian cluster if it is down (only meaningful when PGHOST is this machine).
pg_start_local_cluster() {
  local version
  command -v pg_ctlcluster >/dev/null || return 1
  version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n1)
  [[ -n $version ]] || return 1
  log "postgres: not answering on $PG_ADDRESS, starting cluster $version/main"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || return 1
}

pg_create_database() {
  local db=$1
  if [[ -z $(psql_do -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$db'") ]]; then
    psql_do -d postgres -c "CREATE DATABASE \"$db\" OWNER \"$PGUSER\""
    log "postgres: created database $db"
  fi
}

# The services' inbox, outbox and state tables are updated and deleted from all day: without
# autovacuum their dead rows pile up, their statistics stay those of an empty table, and reads
# that should touch a few rows touch thousands (docs/PERFORMANCE.md). A server with autovacuum
# off (this machine's CI configuration) gets it turned on; PG_KEEP_SETTINGS=1 leaves it alone.
pg_autovacuum_on() {
  [[ ${PG_KEEP_SETTINGS:-0} == 1 ]] && return 0
  if [[ $(psql_do -d postgres -Atc "SHOW autovacuum") != on ]]; then
    psql_do -d postgres -c "ALTER SYSTEM SET autovacuum = on" -c "SELECT pg_reload_conf()" >/dev/null
    log "postgres: autovacuum was off on this server; turned on (ALTER SYSTEM, reloaded; PG_KEEP_SETTINGS=1 to leave it)"
  fi
}

# Sets PG_STARTUP to the seconds it took (when it had to be started) or "already running".
postgres_up() {
  local start
  command -v psql >/dev/null || die "psql not found (apt-get install postgresql-client)"
  PG_STARTUP="already running"
  if ! pg_ready; then
    start=$(now)
    pg_start_local_cluster || die "postgres: $PG_ADDRESS does not answer and no local cluster could be started"
    wait_until "$POSTGRES_START_TIMEOUT" postgres "" pg_ready ||
      die "postgres: $PG_ADDRESS still does not answer after ${POSTGRES_START_TIMEOUT}s"
    PG_STARTUP="$(seconds_since "$start")s"
  fi
  pg_create_database "$PGDATABASE_DEMO"
  pg_autovacuum_on
  # The registry keeps its tables in a schema of its own (its names would clash with ours).
  psql_do -d "$PGDATABASE_DEMO" -c "CREATE SCHEMA IF NOT EXISTS $REGISTRY_DB_SCHEMA"
  log "postgres: ready on $PG_ADDRESS (database $PGDATABASE_DEMO)"
}

postgres_status() {
  local state=stopped health=unhealthy pid=-
  if pg_ready; then state=running health=healthy; fi
  if [[ $state == running ]]; then
    pid=$(ss -ltnpH "sport = :$PGPORT" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n1)
    pid=${pid:--}
  fi
  printf '%-10s %-8s pid %-8s %-22s %s (machine server; db %s)\n' postgres "$state" "$pid" \
    "$PG_ADDRESS" "$health" "$PGDATABASE_DEMO"
}
