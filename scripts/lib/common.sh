# shellcheck shell=bash
# Helpers shared by the test-infrastructure scripts in scripts/.
#
# Sourced, never executed. Provides logging, a package check, and a small
# daemon supervisor (start in its own session, record the PID, probe readiness
# while checking that PID is still alive, stop by PID only). No systemd: the
# test machines and CI containers do not run it, and the services must bind to
# loopback with configuration owned by the project, not the packaged one.

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# have_pkg NAME -> true when the Debian package is installed ("ii").
have_pkg() {
    [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" = "ii " ]
}

# port_in_use PORT -> true when something accepts TCP connections on 127.0.0.1:PORT.
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# running PID -> true when PID exists and is not a zombie. A daemon started by an
# earlier script is re-parented; until its new parent reaps it, a dead daemon
# still answers kill -0.
running() {
    kill -0 "$1" 2>/dev/null || return 1
    local state
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null || true)
    [ "$state" != Z ]
}

# pid_alive PIDFILE -> true when PIDFILE names a live process; prints the PID.
pid_alive() {
    local pid
    [ -s "$1" ] || return 1
    pid=$(cat "$1")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    running "$pid" || return 1
    printf '%s\n' "$pid"
}

# daemon_start PIDFILE LOGFILE READY_URL TIMEOUT_SECONDS -- CMD ARGS...
# Starts CMD in a new session (so it outlives the caller and is not hit by
# signals sent to the caller's process group), then polls READY_URL with curl
# until it answers, failing early with the log when the process dies.
daemon_start() {
    local pidfile=$1 logfile=$2 url=$3 timeout=$4
    shift 5
    local pid deadline
    if pid=$(pid_alive "$pidfile"); then
        log "already running (pid $pid)"
        return 0
    fi
    rm -f "$pidfile"
    # A non-interactive shell's background job is not a process-group leader,
    # so setsid execs in place and $! is the daemon's own PID.
    setsid "$@" >"$logfile" 2>&1 </dev/null &
    pid=$!
    printf '%s\n' "$pid" >"$pidfile"
    deadline=$((SECONDS + timeout))
    while :; do
        if ! running "$pid"; then
            rm -f "$pidfile"
            log "process $pid exited during start-up; log follows"
            tail -n 30 "$logfile" >&2 || true
            return 1
        fi
        if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
            log "ready at $url (pid $pid)"
            return 0
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "not ready after ${timeout}s; stopping pid $pid; log follows"
            tail -n 30 "$logfile" >&2 || true
            daemon_stop "$pidfile"
            return 1
        fi
        sleep 0.2
    done
}

# daemon_stop PIDFILE -> sends TERM to the recorded PID, waits, then KILL.
daemon_stop() {
    local pidfile=$1 pid
    if ! pid=$(pid_alive "$pidfile"); then
        rm -f "$pidfile"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        running "$pid" || break
        sleep 0.1
    done
    if running "$pid"; then
        log "pid $pid ignored TERM; sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    log "stopped pid $pid"
}
