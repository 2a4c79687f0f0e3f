#!/usr/bin/env bash
# Local FreeRADIUS 3.2 for development and CI (no Docker): Debian packages, a config
# of the project's own rendered from infra/freeradius/raddb into .stack/freeradius/raddb,
# one server process on 127.0.0.1.
#
#   bash infra/freeradius/freeradius.sh up|down|status
#
# Environment (defaults): RADIUS_AUTH_PORT (18120; accounting is +1), RADIUS_SECRET
# (testing123), RADIUS_DB (fiber), RADIUS_SCHEMA (radius), RADIUS_DB_HOST (127.0.0.1),
# RADIUS_DB_PORT (5432), RADIUS_DB_USER (postgres), RADIUS_DB_PASSWORD (empty),
# FREERADIUS_DEBUG (0; 1 = run with -X, full packet/policy trace in the log),
# FREERADIUS_START_TIMEOUT (20 seconds), STACK_DIR (<repo>/.stack).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
STACK_DIR=${STACK_DIR:-$ROOT/.stack}
TEMPLATE_DIR=$HERE/raddb
RADDB_DIR=$STACK_DIR/freeradius/raddb
LOG_DIR=$STACK_DIR/logs
RUN_DIR=$STACK_DIR/run
LOG_FILE=$LOG_DIR/freeradius.log
INSTALL_LOG=$LOG_DIR/freeradius-install.log
PID_FILE=$RUN_DIR/freeradius.pid
LOCK_FILE=$RUN_DIR/freeradius.lock

AUTH_PORT=${RADIUS_AUTH_PORT:-18120}
SECRET=${RADIUS_SECRET:-testing123}
DB_NAME=${RADIUS_DB:-fiber}
DB_SCHEMA=${RADIUS_SCHEMA:-radius}
DB_HOST=${RADIUS_DB_HOST:-127.0.0.1}
DB_PORT=${RADIUS_DB_PORT:-5432}
DB_USER=${RADIUS_DB_USER:-postgres}
DB_PASSWORD=${RADIUS_DB_PASSWORD:-}
DEBUG=${FREERADIUS_DEBUG:-0}
START_TIMEOUT=${FREERADIUS_START_TIMEOUT:-20}

FREERADIUS_BIN=/usr/sbin/freeradius
RADCLIENT_BIN=/usr/bin/radclient
PACKAGES=(freeradius freeradius-postgresql freeradius-utils)

