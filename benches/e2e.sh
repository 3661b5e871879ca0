#!/usr/bin/env bash
# End-to-end speed of the mailtalk client, side by side in one run with curl, swaks and Postfix's
# smtp-source doing the same work; medians of RUNS runs (default 5), then a table of ratios
# against the targets.
#
# Servers, on free ports of 127.0.0.1, all stopped at the end:
#   - two sinks that swallow what they are sent: Postfix's smtp-sink (when installed; no TLS,
#     no CHUNKING) and `mailtalk serve --discard` (plain with STARTTLS, and SMTPS). Figures are
#     given against both; TLS and the big pipes go to serve --discard only.
#   - `mailtalk serve --catch-all` (in memory), holding a 100 MB message for the IMAP and POP3
#     reads.
# Work:
#   a. one small message, whole process wall time (median of SMALL_RUNS runs, default 21):
#      mailtalk --data @small.eml, curl -T small.eml, swaks --data @small.eml.
#   b. a 100 MB message with LF line ends, a third of its lines starting with '.', so that CRLF
#      normalisation and dot-stuffing have work: mailtalk DATA, mailtalk --bdat, curl --crlf -T
#      (curl stuffs the dots itself), and the floor: the same message already CRLF and
#      stuffed, copied with Python's socket.sendfile after the 354. Wall time, peak RSS.
#   c. mailtalk's peak RSS sending 10 MB, 100 MB and 1 GB generated into --data - through a
#      pipe (no file is written).
#   d. the 100 MB message over STARTTLS and over SMTPS (--ca-file of the server's certificate):
#      mailtalk and curl (--ssl-reqd, smtps://, --cacert).
#   e. IMAP FETCH 1 BODY[] and POP3 RETR 1 of the 100 MB message: mailtalk with its output to a
#      file, mailtalk --output FILE (the raw bytes to FILE), curl -o FILE.
#   f. 1000 messages of about 1 KB in one session: mailtalk reading 1000 `:send` lines,
#      mailtalk `:send --count 1000`, smtp-source -s 1 -d -m 1000 -l 1000 (-d: one session).
#   g. startup: mailtalk --version and mailtalk explain 550 (median of SMALL_RUNS runs).
# An option this build lacks (--output, :send --count) or a tool not installed shows as n/a.
#
# Usage: benches/e2e.sh [RUNS]     (needs python3; curl, swaks, Postfix's smtp-sink and
#                                   smtp-source and GNU time for the comparisons)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
runs=${1:-5}
small_runs=${SMALL_RUNS:-21}
PATH=$PATH:/usr/sbin
have() { command -v "$1" >/dev/null 2>&1; }
have python3 || { echo "benches/e2e.sh: python3 is needed" >&2; exit 2; }
# The interpreter itself: a version manager's shim costs a tenth of a second per start.
py=$(python3 -c 'import sys; print(sys.executable)')
gnutime=""
[ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1 && gnutime=/usr/bin/time

cargo build --release -q
bin=$root/target/release/mailtalk
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  echo "port $1 never opened" >&2; exit 1
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# ---------------------------------------------------------------------------------------------
# Measuring.

declare -A T M L   # per case: median seconds, peak RSS in KiB, label
rss=1              # measure peak RSS (0: time only, for the runs of a few milliseconds)

# timed IN OUT CMD...: runs CMD <IN >OUT; prints "SECONDS PEAK_KIB"; fails when CMD fails.
timed() {
  local in=$1 out=$2; shift 2
  local t0=$EPOCHREALTIME peak=0
  if [ "$rss" = 1 ] && [ -n "$gnutime" ]; then
    "$gnutime" -f %M -o "$work/rss" "$@" <"$in" >"$out" 2>>"$work/errors" || return 1
    peak=$(tail -1 "$work/rss")
  else
    "$@" <"$in" >"$out" 2>>"$work/errors" || return 1
  fi
  awk -v a="$EPOCHREALTIME" -v b="$t0" -v m="$peak" 'BEGIN { printf "%.5f %d\n", a - b, m }'
}

# gen BYTES: a message of about BYTES bytes (LF line ends, some lines with a leading dot).
cat >"$work/gen.py" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
out.write(b"From: a@bench.test\nTo: b@bench.test\nSubject: big\n"
          b"Date: Tue, 1 Dec 2026 10:00:00 +0000\nMessage-ID: <big.1@bench.test>\n\n")
block = (b"x" * 78 + b"\n" + b"x" * 78 + b"\n" + b"." + b"y" * 77 + b"\n") * 4000
for _ in range(n // len(block)):
    out.write(block)
PY
# timed_gen BYTES CMD...: gen BYTES | CMD; like timed (the generator is not measured for RSS).
timed_gen() {
  local n=$1; shift
  local t0=$EPOCHREALTIME peak=0
  if [ -n "$gnutime" ]; then
    "$py" "$work/gen.py" "$n" | "$gnutime" -f %M -o "$work/rss" "$@" >/dev/null 2>>"$work/errors" || return 1
    peak=$(tail -1 "$work/rss")
  else
    "$py" "$work/gen.py" "$n" | "$@" >/dev/null 2>>"$work/errors" || return 1
  fi
  awk -v a="$EPOCHREALTIME" -v b="$t0" -v m="$peak" 'BEGIN { printf "%.5f %d\n", a - b, m }'
}

fmt_time() { # seconds -> "12.3 ms" or "1.234 s"
  case $1 in n/a|fail) echo "$1"; return ;; esac
  awk -v t="$1" 'BEGIN { if (t < 1) printf "%.1f ms", t * 1000; else printf "%.3f s", t }'
}
fmt_mem() {
  case $1 in n/a|fail) echo "$1"; return ;; esac
  if [ "$1" = 0 ]; then echo "-"; else awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; fi
}
show() { printf '  %-60s %10s %10s\n' "${L[$1]}" "$(fmt_time "${T[$1]}")" "$(fmt_mem "${M[$1]}")"; }
na() { L[$1]=$2; T[$1]=n/a; M[$1]=n/a; show "$1"; }

