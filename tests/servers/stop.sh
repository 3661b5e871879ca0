#!/usr/bin/env bash
# Stop the Postfix and Dovecot started by start.sh and remove their state directory.
#
#   MAILTALK_SERVERS_DIR=DIR  state directory (default /tmp/mailtalk-servers)
#
# Installed packages stay; the instance's mail user is removed only if start.sh created it.
set -euo pipefail

STATE=${MAILTALK_SERVERS_DIR:-/tmp/mailtalk-servers}

log() { printf 'stop.sh: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

[[ $(id -u) -eq 0 ]] || die "must run as root"
case $STATE in
/* ) ;;
* ) die "MAILTALK_SERVERS_DIR must be an absolute path" ;;
esac
if [[ ! -e $STATE ]]; then
    log "nothing to stop: $STATE does not exist"
    exit 0
fi
[[ -f $STATE/.mailtalk-servers ]] || die "$STATE was not made by start.sh; not touching it"
STATE=$(cd "$STATE" && pwd -P)
PF=$STATE/postfix
DC=$STATE/dovecot
# The instance's mail user (state directories made before users were per instance: the shared
# name mailtalk-vmail).
VMAIL_USER=mailtalk-vmail
if [[ -r $STATE/.vmail-user ]]; then
    read -r VMAIL_USER <"$STATE/.vmail-user" || true
fi
[[ $VMAIL_USER =~ ^mailtalk-vmail(-[0-9a-f]{8})?$ ]] || die "unexpected mail user '$VMAIL_USER'"

alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }
pid_from() {
    local pid=
    if [[ -r $1 ]]; then read -r pid <"$1" || true; fi
    pid=${pid//[[:space:]]/}
    [[ $pid =~ ^[0-9]+$ ]] && printf '%s' "$pid"
    return 0
}
wait_gone() {
    local pid=$1 i
    for ((i = 0; i < 100; i++)); do
        alive "$pid" || return 0
        sleep 0.1
    done
    return 1
}

# Ask both to stop first, then wait for both: Dovecot takes a few seconds to shut down.
pf_pid=$(pid_from "$PF/spool/pid/master.pid")
dc_pid=$(pid_from "$DC/run/master.pid")
if alive "$pf_pid"; then
    postfix -c "$PF/etc" stop </dev/null >/dev/null 2>&1 || kill -TERM "$pf_pid" 2>/dev/null || true
fi
if alive "$dc_pid"; then
    # What `doveadm -c "$DC/dovecot.conf" stop` does, without waiting.
    kill -TERM "$dc_pid" 2>/dev/null || true
fi
for pid in "$pf_pid" "$dc_pid"; do
    if alive "$pid" && ! wait_gone "$pid"; then
        log "process $pid did not stop in 10 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
done

# Any process still working inside the state directory (cwd or chroot there) belongs to
# these servers: end it by its pid.
leftovers() {
    local d pid target
    for d in /proc/[0-9]*; do
        pid=${d#/proc/}
        [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
        for target in "$d/cwd" "$d/root"; do
            case $(readlink "$target" 2>/dev/null || true) in
            "$STATE" | "$STATE"/*)
                printf '%s\n' "$pid"
                break
                ;;
            esac
        done
    done
}
for sig in TERM KILL; do
    pids=$(leftovers)
    [[ -n $pids ]] || break
    log "ending leftover processes ($sig): $(echo $pids)"
    # shellcheck disable=SC2086
    kill -"$sig" $pids 2>/dev/null || true
    sleep 0.5
done

if [[ -f $STATE/.created-user ]] && getent passwd "$VMAIL_USER" >/dev/null; then
    userdel "$VMAIL_USER" 2>/dev/null || log "could not remove user $VMAIL_USER"
    if getent group "$VMAIL_USER" >/dev/null; then
        groupdel "$VMAIL_USER" 2>/dev/null || true
    fi
fi

rm -rf -- "$STATE"
log "stopped; removed $STATE"