say() { printf 'freeradius: %s\n' "$*"; }
die() { printf 'freeradius: ERROR: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }

validate() {
	[[ $AUTH_PORT =~ ^[0-9]+$ ]] && ((AUTH_PORT >= 1 && AUTH_PORT <= 65534)) ||
		die "RADIUS_AUTH_PORT must be a port number below 65535, got '$AUTH_PORT'"
	ACCT_PORT=$((AUTH_PORT + 1))
	[[ $DB_PORT =~ ^[0-9]+$ ]] || die "RADIUS_DB_PORT must be a number, got '$DB_PORT'"
	[[ $DB_NAME =~ ^[a-z_][a-z0-9_]*$ ]] || die "RADIUS_DB must be a lower-case SQL identifier, got '$DB_NAME'"
	[[ $DB_SCHEMA =~ ^[a-z_][a-z0-9_]*$ ]] || die "RADIUS_SCHEMA must be a lower-case SQL identifier, got '$DB_SCHEMA'"
	[[ -n $SECRET && $SECRET != *[\"\\$'\n']* ]] || die "RADIUS_SECRET must be non-empty, without quotes, backslashes or newlines"
	local v
	for v in "$DB_HOST" "$DB_USER" "$DB_PASSWORD"; do
		[[ $v != *[\"\'\\[:space:]]* ]] || die "RADIUS_DB_HOST/USER/PASSWORD must not contain quotes, backslashes or spaces"
	done
}

# ---------------------------------------------------------------- packages

ensure_packages() {
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		[[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) == *' ok installed' ]] || missing+=("$p")
	done
	((${#missing[@]} == 0)) && return 0

	local sudo=()
	if [[ $(id -u) != 0 ]]; then
		command -v sudo >/dev/null || die "root or sudo is needed to install: ${missing[*]}"
		sudo=(sudo -n)
	fi
	mkdir -p "$LOG_DIR"
	say "installing ${missing[*]} (apt output: $INSTALL_LOG)"
	local t0 policy=/usr/sbin/policy-rc.d backup=/usr/sbin/policy-rc.d.freeradius-sh
	t0=$(now_ms)

	# A temporary policy-rc.d that forbids starting services: the package would
	# otherwise start a system daemon on 1812. An existing one is put back afterwards
	# (a backup left by an interrupted run already holds the original).
	if [[ ! -e $backup && ! -L $backup ]] && [[ -e $policy || -L $policy ]]; then
		"${sudo[@]}" mv -f "$policy" "$backup"
	fi
	# shellcheck disable=SC2064 # expand now: the trap must restore exactly these paths
	trap "restore_policy_rc_d '$policy' '$backup' ${sudo[*]}" EXIT
	printf '#!/bin/sh\n# temporary, from infra/freeradius/freeradius.sh\nexit 101\n' |
		"${sudo[@]}" tee "$policy" >/dev/null
	"${sudo[@]}" chmod 755 "$policy"

	local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q
		-o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
	if ! "${apt[@]}" install --no-install-recommends "${missing[@]}" </dev/null >"$INSTALL_LOG" 2>&1; then
		say "install failed; refreshing the package lists and retrying"
		"${apt[@]}" update </dev/null >>"$INSTALL_LOG" 2>&1 || true
		if ! "${apt[@]}" install --no-install-recommends "${missing[@]}" </dev/null >>"$INSTALL_LOG" 2>&1; then
			tail -n 30 "$INSTALL_LOG" >&2
			die "apt-get install ${missing[*]} failed (full output: $INSTALL_LOG)"
		fi
	fi
	restore_policy_rc_d "$policy" "$backup" "${sudo[@]}"
	trap - EXIT
	t0=$(($(now_ms) - t0))
	say "installed in $((t0 / 1000)).$((t0 % 1000 / 100)) s"
}

restore_policy_rc_d() {
	local policy=$1 backup=$2
	shift 2
	"$@" rm -f "$policy"
	if [[ -e $backup || -L $backup ]]; then "$@" mv -f "$backup" "$policy"; fi
}

# ---------------------------------------------------------------- config

# Renders the templates into $1, replacing @@NAME@@ placeholders (an unknown one is an error).
render() {
	local out=$1 rel
	rm -rf "$out"
	mkdir -p "$out"
	chmod 700 "$out"
	while IFS= read -r rel; do
		mkdir -p "$out/$(dirname "$rel")"
		T_RADDB_DIR=$RADDB_DIR T_LOG_DIR=$LOG_DIR T_RUN_DIR=$RUN_DIR T_LOG_FILE=$LOG_FILE \
		T_PID_FILE=$PID_FILE T_AUTH_PORT=$AUTH_PORT T_ACCT_PORT=$ACCT_PORT T_SECRET=$SECRET \
		T_DB_HOST=$DB_HOST T_DB_PORT=$DB_PORT T_DB_USER=$DB_USER T_DB_PASSWORD=$DB_PASSWORD \
		T_DB_NAME=$DB_NAME T_DB_SCHEMA=$DB_SCHEMA \
			perl -pe 's/\@\@([A-Z_]+)\@\@/defined $ENV{"T_$1"} ? $ENV{"T_$1"} : die "unknown placeholder \@\@$1\@\@ in $ARGV\n"/ge' \
			"$TEMPLATE_DIR/$rel" >"$out/$rel" || die "cannot render $TEMPLATE_DIR/$rel"
		chmod 600 "$out/$rel"
	done < <(cd "$TEMPLATE_DIR" && find . -type f | sed 's|^\./||' | sort)
}

# ---------------------------------------------------------------- process

# The pid of our server if it runs (pid file names a live, non-zombie freeradius
# started with our config dir), else nothing.
server_pid() {
	local pid state
	[[ -s $PID_FILE ]] || return 0
	pid=$(tr -dc '0-9' <"$PID_FILE")
	[[ -n $pid && -r /proc/$pid/comm ]] || return 0
	[[ $(cat "/proc/$pid/comm" 2>/dev/null) == freeradius ]] || return 0
	state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
	[[ $state != Z ]] || return 0
	grep -qxF -- "$RADDB_DIR" < <(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null) || return 0
	echo "$pid"
}

# One Status-Server round trip to the auth port; $1 = timeout in seconds.
probe() {
	[[ -x $RADCLIENT_BIN && -d $RADDB_DIR ]] || return 1
	printf 'Message-Authenticator = 0x00\n' |
		timeout $(( ${1:-1} + 3 )) "$RADCLIENT_BIN" -q -r 1 -t "${1:-1}" -d "$RADDB_DIR" \
			"127.0.0.1:$AUTH_PORT" status "$SECRET" >/dev/null 2>&1
}

log_tail() {
	local from=${1:-0}
	printf '\n---- last lines of %s ----\n' "$LOG_FILE" >&2
	tail -c +"$((from + 1))" "$LOG_FILE" 2>/dev/null | tail -n 40 >&2 || true
	echo "----" >&2
}

start_server() {
	local offset pid t0 deadline ready=0 cmd
	mkdir -p "$LOG_DIR" "$RUN_DIR"
	rm -f "$PID_FILE"
	printf '==== freeradius.sh up %s ====\n' "$(date -Is)" >>"$LOG_FILE"
	offset=$(stat -c %s "$LOG_FILE")
	if [[ $DEBUG == 1 ]]; then
		cmd=("$FREERADIUS_BIN" -X -l "$LOG_FILE" -d "$RADDB_DIR")
	else
		cmd=("$FREERADIUS_BIN" -f -l "$LOG_FILE" -d "$RADDB_DIR")
	fi
	t0=$(now_ms)
	deadline=$((t0 + START_TIMEOUT * 1000))
	# Own session (no SIGHUP from the caller's terminal); no lock fd; no stdin.
	setsid "${cmd[@]}" </dev/null >>"$LOG_FILE" 2>&1 9>&- &
	pid=$!
	echo "$pid" >"$PID_FILE"

	while :; do
		if ! kill -0 "$pid" 2>/dev/null || [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]]; then
			wait "$pid" 2>/dev/null || true
			rm -f "$PID_FILE"
			log_tail "$offset"
			die "the server exited during start-up (see above; port $AUTH_PORT or $ACCT_PORT in use? config error?)"
		fi
		if ((ready == 0)) && grep -q 'Ready to process requests' < <(tail -c +"$((offset + 1))" "$LOG_FILE"); then
			ready=1
		fi
		if ((ready == 1)) && probe 1; then
			break
		fi
		if (($(now_ms) > deadline)); then
			kill -TERM "$pid" 2>/dev/null || true
			sleep 1
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
			rm -f "$PID_FILE"
			log_tail "$offset"
			if ((ready == 0)); then
				die "no 'Ready to process requests' in the log within ${START_TIMEOUT} s"
			fi
			die "no answer to Status-Server on 127.0.0.1:$AUTH_PORT within ${START_TIMEOUT} s"
		fi
		sleep 0.05
	done
	# The server writes the pid file itself; it must be the process we started.
	[[ $(tr -dc '0-9' <"$PID_FILE" 2>/dev/null) == "$pid" ]] || echo "$pid" >"$PID_FILE"
	say "started pid $pid, auth 127.0.0.1:$AUTH_PORT, acct 127.0.0.1:$ACCT_PORT, ready in $(($(now_ms) - t0)) ms (log: $LOG_FILE)"
}

stop_server() {
	local pid i
	pid=$(server_pid)
	if [[ -z $pid ]]; then
		rm -f "$PID_FILE"
		say "not running"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		[[ -n $(server_pid) ]] || break
		sleep 0.1
	done
	if [[ -n $(server_pid) ]]; then
		say "pid $pid ignored SIGTERM for 10 s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			[[ -n $(server_pid) ]] || break
			sleep 0.1
		done
	fi
	[[ -z $(server_pid) ]] || die "pid $pid is still running"
	rm -f "$PID_FILE"
	say "stopped pid $pid"
}

lock() {
	mkdir -p "$RUN_DIR"
	exec 9>"$LOCK_FILE"
	if command -v flock >/dev/null; then
		flock -w 60 9 || die "another freeradius.sh holds $LOCK_FILE"
	fi
}

# ---------------------------------------------------------------- commands

cmd_up() {
	local pid
	lock
	ensure_packages
	render "$RADDB_DIR.new"
	pid=$(server_pid)
	if [[ -n $pid ]]; then
		if diff -rq "$RADDB_DIR.new" "$RADDB_DIR" >/dev/null 2>&1; then
			if probe 1 || probe 2; then
				rm -rf "$RADDB_DIR.new"
				say "already running (pid $pid) and answering on 127.0.0.1:$AUTH_PORT; nothing to do"
				return 0
			fi
			say "pid $pid does not answer Status-Server; restarting it"
		else
			say "configuration changed (templates or environment); restarting pid $pid"
		fi
		stop_server
	fi
	rm -rf "$RADDB_DIR"
	mv "$RADDB_DIR.new" "$RADDB_DIR"
	start_server
}

cmd_down() {
	lock
	stop_server
}

cmd_status() {
	local pid t0 ms
	pid=$(server_pid)
	if [[ -z $pid ]]; then
		say "stopped (auth 127.0.0.1:$AUTH_PORT, acct 127.0.0.1:$ACCT_PORT)"
		return 3
	fi
	t0=$(now_ms)
	if probe 2; then
		ms=$(($(now_ms) - t0))
		say "running pid $pid, auth 127.0.0.1:$AUTH_PORT, acct 127.0.0.1:$ACCT_PORT, health ok (Status-Server ${ms} ms)"
		return 0
	fi
	say "running pid $pid, auth 127.0.0.1:$AUTH_PORT, acct 127.0.0.1:$ACCT_PORT, health FAILING (no Status-Server answer; log: $LOG_FILE)"
	return 1
}

validate
case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
*)
	echo "usage: $0 up|down|status" >&2
	exit 2
	;;
esac