# bench KEY LABEL RUNS IN OUT CMD...: the median time and the peak RSS of RUNS runs.
bench() {
  local key=$1 n=$3 in=$4 out=$5 i r times="" peak=0
  L[$key]=$2
  shift 5
  for ((i = 0; i < n; i++)); do
    if ! r=$(timed "$in" "$out" "$@"); then
      T[$key]=fail; M[$key]=fail; show "$key"; tail -3 "$work/errors" | sed 's/^/      /'
      return 0
    fi
    times+="${r% *}"$'\n'
    [ "${r#* }" -gt "$peak" ] && peak=${r#* }
  done
  T[$key]=$(printf %s "$times" | median)
  M[$key]=$peak
  show "$key"
}

# bench_gen KEY LABEL RUNS BYTES CMD...: like bench, the message piped in from gen.
bench_gen() {
  local key=$1 n=$3 bytes=$4 i r times="" peak=0
  L[$key]=$2
  shift 4
  for ((i = 0; i < n; i++)); do
    if ! r=$(timed_gen "$bytes" "$@"); then
      T[$key]=fail; M[$key]=fail; show "$key"; tail -3 "$work/errors" | sed 's/^/      /'
      return 0
    fi
    times+="${r% *}"$'\n'
    [ "${r#* }" -gt "$peak" ] && peak=${r#* }
  done
  T[$key]=$(printf %s "$times" | median)
  M[$key]=$peak
  show "$key"
}

# ---------------------------------------------------------------------------------------------
# Data.

echo "== preparing the messages and starting the servers"
"$py" - "$work" <<'PY'
import sys
w = sys.argv[1]
hdr = (b"From: a@bench.test\nTo: b@bench.test\nSubject: %s\n"
       b"Date: Tue, 1 Dec 2026 10:00:00 +0000\nMessage-ID: <%s@bench.test>\n\n")
def crlf(b): return b.replace(b"\n", b"\r\n")
with open(f"{w}/small.eml", "wb") as f:
    f.write(hdr % (b"small", b"small.1") + b"A short message.\n" * 4)
with open(f"{w}/m1000.eml", "wb") as f:
    f.write(hdr % (b"one of many", b"many.1") + (b"x" * 78 + b"\n") * 12 + b"y" * 63 + b"\n")
# 100 MB: LF line ends, every third line starts with a dot; and the same as it goes on the
# wire after DATA (CRLF, dots doubled, the final dot line), for the raw copy.
line, dot = b"x" * 78 + b"\n", b"." + b"y" * 77 + b"\n"
block = (line + line + dot) * 10000
wire = (crlf(line) * 2 + b"." + crlf(dot)) * 10000
with open(f"{w}/big.eml", "wb") as f, open(f"{w}/big.wire", "wb") as g:
    h = hdr % (b"big", b"big.1")
    f.write(h); g.write(crlf(h))
    for _ in range(100_000_000 // len(block)):
        f.write(block); g.write(wire)
    g.write(b".\r\n")
PY
cat >"$work/raw.py" <<'PY'
# The floor: SMTP by hand, then the pre-stuffed data copied by the kernel (sendfile).
import socket, sys
port, path = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")
def reply(want):
    while True:
        l = f.readline()
        if not l:
            sys.exit("closed")
        if l[3:4] != b"-":
            if not l.startswith(want):
                sys.exit("unexpected reply: %r" % l)
            return
reply(b"220")
for cmd, want in [(b"EHLO raw.bench.test", b"250"), (b"MAIL FROM:<a@bench.test>", b"250"),
                  (b"RCPT TO:<b@bench.test>", b"250"), (b"DATA", b"354")]:
    s.sendall(cmd + b"\r\n")
    reply(want)
with open(path, "rb") as m:
    s.sendfile(m)
reply(b"250")
s.sendall(b"QUIT\r\n")
reply(b"221")
PY

sinks=()
if have smtp-sink; then
  sink_port=$(free_port)
  sink_user=(); [ "$(id -u)" = 0 ] && sink_user=(-u nobody)
  smtp-sink "${sink_user[@]}" "127.0.0.1:$sink_port" 1000 >/dev/null 2>&1 & pids+=($!)
  wait_port "$sink_port"
  sinks+=(sink)
fi
disc_port=$(free_port); disc_tls=$(free_port)
"$bin" serve --discard --smtp "127.0.0.1:$disc_port" --smtps "127.0.0.1:$disc_tls" --imap off \
  --pop3 off --max-size 2000000000 --max-sessions 1000 --cert-out "$work/discard.pem" \
  >"$work/discard.log" 2>&1 & pids+=($!)
wait_port "$disc_port"; wait_port "$disc_tls"
sinks+=(discard)
store_smtp=$(free_port); store_imap=$(free_port); store_pop=$(free_port)
"$bin" serve --catch-all --smtp "127.0.0.1:$store_smtp" --imap "127.0.0.1:$store_imap" \
  --pop3 "127.0.0.1:$store_pop" --max-size 200000000 --cert-out "$work/store.pem" \
  >"$work/store.log" 2>&1 & pids+=($!)
wait_port "$store_smtp"; wait_port "$store_imap"; wait_port "$store_pop"
port_of() { if [ "$1" = sink ]; then echo "$sink_port"; else echo "$disc_port"; fi; }
sink_name() { if [ "$1" = sink ]; then echo "smtp-sink"; else echo "serve --discard"; fi; }
printf '  sinks: %s; the store: mailtalk serve --catch-all\n' "$(for s in "${sinks[@]}"; do sink_name "$s"; done | paste -sd, | sed 's/,/, /g')"
printf '  %-60s %10s %10s\n' "" "time" "peak RSS"

# ---------------------------------------------------------------------------------------------
echo "== a. one small message (median of $small_runs runs)"
rss=0
for s in "${sinks[@]}"; do
  p=$(port_of "$s"); n=$(sink_name "$s")
  bench "a.mailtalk.$s" "mailtalk -> $n" "$small_runs" /dev/null /dev/null \
    "$bin" "smtp://127.0.0.1:$p" --from a@bench.test --to b@bench.test --data "@$work/small.eml"
  if have curl; then
    bench "a.curl.$s" "curl -> $n" "$small_runs" /dev/null /dev/null \
      curl -s "smtp://127.0.0.1:$p" --mail-from a@bench.test --mail-rcpt b@bench.test -T "$work/small.eml"
  else na "a.curl.$s" "curl -> $n"; fi
  if have swaks; then
    bench "a.swaks.$s" "swaks -> $n" "$small_runs" /dev/null /dev/null \
      swaks --server "127.0.0.1:$p" --from a@bench.test --to b@bench.test --data "@$work/small.eml"
  else na "a.swaks.$s" "swaks -> $n"; fi
done
rss=1

echo "== b. a 100 MB message, LF line ends and leading dots (median of $runs runs)"
for s in "${sinks[@]}"; do
  p=$(port_of "$s"); n=$(sink_name "$s")
  bench "b.data.$s" "mailtalk DATA -> $n" "$runs" /dev/null /dev/null \
    "$bin" "smtp://127.0.0.1:$p" --from a@bench.test --to b@bench.test --data "@$work/big.eml"
  if [ "$s" = discard ]; then
    bench "b.bdat.$s" "mailtalk --bdat -> $n" "$runs" /dev/null /dev/null \
      "$bin" "smtp://127.0.0.1:$p" --bdat --from a@bench.test --to b@bench.test --data "@$work/big.eml"
  else na "b.bdat.$s" "mailtalk --bdat -> $n (no CHUNKING)"; fi
  if have curl; then
    bench "b.curl.$s" "curl --crlf -> $n" "$runs" /dev/null /dev/null \
      curl -s "smtp://127.0.0.1:$p" --mail-from a@bench.test --mail-rcpt b@bench.test --crlf -T "$work/big.eml"
  else na "b.curl.$s" "curl --crlf -> $n"; fi
  bench "b.raw.$s" "raw copy, sendfile of the stuffed bytes -> $n" "$runs" /dev/null /dev/null \
    "$py" "$work/raw.py" "$p" "$work/big.wire"
done

echo "== c. mailtalk's peak memory, the message piped into --data - (-> serve --discard)"
for size in 10 100 1000; do
  r=$runs; [ "$size" = 1000 ] && r=1
  bench_gen "c.$size" "mailtalk --data - of $size MB (runs: $r)" "$r" "$((size * 1000000))" \
    "$bin" "smtp://127.0.0.1:$disc_port" --from a@bench.test --to b@bench.test --data -
done

echo "== d. the 100 MB message over TLS (-> serve --discard, median of $runs runs)"
bench d.mailtalk.starttls "mailtalk --starttls" "$runs" /dev/null /dev/null \
  "$bin" "smtp://127.0.0.1:$disc_port" --starttls --ca-file "$work/discard.pem" \
  --from a@bench.test --to b@bench.test --data "@$work/big.eml"
bench d.mailtalk.smtps "mailtalk smtps://" "$runs" /dev/null /dev/null \
  "$bin" "smtps://127.0.0.1:$disc_tls" --ca-file "$work/discard.pem" \
  --from a@bench.test --to b@bench.test --data "@$work/big.eml"
if have curl; then
  bench d.curl.starttls "curl --ssl-reqd --crlf" "$runs" /dev/null /dev/null \
    curl -s --ssl-reqd --cacert "$work/discard.pem" "smtp://127.0.0.1:$disc_port" \
    --mail-from a@bench.test --mail-rcpt b@bench.test --crlf -T "$work/big.eml"
  bench d.curl.smtps "curl smtps:// --crlf" "$runs" /dev/null /dev/null \
    curl -s --cacert "$work/discard.pem" "smtps://127.0.0.1:$disc_tls" \
    --mail-from a@bench.test --mail-rcpt b@bench.test --crlf -T "$work/big.eml"
else na d.curl.starttls "curl --ssl-reqd --crlf"; na d.curl.smtps "curl smtps:// --crlf"; fi

echo "== e. reading the 100 MB message back (median of $runs runs)"
"$bin" "smtp://127.0.0.1:$store_smtp" --from a@bench.test --to b@bench.test --data "@$work/big.eml" \
  >/dev/null 2>>"$work/errors"
printf 'LOGIN b@bench.test x\nSELECT INBOX\nFETCH 1 BODY[]\n' >"$work/imap.in"
printf 'USER b@bench.test\nPASS x\nRETR 1\n' >"$work/pop3.in"
has_output=0
"$bin" --help 2>/dev/null | grep -q -- '--output' && has_output=1
for proto in imap pop3; do
  if [ "$proto" = imap ]; then p=$store_imap; url="imap://127.0.0.1:$p/INBOX;MAILINDEX=1"
  else p=$store_pop; url="pop3://127.0.0.1:$p/1"; fi
  bench "e.$proto.stdout" "mailtalk $proto, output to a file" "$runs" "$work/$proto.in" "$work/out" \
    "$bin" "$proto://127.0.0.1:$p"
  # Input from a pipe may bring a :save later, so the content is also kept for it.
  bench "e.$proto.pipe" "mailtalk $proto, input from a pipe (kept for :save)" "$runs" /dev/null \
    "$work/out" sh -c 'cat "$1" | "$2" "$3"' sh "$work/$proto.in" "$bin" "$proto://127.0.0.1:$p"
  if [ "$has_output" = 1 ]; then
    bench "e.$proto.output" "mailtalk $proto --output FILE" "$runs" "$work/$proto.in" "$work/out" \
      "$bin" "$proto://127.0.0.1:$p" --output "$work/body.out"
  else na "e.$proto.output" "mailtalk $proto --output FILE"; fi
  if have curl; then
    bench "e.$proto.curl" "curl $proto -o FILE" "$runs" /dev/null /dev/null \
      curl -s "$url" -u b@bench.test:x -o "$work/body.curl"
  else na "e.$proto.curl" "curl $proto -o FILE"; fi
done

echo "== f. 1000 messages in one session (median of $runs runs)"
for _ in $(seq 1000); do echo ":send --from a@bench.test --to b@bench.test --data @$work/m1000.eml"; done \
  >"$work/send1000.in"
sed 's/^:send /:send --pipeline /' "$work/send1000.in" >"$work/send1000p.in"
echo ":send --count 1000 --from a@bench.test --to b@bench.test --data @$work/m1000.eml" >"$work/count.in"
echo ":send --count 1 --from a@bench.test --to b@bench.test --data @$work/m1000.eml" >"$work/count1.in"
has_count=0
if "$bin" "smtp://127.0.0.1:$disc_port" <"$work/count1.in" 2>&1 | grep -q "accepted for 1 recipient"; then
  has_count=1
fi
for s in "${sinks[@]}"; do
  p=$(port_of "$s"); n=$(sink_name "$s")
  bench "f.lines.$s" "mailtalk, 1000 :send lines -> $n" "$runs" "$work/send1000.in" /dev/null \
    "$bin" "smtp://127.0.0.1:$p"
  bench "f.plines.$s" "mailtalk, 1000 :send --pipeline lines -> $n" "$runs" "$work/send1000p.in" \
    /dev/null "$bin" "smtp://127.0.0.1:$p"
  if [ "$has_count" = 1 ]; then
    bench "f.count.$s" "mailtalk, :send --count 1000 -> $n" "$runs" "$work/count.in" /dev/null \
      "$bin" "smtp://127.0.0.1:$p"
  else na "f.count.$s" "mailtalk, :send --count 1000 -> $n"; fi
  if have smtp-source; then
    bench "f.source.$s" "smtp-source -s 1 -d -m 1000 -l 1000 -> $n" "$runs" /dev/null /dev/null \
      smtp-source -s 1 -d -m 1000 -l 1000 -f a@bench.test -t b@bench.test "127.0.0.1:$p"
  else na "f.source.$s" "smtp-source -> $n"; fi
done

echo "== g. startup (median of $small_runs runs)"
rss=0
bench g.version "mailtalk --version" "$small_runs" /dev/null /dev/null "$bin" --version
bench g.explain "mailtalk explain 550" "$small_runs" /dev/null /dev/null "$bin" explain 550
rss=1

# ---------------------------------------------------------------------------------------------
echo
echo "== summary: ratios against the targets"
printf '%-58s %10s %10s %7s %10s  %s\n' "work" "mailtalk" "against" "ratio" "target" ""
# row LABEL KEY REF_KEY MAX: time of KEY / time of REF_KEY, against at most MAX.
row() {
  local a=${T[$2]:-n/a} b=${T[$3]:-n/a} ratio="n/a" verdict=""
  case "$a$b" in
    *n/a*|*fail*) ;;
    *) ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')
       verdict=$(awk -v r="$ratio" -v m="$4" 'BEGIN { print (r <= m ? "ok" : "over") }') ;;
  esac
  printf '%-58s %10s %10s %7s %10s  %s\n' "$1" "$(fmt_time "$a")" "$(fmt_time "$b")" "$ratio" "<= $4" "$verdict"
}
# limit LABEL VALUE SHOWN BELOW TARGET: an absolute target, met when VALUE < BELOW.
limit() {
  local verdict=""
  case $2 in n/a|fail) ;; *) verdict=$(awk -v v="$2" -v m="$4" 'BEGIN { print (v < m ? "ok" : "over") }') ;; esac
  printf '%-58s %10s %10s %7s %10s  %s\n' "$1" "$3" "" "" "$5" "$verdict"
}
for s in "${sinks[@]}"; do
  n=$(sink_name "$s")
  row "small message vs curl ($n)" "a.mailtalk.$s" "a.curl.$s" 0.8
