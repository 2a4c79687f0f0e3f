#!/usr/bin/env bash
# The local stack without Docker: Apache Kafka (KRaft), Apicurio Registry (Confluent API), the
# machine's PostgreSQL, the project's topics and (when present) FreeRADIUS.
#
#   bash infra/stack.sh up       start what is not running yet, wait until healthy, create topics
#   bash infra/stack.sh down     stop what `up` started (PostgreSQL is the machine's: left alone)
#   bash infra/stack.sh status   one line per component
#   bash infra/stack.sh reset    down, then delete .stack/data and the registry's tables
#
# Downloads are cached in .stack/cache, logs go to .stack/logs, pid files to .stack/run.
# Overrides: KAFKA_PORT, REGISTRY_PORT, REGISTRY_STORAGE=mem, PGHOST, PGPORT, PGUSER,
# PGDATABASE_DEMO (see infra/lib.sh for the rest).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$INFRA_DIR/kafka.sh"
source "$INFRA_DIR/postgres.sh"
source "$INFRA_DIR/registry.sh"

FREERADIUS_SCRIPT="$INFRA_DIR/freeradius/freeradius.sh"
LOCK_TIMEOUT="${LOCK_TIMEOUT:-600}"

usage() {
  sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 2
}

# One `up`/`down`/`reset` at a time (parallel CI steps may call `up` together).
take_lock() {
  exec 9>"$RUN_DIR/stack.lock"
  flock -w "$LOCK_TIMEOUT" 9 || die "another infra/stack.sh holds $RUN_DIR/stack.lock for ${LOCK_TIMEOUT}s"
}

# FreeRADIUS is owned by infra/freeradius/; this only calls its script when it exists.
freeradius_hook() {
  [[ -f $FREERADIUS_SCRIPT ]] || return 0
  bash "$FREERADIUS_SCRIPT" "$1" 9>&-
}

node_deps() {
  [[ -f $REPO_ROOT/node_modules/kafkajs/package.json && -x $REPO_ROOT/node_modules/.bin/tsx ]] && return 0
  log "node: installing the project's npm dependencies (npm ci)"
  (cd "$REPO_ROOT" && timeout "$FETCH_TIMEOUT" npm ci --no-audit --no-fund </dev/null >"$LOG_DIR/npm-ci.log" 2>&1) || {
    show_log_tail "$LOG_DIR/npm-ci.log"
    die "npm ci failed"
  }
}

topics_up() {
  node_deps
  log "topics: creating / checking the topics of shared/topics.ts"
  (cd "$REPO_ROOT" && KAFKA_BROKERS="$KAFKA_BOOTSTRAP" timeout 120 npx --no -- tsx infra/create-topics.ts </dev/null) ||
    die "topics: infra/create-topics.ts failed"
}

# Connection settings for other scripts: `set -a; source .stack/stack.env; set +a`.
# PostgreSQL on this machine is reached over its Unix socket when that socket lets us in: a round
# trip over a socket costs both sides less CPU than TCP over loopback (docs/PERFORMANCE.md).
database_url() {
  local socket_dir=/var/run/postgresql
  if [[ $PGHOST == 127.0.0.1 || $PGHOST == localhost ]] && [[ -S $socket_dir/.s.PGSQL.$PGPORT ]] &&
    psql -X -q -h "$socket_dir" -p "$PGPORT" -U "$PGUSER" -d "$PGDATABASE_DEMO" -c 'select 1' </dev/null >/dev/null 2>&1; then
    echo "postgres://$PGUSER@localhost:$PGPORT/$PGDATABASE_DEMO?host=$socket_dir"
  else
    echo "postgres://$PGUSER@$PGHOST:$PGPORT/$PGDATABASE_DEMO"
  fi
}

write_env_file() {
  cat >"$STACK_DIR/stack.env" <<EOF
KAFKA_BROKERS=$KAFKA_BOOTSTRAP
SCHEMA_REGISTRY_URL=$REGISTRY_CCOMPAT_URL
DATABASE_URL=$(database_url)
PGHOST=$PGHOST
PGPORT=$PGPORT
PGUSER=$PGUSER
PGDATABASE_DEMO=$PGDATABASE_DEMO
EOF
  # The broker's SASL listener, for the tests that connect with SASL/SCRAM (names no service reads:
  # this file is sourced into the environment of the tests and the demo).
  if port_open "$STACK_HOST" "$KAFKA_SASL_PORT"; then
    cat >>"$STACK_DIR/stack.env" <<EOF
STACK_KAFKA_SASL_BROKERS=$STACK_HOST:$KAFKA_SASL_PORT
STACK_KAFKA_SASL_USERNAME=$STACK_SASL_USER
STACK_KAFKA_SASL_PASSWORD=$STACK_SASL_PASSWORD
EOF
  fi
}

summary() {
  local storage="PostgreSQL $PGDATABASE_DEMO, schema $REGISTRY_DB_SCHEMA"
  [[ $REGISTRY_STORAGE == mem ]] && storage="in memory"
  cat <<EOF

Local stack is up (total $1s):
  Kafka $KAFKA_VERSION   $KAFKA_BOOTSTRAP (KRaft, controller $STACK_HOST:$KAFKA_CONTROLLER_PORT)   start-up: $KAFKA_STARTUP
  Registry      $REGISTRY_CCOMPAT_URL (Apicurio $APICURIO_VERSION, $storage, compatibility $REGISTRY_COMPATIBILITY)   start-up: $REGISTRY_STARTUP
  PostgreSQL    $PG_ADDRESS user $PGUSER, database $PGDATABASE_DEMO (services, demo and tests)   start-up: $PG_STARTUP
  Logs          $LOG_DIR    Settings: $STACK_DIR/stack.env    Stop: bash infra/stack.sh down
EOF
  if [[ -f $FREERADIUS_SCRIPT ]]; then
    echo "  FreeRADIUS    started by infra/freeradius/freeradius.sh (its line above)"
  fi
}

cmd_up() {
  local start
  start=$(now)
  ensure_dirs
  take_lock
  kafka_fetch
  registry_fetch
  kafka_up
  postgres_up
  registry_up
  topics_up
  freeradius_hook up
  write_env_file
  summary "$(seconds_since "$start")"
}

cmd_down() {
  ensure_dirs
  take_lock
  freeradius_hook down
  registry_down
  kafka_down
  log "postgres: left running (it is the machine's server)"
}

# Exit 0 only when every component answers (scripts/test.sh relies on it).
cmd_status() {
  local out rc=0
  out="$(kafka_status; registry_status; postgres_status)"
  printf '%s\n' "$out"
  grep -q unhealthy <<<"$out" && rc=1
  freeradius_hook status || rc=1
  return "$rc"
}

cmd_reset() {
  cmd_down
  log "reset: deleting $DATA_DIR"
  rm -rf "$DATA_DIR"
  if [[ $REGISTRY_STORAGE != mem ]] && pg_ready; then
    log "reset: emptying the registry's schema $PGDATABASE_DEMO.$REGISTRY_DB_SCHEMA"
    psql_do -d "$PGDATABASE_DEMO" -c "DROP SCHEMA IF EXISTS $REGISTRY_DB_SCHEMA CASCADE" ||
      warn "reset: could not drop $PGDATABASE_DEMO.$REGISTRY_DB_SCHEMA"
  fi
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  reset) cmd_reset ;;
  *) usage ;;
esac
