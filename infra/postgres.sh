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
