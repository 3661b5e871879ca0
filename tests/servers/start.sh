#!/usr/bin/env bash
# Start a private Postfix and Dovecot on 127.0.0.1 for mailtalk's integration tests.
#
# Everything (config, queue, mail, certificates, logs, sockets) lives in one state directory,
# $MAILTALK_SERVERS_DIR (default /tmp/mailtalk-servers). The system's own Postfix/Dovecot
# configuration in /etc is only read, never changed. Run as root; stop with stop.sh.
#
#   MAILTALK_SERVERS_DIR=DIR  state directory (default /tmp/mailtalk-servers)
#   MAILTALK_PORT_BASE=N      listen on N plus the standard port: N+25, N+465, N+587, N+143,
#                             N+993, N+110, N+995, N+24 (default 10000: 10025, 10465, ...);
#                             N+26 is where Postfix relays mail for relay.test (to mailtalk serve,
#                             which the tests start there)
#   MAILTALK_STD_PORTS=1      listen on 25/465/587/143/993/110/995/24 (MAILTALK_PORT_BASE=0)
#
# Several instances can run at once, each with its own state directory and port base; each
# stores mail under its own system user (mailtalk-vmail-XXXXXXXX, named after the directory).
#
# On success $STATE/env holds VAR=value lines (MAILTALK_CA, MAILTALK_*_PORT, MAILTALK_USER, ...);
# load them with:  set -a; . "$STATE/env"; set +a
# The user's password is MAILTALK_TEST_PASSWORD: MAILTALK_PASSWORD is what mailtalk itself reads,
# and having it in the environment of every test would change what they test. To use it by hand:
#   MAILTALK_PASSWORD=$MAILTALK_TEST_PASSWORD mailtalk ... --user "$MAILTALK_USER"
set -euo pipefail

started=$EPOCHREALTIME
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${MAILTALK_SERVERS_DIR:-/tmp/mailtalk-servers}
HOST=127.0.0.1
TEST_USER=alice@example.test
TEST_PASSWORD=wonderland