done
for s in "${sinks[@]}"; do
  n=$(sink_name "$s")
  row "100 MB DATA vs curl ($n)" "b.data.$s" "b.curl.$s" 1.0
  row "100 MB DATA vs raw copy ($n)" "b.data.$s" "b.raw.$s" 1.5
  row "100 MB --bdat vs curl ($n)" "b.bdat.$s" "b.curl.$s" 1.0
  row "100 MB --bdat vs raw copy ($n)" "b.bdat.$s" "b.raw.$s" 1.5
done
row "100 MB STARTTLS vs curl" d.mailtalk.starttls d.curl.starttls 1.0
row "100 MB SMTPS vs curl" d.mailtalk.smtps d.curl.smtps 1.0
for k in b.data.discard b.bdat.discard c.10 c.100 c.1000 d.mailtalk.starttls d.mailtalk.smtps; do
  m=${M[$k]:-n/a}
  case $m in n/a|fail) v=$m ;; *) v=$(awk -v k="$m" 'BEGIN { print k / 1024 }') ;; esac
  limit "peak RSS: ${L[$k]:-$k}" "$v" "$(fmt_mem "$m")" 16.0001 "<= 16 MiB"
done
row "IMAP FETCH to stdout vs curl" e.imap.stdout e.imap.curl 1.5
row "IMAP FETCH, input from a pipe, vs curl" e.imap.pipe e.imap.curl 1.5
row "IMAP FETCH --output vs curl" e.imap.output e.imap.curl 1.0
row "POP3 RETR to stdout vs curl" e.pop3.stdout e.pop3.curl 1.5
row "POP3 RETR, input from a pipe, vs curl" e.pop3.pipe e.pop3.curl 1.5
row "POP3 RETR --output vs curl" e.pop3.output e.pop3.curl 1.0
for s in "${sinks[@]}"; do
  n=$(sink_name "$s")
  row "1000 messages, :send lines vs smtp-source ($n)" "f.lines.$s" "f.source.$s" 0.6
  row "1000 messages, :send --pipeline lines vs smtp-source ($n)" "f.plines.$s" "f.source.$s" 0.6
  row "1000 messages, --count vs smtp-source ($n)" "f.count.$s" "f.source.$s" 0.6
done
for k in g.version g.explain; do
  limit "startup: ${L[$k]}" "${T[$k]}" "$(fmt_time "${T[$k]}")" 0.005 "< 5 ms"
done
