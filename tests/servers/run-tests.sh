#!/usr/bin/env bash
# Run mailtalk's tests against a private Postfix and Dovecot on 127.0.0.1: start them, run
# the real_servers tests of `cargo test --test it` with their environment, stop them again
# (also on failure or Ctrl-C).
#
#   tests/servers/run-tests.sh [NAME-PREFIX...] [OPTIONS FOR THE TEST BINARY...]
#       e.g.  tests/servers/run-tests.sh imap_       only the tests whose name starts with imap_
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
export MAILTALK_REQUIRE=1

cd "$root"
started=$EPOCHREALTIME
status=0
filters=()
flags=()
for arg in "$@"; do
    case $arg in
        -*) flags+=("$arg") ;;
        *) filters+=("real_servers::$arg") ;;
    esac
done
[[ ${#filters[@]} -gt 0 ]] || filters=("real_servers::")
cargo test --test it -- "${filters[@]}" ${flags[@]+"${flags[@]}"} || status=$?
elapsed=$(awk -v a="$EPOCHREALTIME" -v b="$started" 'BEGIN { printf "%.1f", a - b }')
echo "run-tests.sh: the real_servers tests took ${elapsed}s (exit status $status)"
exit "$status"