log() { printf 'start.sh: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

[[ $(id -u) -eq 0 ]] || die "must run as root"
case $STATE in
/* ) ;;
* ) die "MAILTALK_SERVERS_DIR must be an absolute path" ;;
esac
[[ $STATE != / && $STATE =~ ^[A-Za-z0-9/._-]+$ ]] || die "unsuitable state directory: '$STATE'"
STATE=${STATE%/}

# One instance per state directory: its mail user and Dovecot instance name come from the path.
INSTANCE_ID=$(printf '%s' "$STATE" | cksum)
INSTANCE_ID=$(printf '%08x' "${INSTANCE_ID%% *}")
VMAIL_USER=mailtalk-vmail-$INSTANCE_ID

if [[ ${MAILTALK_STD_PORTS:-0} == 1 ]]; then
    PORT_BASE=0
else
    PORT_BASE=${MAILTALK_PORT_BASE:-10000}
fi
[[ $PORT_BASE =~ ^[0-9]{1,5}$ ]] && ((10#$PORT_BASE + 995 <= 65535)) ||
    die "MAILTALK_PORT_BASE must be a number from 0 to 64540"
PORT_BASE=$((10#$PORT_BASE))
SMTP_PORT=$((PORT_BASE + 25)) SMTPS_PORT=$((PORT_BASE + 465))
SUBMISSION_PORT=$((PORT_BASE + 587)) IMAP_PORT=$((PORT_BASE + 143))
IMAPS_PORT=$((PORT_BASE + 993)) POP3_PORT=$((PORT_BASE + 110))
POP3S_PORT=$((PORT_BASE + 995)) LMTP_PORT=$((PORT_BASE + 24))
# Where Postfix relays mail for relay.test: mailtalk serve, started there by the tests.
RELAY_PORT=$((PORT_BASE + 26))
ALL_PORTS=("$SMTP_PORT" "$SMTPS_PORT" "$SUBMISSION_PORT" "$IMAP_PORT" "$IMAPS_PORT"
    "$POP3_PORT" "$POP3S_PORT" "$LMTP_PORT")

# --- PROXY protocol listener (1/3: its port) ------------------------------------------------
# An smtpd that takes the client's address from a HAProxy PROXY header (mailtalk
# --proxy-protocol v1|v2 --proxy-source ADDR:PORT): N+27, MAILTALK_PROXY_PORT in the env file.
PROXY_PORT=$((PORT_BASE + 27))
ALL_PORTS+=("$PROXY_PORT")

# --- bare newline listeners (1/3: their ports) ----------------------------------------------
# Three smtpd services that differ only in smtpd_forbid_bare_newline, for mailtalk
# smuggle-test: "no" (a bare LF ends a line, so <LF>.<LF> can end the data) on N+28,
# "normalize" on N+29 and "reject" on N+30 (MAILTALK_BARE_{NO,NORMALIZE,REJECT}_PORT).
BARE_NO_PORT=$((PORT_BASE + 28))
BARE_NORMALIZE_PORT=$((PORT_BASE + 29))
BARE_REJECT_PORT=$((PORT_BASE + 30))
ALL_PORTS+=("$BARE_NO_PORT" "$BARE_NORMALIZE_PORT" "$BARE_REJECT_PORT")

# --- packages -------------------------------------------------------------------------------
packages=(postfix dovecot-imapd dovecot-pop3d dovecot-lmtpd openssl)
missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    if [[ $status != "install ok installed" ]]; then
        missing+=("$p")
    fi
done
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Keep the package's own services from being started by the install.
    # An existing policy-rc.d is left exactly as it is.
    policy_rc=/usr/sbin/policy-rc.d
    made_policy_rc=
    if [[ ! -e $policy_rc && ! -L $policy_rc ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy_rc"
        chmod 755 "$policy_rc"
        made_policy_rc=$policy_rc
        trap 'rm -f -- "$made_policy_rc"' EXIT
    fi
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if [[ -n $made_policy_rc ]]; then
        rm -f -- "$made_policy_rc"
        made_policy_rc=
        trap - EXIT
    fi
fi

# --- an earlier run -------------------------------------------------------------------------
if [[ -e $STATE ]]; then
    log "stopping servers of an earlier run in $STATE"
    MAILTALK_SERVERS_DIR=$STATE "$here/stop.sh"
fi
[[ ! -e $STATE ]] || die "$STATE still exists; remove it first"

for port in "${ALL_PORTS[@]}"; do
    if (exec 3<>"/dev/tcp/$HOST/$port") 2>/dev/null; then
        die "port $HOST:$port is already in use by another program"
    fi
done

# --- state directory ------------------------------------------------------------------------
mkdir -p "$STATE"
chmod 755 "$STATE"
touch "$STATE/.mailtalk-servers"
TLS=$STATE/tls
PF=$STATE/postfix
DC=$STATE/dovecot
MAIL=$STATE/mail
mkdir -p "$TLS" "$PF/etc" "$PF/spool" "$PF/data" "$DC/run" "$DC/state" "$MAIL"

# Mail is stored under a dedicated unprivileged user of this instance; stop.sh removes it if
# this script made it (a user left behind by an instance that was never stopped is reused).
printf '%s\n' "$VMAIL_USER" >"$STATE/.vmail-user"
if ! getent passwd "$VMAIL_USER" >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$VMAIL_USER"
    touch "$STATE/.created-user"
fi
VMAIL_UID=$(id -u "$VMAIL_USER")
VMAIL_GID=$(id -g "$VMAIL_USER")
chown "$VMAIL_USER:$VMAIL_USER" "$MAIL"
chmod 700 "$MAIL"
chown postfix:postfix "$PF/data"

# --- certificates ---------------------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -sha256 \
    -keyout "$TLS/ca.key" -out "$TLS/ca.crt" -subj "/CN=mailtalk test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -sha256 \
    -keyout "$TLS/server.key" -out "$TLS/server.csr" -subj "/CN=localhost" 2>/dev/null
cat >"$TLS/server.ext" <<'EOF'
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
EOF
openssl x509 -req -in "$TLS/server.csr" -CA "$TLS/ca.crt" -CAkey "$TLS/ca.key" \
    -CAcreateserial -days 30 -sha256 -extfile "$TLS/server.ext" \
    -out "$TLS/server.crt" 2>/dev/null
chmod 600 "$TLS/ca.key" "$TLS/server.key"
chmod 644 "$TLS/ca.crt" "$TLS/server.crt"

# --- Dovecot --------------------------------------------------------------------------------
# {PLAIN} keeps the password usable for CRAM-MD5 and SCRAM as well as PLAIN/LOGIN.
printf '%s:{PLAIN}%s:%s:%s::%s::\n' "$TEST_USER" "$TEST_PASSWORD" "$VMAIL_UID" "$VMAIL_GID" \
    "$MAIL/example.test/alice" >"$DC/users"
chown root:dovecot "$DC/users"
chmod 640 "$DC/users"

cat >"$DC/dovecot.conf" <<EOF
# Private Dovecot instance for mailtalk tests (loopback only).
instance_name = mailtalk-test-$INSTANCE_ID
base_dir = $DC/run
state_dir = $DC/state
log_path = $DC/dovecot.log
info_log_path = $DC/dovecot.log
protocols = imap pop3 lmtp
listen = $HOST
hostname = localhost
postmaster_address = postmaster@example.test

ssl = yes
ssl_cert = <$TLS/server.crt
ssl_key = <$TLS/server.key
ssl_min_protocol = TLSv1.2

# Non-TLS plaintext auth is refused, except where Dovecot itself treats the connection as
# secure (client and server on the same IP address, as on 127.0.0.1 -> 127.0.0.1).
disable_plaintext_auth = yes
auth_mechanisms = plain login cram-md5 scram-sha-1 scram-sha-256
auth_username_format = %Lu

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DC/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $DC/users
}

mail_location = maildir:~/Maildir
mail_uid = $VMAIL_UID
mail_gid = $VMAIL_GID
first_valid_uid = $VMAIL_UID
last_valid_uid = $VMAIL_UID

service imap-login {
  inet_listener imap {
    address = $HOST
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = $HOST
    port = $IMAPS_PORT
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    address = $HOST
    port = $POP3_PORT
  }
  inet_listener pop3s {
    address = $HOST
    port = $POP3S_PORT
    ssl = yes
  }
}
service lmtp {
  inet_listener lmtp {
    address = $HOST
    port = $LMTP_PORT
  }
}
# No authentication penalty: every client is 127.0.0.1, and a test's deliberately wrong password
# must not slow down every later login (a failure is still answered only after 2 s).
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service auth {
  unix_listener auth-postfix {
    mode = 0600
    user = postfix
    group = postfix
  }
}
protocol lmtp {
  mail_plugins =
}
# Tests log in as the same user from 127.0.0.1 many times at once.
protocol imap {
  mail_max_userip_connections = 200
}
protocol pop3 {
  mail_max_userip_connections = 200
}
EOF
doveconf -c "$DC/dovecot.conf" -n >/dev/null || die "dovecot configuration rejected"

# --- Postfix --------------------------------------------------------------------------------
cat >"$PF/etc/main.cf" <<EOF
# Private Postfix instance for mailtalk tests (loopback only, no delivery off the box).
compatibility_level = 3.6
config_directory = $PF/etc
queue_directory = $PF/spool
data_directory = $PF/data
maillog_file = $PF/maillog
maillog_file_prefixes = $STATE
multi_instance_enable = no
inet_interfaces = $HOST
inet_protocols = ipv4
myhostname = localhost
mydomain = localdomain
myorigin = localhost
mydestination = localhost
mynetworks = 127.0.0.0/8
relayhost =
biff = no
alias_maps =
alias_database =

# No DNS, and nothing leaves this host.
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
smtpd_peername_lookup = no
default_transport = error:no outside delivery
relay_transport = error:no outside delivery
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination

# Mail for localhost and example.test goes to Dovecot over LMTP.
virtual_alias_maps = texthash:$PF/etc/virtual_alias
local_recipient_maps = \$virtual_alias_maps
local_transport = lmtp:inet:$HOST:$LMTP_PORT
virtual_mailbox_domains = example.test
virtual_mailbox_maps = texthash:$PF/etc/virtual_mailbox
virtual_transport = lmtp:inet:$HOST:$LMTP_PORT

# TLS: STARTTLS offered on smtp; required on submission; implicit on smtps.
smtpd_tls_cert_file = $TLS/server.crt
smtpd_tls_key_file = $TLS/server.key
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtp_tls_security_level = none

# Mail for relay.test goes out over SMTP to the port where tests/it/real_servers.rs runs
# mailtalk serve, with TLS required and its certificate (the test CA's) verified.
relay_domains = relay.test
transport_maps = inline:{ relay.test=smtp:[$HOST]:$RELAY_PORT }
smtp_tls_policy_maps = inline:{ {[$HOST]:$RELAY_PORT = secure match=localhost} }
smtp_tls_CAfile = $TLS/ca.crt
smtpd_banner = \$myhostname ESMTP mailtalk-test Postfix

# SASL through Dovecot (enabled per service in master.cf).
smtpd_sasl_type = dovecot
smtpd_sasl_path = $DC/run/auth-postfix
smtpd_sasl_auth_enable = no
smtpd_tls_auth_only = yes
EOF

cat >"$PF/etc/virtual_alias" <<EOF
postmaster@localhost $TEST_USER
alice@localhost $TEST_USER
postmaster@example.test $TEST_USER
EOF
cat >"$PF/etc/virtual_mailbox" <<EOF
$TEST_USER OK
EOF

sasl_opts=(
    "  -o smtpd_sasl_auth_enable=yes"
    "  -o smtpd_tls_auth_only=yes"
    "  -o smtpd_client_restrictions=permit_sasl_authenticated,reject"
)
{
    echo "# service type private unpriv chroot wakeup maxproc command"
    echo "$HOST:$SMTP_PORT inet n - n - - smtpd"
    echo "$HOST:$SUBMISSION_PORT inet n - n - - smtpd"
    echo "  -o syslog_name=postfix/submission"
    echo "  -o smtpd_tls_security_level=encrypt"
    printf '%s\n' "${sasl_opts[@]}"
    echo "$HOST:$SMTPS_PORT inet n - n - - smtpd"
    echo "  -o syslog_name=postfix/smtps"
    echo "  -o smtpd_tls_wrappermode=yes"
    printf '%s\n' "${sasl_opts[@]}"
    cat <<'EOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
} >"$PF/etc/master.cf"

# --- PROXY protocol listener (2/3: the service) ---------------------------------------------
{
    echo "$HOST:$PROXY_PORT inet n - n - - smtpd"
    echo "  -o syslog_name=postfix/proxied"
    echo "  -o smtpd_upstream_proxy_protocol=haproxy"
} >>"$PF/etc/master.cf"

# --- bare newline listeners (2/3: the services) ---------------------------------------------
# The exclusions default to $mynetworks, which holds 127.0.0.1: emptied, so that the setting
# applies to the tests' connections.
for bare in no:$BARE_NO_PORT normalize:$BARE_NORMALIZE_PORT reject:$BARE_REJECT_PORT; do
    echo "$HOST:${bare#*:} inet n - n - - smtpd"
    echo "  -o syslog_name=postfix/bare-${bare%%:*}"
    echo "  -o smtpd_forbid_bare_newline=${bare%%:*}"
    echo "  -o smtpd_forbid_bare_newline_exclusions="
done >>"$PF/etc/master.cf"

postfix -c "$PF/etc" check </dev/null || die "postfix configuration rejected"

# --- start ----------------------------------------------------------------------------------
# The daemons must not keep the caller's stdout/stderr open (a pipe reader would never see EOF).
if ! dovecot -c "$DC/dovecot.conf" </dev/null >"$DC/startup.log" 2>&1; then
    cat "$DC/startup.log" >&2
    die "dovecot did not start (see $DC/dovecot.log)"
fi
if ! postfix -c "$PF/etc" start </dev/null >"$PF/startup.log" 2>&1; then
    cat "$PF/startup.log" >&2
    die "postfix did not start (see $PF/maillog)"
fi

# Ready means: every port accepts connections, and the plaintext ports send their greeting
# (Dovecot greets only once its auth process answers).
greeting() {
    local line=
    exec 3<>"/dev/tcp/$HOST/$1" || return 1
    IFS= read -r -t 2 line <&3 || true
    exec 3<&- 3>&-
    [[ $line == "$2"* ]]
}
deadline=$((SECONDS + 20))
for port in "${ALL_PORTS[@]}"; do
    until (exec 3<>"/dev/tcp/$HOST/$port") 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            die "port $HOST:$port does not accept connections (logs: $DC/dovecot.log, $PF/maillog)"
        fi
        sleep 0.1
    done
done
for check in "$SMTP_PORT:220 " "$SUBMISSION_PORT:220 " "$IMAP_PORT:* OK " "$POP3_PORT:+OK " \
    "$LMTP_PORT:220 "; do
    until greeting "${check%%:*}" "${check#*:}" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            die "no greeting on $HOST:${check%%:*} (logs: $DC/dovecot.log, $PF/maillog)"
        fi
        sleep 0.2
    done
done

# --- environment file -----------------------------------------------------------------------
env_line() { printf '%s=%q\n' "$1" "$2"; }
{
    env_line MAILTALK_SERVERS_DIR "$STATE"
    env_line MAILTALK_HOST "$HOST"
    env_line MAILTALK_TLS_NAME localhost
    env_line MAILTALK_CA "$TLS/ca.crt"
    env_line MAILTALK_SMTP_PORT "$SMTP_PORT"
    env_line MAILTALK_SMTPS_PORT "$SMTPS_PORT"
    env_line MAILTALK_SUBMISSION_PORT "$SUBMISSION_PORT"
    env_line MAILTALK_IMAP_PORT "$IMAP_PORT"
    env_line MAILTALK_IMAPS_PORT "$IMAPS_PORT"
    env_line MAILTALK_POP3_PORT "$POP3_PORT"
    env_line MAILTALK_POP3S_PORT "$POP3S_PORT"
    env_line MAILTALK_LMTP_PORT "$LMTP_PORT"
    env_line MAILTALK_RELAY_PORT "$RELAY_PORT"
    env_line MAILTALK_USER "$TEST_USER"
    env_line MAILTALK_TEST_PASSWORD "$TEST_PASSWORD"
    env_line MAILTALK_MAILDIR "$MAIL/example.test/alice/Maildir"
    env_line MAILTALK_POSTFIX_CONFIG "$PF/etc"
} >"$STATE/env"

# --- PROXY protocol listener (3/3: the environment) -----------------------------------------
env_line MAILTALK_PROXY_PORT "$PROXY_PORT" >>"$STATE/env"

# --- bare newline listeners (3/3: the environment) ------------------------------------------
{
    env_line MAILTALK_BARE_NO_PORT "$BARE_NO_PORT"
    env_line MAILTALK_BARE_NORMALIZE_PORT "$BARE_NORMALIZE_PORT"
    env_line MAILTALK_BARE_REJECT_PORT "$BARE_REJECT_PORT"
} >>"$STATE/env"

elapsed=$(awk -v a="$EPOCHREALTIME" -v b="$started" 'BEGIN { printf "%.1f", a - b }')
printf 'mail servers up on %s (smtp %s, smtps %s, submission %s, imap %s, imaps %s, pop3 %s, pop3s %s, lmtp %s)\n' \
    "$HOST" "$SMTP_PORT" "$SMTPS_PORT" "$SUBMISSION_PORT" "$IMAP_PORT" "$IMAPS_PORT" \
    "$POP3_PORT" "$POP3S_PORT" "$LMTP_PORT"
printf 'environment: %s\n' "$STATE/env"
printf 'setup took %ss\n' "$elapsed"
