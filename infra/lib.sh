# Shared settings and helpers for the local stack. Sourced by infra/stack.sh; not run on its own.
# shellcheck shell=bash disable=SC2034,SC2153 # variables are shared between the sourced files

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$INFRA_DIR/.." && pwd)"

# --- Versions -----------------------------------------------------------------------------------
KAFKA_VERSION="${KAFKA_VERSION:-4.3.1}"
LOG4J_VERSION="${LOG4J_VERSION:-2.26.1}"
APICURIO_VERSION="${APICURIO_VERSION:-3.3.3}"

# --- Addresses (everything listens on 127.0.0.1 only) -------------------------------------------
STACK_HOST=127.0.0.1
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
# A second listener with SASL (SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN) for the tests that connect
# as production does; 9092 stays without authentication for everything else. Local-only credentials.
KAFKA_SASL_PORT="${KAFKA_SASL_PORT:-9094}"
STACK_SASL_USER="${STACK_SASL_USER:-fiber}"
STACK_SASL_PASSWORD="${STACK_SASL_PASSWORD:-fiber-local-sasl}"
REGISTRY_PORT="${REGISTRY_PORT:-8081}"
REGISTRY_MGMT_PORT="${REGISTRY_MGMT_PORT:-9011}"
REGISTRY_STORAGE="${REGISTRY_STORAGE:-sql}" # sql (PostgreSQL) or mem (in-memory H2)
export PGHOST="${PGHOST:-127.0.0.1}"
export PGPORT="${PGPORT:-5432}"
export PGUSER="${PGUSER:-postgres}"
PGDATABASE_DEMO="${PGDATABASE_DEMO:-fiber}"
REGISTRY_DB_SCHEMA=apicurio

# --- Timeouts (seconds) ---------------------------------------------------------------------------
FETCH_TIMEOUT="${FETCH_TIMEOUT:-900}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
REGISTRY_START_TIMEOUT="${REGISTRY_START_TIMEOUT:-120}"
POSTGRES_START_TIMEOUT="${POSTGRES_START_TIMEOUT:-30}"
STOP_TIMEOUT="${STOP_TIMEOUT:-30}"

# --- Folders (.stack/ is git-ignored) -------------------------------------------------------------
STACK_DIR="${STACK_DIR:-$REPO_ROOT/.stack}"
CACHE_DIR="$STACK_DIR/cache" # downloads: kept by `reset`
DATA_DIR="$STACK_DIR/data"   # state: deleted by `reset`
LOG_DIR="$STACK_DIR/logs"
RUN_DIR="$STACK_DIR/run"     # pid files and generated configs

ensure_dirs() { mkdir -p "$CACHE_DIR" "$DATA_DIR" "$LOG_DIR" "$RUN_DIR"; }

