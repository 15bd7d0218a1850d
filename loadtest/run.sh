#!/usr/bin/env bash
# loadtest/run.sh — the load suite against a stack on this machine (loopback
# only, bounded in time and count). docs/RELIABILITY.md has the figures.
#
#   loadtest/run.sh [--bin DIR] [--db URL] [--seconds 30] [--posts 200] [--clients 20]
#
# (2) POST mix: loadtest/postmix.sh — 200 POST /backtests from 20 clients
#     while two workers drain them, then exactly-once checked in PostgreSQL.
# (1) reads: a tradebench-server (TB_HTTP_THREADS=4) on the same schema,
#     now holding those 200 succeeded runs, driven by wrk at full speed for
#     --seconds each on GET /runs/{id} and GET /runs?limit=50 (wrk -t1 -c32:
#     one client thread leaves the other core to the server), with
#     loadtest/latency.lua for p50/p90/p99/p99.9 and the error counts.
# Binaries from --bin (default build/, Release); database --db, else
# $TB_DATABASE_URL, else deploy/setup.sh's. Everything runs in a private
# schema that is dropped at the end. Exit non-zero when a goal is missed:
# (1) >= 5,000 req/s with p99 <= 20 ms and no errors, (2) exactly once, no 5xx.
# The 10-minute soak is loadtest/soak.sh (manual).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BIN="$ROOT/build"; DB="${TB_DATABASE_URL:-postgresql://tradebench:tradebench@127.0.0.1:5432/tradebench}"
SECS=30; POSTS=200; CLIENTS=20; CONNS="${WRK_CONNECTIONS:-32}"; THREADS="${WRK_THREADS:-1}"
while (($#)); do
    case "$1" in
        --bin) BIN="$(cd "$2" && pwd)"; shift 2 ;;
        --db) DB="$2"; shift 2 ;;
        --seconds) SECS="$2"; shift 2 ;;
        --posts) POSTS="$2"; shift 2 ;;
        --clients) CLIENTS="$2"; shift 2 ;;
        *) echo "usage: $0 [--bin DIR] [--db URL] [--seconds N] [--posts N] [--clients N]" >&2; exit 2 ;;
    esac
done
command -v wrk >/dev/null || { echo "run.sh: wrk not installed (apt-get install wrk; deploy/setup.sh installs it)" >&2; exit 2; }
((SECS >= 1 && SECS <= 300)) || { echo "run.sh: --seconds must be 1..300" >&2; exit 2; }
SCHEMA="tbload_run_$$"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tb-loadtest.XXXXXX")"
SERVER=""
cleanup() {
    [[ -n "$SERVER" ]] && kill -KILL "$SERVER" 2>/dev/null || true
    psql -X -q -d "$DB" -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "run.sh: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); binaries $BIN; $(date -u +%FT%TZ)"
rc=0
echo "== (2) POST mix: $POSTS POST /backtests from $CLIENTS clients, 2 workers"
"$HERE/postmix.sh" --bin "$BIN" --db "$DB" --schema "$SCHEMA" --keep --posts "$POSTS" --clients "$CLIENTS" \
    --workers 2 --wait 900 || rc=1

echo "== (1) reads at full speed: wrk -t$THREADS -c$CONNS -d${SECS}s"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
PGOPTIONS="-c search_path=$SCHEMA" TB_LISTEN="127.0.0.1:$PORT" TB_DATABASE_URL="$DB" \
    TB_HTTP_THREADS="${TB_HTTP_THREADS:-4}" TB_LOG_LEVEL=warn "$BIN/tradebench-server" >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -fsS -o /dev/null "$URL/openapi.json" 2>/dev/null && break; sleep 0.1; done
ID="$(curl -fsS "$URL/runs?limit=1&status=succeeded" | python3 -c 'import json, sys; print(json.load(sys.stdin)["items"][0]["id"])')"
for path in "/runs/$ID" "/runs?limit=50"; do
    curl -fsS "$URL$path" >/dev/null
    echo "-- GET $path ($(curl -fsS "$URL$path" | wc -c) bytes)"
    wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency -s "$HERE/latency.lua" "$URL$path" | tee "$WORK/wrk.out" |
        grep -E "^lua:|Requests/sec|Non-2xx|Socket errors"
    read -r rps p99 errs <<<"$(awk '/^lua: requests/ { r = $(NF - 1) } /^lua: latency/ { p = $9 }
        /^lua: errors/ { e = $4 + $6 + $8 + $10 + $12 } END { print r, p, e }' "$WORK/wrk.out")"
    if awk -v r="$rps" -v p="$p99" -v e="$errs" 'BEGIN { exit !(r >= 5000 && p <= 20 && e == 0) }'; then
        echo "   goal met: $rps req/s >= 5000, p99 $p99 ms <= 20, no errors"
    else
        echo "   GOAL MISSED: $rps req/s, p99 $p99 ms, $errs errors (goal >= 5000 req/s, p99 <= 20 ms, 0 errors)"
        rc=1
    fi
done
kill -TERM "$SERVER"; st=0; wait "$SERVER" || st=$?; SERVER=""
((st == 0)) || { echo "run.sh: server exited $st after SIGTERM" >&2; rc=1; }
echo "run.sh: load average after: $(cut -d' ' -f1-3 /proc/loadavg); $([[ $rc == 0 ]] && echo 'all goals met' || echo 'SOME GOAL MISSED')"
exit "$rc"
