#!/usr/bin/env bash
# Run mailtalk's tests against a private Postfix and Dovecot on 127.0.0.1: start them, run
# `cargo test --test real_servers` with their environment, stop them again (also on failure or
# Ctrl-C).
#
#   tests/servers/run-tests.sh [ARGUMENTS FOR THE TEST BINARY...]
#       e.g.  tests/servers/run-tests.sh imap_       only the tests whose name contains imap_
#             tests/servers/run-tests.sh --nocapture show the tests' notes
#
#   MAILTALK_SERVERS_DIR=DIR  state directory (default /tmp/mailtalk-run-tests)
#   MAILTALK_PORT_BASE=N      ports N+25, N+465, N+587, N+143, ... (default 20000)
#
# The servers need root: run this as root, or as a user who may use sudo (only start.sh and
# stop.sh are run through sudo; cargo runs as you).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
export MAILTALK_SERVERS_DIR=${MAILTALK_SERVERS_DIR:-/tmp/mailtalk-run-tests}
export MAILTALK_PORT_BASE=${MAILTALK_PORT_BASE:-20000}

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    else
        sudo env MAILTALK_SERVERS_DIR="$MAILTALK_SERVERS_DIR" \
            MAILTALK_PORT_BASE="$MAILTALK_PORT_BASE" "$@"
    fi
}

stop_servers() {
    as_root bash "$here/stop.sh" || echo "run-tests.sh: stopping the servers failed" >&2
}
trap 'status=$?; trap - EXIT INT TERM; stop_servers; exit "$status"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

as_root bash "$here/start.sh"

set -a
# shellcheck disable=SC1091
. "$MAILTALK_SERVERS_DIR/env"
set +a
export MAILTALK_REQUIRE_REAL_SERVERS=1

cd "$root"
started=$EPOCHREALTIME
status=0
cargo test --test real_servers -- "$@" || status=$?
elapsed=$(awk -v a="$EPOCHREALTIME" -v b="$started" 'BEGIN { printf "%.1f", a - b }')
echo "run-tests.sh: cargo test --test real_servers took ${elapsed}s (exit status $status)"
exit "$status"