# --- Output ---------------------------------------------------------------------------------------
log() { printf '[stack] %s\n' "$*"; }
warn() { printf '[stack] WARN: %s\n' "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

# Print the last lines of a log file to stderr (used when something fails to come up). With FROM
# (a byte offset from file_size), only what was written after it.
show_log_tail() {
  local file=$1 lines=${2:-40} from=${3:-0}
  [[ -s $file ]] || return 0
  (($(file_size "$file") >= from)) || from=0 # the file was rotated meanwhile
  printf -- '----- last %s lines of %s -----\n' "$lines" "$file" >&2
  tail -c "+$((from + 1))" "$file" | tail -n "$lines" >&2
  printf -- '-----\n' >&2
}

file_size() { if [[ -f $1 ]]; then stat -c %s "$1"; else echo 0; fi; }

# --- Time -----------------------------------------------------------------------------------------
now() { printf '%s' "$EPOCHREALTIME"; }
# seconds_since START -> elapsed seconds with one decimal
seconds_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# --- Java -----------------------------------------------------------------------------------------
# Kafka runs on Java 17 (the machine also has a JDK 25, which Kafka must not use).
java_bin() {
  if [[ -n ${STACK_JAVA:-} ]]; then
    printf '%s' "$STACK_JAVA"
  elif [[ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ]]; then
    printf '%s' /usr/lib/jvm/java-17-openjdk-amd64/bin/java
  else
    command -v java || die "java not found (install openjdk-17-jre-headless)"
  fi
}

# java_at_least MAJOR -> the java binary of the lowest installed JDK with that major version or
# newer (from /usr/lib/jvm/*/release, then the default java). Apicurio Registry 3.3 needs 21+.
java_at_least() {
  local want=$1 dir version major best="" best_major=999
  for dir in /usr/lib/jvm/*/; do
    [[ -x $dir/bin/java && -f $dir/release ]] || continue
    version=$(sed -n 's/^JAVA_VERSION="\(.*\)"/\1/p' "$dir/release")
    major=${version%%.*}
    [[ $major =~ ^[0-9]+$ ]] || continue
    if ((major >= want && major < best_major)); then best="${dir}bin/java" best_major=$major; fi
  done
  if [[ -z $best ]] && command -v java >/dev/null; then
    version=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/.*java.specification.version = //p')
    [[ ${version%%.*} =~ ^[0-9]+$ ]] && ((${version%%.*} >= want)) && best=$(command -v java)
  fi
  [[ -n $best ]] || return 1
  printf '%s' "$best"
}

# --- Maven (downloads from Maven Central into ~/.m2, then copied into .stack/cache) ----------------
mvn_run() {
  command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
  timeout "$FETCH_TIMEOUT" mvn -q -B "$@" </dev/null
}

# --- Processes ------------------------------------------------------------------------------------
pid_file() { printf '%s/%s.pid' "$RUN_DIR" "$1"; }

# running_pid NAME MARKER -> prints the pid from the pid file if that process is alive and its
# command line contains MARKER (guards against a recycled pid); returns 1 otherwise.
running_pid() {
  local name=$1 marker=$2 file pid
  file=$(pid_file "$name")
  [[ -f $file ]] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker" || return 1
  printf '%s' "$pid"
}

# start_background NAME LOGFILE WORKDIR CMD... -> starts CMD detached (own session, no stdin),
# stdout+stderr appended to LOGFILE, and writes the pid file.
start_background() {
  local name=$1 logfile=$2 workdir=$3
  shift 3
  printf '\n===== %s starting %s =====\n' "$(date -Is)" "$name" >>"$logfile"
  # 9>&-: do not hand the stack lock (fd 9, see stack.sh) to a long-lived process.
  (cd "$workdir" && exec setsid nohup "$@" >>"$logfile" 2>&1 </dev/null 9>&-) &
  printf '%s' "$!" >"$(pid_file "$name")"
}

# stop_process NAME MARKER -> SIGTERM, wait up to STOP_TIMEOUT, then SIGKILL. Idempotent.
stop_process() {
  local name=$1 marker=$2 pid waited=0
  if ! pid=$(running_pid "$name" "$marker"); then
    rm -f "$(pid_file "$name")"
    log "$name: not running"
    return 0
  fi
  log "$name: stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    if ((waited >= STOP_TIMEOUT * 2)); then
      warn "$name: pid $pid still alive after ${STOP_TIMEOUT}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  rm -f "$(pid_file "$name")"
  log "$name: stopped"
}

# --- Network --------------------------------------------------------------------------------------
# port_open HOST PORT -> true if something accepts TCP connections there.
port_open() { timeout 2 bash -c ">/dev/tcp/$1/$2" 2>/dev/null; }

# Who listens on a local port (for error messages).
port_owner() { ss -ltnpH "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -n1; }

# wait_until TIMEOUT DESCRIPTION PID CMD... -> retries CMD every 0.5s until it succeeds; fails when
# TIMEOUT seconds pass or when PID (if not empty) dies.
wait_until() {
  local limit=$1 what=$2 pid=$3 start
  shift 3
  start=$SECONDS
  until "$@" >/dev/null 2>&1; do
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
      warn "$what: process $pid exited while waiting"
      return 1
    fi
    if ((SECONDS - start >= limit)); then
      warn "$what: not ready after ${limit}s"
      return 1
    fi
    sleep 0.5
  done
}

http_ok() { curl -fs --max-time 5 -o /dev/null "$1"; }
