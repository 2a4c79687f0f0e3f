# Apicurio Registry 3 (schema registry with the Confluent API at /apis/ccompat/v7), from Maven
# Central, storing in PostgreSQL (REGISTRY_STORAGE=mem: in-memory). Sourced by infra/stack.sh.
# shellcheck shell=bash disable=SC2034,SC2153 # variables are shared between the sourced files

REGISTRY_HOME="$CACHE_DIR/apicurio-$APICURIO_VERSION" # the unpacked quarkus app
REGISTRY_LOG="$LOG_DIR/registry.log"
REGISTRY_MARKER="quarkus-run.jar"
REGISTRY_URL="http://$STACK_HOST:$REGISTRY_PORT"
REGISTRY_CCOMPAT_URL="$REGISTRY_URL/apis/ccompat/v7"
REGISTRY_READY_URL="http://$STACK_HOST:$REGISTRY_MGMT_PORT/health/ready"
# Confluent's default; Apicurio has no global rule unless one is set.
REGISTRY_COMPATIBILITY="${REGISTRY_COMPATIBILITY:-BACKWARD}"

registry_fetch() {
  local marker="$REGISTRY_HOME/.complete" tmp dl run_jar start
  [[ -f $marker ]] && return 0
  start=$(now)
  log "registry: fetching Apicurio Registry $APICURIO_VERSION from Maven Central (once, ~160 MB)"
  dl="$CACHE_DIR/build/apicurio"
  tmp="$REGISTRY_HOME.tmp"
  rm -rf "$dl" "$tmp"
  mkdir -p "$dl" "$tmp"
  if ! (cd "$dl" && mvn_run dependency:copy \
    -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all" \
    -DoutputDirectory="$dl" >"$LOG_DIR/fetch-registry.log" 2>&1); then
    show_log_tail "$LOG_DIR/fetch-registry.log"
    die "registry: fetching the app failed (full output in $LOG_DIR/fetch-registry.log)"
  fi
  tar -xzf "$dl/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz" -C "$tmp"
  run_jar=$(find "$tmp" -name quarkus-run.jar -print -quit)
  [[ -n $run_jar ]] || die "registry: quarkus-run.jar not found in the archive"
  # Keep the app folder (quarkus-run.jar next to lib/, app/, quarkus/) as REGISTRY_HOME itself.
  if [[ $(dirname "$run_jar") != "$tmp" ]]; then
    mv "$(dirname "$run_jar")" "$tmp.app" && rm -rf "$tmp" && mv "$tmp.app" "$tmp"
  fi
  touch "$tmp/.complete"
  rm -rf "$REGISTRY_HOME" "$dl"
  rmdir "$CACHE_DIR/build" 2>/dev/null || true
  mv "$tmp" "$REGISTRY_HOME"
  log "registry: fetched and unpacked in $(seconds_since "$start")s"
}

# System properties for Quarkus / Apicurio (names as in the app's own application.properties).
registry_java_props() {
  local props=(
    -Dquarkus.http.host="$STACK_HOST"
    -Dquarkus.http.port="$REGISTRY_PORT"
    -Dquarkus.management.host="$STACK_HOST"
    -Dquarkus.management.port="$REGISTRY_MGMT_PORT"
    -Dapicurio.rules.global.compatibility="$REGISTRY_COMPATIBILITY"
    -Dapicurio.storage.snapshot.location="$DATA_DIR/registry-tmp"
    -Dapicurio.import.work-dir="$DATA_DIR/registry-tmp"
    -Dquarkus.log.console.format='%d{yyyy-MM-dd HH:mm:ss,SSS} %-5p [%c{3.}] (%t) %s%e%n'
  )
  if [[ $REGISTRY_STORAGE == mem ]]; then
    props+=(-Dapicurio.storage.kind=sql -Dapicurio.storage.sql.kind=h2)
  else
    props+=(
      -Dapicurio.storage.kind=sql
      -Dapicurio.storage.sql.kind=postgresql
      -Dapicurio.datasource.url="jdbc:postgresql://$PGHOST:$PGPORT/$PGDATABASE_DEMO?currentSchema=$REGISTRY_DB_SCHEMA"
      -Dapicurio.datasource.username="$PGUSER"
      -Dapicurio.sql.db-schema="$REGISTRY_DB_SCHEMA"
      -Dapicurio.datasource.jdbc.initial-size=2
      -Dapicurio.datasource.jdbc.min-size=2
      -Dapicurio.datasource.jdbc.max-size=5
    )
    [[ -n ${PGPASSWORD:-} ]] && props+=(-Dapicurio.datasource.password="$PGPASSWORD")
  fi
  printf '%s\n' "${props[@]}"
}

# Apicurio Registry 3.3 is built for Java 21 (class file 65): Java 17 cannot run it.
registry_java() {
  if [[ -n ${REGISTRY_JAVA:-} ]]; then printf '%s' "$REGISTRY_JAVA"; return 0; fi
  java_at_least 21 || die "registry: needs a Java 21 or newer JDK (none under /usr/lib/jvm); set REGISTRY_JAVA"
}

registry_healthy() {
  http_ok "$REGISTRY_READY_URL" && http_ok "$REGISTRY_CCOMPAT_URL/subjects"
}

# Sets REGISTRY_STARTUP to the seconds from launch to healthy, or "already running".
registry_up() {
  local pid start java log_from props=()
  registry_fetch
  if pid=$(running_pid registry "$REGISTRY_MARKER"); then
    wait_until "$REGISTRY_START_TIMEOUT" registry "$pid" registry_healthy || {
      show_log_tail "$REGISTRY_LOG"
      die "registry: pid $pid runs but $REGISTRY_CCOMPAT_URL does not answer"
    }
    log "registry: already running (pid $pid) on $REGISTRY_URL"
    REGISTRY_STARTUP="already running"
    return 0
  fi
  if registry_healthy; then
    warn "registry: $REGISTRY_URL is served by a process this stack did not start ($(port_owner "$REGISTRY_PORT")); using it"
    REGISTRY_STARTUP="not ours"
    return 0
  fi
  local port
  for port in "$REGISTRY_PORT" "$REGISTRY_MGMT_PORT"; do
    port_open "$STACK_HOST" "$port" && die "registry: port $port is taken by $(port_owner "$port")"
  done
  mkdir -p "$DATA_DIR/registry-tmp"
  java=$(registry_java)
  mapfile -t props < <(registry_java_props)
  log "registry: starting Apicurio Registry $APICURIO_VERSION ($REGISTRY_STORAGE storage) on $REGISTRY_URL, log $REGISTRY_LOG"
  log_from=$(file_size "$REGISTRY_LOG")
  start=$(now)
  start_background registry "$REGISTRY_LOG" "$REGISTRY_HOME" "$java" \
    -Xms128m -Xmx512m -Djava.awt.headless=true "${props[@]}" -jar "$REGISTRY_HOME/quarkus-run.jar"
  pid=$(<"$(pid_file registry)")
  if ! wait_until "$REGISTRY_START_TIMEOUT" registry "$pid" registry_healthy; then
    show_log_tail "$REGISTRY_LOG" 40 "$log_from"
    registry_down >&2
    die "registry: did not become healthy within ${REGISTRY_START_TIMEOUT}s (pid $pid; log $REGISTRY_LOG)"
  fi
  REGISTRY_STARTUP="$(seconds_since "$start")s"
  log "registry: healthy after $REGISTRY_STARTUP (pid $pid), Confluent API at $REGISTRY_CCOMPAT_URL"
}

registry_down() { stop_process registry "$REGISTRY_MARKER"; }

registry_status() {
  local pid state health=unhealthy
  if pid=$(running_pid registry "$REGISTRY_MARKER"); then state=running; else state=stopped pid=-; fi
  registry_healthy && health=healthy
  [[ $state == stopped && $health == healthy ]] && state="running (not started by this stack)"
  printf '%-10s %-8s pid %-8s %-22s %s (%s)\n' registry "$state" "$pid" "$STACK_HOST:$REGISTRY_PORT" \
    "$health" "$REGISTRY_CCOMPAT_URL"
}
