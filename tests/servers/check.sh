#!/usr/bin/env bash
# Smoke test for the servers started by start.sh: greetings, TLS, authentication, and one
# message from SMTP through LMTP into the Maildir, read back over IMAP and POP3.
# Uses only bash /dev/tcp and openssl s_client against 127.0.0.1. Exits non-zero on failure.
#
#   MAILTALK_SERVERS_DIR=DIR  state directory (default /tmp/mailtalk-servers)
set -euo pipefail

STATE=${MAILTALK_SERVERS_DIR:-/tmp/mailtalk-servers}
[[ -r $STATE/env ]] || {
    echo "check.sh: $STATE/env not found; run start.sh first" >&2
    exit 1
}
# shellcheck disable=SC1091
. "$STATE/env"
# Environment files of older versions of start.sh named the password MAILTALK_PASSWORD.
MAILTALK_TEST_PASSWORD=${MAILTALK_TEST_PASSWORD:-${MAILTALK_PASSWORD:-}}
H=$MAILTALK_HOST
TIMEOUT=15
failures=0
pass() { printf 'ok    %s\n' "$*"; }
fail() {
    printf 'FAIL  %s\n' "$*"
    failures=$((failures + 1))
}

# --- a tiny line-oriented client: fd IN reads server lines, fd OUT writes client lines --------
IN= OUT= CO_PID= LAST=
open_plain() {
    IN= OUT= CO_PID=
    exec 5<>"/dev/tcp/$H/$1" || return 0
    IN=5 OUT=5
}
open_tls() { # port [starttls-protocol]
    local extra=()
    [[ -n ${2:-} ]] && extra=(-starttls "$2")
    coproc TLS {
        exec openssl s_client -connect "$H:$1" -servername "$MAILTALK_TLS_NAME" \
            -CAfile "$MAILTALK_CA" -verify_hostname "$MAILTALK_TLS_NAME" -verify_return_error \
            -quiet "${extra[@]}" 2>/dev/null
    }
    IN=${TLS[0]:-} OUT=${TLS[1]:-} CO_PID=${TLS_PID:-}
}
close() {
    if [[ -n $CO_PID ]]; then
        if [[ -n $OUT ]]; then exec {OUT}>&- 2>/dev/null || true; fi
        if [[ -n $IN ]]; then exec {IN}<&- 2>/dev/null || true; fi
        kill "$CO_PID" 2>/dev/null || true
        wait "$CO_PID" 2>/dev/null || true
    else
        exec 5<&- 5>&- 2>/dev/null || true
    fi
}
send() {
    [[ -n $OUT ]] || return 1
    printf '%s\r\n' "$1" 2>/dev/null >&"$OUT"
}
getline() {
    [[ -n $IN ]] || return 1
    IFS= read -r -t "$TIMEOUT" LAST <&"$IN" || return 1
    LAST=${LAST%$'\r'}
    LAST=${LAST//$'\0'/}
}
# Read lines until one matches the extended regex $1; all lines read are left in REPLY_TEXT.
REPLY_TEXT=
until_line() {
    REPLY_TEXT=
    while getline; do
        REPLY_TEXT+=$LAST$'\n'
        [[ $LAST =~ $1 ]] && return 0
    done
    return 1
}
smtp_reply() { until_line '^[0-9]{3}( |$)'; }
expect_smtp() { # code
    smtp_reply && [[ $LAST == "$1"* ]]
}

auth_plain=$(printf '\0%s\0%s' "$MAILTALK_USER" "$MAILTALK_TEST_PASSWORD" | base64 -w0)
token="mailtalk-check-$$-$RANDOM"

# --- greetings -------------------------------------------------------------------------------
for spec in "SMTP:$MAILTALK_SMTP_PORT:220 " "submission:$MAILTALK_SUBMISSION_PORT:220 " \
    "IMAP:$MAILTALK_IMAP_PORT:* OK " "POP3:$MAILTALK_POP3_PORT:+OK " "LMTP:$MAILTALK_LMTP_PORT:220 "; do
    IFS=: read -r name port want <<<"$spec"
    open_plain "$port"
    if getline && [[ $LAST == "$want"* ]]; then pass "$name greeting on $port: $LAST"; else fail "$name greeting on $port"; fi
    close
done
for spec in "SMTPS:$MAILTALK_SMTPS_PORT:220 " "IMAPS:$MAILTALK_IMAPS_PORT:* OK " \
    "POP3S:$MAILTALK_POP3S_PORT:+OK "; do
    IFS=: read -r name port want <<<"$spec"
    open_tls "$port"
    if getline && [[ $LAST == "$want"* ]]; then pass "$name (verified TLS) greeting on $port"; else fail "$name greeting on $port"; fi
    close
done

# --- SMTP --------------------------------------------------------------------------------------
open_plain "$MAILTALK_SMTP_PORT"
if expect_smtp 220 && send "EHLO check.test" && expect_smtp 250 && [[ $REPLY_TEXT == *STARTTLS* ]]; then
    pass "SMTP advertises STARTTLS"
else fail "SMTP EHLO/STARTTLS"; fi
send QUIT || true; smtp_reply || true; close

open_tls "$MAILTALK_SMTP_PORT" smtp
if send "NOOP" && until_line '^250 2\.0\.0 Ok' && send "EHLO check.test" && expect_smtp 250 &&
    [[ $REPLY_TEXT != *STARTTLS* ]]; then
    pass "SMTP STARTTLS (verified), EHLO after TLS no longer offers STARTTLS"
else fail "SMTP STARTTLS"; fi
send QUIT || true; smtp_reply || true; close

open_plain "$MAILTALK_SUBMISSION_PORT"
if expect_smtp 220 && send "EHLO check.test" && expect_smtp 250 && send "AUTH PLAIN $auth_plain" &&
    expect_smtp 530; then
    pass "submission refuses AUTH before STARTTLS: $LAST"
else fail "submission AUTH before STARTTLS: $LAST"; fi
send QUIT || true; smtp_reply || true; close

open_tls "$MAILTALK_SUBMISSION_PORT" smtp
if send "NOOP" && until_line '^250 2\.0\.0 Ok' && send "EHLO check.test" && expect_smtp 250 &&
    [[ $REPLY_TEXT =~ AUTH\ .*CRAM-MD5 && $REPLY_TEXT =~ AUTH\ .*SCRAM-SHA-256 ]]; then
    pass "submission after STARTTLS: $(grep -o 'AUTH .*' <<<"$REPLY_TEXT")"
else fail "submission EHLO after STARTTLS"; fi
if send "AUTH PLAIN $auth_plain" && expect_smtp 235; then pass "submission AUTH PLAIN: $LAST"; else fail "submission AUTH PLAIN: $LAST"; fi
send QUIT || true; smtp_reply || true; close

open_tls "$MAILTALK_SMTPS_PORT"
if expect_smtp 220 && send "EHLO check.test" && expect_smtp 250 && send "AUTH PLAIN $auth_plain" &&
    expect_smtp 235; then
    pass "SMTPS AUTH PLAIN"
else fail "SMTPS AUTH PLAIN: $LAST"; fi
send QUIT || true; smtp_reply || true; close

# --- delivery: SMTP -> Postfix -> LMTP -> Dovecot Maildir ------------------------------------------
open_plain "$MAILTALK_SMTP_PORT"
if expect_smtp 220 && send "EHLO check.test" && expect_smtp 250 &&
    send "MAIL FROM:<check@localhost>" && expect_smtp 250 &&
    send "RCPT TO:<$MAILTALK_USER>" && expect_smtp 250 && send "DATA" && expect_smtp 354 &&
    send "Subject: $token" && send "From: check@localhost" && send "To: $MAILTALK_USER" &&
    send "" && send "body of $token" && send "." && expect_smtp 250; then
    pass "SMTP accepted a message: $LAST"
else fail "SMTP send: $LAST"; fi
send QUIT || true; smtp_reply || true; close

delivered=
for ((i = 0; i < 100; i++)); do
    if grep -rlq -- "$token" "$MAILTALK_MAILDIR/new" "$MAILTALK_MAILDIR/cur" 2>/dev/null; then
        delivered=1
        break
    fi
    sleep 0.1
done
if [[ -n $delivered ]]; then pass "message delivered over LMTP into $MAILTALK_MAILDIR"; else fail "message not in Maildir"; fi

# --- IMAP --------------------------------------------------------------------------------------
open_tls "$MAILTALK_IMAP_PORT" imap
if send "a0 NOOP" && until_line '^a0 ' && send "a1 LOGIN $MAILTALK_USER $MAILTALK_TEST_PASSWORD" &&
    until_line '^a1 ' && [[ $LAST == "a1 OK"* ]]; then
    pass "IMAP STARTTLS (verified) + LOGIN"
else fail "IMAP STARTTLS LOGIN: $LAST"; fi
if send "a2 SELECT INBOX" && until_line '^a2 ' && [[ $LAST == "a2 OK"* ]] &&
    send "a3 FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])" && until_line '^a3 ' &&
    [[ $LAST == "a3 OK"* && $REPLY_TEXT == *"$token"* ]]; then
    pass "IMAP FETCH finds the message"
else fail "IMAP FETCH: $LAST"; fi
send "a4 LOGOUT" || true; until_line '^a4 ' || true; close

open_tls "$MAILTALK_IMAPS_PORT"
if getline && [[ $LAST == *AUTH=CRAM-MD5* && $LAST == *AUTH=SCRAM-SHA-256* ]]; then
    pass "IMAPS capabilities list CRAM-MD5 and SCRAM-SHA-256"
else fail "IMAPS capabilities: $LAST"; fi
send "b1 AUTHENTICATE PLAIN $auth_plain" || true
if until_line '^b1 ' && [[ $LAST == "b1 OK"* ]]; then pass "IMAPS AUTHENTICATE PLAIN"; else fail "IMAPS AUTHENTICATE PLAIN: $LAST"; fi
send "b2 LOGOUT" || true; until_line '^b2 ' || true; close

# --- POP3 --------------------------------------------------------------------------------------
open_tls "$MAILTALK_POP3_PORT" pop3
if send "CAPA" && until_line '^\.$' && [[ $REPLY_TEXT == *"SASL "*CRAM-MD5*SCRAM-SHA-256* ]]; then
    pass "POP3 STLS (verified), CAPA: $(grep -o 'SASL .*' <<<"$REPLY_TEXT")"
else fail "POP3 STLS CAPA"; fi
if send "USER $MAILTALK_USER" && getline && [[ $LAST == "+OK"* ]] &&
    send "PASS $MAILTALK_TEST_PASSWORD" && getline && [[ $LAST == "+OK"* ]] &&
    send "STAT" && getline && [[ $LAST =~ ^\+OK\ ([0-9]+) ]]; then
    count=${BASH_REMATCH[1]}
    if send "RETR $count" && until_line '^\.$' && [[ $REPLY_TEXT == *"$token"* ]]; then
        pass "POP3 USER/PASS + RETR $count finds the message"
    else fail "POP3 RETR"; fi
else fail "POP3 login: $LAST"; fi
send QUIT || true; getline || true; close

open_tls "$MAILTALK_POP3S_PORT"
if getline && send "AUTH PLAIN $auth_plain" && getline && [[ $LAST == "+OK"* ]]; then
    pass "POP3S AUTH PLAIN"
else fail "POP3S AUTH PLAIN: $LAST"; fi
send QUIT || true; getline || true; close

# --- LMTP --------------------------------------------------------------------------------------
open_plain "$MAILTALK_LMTP_PORT"
if expect_smtp 220 && send "LHLO check.test" && expect_smtp 250; then pass "LMTP LHLO"; else fail "LMTP LHLO"; fi
send QUIT || true; smtp_reply || true; close

if ((failures)); then
    echo "check.sh: $failures check(s) failed"
    exit 1
fi
echo "check.sh: all checks passed"
