#!/usr/bin/env bash
# Speed of the embedded server (`mailtalk serve`), side by side with Postfix's smtp-sink (which
# stores nothing) in one run:
#   1. smtp-source -s 10 -m 10000 -l 1000 against smtp-sink, mailtalk serve in memory, and
#      mailtalk serve --maildir (median of RUNS runs each, wall time);
#   2. a 100 MB message sent with mailtalk, then read back over IMAP and POP3 with curl, with
#      the server's peak memory (VmHWM) after each step.
# Usage: benches/serve.sh [RUNS]   (needs smtp-source and smtp-sink from Postfix; curl for 2)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
for tool in smtp-source smtp-sink; do
  command -v "$tool" >/dev/null || PATH=$PATH:/usr/sbin
  command -v "$tool" >/dev/null || { echo "benches/serve.sh: $tool (Postfix) is not installed" >&2; exit 2; }
done
cargo build --release -q
bin=target/release/mailtalk
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
run_source() { # port -> seconds
  local t0=$EPOCHREALTIME
  smtp-source -s 10 -m 10000 -l 1000 -f a@bench.test -t b@bench.test "127.0.0.1:$1"
  awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN { printf "%.3f\n", a - b }'
}
measure() { # name port
  local t; t=$(for _ in $(seq "$runs"); do run_source "$2"; done | median)
  printf '%-34s %8.3f s\n' "$1" "$t" >&2
  echo "$t"
}

echo "== smtp-source -s 10 -m 10000 -l 1000, median of $runs runs" >&2
sink_port=$(free_port)
sink_user=(); [ "$(id -u)" = 0 ] && sink_user=(-u nobody)
smtp-sink "${sink_user[@]}" "127.0.0.1:$sink_port" 1000 >/dev/null & pids+=($!)
wait_port "$sink_port"
t_sink=$(measure "smtp-sink (stores nothing)" "$sink_port")

mem_port=$(free_port)
"$bin" serve --smtp "127.0.0.1:$mem_port" --imap off --pop3 off --max-messages 20000 \
  --cert-out "$work/cert.pem" >"$work/mem.log" & pids+=($!)
wait_port "$mem_port"
t_mem=$(measure "mailtalk serve (memory)" "$mem_port")

md_port=$(free_port)
"$bin" serve --smtp "127.0.0.1:$md_port" --imap off --pop3 off --max-messages 1000000 \
  --catch-all --maildir "$work/maildir" --cert-out "$work/cert2.pem" >"$work/md.log" & pids+=($!)
wait_port "$md_port"
t_md=$(measure "mailtalk serve --maildir (fsync)" "$md_port")
awk -v m="$t_mem" -v s="$t_sink" -v d="$t_md" 'BEGIN {
  printf "ratio memory / smtp-sink:  %.2f (target: at most 2)\nratio maildir / smtp-sink: %.2f\n", m / s, d / s }' >&2

echo "== a 100 MB message: sent with mailtalk, read back with curl over IMAP and POP3" >&2
big_smtp=$(free_port); big_imap=$(free_port); big_pop=$(free_port)
"$bin" serve --smtp "127.0.0.1:$big_smtp" --imap "127.0.0.1:$big_imap" --pop3 "127.0.0.1:$big_pop" \
  --catch-all --cert-out "$work/cert3.pem" >"$work/big.log" & big=$!; pids+=($big)
wait_port "$big_smtp"; wait_port "$big_imap"; wait_port "$big_pop"
python3 - "$work/big.eml" <<'PY'
import sys
line = b"x" * 98 + b"\r\n"
with open(sys.argv[1], "wb") as f:
    f.write(b"Subject: big\r\nFrom: a@bench.test\r\nTo: b@bench.test\r\n\r\n")
    for _ in range(1_000_000):
        f.write(line)
PY
hwm() { awk '/VmHWM/ {printf "%d MiB", $2/1024}' "/proc/$big/status"; }
echo "server peak memory at start: $(hwm)" >&2
t0=$EPOCHREALTIME
"$bin" "smtp://127.0.0.1:$big_smtp" --from a@bench.test --to b@bench.test --data "@$work/big.eml" >/dev/null
printf 'send over SMTP:  %.2f s, server peak %s\n' "$(awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN{print a-b}')" "$(hwm)" >&2
if command -v curl >/dev/null; then
  t0=$EPOCHREALTIME
  curl -s "imap://127.0.0.1:$big_imap/INBOX;UID=1" -u b@bench.test:x -o "$work/imap.out"
  printf 'IMAP FETCH:      %.2f s, %s bytes, server peak %s\n' "$(awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN{print a-b}')" "$(stat -c %s "$work/imap.out")" "$(hwm)" >&2
  t0=$EPOCHREALTIME
  curl -s "pop3://127.0.0.1:$big_pop/1" -u b@bench.test:x -o "$work/pop.out"
  printf 'POP3 RETR:       %.2f s, %s bytes, server peak %s\n' "$(awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN{print a-b}')" "$(stat -c %s "$work/pop.out")" "$(hwm)" >&2
else
  echo "curl is not installed: IMAP and POP3 read-back skipped" >&2
fi
