# Shared by benches/gateway-sustained.sh and benches/gateway-window.sh:
# the processes they start (stopped on exit), the work directory (removed on
# exit unless KEEP is set) and the gateway's address. Source it from the
# repository root with NAME set to the script's name.

WORK=""
PIDS=()

# Stops pid $1: TERM, then KILL after 10 s.
stop() {
    local pid=$1
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do stop "$pid"; done
    [[ -n "$WORK" && -z "${KEEP:-}" ]] && rm -rf "$WORK"
    [[ -n "$WORK" && -n "${KEEP:-}" ]] && echo "$NAME: files kept in $WORK" >&2
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits for "listening on ADDR" on $1 (stdout file) from pid $2; prints ADDR.
listening() {
    local out=$1 pid=$2 addr=""
    local deadline=$(( SECONDS + 60 ))
    while [[ -z "$addr" ]]; do
        kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )) || return 1
        addr="$(sed -n 's/^listening on \(.*\)$/\1/p' "$out" | head -n 1)"
        [[ -n "$addr" ]] || sleep 0.1
    done
    echo "$addr"
}

# Cargo's target directory.
target_dir() {
    cargo metadata --format-version 1 --no-deps \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])'
}
